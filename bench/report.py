#!/usr/bin/env python3
"""report.py OUT [DOC]: turn bench/run_all.sh's results into the report.

Reads OUT/*.json (bench_common's --json documents), OUT/apps.txt (one
"app=... form=..." line per application run), OUT/*.log and OUT/commands.txt
(the run's header lines "# key: value", then the commands).
Writes OUT/apps.json and the plots' data for bench/plot.gp (OUT/*.dat). Given
DOC (docs/performance.md), replaces the text between each pair of GENERATED
markers: "summary" (the run, the summary table against the baselines of the
same run and the targets, the plots: OUT's PNGs, copied by run_all.sh to
docs/perf/) and "figures" (every table of the run and its commands).
"""
import glob
import json
import os
import re
import sys

MARKERS = {part: ("<!-- BEGIN GENERATED %s by bench/run_all.sh: do not edit by hand -->" % part,
                  "<!-- END GENERATED %s -->" % part) for part in ("summary", "figures")}
# The applications run at 1, 2 and 4 nodes / threads (bench/apps/team.h).
TEAM_APPS = ("fft", "lu", "radix", "redblack", "nbody")
NODE_COUNTS = (1, 2, 4)
# The applications with an MPI form, at 2 processes.
PAIR_APPS = ("jacobi", "matmul")
MPI_RUNS = [("mpi_default_shm", "default osc, shm"), ("mpi_ucx_shm", "osc ucx, shm"),
            ("mpi_ucx_tcp", "osc ucx, tcp"), ("mpi_pt2pt_tcp", "osc pt2pt, tcp")]
# What each micro-benchmark run of run_all.sh varies (its commands are listed too).
RUN_NOTES = {
    "read_miss_shm": "2 bound nodes, shared memory",
    "write_upgrade_shm": "2 bound nodes, shared memory",
    "scan_shm": "2 bound nodes, shared memory",
    "pingpong_shm": "2 bound nodes, shared memory",
    "handoff_shm": "2 bound nodes, shared memory, 64 MiB",
    "read_miss_tcp": "2 bound nodes, tcp",
    "first_touch_n1": "1 node: every page homed here",
    "first_touch_blocked": "2 bound nodes, DSM_PLACEMENT=blocked: each node writes its own block",
    "read_miss_shm_spin0": "2 bound nodes, DSM_SPIN_US=0: each request wakes the peer's sleeping service thread",
    "pingpong_shm_spin0": "2 bound nodes, DSM_SPIN_US=0",
    "read_miss_shm_unbound": "2 unbound nodes: a node's faulting and service threads may run on different CPUs",
    "read_miss_shm_n3": "3 unbound nodes (more nodes than CPUs): adds the recall of a page Modified at a third node",
    "write_upgrade_shm_n4": "4 unbound nodes: an upgrade with 3 other sharers",
}
# The plots bench/plot.gp draws, in the order the report shows them.
PLOTS = [("latency_by_size.png", "get latency by size, MPI one-sided vs dsm"),
         ("bandwidth_by_size.png", "get bandwidth by size, MPI one-sided vs dsm"),
         ("apps_by_nodes.png", "application times by node count, dsm vs threads")]
# The machine counts as idle when the 1-minute load average at the start is below this.
IDLE_LOAD = 0.3
PAGE = 4096


def load(out):
    results = {}
    for path in sorted(glob.glob(os.path.join(out, "*.json"))):
        name = os.path.basename(path)[:-5]
        if name == "apps":
            continue
        try:
            with open(path) as f:
                results[name] = json.load(f)
        except (ValueError, OSError):
            results[name] = None  # a failed run: its .log says why
    return results


def header(out):
    """The "# key: value" lines of commands.txt, and its command lines."""
    keys, cmds = {}, []
    try:
        with open(os.path.join(out, "commands.txt")) as f:
            for line in f:
                line = line.rstrip("\n")
                m = re.match(r"# ([^:]+): (.*)", line)
                if m:
                    keys[m.group(1)] = m.group(2)
                elif not line.startswith("#"):
                    cmds.append(line)
    except OSError:
        pass
    return keys, cmds


def row(results, run, name, size=None):
    doc = results.get(run)
    for r in (doc or {}).get("rows", []):
        if r["name"] == name and (size is None or r["bytes"] == size):
            return r
    return None


def p50(results, run, name, size=None):
    r = row(results, run, name, size)
    return r["p50_us"] if r else None


def osc_ran(out, run, doc):
    """The osc component: MPI_T's cvar (from the notes) and, for osc rdma, the log."""
    cvar = "?"
    for note in (doc or {}).get("notes", []):
        m = re.search(r"osc component \(MPI_T cvar osc\): ([^;]*)", note)
        if m:
            cvar = m.group(1)
    try:
        with open(os.path.join(out, run + ".log")) as f:
            m = re.search(r"(\w+) component destroying window", f.read())
            if m:
                return "%s (log: '%s component destroying window'; cvar osc=%s)" % (
                    m.group(1), m.group(1), cvar)
    except OSError:
        pass
    return "%s (cvar osc, the only component allowed)" % cvar


def apps(out):
    """Median time of each (app, n, iterations, processes, form) over its repeated runs."""
    runs = []
    try:
        with open(os.path.join(out, "apps.txt")) as f:
            for line in f:
                fields = dict(kv.split("=", 1) for kv in line.split() if "=" in kv)
                if "app" in fields:
                    runs.append(fields)
    except OSError:
        pass
    groups = {}
    for r in runs:
        groups.setdefault((r["app"], int(r["n"]), int(r["iters"]), int(r["procs"]), r["form"]),
                          []).append(r)
    medians = {k: sorted(float(r["time_s"]) for r in v)[(len(v) - 1) // 2] for k, v in groups.items()}
    table = []
    for (app, n, iters, procs, form), same_form in sorted(groups.items()):
        same_size = [r for k, v in groups.items() if k[:3] == (app, n, iters) for r in v]
        entry = {"app": app, "form": form, "n": n, "iters": iters,
                 "procs": procs, "time_s": medians[(app, n, iters, procs, form)],
                 "runs_s": sorted(float(r["time_s"]) for r in same_form),
                 "hash": same_form[0]["hash"],
                 "same_hash_as_all_forms": len({r["hash"] for r in same_size}) == 1}
        for base in ("threads", "mpi"):
            if (app, n, iters, procs, base) in medians:
                entry["ratio_vs_" + base] = entry["time_s"] / medians[(app, n, iters, procs, base)]
        table.append(entry)
    with open(os.path.join(out, "apps.json"), "w") as f:
        json.dump(table, f, indent=1)
    return table


def app_entry(app_table, app, procs, form):
    for e in app_table:
        if (e["app"], e["procs"], e["form"]) == (app, procs, form):
            return e
    return None


# ---- plot data -----------------------------------------------------------------

def size_rows(results, prefix):
    return sorted({r["bytes"] for run, _ in MPI_RUNS for r in (results.get(run) or {}).get("rows", [])
                   if r["name"].startswith(prefix)})


def plot_data(out, results, app_table):
    """latency_by_size.dat (p50 µs), bandwidth_by_size.dat (MB/s = bytes / p50 µs),
    apps_by_nodes.dat (one block per team application: nodes, dsm s, threads s)."""
    sizes = size_rows(results, "get lat")
    with open(os.path.join(out, "latency_by_size.dat"), "w") as f:
        f.write("# size_bytes " + " ".join("%s_MPI %s_dsm" % (run, run) for run, _ in MPI_RUNS) + "\n")
        for size in sizes:
            cols = []
            for run, _ in MPI_RUNS:
                for who in ("MPI", "dsm"):
                    v = p50(results, run, "get lat " + who, size)
                    cols.append("%.3f" % v if v else "NaN")
            f.write("%d %s\n" % (size, " ".join(cols)))
    with open(os.path.join(out, "bandwidth_by_size.dat"), "w") as f:
        f.write("# size_bytes, then per run: MPI get, MPI get 16 in flight, dsm memcpy (MB/s): "
                + " ".join(run for run, _ in MPI_RUNS) + "\n")
        for size in sizes:
            cols = []
            for run, _ in MPI_RUNS:
                for name in ("get lat MPI", "get bw (16 in flight) MPI", "get lat dsm"):
                    v = p50(results, run, name, size)
                    cols.append("%.1f" % (size / v) if v else "NaN")
            f.write("%d %s\n" % (size, " ".join(cols)))
    with open(os.path.join(out, "apps_by_nodes.dat"), "w") as f:
        for app in TEAM_APPS:
            f.write("# %s: nodes dsm_s threads_s\n" % app)
            for procs in NODE_COUNTS:
                times = [app_entry(app_table, app, procs, form) for form in ("dsm", "threads")]
                f.write("%d %s\n" % (procs, " ".join("%.4f" % e["time_s"] if e else "NaN" for e in times)))
            f.write("\n\n")  # gnuplot: the next block is the next index


# ---- the summary -----------------------------------------------------------------

def fmt(v, digits=2):
    return "-" if v is None else ("%.*f" % (digits, v))


def target_check(target, dsm, ratio):
    """target: (what, op, limit, unit) where what is "dsm" or "ratio"."""
    if target is None:
        return "", ""
    what, op, limit, unit = target
    text = "%s %s %g%s" % ("ratio" if what == "ratio" else "dsm", op, limit, unit)
    value = ratio if what == "ratio" else dsm
    if value is None:
        return text, "-"
    met = value >= limit if op == "≥" else value <= limit
    return text, "yes" if met else "**no**"


def summary_rows(results, app_table):
    """(pattern, unit, dsm, baseline, baseline label, ratio, target); ratio = dsm / baseline."""
    rows = []

    def add(pattern, unit, dsm, base, base_label, target=None):
        ratio = dsm / base if dsm is not None and base else None
        rows.append((pattern, unit, dsm, base, base_label, ratio, target))

    def bench(pattern, run, name, base_name, base_label, unit="µs", target=None, base_run=None,
              base_size=None, by="p50_us"):
        r, b = row(results, run, name), row(results, base_run or run, base_name, base_size)
        add(pattern, unit, r and r[by], b and b[by], base_label, target)

    bench("read miss, shm", "read_miss_shm", "read miss, Uncached at home",
          "floor: read miss (fault+AM+get)", "floor")
    bench("upgrade, 1 other sharer, shm", "write_upgrade_shm", "upgrade, Shared by 1 other node",
          "floor: upgrade (WP fault+AM)", "floor")
    bench("cold sequential scan, shm, per page", "scan_shm", "dsm scan, cold (vs floor)",
          "private scan, first touch", "private first touch")
    for how, name in (("polling loads", "polling"), ("dsm_wait_until_u64", "dsm_wait")):
        bench("ping-pong round trip of a page, %s" % how, "pingpong_shm",
              "pingpong, page round trip (%s)" % name, "floor: page round trip (2 handovers)", "floor",
              target=("dsm", "≤", 15, " µs"))
    # GB/s of a per-page time: 4096 bytes / µs = 4.096e-3 GB/s per 1/µs
    mc, pmc = (p50(results, "handoff_shm", n) for n in
               ("hand-off memcpy, cold (vs private)", "private memcpy (baseline)"))
    add("hand-off of 64 MiB, memcpy", "GB/s", mc and PAGE / 1000 / mc, pmc and PAGE / 1000 / pmc,
        "private memcpy", target=("ratio", "≥", 0.15, "x"))
    bench("one word per page of pages Modified elsewhere", "handoff_shm",
          "hand-off one word per page (vs private)", "private one word per page (baseline)",
          "private", target=("dsm", "≤", 2, " µs"))
    bench("first touch of a node's own fresh memory, 1-node job, per page", "first_touch_n1",
          "own share first touch, write (vs private)", "private first touch, write (baseline)",
          "private first touch", target=("ratio", "≤", 1.3, "x"))
    bench("first touch of own block, 2 nodes (blocked), per page", "first_touch_blocked",
          "own share first touch, write (vs private)", "private first touch, write (baseline)",
          "private first touch")
    bench("read miss, tcp", "read_miss_tcp", "read miss, Uncached at home",
          "floor: read miss (fault+AM+get)", "floor (tcp)")
    bench("read miss, tcp, vs MPI_Get", "read_miss_tcp", "read miss, Uncached at home",
          "get lat MPI", "MPI_Get 4 KiB + flush, osc ucx, tcp", base_run="mpi_ucx_tcp", base_size=PAGE)
    for run, label in (("mpi_default_shm", "shm"), ("mpi_ucx_tcp", "tcp")):
        bench("read-mostly (64 blocks x 100 reads), %s, mean per read" % label, run,
              "read-mostly 4K x100 dsm", "read-mostly 4K x100 MPI",
              "MPI_Get, %s" % dict(MPI_RUNS)[run], by="mean_us")
    app_target = {2: ("ratio", "≤", 2, "x"), 4: ("ratio", "≤", 4, "x")}
    for app in PAIR_APPS:
        dsm = app_entry(app_table, app, 2, "dsm")
        size = " (n %d, %d iteration%s)" % (dsm["n"], dsm["iters"], "s" if dsm["iters"] > 1 else "") \
            if dsm else ""
        for base in ("threads", "mpi"):
            b = app_entry(app_table, app, 2, base)
            add("%s%s, 2 nodes" % (app, size), "s", dsm and dsm["time_s"], b and b["time_s"],
                "2 threads" if base == "threads" else "MPI two-sided, 2 ranks",
                app_target[2] if base == "threads" else None)
    for app in TEAM_APPS:
        for procs in NODE_COUNTS:
            dsm, b = app_entry(app_table, app, procs, "dsm"), app_entry(app_table, app, procs, "threads")
            add("%s, %d node%s" % (app, procs, "s" if procs > 1 else ""), "s", dsm and dsm["time_s"],
                b and b["time_s"], "%d thread%s" % (procs, "s" if procs > 1 else ""), app_target.get(procs))
    return rows


def summary_table(results, app_table):
    lines = ["| pattern | dsm | baseline (same run) | dsm / baseline | target (issue 14) | met |",
             "|---|---:|---|---:|---|---|"]
    for pattern, unit, dsm, base, base_label, ratio, target in summary_rows(results, app_table):
        digits = 3 if unit == "s" else 2
        text, met = target_check(target, dsm, ratio)
        lines.append("| %s | %s | %s | %s | %s | %s |" % (
            pattern, ("%s %s" % (fmt(dsm, digits), unit)) if dsm is not None else "not measured",
            ("%s %s %s" % (base_label, fmt(base, digits), unit)) if base is not None else base_label + ": not measured",
            ("%.2fx" % ratio) if ratio is not None else "-", text, met))
    return lines


def run_line(keys):
    load0 = keys.get("load average at start", "?")
    try:
        idle = float(load0.split()[0]) < IDLE_LOAD
    except (ValueError, IndexError):
        idle = False
    state = ("**idle** (1-minute load average below %g at the start)" % IDLE_LOAD if idle else
             "**not idle**: other work was running (1-minute load average %g or more at the start), "
             "so the figures are noisy and cross-CPU wake-ups cheaper than on an idle machine "
             "(see Method)" % IDLE_LOAD)
    return ["| run | |", "|---|---|",
            "| date | %s |" % keys.get("date", "?"),
            "| commit (`git describe --always --dirty` of the sources) | `%s` |" % keys.get("commit", "?"),
            "| machine | %s |" % keys.get("machine", "?"),
            "| load average (1, 5, 15 min) at start / at end | %s / %s |" % (
                load0, keys.get("load average at end", "?")),
            "| machine during the run | %s |" % state,
            "| total time | %s |" % keys.get("total", "?"),
            "| runs of each application form | %s (the median is shown) |" % keys.get("reps", "?")]


def summary(out, results, app_table):
    keys, _ = header(out)
    lines = ["", "### Summary", "",
             "Each dsm figure against a baseline measured in the same run (Method says how). "
             "Read miss, upgrade, ping-pong: p50 of hundreds of samples; scan and hand-off: "
             "per page, p50 of 3 passes; read-mostly: mean per read, the first pass's misses "
             "included; applications: median of the runs. dsm / baseline is a ratio of times "
             "(lower is better) except for GB/s, where it is a ratio of bandwidths (higher is "
             "better). 2 nodes bound one per CPU, shared memory, unless the row says otherwise.", ""]
    lines += summary_table(results, app_table)
    lines += ["", "### The run", ""] + run_line(keys) + ["", "### Plots", ""]
    for png, title in PLOTS:
        if os.path.exists(os.path.join(out, png)):
            lines += ["![%s](perf/%s)" % (title, png), ""]
        else:
            lines += ["(%s: not drawn in this run)" % title, ""]
    return lines


# ---- every table of the run --------------------------------------------------------

def md_rows(doc):
    lines = ["| name | bytes | iters | p50 µs | p99 µs | mean µs | MB/s | ops/s | ratio |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in doc.get("rows", []):
        lines.append("| %s | %d | %d | %s | %s | %s | %s | %.0f | %s |" % (
            r["name"], r["bytes"], r["iterations"], fmt(r["p50_us"]), fmt(r["p99_us"]),
            fmt(r["mean_us"]), fmt(r["mb_per_s"], 1), r["ops_per_s"],
            ("%.2fx" % r["ratio"]) if r["ratio"] > 0 else "-"))
    for n in doc.get("notes", []):
        lines.append("")
        lines.append("> " + n)
    return lines


def pair_apps_table(app_table):
    lines = ["#### Jacobi and matmul: 2 dsm nodes, 2 MPI ranks, 2 threads", "",
             "| app | n | iterations | form | median s | runs s | / threads | / MPI | result hash | same in all forms |",
             "|---|---:|---:|---|---:|---|---:|---:|---|---|"]
    for e in (e for e in app_table if e["app"] in PAIR_APPS):
        lines.append("| %s | %d | %d | %s | %.3f | %s | %s | %s | `%s` | %s |" % (
            e["app"], e["n"], e["iters"], e["form"], e["time_s"],
            " ".join("%.3f" % t for t in e["runs_s"]), fmt(e.get("ratio_vs_threads")),
            fmt(e.get("ratio_vs_mpi")), e["hash"], "yes" if e["same_hash_as_all_forms"] else "**NO**"))
    return lines + [""]


def team_table(app_table):
    lines = ["#### Team applications by node count: dsm nodes / threads", "",
             "Same result: the result hash of every run of the application, both forms and all "
             "counts, is equal.", "",
             "| application | n | iterations | nodes | dsm s | dsm runs s | threads s | threads runs s | dsm / threads | same result |",
             "|---|---:|---:|---:|---:|---|---:|---|---:|---|"]
    rows = {}
    for e in app_table:
        if e["app"] in TEAM_APPS:
            rows.setdefault((TEAM_APPS.index(e["app"]), e["n"], e["iters"], e["procs"]), {})[e["form"]] = e
    for (index, n, iters, procs), forms in sorted(rows.items()):
        dsm, threads = forms.get("dsm"), forms.get("threads")
        same = all(e["same_hash_as_all_forms"] for e in forms.values())
        lines.append("| %s | %d | %d | %d | %s | %s | %s | %s | %s | %s |" % (
            TEAM_APPS[index], n, iters, procs, fmt(dsm and dsm["time_s"], 3),
            " ".join("%.3f" % t for t in dsm["runs_s"]) if dsm else "-",
            fmt(threads and threads["time_s"], 3),
            " ".join("%.3f" % t for t in threads["runs_s"]) if threads else "-",
            fmt(dsm and dsm.get("ratio_vs_threads")), "yes" if same else "**NO**"))
    return lines + [""]


def figures(out, results, app_table):
    keys, cmds = header(out)
    lines = ["", "## All figures of the run", "",
             "The run of %s at `%s` (the summary's run)." % (keys.get("date", "?"), keys.get("commit", "?")),
             "", "### Applications", ""]
    lines += pair_apps_table(app_table) + team_table(app_table)
    lines += ["### MPI one-sided vs dsm (mpirun -np 2, ranks bound to cores)", ""]
    for run, label in MPI_RUNS:
        doc = results.get(run)
        lines.append("#### %s: osc component that ran: %s" % (label, osc_ran(out, run, doc) if doc else "run failed"))
        lines.append("")
        if doc:
            lines += md_rows(doc) + [""]
    lines += ["### Micro-benchmarks (dsmrun)", ""]
    for run in sorted(results):
        if run.startswith("mpi_"):
            continue
        lines.append("#### %s" % run)
        lines.append("")
        if run in RUN_NOTES:
            lines += [RUN_NOTES[run] + ".", ""]
        lines += md_rows(results[run]) if results[run] else ["run failed: see bench-results/%s.log" % run]
        lines.append("")
    lines += ["### Commands (bench-results/commands.txt)", "",
              "Relative to the build tree; `bench/run_all.sh` runs them in this order.", "", "```"]
    lines += cmds + ["```", ""]
    return lines


def replace(text, part, body):
    begin, end = MARKERS[part]
    if begin not in text or end not in text:
        sys.exit("report.py: no GENERATED %s markers" % part)
    head, rest = text.split(begin, 1)
    return head + begin + "\n".join(body) + end + rest.split(end, 1)[1]


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    out = sys.argv[1]
    results = load(out)
    app_table = apps(out)
    plot_data(out, results, app_table)
    if len(sys.argv) == 3:
        doc_path = sys.argv[2]
        with open(doc_path) as f:
            text = f.read()
        text = replace(text, "summary", summary(out, results, app_table))
        text = replace(text, "figures", figures(out, results, app_table))
        with open(doc_path, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
