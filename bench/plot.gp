# plot.gp: the report's plots, from report.py's data files in dir. Run by
# bench/run_all.sh (which copies the PNGs to docs/perf/):
#   gnuplot -e "dir='bench-results'" bench/plot.gp
# latency_by_size.png: get latency (p50) by size, MPI one-sided vs dsm;
# bandwidth_by_size.png: the same as bandwidth (bytes / p50), with MPI's 16 gets
# in flight; apps_by_nodes.png: the team applications' times, dsm vs threads.
set terminal pngcairo size 900,560 noenhanced font ",10"
set grid
set key top left

# latency_by_size.dat: size, then MPI and dsm p50 µs for each run of report.py's MPI_RUNS
set output dir.'/latency_by_size.png'
set title "get latency by size (p50): MPI_Get + flush vs dsm memcpy of fresh blocks homed at the other node, in address order"
set logscale xy
set xlabel "bytes"
set ylabel "microseconds (p50)"
set format x "%.0s%cB"
plot dir.'/latency_by_size.dat' using 1:2 with linespoints title "MPI, default osc, shm", \
     ''       using 1:3 with linespoints title "dsm, shm", \
     ''       using 1:4 with linespoints title "MPI, osc ucx, shm", \
     ''       using 1:6 with linespoints title "MPI, osc ucx, tcp", \
     ''       using 1:7 with linespoints title "dsm, tcp", \
     ''       using 1:8 with linespoints title "MPI, osc pt2pt, tcp"

# bandwidth_by_size.dat: size, then for each run MPI get, MPI 16 in flight, dsm (MB/s)
set output dir.'/bandwidth_by_size.png'
set title "get bandwidth by size (bytes / p50 time): MPI one-sided vs dsm memcpy of fresh blocks homed at the other node, in address order"
set ylabel "MB/s"
set key bottom right
plot dir.'/bandwidth_by_size.dat' using 1:2 with linespoints title "MPI_Get + flush, default osc, shm", \
     ''       using 1:3 with linespoints title "MPI_Get x16 + flush, default osc, shm", \
     ''       using 1:4 with linespoints title "dsm memcpy, shm", \
     ''       using 1:8 with linespoints title "MPI_Get + flush, osc ucx, tcp", \
     ''       using 1:9 with linespoints title "MPI_Get x16 + flush, osc ucx, tcp", \
     ''       using 1:10 with linespoints title "dsm memcpy, tcp"

# apps_by_nodes.dat: one block per application (fft, lu, radix, redblack, nbody):
# nodes, dsm s, threads s
set output dir.'/apps_by_nodes.png'
unset logscale
unset format
set xrange [0.5:4.5]
set xtics (1, 2, 4)
set yrange [0:*]
set xlabel "nodes (dsm) / threads"
set ylabel "seconds (median)"
set key top left
apps = "fft lu radix redblack nbody"
set multiplot layout 2,3 title "application time by node count: dsm nodes (bound, node i on CPU i mod 2) vs threads, 2 CPUs"
do for [i = 1:words(apps)] {
    set title word(apps, i)
    plot dir.'/apps_by_nodes.dat' index (i - 1) using 1:2 with linespoints title "dsm", \
         ''  index (i - 1) using 1:3 with linespoints title "threads"
}
unset multiplot
