# plot.gp: get latency (p50) by size, MPI one-sided vs dsm, from report.py's
# latency_by_size.dat. Run by bench/run_all.sh:
#   gnuplot -e "datafile='...'; outfile='....png'" bench/plot.gp
set terminal pngcairo size 1000,650 noenhanced
set output outfile
set title "get latency by size (p50): MPI_Get + flush vs dsm memcpy from a block homed at the other node"
set logscale xy
set xlabel "bytes"
set ylabel "microseconds (p50)"
set key top left
set grid
set format x "%.0s%cB"
plot datafile using 1:2 with linespoints title "MPI, default osc, shm", \
     ''       using 1:3 with linespoints title "dsm, shm", \
     ''       using 1:4 with linespoints title "MPI, osc ucx, shm", \
     ''       using 1:6 with linespoints title "MPI, osc ucx, tcp", \
     ''       using 1:7 with linespoints title "dsm, tcp", \
     ''       using 1:8 with linespoints title "MPI, osc pt2pt, tcp"
