#!/bin/sh
# The run index at scale: `dashload index` over N synthetic run folders (each a
# run.json, a history.json of ~600 bytes and a stub report.html; four
# scenarios, mixed verdicts, one folder in 500 incomplete), in a temporary
# folder. Prints the wall time of three rebuilds (the first after writing the
# folders, so the page cache is warm for all three) and the page's size.
# Goal: under 5 s for 10,000 folders.
#
# usage: bench/history_index.sh [folders]     (default: 10000)
# PROFILE=debug measures a debug build (no release build needed).
set -eu
cd "$(dirname "$0")/.."
source bench/machine.sh
machine
n=${1:-10000}
profile=${PROFILE:-release}
if [ "$profile" = release ]; then
    cargo build --release --bin dashload >&2
else
    cargo build --bin dashload >&2
fi
bin=$PWD/target/$profile/dashload
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
python3 - "$dir/reports" "$n" <<'PY'
import json, os, sys, datetime
root, n = sys.argv[1], int(sys.argv[2])
os.makedirs(root)
start = datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc)
scenarios = ["staging", "smoke", "nightly-large", "api <v2> & co"]
for i in range(n):
    t = start + datetime.timedelta(minutes=45 * i)
    scenario = scenarios[i % len(scenarios)]
    name = t.strftime("%Y%m%dT%H%M%SZ") + "-" + scenario.replace(" ", "_")
    d = os.path.join(root, name)
    os.makedirs(d)
    with open(os.path.join(d, "run.json"), "w") as f:
        json.dump({"scenario": scenario, "started_at": t.isoformat()}, f)
    if i % 500 == 7:
        os.makedirs(os.path.join(d, ".partial"))
        continue
    verdict = ["pass", "pass", "pass", "fail", "not_judged"][i % 5]
    h = {
        "schema": 1, "run_id": name, "scenario": scenario,
        "scenario_digest": "%064x" % (i % 3), "started_at": t.isoformat(),
        "ended_at": (t + datetime.timedelta(minutes=5)).isoformat(),
        "verdict": verdict, "interrupted": i % 97 == 0, "regression": i % 11 == 0,
        "baselines": [name], "capacity_held": 100 + i % 7 * 25, "capacity_failed": 300,
        "dashboard_load_p95_ms": 250.0 + (i * 37) % 200, "panel_query_p95_ms": 60.0 + (i * 13) % 50,
        "error_rate": (i % 9) / 1000.0, "dashload_version": "0.1.0",
    }
    with open(os.path.join(d, "history.json"), "w") as f:
        json.dump(h, f, indent=2)
    with open(os.path.join(d, "report.html"), "w") as f:
        f.write("<!DOCTYPE html><title>report</title>")
PY
for round in 1 2 3; do
    t0=$(date +%s.%N)
    "$bin" index "$dir/reports" >"$dir/out.txt"
    t1=$(date +%s.%N)
    printf 'profile %s, round %s: %s run folders indexed in %.2f s (%s)\n' \
        "$profile" "$round" "$n" "$(echo "$t1 - $t0" | bc)" "$(cut -d: -f2- "$dir/out.txt" | sed 's/^ //')"
done
printf 'index.html: %s KB, %s <svg> charts\n' "$(du -k "$dir/reports/index.html" | cut -f1)" \
    "$(grep -o '<svg' "$dir/reports/index.html" | wc -l)"
