# Draws scaling_bench's curves (the CSV files in `dir`) as one PNG of six panels: `out`.
# Usage: gnuplot -e "dir='DIR'; out='DIR/scaling.png'" tests/bench/plot_scaling.gp
# A curve that was not measured (no CSV) leaves its panel with a note instead of a plot.
set terminal pngcairo size 1600,1500 font ",10"
set output out
set datafile separator ","
set datafile missing "nan"
set key autotitle columnhead top left
set grid
set style data linespoints
set multiplot layout 3,2 title "scaling\\_bench: real ps\\_server / coordinator processes on localhost"

have(name) = system("test -f '".dir."/".name.".csv' && echo 1") eq "1"
file(name) = dir."/".name.".csv"
missing(name) = sprintf("set label 1 '%s: not measured' at graph 0.5, 0.5 center", name)

# 1. Dense push / pull vs message size, with the TCP reference.
set title "Dense push / pull vs message size (1 server)"
set xlabel "message size (KiB)"
set ylabel "GB/s"
set logscale x 2
if (have("dense_size")) {
  plot file("dense_size") using 1:2 title "TCP reference", \
       "" using 1:3 title "push", "" using 1:4 title "pull"
} else { eval missing("dense_size"); plot NaN notitle; unset label 1 }
unset logscale x

# 2. Dense 16 MiB vs servers.
set title "Dense 16 MiB vs servers (R = 1, 8 shards)"
set xlabel "servers"
set ylabel "GB/s"
set xtics 1
set offsets graph 0.05, graph 0.05, 0, 0
if (have("dense_servers")) {
  plot file("dense_servers") using 1:2 title "push", "" using 1:3 title "pull", \
       "" using 1:4 title "push + pull step"
} else { eval missing("dense_servers"); plot NaN notitle; unset label 1 }

# 3. BSP step time vs workers.
set title "BSP step time vs worker processes (1M floats)"
set xlabel "workers"
set ylabel "ms per step"
set logscale x 2
set xtics (1, 2, 4, 8)
if (have("bsp_workers")) {
  plot file("bsp_workers") using 1:2 title "mean over workers", "" using 1:3 title "slowest worker"
} else { eval missing("bsp_workers"); plot NaN notitle; unset label 1 }
unset logscale x
set xtics autofreq
set offsets 0, 0, 0, 0

# 4. Sparse keys/s (left axis) and latency (right axis) vs keys per request.
set title "Sparse dim 16 vs keys per request"
set xlabel "keys per request"
set ylabel "keys/s"
set y2label "latency (us)"
set logscale x 10
set logscale y 10
set logscale y2 10
set y2tics
set key top left
if (have("sparse_keys")) {
  # Push in purple, pull in green; throughput solid, p50 dotted, p99 dashed.
  plot file("sparse_keys") using 1:2 title "push keys/s" lw 2 lc rgb "#9400d3", \
       "" using 1:5 title "pull keys/s" lw 2 lc rgb "#009e73", \
       "" using 1:3 axes x1y2 title "push p50 (us)" dt 3 lc rgb "#9400d3", \
       "" using 1:6 axes x1y2 title "pull p50 (us)" dt 3 lc rgb "#009e73", \
       "" using 1:4 axes x1y2 title "push p99 (us)" dt 2 lc rgb "#9400d3", \
       "" using 1:7 axes x1y2 title "pull p99 (us)" dt 2 lc rgb "#009e73"
} else { eval missing("sparse_keys"); plot NaN notitle; unset label 1 }
unset logscale y
unset logscale y2
unset y2tics
unset y2label

# 5. Sparse server memory per row vs rows.
set title "Sparse server memory per row (dim 16, Adagrad)"
set xlabel "rows"
set ylabel "bytes per row"
set logscale x 10
set yrange [0:*]
set key bottom right
if (have("sparse_memory")) {
  plot file("sparse_memory") using 1:3 title "server RSS growth / rows", \
       "" using 1:4 title "raw: values + optimizer state"
} else { eval missing("sparse_memory"); plot NaN notitle; unset label 1 }
unset logscale x
set yrange [*:*]
set key top left

# 6. Pull and push latency with parked pulls.
set title "64 KiB pull / push latency with parked pulls on the server"
set xlabel "parked pulls"
set ylabel "latency (us)"
set xrange [-100:1100]
set xtics (0, 1000)
set key center right
if (have("parked_pulls")) {
  plot file("parked_pulls") using 1:2 title "pull p50", "" using 1:3 title "pull p99", \
       "" using 1:4 title "push p50", "" using 1:5 title "push p99"
} else { eval missing("parked_pulls"); plot NaN notitle; unset label 1 }

unset multiplot
