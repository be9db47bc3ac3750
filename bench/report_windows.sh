#!/bin/sh
# The report with many windows (a long stress ladder): wall time and peak memory
# (Maximum resident set size) of rendering a synthetic run whose run.json holds
# 20,000 windows (ramps, holds and stress steps in turn), and the page's size.
#
# usage: bench/report_windows.sh [windows [rows]]    (default: 20000 400000)
# PROFILE=debug measures a debug build (no release build needed).
set -eu
cd "$(dirname "$0")/.."
source bench/machine.sh
machine
windows=${1:-20000}
rows=${2:-400000}
profile=${PROFILE:-release}
if [ "$profile" = release ]; then
    cargo build --release --example report_render >&2
else
    cargo build --example report_render >&2
fi
bin=target/$profile/examples/report_render
dir=${SCALE_DIR:-/tmp/dashload-report-windows}/run-$windows-$rows
rm -rf "$dir"
"$bin" gen-windows "$dir" "$rows" "$windows" >&2
/usr/bin/time -v "$bin" render "$dir" >/dev/null 2>"$dir.time.txt" || {
    cat "$dir.time.txt" >&2
    exit 1
}
wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$dir.time.txt")
rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$dir.time.txt")
page=$(du -k "$dir/report.html" | cut -f1)
json=$(du -k "$dir/summary.json" | cut -f1)
printf 'profile %s: %s windows, %s rows: wall %s, peak RSS %s MB, report.html %s KB, summary.json %s KB\n' \
    "$profile" "$windows" "$rows" "$wall" "$((rss / 1024))" "$page" "$json"
