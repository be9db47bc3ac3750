#!/bin/sh
# The report post-processor at scale: wall time and peak memory (Maximum
# resident set size) of rendering synthetic runs of 1M and 10M requests.
# Goals (BENCH.md): 1M rows in <= 3 s and <= 150 MB; 10M rows, same peak.
#
# usage: bench/report_scale.sh [rows ...]      (default: 1000000 10000000)
# Needs ~3 GB free under ${SCALE_DIR:-/tmp/dashload-report-scale} for 10M rows.
set -eu
cd "$(dirname "$0")/.."
source bench/machine.sh
machine
cargo build --release --example report_render >&2
bin=target/release/examples/report_render
base=${SCALE_DIR:-/tmp/dashload-report-scale}
mkdir -p "$base"
[ $# -gt 0 ] || set -- 1000000 10000000
printf '%-10s %-9s %-10s %-10s %-12s\n' rows log_MB wall_s cpu_s max_rss_MB
for rows in "$@"; do
    dir="$base/run-$rows"
    if [ ! -f "$dir/run.json" ]; then
        rm -rf "$dir"
        "$bin" gen "$dir" "$rows" 1 >&2
    fi
    # Warm the page cache once so every figure is of the same (cached) read.
    "$bin" render "$dir" >/dev/null 2>&1
    for i in 1 2 3; do
        /usr/bin/time -v "$bin" render "$dir" >/dev/null 2>"$base/time.txt"
        wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$base/time.txt" | awk -F: '{ if (NF == 3) print $1*3600 + $2*60 + $3; else print $1*60 + $2 }')
        user=$(sed -n 's/.*User time (seconds): //p' "$base/time.txt")
        sys=$(sed -n 's/.*System time (seconds): //p' "$base/time.txt")
        rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$base/time.txt")
        mb=$(du -m "$dir/requests.csv" | cut -f1)
        printf '%-10s %-9s %-10s %-10s %-12s\n' "$rows" "$mb" "$wall" "$(echo "$user + $sys" | bc)" "$((rss / 1024))"
    done
done
