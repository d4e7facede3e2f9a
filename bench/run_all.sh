#!/usr/bin/env bash
# run_all.sh - the benchmarks of docs/performance.md on this host, in 2-5 minutes on
# 2 CPUs: bench-results/*.json (one file per run), bench-results/apps.txt,
# bench-results/*.png (gnuplot), bench-results/commands.txt (the run's header and
# every command, in order); then the generated sections of docs/performance.md and
# its plots, docs/perf/*.png.
#
# usage: bench/run_all.sh [-B builddir] [--reps N] [--no-doc]
#   -B DIR      build tree to use (default: <repo>/build); configured if new,
#               always brought up to date first
#   --reps N    runs of each application form (default 3; the median is kept)
#   --no-doc    leave docs/performance.md and docs/perf/ alone
# Needs: Open MPI (mpirun) for the MPI rows, gnuplot for the plots, python3.
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$repo/build
reps=3
doc=1
while (($#)); do
    case $1 in
    -B) mkdir -p "$2" && build=$(cd "$2" && pwd) || exit 2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    --no-doc) doc=0; shift ;;
    -h | --help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "run_all.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done

out=$repo/bench-results
bin=$build/bench
mkdir -p "$out"
rm -f "$out"/*.json "$out"/*.log "$out"/*.dat "$out"/*.png "$out"/apps.txt
# Always (re)build: the figures must come from the sources the header names.
if [[ ! -f $build/CMakeCache.txt ]]; then
    cmake -S "$repo" -B "$build" > /dev/null || exit 1
fi
cmake --build "$build" -j2 > "$out/build.log" 2>&1 || { echo "run_all.sh: build failed, see $out/build.log" >&2; exit 1; }
# The build raises the load average itself: give it up to 2 minutes to fall below
# the level at which the report calls the machine idle (bench/report.py), so that an
# idle machine is reported and measured as one. Other users' load does not fall;
# the run goes on after the wait either way.
settle_end=$(($(date +%s) + 120))
while awk '{ exit !($1 >= 0.3) }' /proc/loadavg && (($(date +%s) < settle_end)); do
    sleep 5
done
dsmrun_tool=$build/tools/dsmrun
# dsmrun's default launch where the nodes fit the CPUs: node i bound to CPU i, its
# application and service threads sharing that CPU (as mpirun --bind-to core).
dsm_bound=("$dsmrun_tool" --bind-to core -n 2 --)
dsm_unbound=("$dsmrun_tool" --bind-to none)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mpirun=(mpirun --oversubscribe -np 2)
osc_ucx=(--mca pml ucx --mca pml_ucx_tls any --mca pml_ucx_devices any
         --mca osc ucx --mca osc_ucx_tls any --mca osc_ucx_devices any)
shm=(env UCX_TLS=sm,self)
tcp=(env UCX_TLS=tcp,self)
mpi_bound=("${mpirun[@]}" --bind-to core)
have_mpi=0
command -v mpirun > /dev/null && [[ -x $bin/mpi_rma_vs_dsm ]] && have_mpi=1
commands=$out/commands.txt
failed=()
started=$(date +%s)

# The sources' commit: the doc and plots this script rewrites do not make it dirty.
commit=$(git -C "$repo" describe --always 2>/dev/null || echo unknown)
git -C "$repo" diff --quiet HEAD -- . ':!docs/performance.md' ':!docs/perf' 2>/dev/null || commit+=-dirty
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
virt="no hypervisor"
if grep -qw hypervisor /proc/cpuinfo; then
    hv=$(systemd-detect-virt --vm 2> /dev/null) || hv="hypervisor unknown"
    virt="virtual machine ($hv)"
fi
{
    echo "# date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "# commit: $commit"
    echo "# machine: $(nproc) CPUs ($cpu), $virt, Linux $(uname -r)"
    echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "# reps: $reps"
} > "$commands"

# run NAME COMMAND...: stdout to NAME.json, stderr to NAME.log, the command to commands.txt.
run() {
    local name=$1 t0=$SECONDS
    shift
    printf '%s: %s\n' "$name" "${*#$build/}" >> "$commands"
    printf '%-28s' "$name" >&2
    if "$@" > "$out/$name.json" 2> "$out/$name.log"; then
        printf 'ok (%d s)\n' $((SECONDS - t0)) >&2
    else
        printf 'FAILED (see %s)\n' "$out/$name.log" >&2
        failed+=("$name")
    fi
}

# app NAME FORM COMMAND...: the application's report line, its form renamed
# FORM, appended to apps.txt. Repeated runs log the command once.
app() {
    local name=$1 form=$2 t0=$SECONDS
    shift 2
    grep -q "^$name: " "$commands" || printf '%s: %s\n' "$name" "${*#$build/}" >> "$commands"
    printf '%-28s' "$name" >&2
    # pipefail: the application's status decides, not sed's
    if "$@" 2> "$out/$name.log" | sed "s/ form=[^ ]* / form=$form /" >> "$out/apps.txt"; then
        printf 'ok (%d s)\n' $((SECONDS - t0)) >&2
    else
        printf 'FAILED (see %s)\n' "$out/$name.log" >&2
        failed+=("$name")
    fi
}

# ---- micro-benchmarks: 2 bound nodes, shared memory (the summary's rows) --------
run read_miss_shm        "${shm[@]}" "${dsm_bound[@]}" "$bin/read_miss" --json
run write_upgrade_shm    "${shm[@]}" "${dsm_bound[@]}" "$bin/write_upgrade" --json
run scan_shm             "${shm[@]}" "${dsm_bound[@]}" "$bin/scan" --json
run pingpong_shm         "${shm[@]}" "${dsm_bound[@]}" "$bin/pingpong" --json
run handoff_shm          "${shm[@]}" "${dsm_bound[@]}" "$bin/handoff" -p 16384 --json
run read_miss_tcp        "${tcp[@]}" "${dsm_bound[@]}" "$bin/read_miss" -i 500 --json
# A node's first touch of its own fresh memory: a 1-node job, and 2 nodes each
# writing its own block.
run first_touch_n1       "${shm[@]}" "$dsmrun_tool" --bind-to core -n 1 -- "$bin/first_touch" --json
run first_touch_blocked  "${shm[@]}" DSM_PLACEMENT=blocked "${dsm_bound[@]}" "$bin/first_touch" --json

# ---- what the wake-ups cost: the same without spinning, and unbound -------------
# DSM_SPIN_US=0: every request wakes the peer's service thread from its sleep.
run read_miss_shm_spin0  "${shm[@]}" DSM_SPIN_US=0 "${dsm_bound[@]}" "$bin/read_miss" --json
run pingpong_shm_spin0   "${shm[@]}" DSM_SPIN_US=0 "${dsm_bound[@]}" "$bin/pingpong" --json
# Unbound: a node's threads hand faults to each other across CPUs. 3 nodes give the
# recall of a page Modified at a third node; 4 nodes an upgrade with 3 sharers.
run read_miss_shm_unbound "${shm[@]}" "${dsm_unbound[@]}" -n 2 -- "$bin/read_miss" --json
run read_miss_shm_n3     "${shm[@]}" "${dsm_unbound[@]}" -n 3 -- "$bin/read_miss" --json
run write_upgrade_shm_n4 "${shm[@]}" "${dsm_unbound[@]}" -n 4 -- "$bin/write_upgrade" --json

# ---- MPI one-sided vs dsm (mpirun binds 2 ranks to cores) ------------------------
if ((have_mpi)); then
    # Open MPI's default selection (Debian's config file excludes ucx and pt2pt);
    # osc_base_verbose makes osc rdma name itself in the log when it ran.
    run mpi_default_shm  "${shm[@]}" "${mpirun[@]}" --mca osc_base_verbose 100 \
        "$bin/mpi_rma_vs_dsm" --json
    run mpi_ucx_shm      "${shm[@]}" "${mpirun[@]}" "${osc_ucx[@]}" "$bin/mpi_rma_vs_dsm" --json
    run mpi_ucx_tcp      "${tcp[@]}" "${mpirun[@]}" "${osc_ucx[@]}" "$bin/mpi_rma_vs_dsm" -i 50 -w 5 --json
    run mpi_pt2pt_tcp    "${tcp[@]}" "${mpirun[@]}" --mca osc pt2pt --mca btl self,tcp \
        "$bin/mpi_rma_vs_dsm" -i 50 -w 5 --json
else
    echo "run_all.sh: no mpirun or mpi_rma_vs_dsm: MPI rows skipped" >&2
fi

# ---- applications ----------------------------------------------------------------
# Each form runs $reps times, the forms taking turns, so that load from other users
# of the machine falls on all of them alike; report.py takes the median.
# Jacobi and matmul: dsm (2 bound nodes), MPI two-sided (2 bound ranks), 2 threads.
# The team applications (bench/apps/team.h, the same code as dsm nodes and as
# threads) at 1, 2 and 4: dsm nodes bound as above (node i on CPU i mod CPUs, so 4
# nodes share 2 CPUs), threads unbound. Sizes of a second or two per run at most.
team_apps=("fft 1024 5" "lu 1024 1 32" "radix 4194304 2" "redblack 1022 20" "nbody 4096 5 64")
for ((rep = 1; rep <= reps; rep++)); do
    app jacobi_threads threads "$bin/jacobi_threads" 2046 1000 2
    ((have_mpi)) && app jacobi_mpi mpi "${shm[@]}" "${mpi_bound[@]}" "$bin/jacobi_mpi" 2046 1000
    app jacobi_dsm dsm "${shm[@]}" "${dsm_bound[@]}" "$bin/jacobi_dsm" 2046 1000
    app matmul_threads threads "$bin/matmul_threads" 1024 2
    ((have_mpi)) && app matmul_mpi mpi "${shm[@]}" "${mpi_bound[@]}" "$bin/matmul_mpi" 1024
    app matmul_dsm dsm "${shm[@]}" "${dsm_bound[@]}" "$bin/matmul_dsm" 1024
    for spec in "${team_apps[@]}"; do
        read -ra args <<< "$spec"
        name=${args[0]}
        args=("${args[@]:1}")
        for procs in 1 2 4; do
            app "${name}_threads_$procs" threads "$bin/${name}_threads" "${args[@]}" "$procs"
            app "${name}_dsm_$procs" dsm "${shm[@]}" "$dsmrun_tool" --bind-to core --oversubscribe \
                -n "$procs" -- "$bin/${name}_dsm" "${args[@]}"
        done
    done
done

# ---- report and plots ------------------------------------------------------------
{
    echo "# load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "# total: $(($(date +%s) - started)) s; failed: ${failed[*]:-none}"
} >> "$commands"
python3 "$repo/bench/report.py" "$out" || failed+=(report)
if command -v gnuplot > /dev/null; then
    gnuplot -e "dir='$out'" "$repo/bench/plot.gp" || failed+=(plot)
else
    echo "run_all.sh: no gnuplot: no plots" >&2
fi
if ((doc)); then
    python3 "$repo/bench/report.py" "$out" "$repo/docs/performance.md" || failed+=(doc)
    # a plot this run did not draw must not stay behind from an earlier one
    mkdir -p "$repo/docs/perf" && rm -f "$repo"/docs/perf/*.png
    cp "$out"/*.png "$repo/docs/perf/" 2> /dev/null || failed+=(plots-copy)
fi
echo "run_all.sh: $(($(date +%s) - started)) s, results in $out${failed[*]:+; FAILED: ${failed[*]}}" >&2
((${#failed[@]} == 0))
