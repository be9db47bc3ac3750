#!/usr/bin/env bash
# The regression gate's false alarms and detections, measured on real runs
# against the embedded sandbox (loopback only, every run bounded by its plan).
#
# - Same build against itself: N smoke runs and M staged runs; every pair is
#   judged in both directions (`dashload report B --baseline A`). Any
#   regression there is a false alarm (goal: 0).
# - Detection: K staged runs of a sandbox made slower on panel queries
#   (`[sandbox] query_cost = 1.3`), each judged against every same-build staged
#   run (goal: >= 90 % detected).
# Runs alternate (A S A S …) so the machine's drift falls on both sides.
# Pairs share runs, so they are not independent: the figure is a rate over
# comparisons, not over independent experiments.
#
# Only hold windows are judged, and the stress ladder runs after them, so by
# default the staged runs leave out [stress] (about 2 min a run instead of 5);
# STAGED_LADDER=1 keeps it.
#
# usage: bench/regression_gate.sh [smoke_runs=7] [staged_runs=4] [slow_runs=3] [slow_factor=1.3]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
SMOKE=${1:-7}
STAGED=${2:-4}
SLOW=${3:-3}
FACTOR=${4:-1.3}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

cargo build --release >&2
BIN=$PWD/target/release/dashload

# scenario_copy NAME EXTRA: scenarios/NAME.toml (ladder stripped unless asked)
# plus EXTRA, in its own folder beside a copy of the dashboards.
scenario_copy() {
  local dir="$OUT/scenarios-$1-$3"
  mkdir -p "$dir"
  cp -r scenarios/dashboards "$dir/"
  if [ "$1" = staged ] && [ "${STAGED_LADDER:-0}" != 1 ]; then
    # Drop the [stress] table: from its header to the next table header.
    awk '/^\[stress\]/{skip=1; next} /^\[/{skip=0} !skip' "scenarios/$1.toml" > "$dir/$1.toml"
  else
    cp "scenarios/$1.toml" "$dir/$1.toml"
  fi
  printf '%b' "$2" >> "$dir/$1.toml"
  echo "$dir/$1.toml"
}

SMOKE_FILE=$(scenario_copy smoke "" same)
STAGED_FILE=$(scenario_copy staged "" same)
SLOW_FILE=$(scenario_copy staged "\n[sandbox]\nquery_cost = $FACTOR\n" slow)

run() { # run SCENARIO REPORTS_DIR: one run, its folder's path on stdout
  mkdir -p "$2"
  "$BIN" run "$1" --reports-dir "$2" >"$OUT/last.log" 2>&1 || true
  ls -dt "$2"/*/ | head -1
}

for i in $(seq "$SMOKE"); do
  echo "smoke run $i/$SMOKE" >&2
  run "$SMOKE_FILE" "$OUT/smoke" >/dev/null
done
max=$(( STAGED > SLOW ? STAGED : SLOW ))
for i in $(seq "$max"); do
  if [ "$i" -le "$STAGED" ]; then
    echo "staged run $i/$STAGED" >&2
    run "$STAGED_FILE" "$OUT/staged" >/dev/null
  fi
  if [ "$i" -le "$SLOW" ]; then
    echo "slow staged run $i/$SLOW (query cost x $FACTOR)" >&2
    run "$SLOW_FILE" "$OUT/slow" >/dev/null
  fi
done

python3 - "$BIN" "$OUT" "$FACTOR" <<'PY'
import glob, json, os, subprocess, sys
bin_, out, factor = sys.argv[1:]

def judge(run, base):
    subprocess.run([bin_, "report", run, "--baseline", base],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    s = json.load(open(os.path.join(run, "summary.json")))
    b = s["baseline"]
    judged = [d for d in b["windows"] if d.get("judged")]
    return s["regression"], judged

def runs(kind):
    return sorted(d for d in glob.glob(f"{out}/{kind}/*/") if os.path.isfile(d + "run.json"))

def same_build(kind):
    rs = runs(kind)
    alarms, total, top, unjudged = 0, 0, (0.0, ""), set()
    for a in rs:
        for b in rs:
            if a == b:
                continue
            regressed, judged = judge(b, a)
            total += 1
            alarms += regressed
            for d in judged:
                if d.get("sure") is not None and d["sure"] >= top[0]:
                    top = (d["sure"], f'{d["scope"]}: {d["figure"]}')
                if d.get("note"):
                    unjudged.add(f'{d["scope"]}: {d["figure"]} ({d["note"]})')
    print(f"{kind:6} same build: {alarms} false alarms in {total} comparisons "
          f"({len(rs)} runs, every ordered pair; goal 0)")
    print(f"       closest call: {top[0]*100:.1f} % sure ({top[1]}); alarm at >= 95 %")
    for u in sorted(unjudged)[:6]:
        print(f"       not judged: {u}")
    return alarms, total

same_build("smoke")
same_build("staged")
slow, base = runs("slow"), runs("staged")
hits, total, figures = 0, 0, {}
for s in slow:
    for a in base:
        regressed, judged = judge(s, a)
        total += 1
        hits += regressed
        for d in judged:
            if d.get("regression"):
                key = f'{d["scope"]}: {d["figure"]}'
                figures[key] = figures.get(key, 0) + 1
rate = 100.0 * hits / total if total else 0.0
print(f"slower x{factor} on queries: detected in {hits} of {total} comparisons ({rate:.0f} %; goal >= 90 %)")
for k, v in sorted(figures.items(), key=lambda kv: -kv[1]):
    print(f"       {v:3} × {k}")
PY
