#!/usr/bin/env bash
# run_all.sh - every benchmark of bench/ on this host, in a few minutes:
# bench-results/*.json (one file per run), bench-results/apps.txt,
# bench-results/latency_by_size.png (gnuplot), bench-results/commands.txt (every
# command, in order) and the generated section of docs/performance.md.
#
# usage: bench/run_all.sh [-B builddir] [--no-jacobi-large] [--reps N] [--no-doc]
#   -B DIR              build tree to use (default: <repo>/build); configured if
#                       new, always brought up to date first
#   --no-jacobi-large   skip Jacobi 2046 x 2046, 1000 sweeps (5-15 s per run and form)
#   --reps N            runs of each application form (default 3; the median is kept)
#   --no-doc            do not rewrite docs/performance.md
# Needs: Open MPI (mpirun) for the MPI rows, gnuplot for the plot, python3.
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$repo/build
jacobi_large=1
reps=3
doc=1
while (($#)); do
    case $1 in
    -B) mkdir -p "$2" && build=$(cd "$2" && pwd) || exit 2; shift 2 ;;
    --no-jacobi-large) jacobi_large=0; shift ;;
    --reps) reps=$2; shift 2 ;;
    --no-doc) doc=0; shift ;;
    -h | --help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "run_all.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done

out=$repo/bench-results
bin=$build/bench
mkdir -p "$out"
rm -f "$out"/*.json "$out"/*.log "$out"/apps.txt
# Always (re)build: the figures must come from the sources commands.txt names.
if [[ ! -f $build/CMakeCache.txt ]]; then
    cmake -S "$repo" -B "$build" > /dev/null || exit 1
fi
cmake --build "$build" -j2 > "$out/build.log" 2>&1 || { echo "run_all.sh: build failed, see $out/build.log" >&2; exit 1; }
# The unbound runs ask dsmrun not to bind (its default binds nodes that fit the CPUs).
dsmrun_tool=$build/tools/dsmrun
dsmrun=("$dsmrun_tool" --bind-to none)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mpirun=(mpirun --oversubscribe -np 2)
osc_ucx=(--mca pml ucx --mca pml_ucx_tls any --mca pml_ucx_devices any
         --mca osc ucx --mca osc_ucx_tls any --mca osc_ucx_devices any)
shm=(env UCX_TLS=sm,self)
tcp=(env UCX_TLS=tcp,self)
mpi_bound=("${mpirun[@]}" --bind-to core)
# dsm nodes bound to one CPU each (node i on CPU i mod CPUs) by dsmrun: only the
# binding differs from the unbound runs.
dsm_bound=("$dsmrun_tool" --bind-to core -n 2 --)
have_mpi=0
command -v mpirun > /dev/null && [[ -x $bin/mpi_rma_vs_dsm ]] && have_mpi=1
commands=$out/commands.txt
failed=()
started=$(date +%s)

{
    echo "# $(date -u '+%Y-%m-%d %H:%M UTC') on $(uname -n): $(nproc) CPUs, Linux $(uname -r)"
    echo "# load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "# build: $build, sources at $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$repo" diff --quiet HEAD -- 2>/dev/null || echo ' plus uncommitted changes in the work tree')"
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
# FORM (e.g. dsm-bound), appended to apps.txt.
app() {
    local name=$1 form=$2 t0=$SECONDS
    shift 2
    printf '%s: %s\n' "$name" "$*" >> "$commands"
    printf '%-28s' "$name" >&2
    # pipefail: the application's status decides, not sed's
    if "$@" 2> "$out/$name.log" | sed "s/ form=[^ ]* / form=$form /" >> "$out/apps.txt"; then
        printf 'ok (%d s)\n' $((SECONDS - t0)) >&2
    else
        printf 'FAILED (see %s)\n' "$out/$name.log" >&2
        failed+=("$name")
    fi
}

# ---- micro-benchmarks, shared memory, then tcp --------------------------------
run read_miss_shm           "${shm[@]}" "${dsmrun[@]}" -n 3 -- "$bin/read_miss" --json
run write_upgrade_shm_n2    "${shm[@]}" "${dsmrun[@]}" -n 2 -- "$bin/write_upgrade" --json
run write_upgrade_shm_n4    "${shm[@]}" "${dsmrun[@]}" -n 4 -- "$bin/write_upgrade" --json
run write_upgrade_shm_n8    "${shm[@]}" "${dsmrun[@]}" -n 8 -- "$bin/write_upgrade" -i 200 --json
run pingpong_shm            "${shm[@]}" "${dsmrun[@]}" -n 2 -- "$bin/pingpong" --json
run scan_shm                "${shm[@]}" "${dsmrun[@]}" -n 2 -- "$bin/scan" --json
run read_miss_tcp           "${tcp[@]}" "${dsmrun[@]}" -n 3 -- "$bin/read_miss" -i 500 --json
run write_upgrade_tcp_n2    "${tcp[@]}" "${dsmrun[@]}" -n 2 -- "$bin/write_upgrade" --json
run pingpong_tcp            "${tcp[@]}" "${dsmrun[@]}" -n 2 -- "$bin/pingpong" -i 500 --json
run scan_tcp                "${tcp[@]}" "${dsmrun[@]}" -n 2 -- "$bin/scan" -p 2048 --json

# ---- where the time goes: the service thread's spinning window ----------------
for spin in 0 200; do
    run read_miss_shm_spin$spin "${shm[@]}" DSM_SPIN_US=$spin "${dsmrun[@]}" -n 3 -- "$bin/read_miss" --json
    run pingpong_shm_spin$spin  "${shm[@]}" DSM_SPIN_US=$spin "${dsmrun[@]}" -n 2 -- "$bin/pingpong" --json
    run scan_shm_spin$spin      "${shm[@]}" DSM_SPIN_US=$spin "${dsmrun[@]}" -n 2 -- "$bin/scan" --json
done

# ---- the same with each node bound to one CPU -----------------------------------
# dsmrun --bind-to core (its default when the nodes fit): a node's service thread shares
# its CPU with the node's application thread (as under mpirun --bind-to core). 2 nodes.
run read_miss_shm_bound      "${shm[@]}" "${dsm_bound[@]}" "$bin/read_miss" --json
run write_upgrade_shm_bound  "${shm[@]}" "${dsm_bound[@]}" "$bin/write_upgrade" --json
run pingpong_shm_bound       "${shm[@]}" "${dsm_bound[@]}" "$bin/pingpong" --json
run scan_shm_bound           "${shm[@]}" "${dsm_bound[@]}" "$bin/scan" --json
run read_miss_tcp_bound      "${tcp[@]}" "${dsm_bound[@]}" "$bin/read_miss" -i 500 --json
# bound and not spinning: each request then wakes the peer's halted CPU
run read_miss_shm_bound_spin0 "${shm[@]}" DSM_SPIN_US=0 "${dsm_bound[@]}" "$bin/read_miss" --json
run pingpong_shm_bound_spin0  "${shm[@]}" DSM_SPIN_US=0 "${dsm_bound[@]}" "$bin/pingpong" --json
run scan_shm_bound_spin0      "${shm[@]}" DSM_SPIN_US=0 "${dsm_bound[@]}" "$bin/scan" --json

# ---- MPI one-sided vs dsm ------------------------------------------------------
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

# ---- applications: dsm, MPI two-sided, threads; 2 processes / threads ----------
# Each form runs $reps times, the forms taking turns, so that load from other users
# of the machine falls on all of them alike; report.py takes the median.
jacobi_sizes=("1022 200")
((jacobi_large)) && jacobi_sizes+=("2046 1000")
for ((rep = 1; rep <= reps; rep++)); do
    for size in "${jacobi_sizes[@]}"; do
        read -r n sweeps <<< "$size"
        app "jacobi_threads_$n" threads "$bin/jacobi_threads" "$n" "$sweeps" 2
        if ((have_mpi)); then
            app "jacobi_mpi_$n" mpi "${shm[@]}" "${mpi_bound[@]}" "$bin/jacobi_mpi" "$n" "$sweeps"
        fi
        app "jacobi_dsm_bound_$n" dsm-bound "${shm[@]}" "${dsm_bound[@]}" "$bin/jacobi_dsm" "$n" "$sweeps"
        app "jacobi_dsm_$n" dsm "${shm[@]}" "${dsmrun[@]}" -n 2 -- "$bin/jacobi_dsm" "$n" "$sweeps"
    done
    for n in 512 1024; do
        app "matmul_threads_$n" threads "$bin/matmul_threads" "$n" 2
        if ((have_mpi)); then
            app "matmul_mpi_$n" mpi "${shm[@]}" "${mpi_bound[@]}" "$bin/matmul_mpi" "$n"
        fi
        app "matmul_dsm_bound_$n" dsm-bound "${shm[@]}" "${dsm_bound[@]}" "$bin/matmul_dsm" "$n"
        app "matmul_dsm_$n" dsm "${shm[@]}" "${dsmrun[@]}" -n 2 -- "$bin/matmul_dsm" "$n"
    done
done

# ---- shared-memory applications at 1, 2 and 4 nodes / threads -----------------
# bench/apps/team.h: the same code as dsm nodes and as threads. dsm bound as the
# dsm-bound rows above (node i on CPU i mod CPUs: 4 nodes share 2 CPUs), threads
# unbound, shared memory; sizes of a few seconds per run at most.
team_apps=("fft 1024 5" "lu 1024 1 32" "radix 4194304 2" "redblack 1022 20" "nbody 4096 5 64")
for ((rep = 1; rep <= reps; rep++)); do
    for spec in "${team_apps[@]}"; do
        read -ra args <<< "$spec"
        name=${args[0]}
        args=("${args[@]:1}")
        for procs in 1 2 4; do
            app "${name}_threads_$procs" threads "$bin/${name}_threads" "${args[@]}" "$procs"
            app "${name}_dsm_bound_$procs" dsm-bound "${shm[@]}" "$dsmrun_tool" --bind-to core \
                -n "$procs" -- "$bin/${name}_dsm" "${args[@]}"
        done
    done
done

# ---- plot and report -----------------------------------------------------------
echo "# total: $(($(date +%s) - started)) s; failed: ${failed[*]:-none}" >> "$commands"
report_args=("$out")
((doc)) && report_args+=("$repo/docs/performance.md")
python3 "$repo/bench/report.py" "${report_args[@]}" || failed+=(report)
if command -v gnuplot > /dev/null && [[ -s $out/latency_by_size.dat ]]; then
    gnuplot -e "datafile='$out/latency_by_size.dat'; outfile='$out/latency_by_size.png'" \
        "$repo/bench/plot.gp" || failed+=(plot)
fi
echo "run_all.sh: $(($(date +%s) - started)) s, results in $out${failed[*]:+; FAILED: ${failed[*]}}" >&2
((${#failed[@]} == 0))
