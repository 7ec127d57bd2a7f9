#!/usr/bin/env bash
# Draws a training run's loss and validation metrics against steps into PNGs (gnuplot).
# Usage: launch/plot.sh RUN_DIR   (reads RUN_DIR/metrics.jsonl, writes RUN_DIR/plots/*.png)
set -euo pipefail
if [ $# -ne 1 ]; then
  echo "usage: $0 RUN_DIR" >&2
  exit 2
fi
run=$1
log="$run/metrics.jsonl"
[ -f "$log" ] || { echo "plot: $log not found" >&2; exit 1; }
command -v gnuplot > /dev/null || { echo "plot: gnuplot not found (launch/setup.sh installs gnuplot-nox)" >&2; exit 1; }
out="$run/plots"
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# JSON lines (flat objects, one per line) -> whitespace tables of the fields to plot.
awk -v tmp="$tmp" '
  function field(name,   m) {
    if (match($0, "\"" name "\":[^,}]*")) return substr($0, RSTART + length(name) + 3, RLENGTH - length(name) - 3)
    return "nan"
  }
  /"kind":"train"/ { print field("step"), field("loss"), field("lr") > (tmp "/train.dat") }
  /"kind":"valid"/ {
    print field("step"), field("kendall_tau"), field("opa"), field("slowdown_top1"),
          field("slowdown_top5"), field("slowdown_top10") > (tmp "/valid.dat")
  }' "$log"
touch "$tmp/train.dat" "$tmp/valid.dat"

gnuplot <<GP
set terminal pngcairo size 900,500 noenhanced
set grid
set key outside right
set xlabel "step"
set output "$out/loss.png"
set title "training loss ($run)"
plot "$tmp/train.dat" using 1:2 with lines lw 2 title "loss"
GP
if [ -s "$tmp/valid.dat" ]; then
  gnuplot <<GP
set terminal pngcairo size 900,500 noenhanced
set grid
set key outside right
set xlabel "step"
set output "$out/valid_ranking.png"
set title "validation ranking ($run)"
set yrange [-1:1]
plot "$tmp/valid.dat" using 1:2 with linespoints lw 2 title "kendall tau", \
     "$tmp/valid.dat" using 1:3 with linespoints lw 2 title "opa"
set output "$out/valid_slowdown.png"
set title "validation top-k slowdown ($run)"
set autoscale y
plot "$tmp/valid.dat" using 1:4 with linespoints lw 2 title "top-1", \
     "$tmp/valid.dat" using 1:5 with linespoints lw 2 title "top-5", \
     "$tmp/valid.dat" using 1:6 with linespoints lw 2 title "top-10"
GP
fi
echo "plot: wrote $(ls "$out"/*.png | tr '\n' ' ')"
