# Lines/s by server and mode, from the data file bench/run.py writes.
#   gnuplot -e "data='build-bench/lines_per_s.dat'; out='docs/bench-lines-per-s.png'" bench/chart.gp
set terminal pngcairo size 900,480 font ",10"
set output out
set title "Lines per second by server and mode (median of the rounds; log scale)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set logscale y
set yrange [1000:*]
set ylabel "lines/s"
set key top right
set grid ytics
plot for [i=2:*] data using i:xtic(1) title columnheader(i)
