#!/usr/bin/env bash
# The regression gate's false alarms and detections, measured on real runs
# against the embedded sandbox (loopback only, every run bounded by its plan).
#
# Smoke, in rounds of three runs: A (same build), S (the sandbox made slower on
# panel queries, `[sandbox] query_cost = SMOKE_FACTOR`, 1.5 by default), B
# (same build). Each round gives one independent same-build pair, judged both
# ways (B against A and A against B: any regression is a false alarm, goal 0),
# and S judged against A and against B (detection, goal >= 90 %). Runs
# alternate within a round so the machine's drift falls on every side.
#
# Staged, as before: STAGED same-build runs judged in every ordered pair, and
# SLOW runs with `query_cost = STAGED_FACTOR` (1.3) each judged against every
# same-build run. Those pairs share runs, so they are not independent: the
# figure is a rate over comparisons, not over independent experiments. Only
# hold windows are judged, and the stress ladder runs after them, so by default
# the staged runs leave out [stress] and [recovery] (about 2 min a run instead of 5);
# STAGED_LADDER=1 keeps it.
#
# Each verdict is judged on the figures the gate chooses when the scenario names
# none (`[regression] figures`); the script also prints, per figure, the median
# of the smallest worsening the gate would have flagged (its reach).
#
# usage: bench/regression_gate.sh [smoke_rounds=21] [staged_runs=4] [slow_staged_runs=3]
# env:   SMOKE_FACTOR=1.5 STAGED_FACTOR=1.3; BIN=path (a built dashload: no
#        cargo build); KEEP=dir (keep the runs there instead of a temp dir);
#        START=n with KEEP: resume at smoke round n (the earlier ones are judged too)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source bench/machine.sh
machine
ROUNDS=${1:-21}
STAGED=${2:-4}
SLOW=${3:-3}
SMOKE_FACTOR=${SMOKE_FACTOR:-1.5}
STAGED_FACTOR=${STAGED_FACTOR:-1.3}
if [ -n "${KEEP:-}" ]; then
  OUT=$KEEP
  mkdir -p "$OUT"
else
  OUT=$(mktemp -d)
  trap 'rm -rf "$OUT"' EXIT
fi

if [ -z "${BIN:-}" ]; then
  cargo build --release >&2
  BIN=$PWD/target/release/dashload
fi

# scenario_copy NAME EXTRA TAG: scenarios/NAME.toml (ladder stripped unless
# asked) plus EXTRA, in its own folder beside a copy of the dashboards.
scenario_copy() {
  local dir="$OUT/scenarios-$1-$3"
  mkdir -p "$dir"
  cp -r scenarios/dashboards "$dir/"
  if [ "$1" = staged ] && [ "${STAGED_LADDER:-0}" != 1 ]; then
    # Drop the ladder and what needs it ([stress], [recovery], [slo.recovery],
    # [slo.degradation]): each from its header to the next table header.
    awk '/^\[(stress|recovery|slo\.recovery|slo\.degradation)\]/{skip=1; next} /^\[/{skip=0} !skip' \
      "scenarios/$1.toml" > "$dir/$1.toml"
  else
    cp "scenarios/$1.toml" "$dir/$1.toml"
  fi
  printf '%b' "$2" >> "$dir/$1.toml"
  echo "$dir/$1.toml"
}

SMOKE_FILE=$(scenario_copy smoke "" same)
SMOKE_SLOW_FILE=$(scenario_copy smoke "\n[sandbox]\nquery_cost = $SMOKE_FACTOR\n" slow)
STAGED_FILE=$(scenario_copy staged "" same)
STAGED_SLOW_FILE=$(scenario_copy staged "\n[sandbox]\nquery_cost = $STAGED_FACTOR\n" slow)

run() { # run SCENARIO REPORTS_DIR: one run into its own folder under REPORTS_DIR
  mkdir -p "$2"
  "$BIN" run "$1" --reports-dir "$2" >"$OUT/last.log" 2>&1 || true
}

for i in $(seq "${START:-1}" "$ROUNDS"); do
  rm -rf "$OUT/smoke-a/$i" "$OUT/smoke-slow/$i" "$OUT/smoke-b/$i"
  echo "smoke round $i/$ROUNDS: A, slow x$SMOKE_FACTOR, B" >&2
  run "$SMOKE_FILE" "$OUT/smoke-a/$i"
  run "$SMOKE_SLOW_FILE" "$OUT/smoke-slow/$i"
  run "$SMOKE_FILE" "$OUT/smoke-b/$i"
done
max=$(( STAGED > SLOW ? STAGED : SLOW ))
for i in $(seq "$max"); do
  if [ "$i" -le "$STAGED" ]; then
    echo "staged run $i/$STAGED" >&2
    run "$STAGED_FILE" "$OUT/staged"
  fi
  if [ "$i" -le "$SLOW" ]; then
    echo "slow staged run $i/$SLOW (query cost x $STAGED_FACTOR)" >&2
    run "$STAGED_SLOW_FILE" "$OUT/staged-slow"
  fi
done

python3 - "$BIN" "$OUT" "$ROUNDS" "$SMOKE_FACTOR" "$STAGED_FACTOR" <<'PY'
import glob, json, os, statistics, subprocess, sys
bin_, out, rounds, smoke_factor, staged_factor = sys.argv[1:]

def folders(pattern):
    return sorted(d for d in glob.glob(pattern) if os.path.isfile(d + "run.json"))

def judge(run, base):
    subprocess.run([bin_, "report", run, "--baseline", base],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return json.load(open(os.path.join(run, "summary.json")))

class Tally:
    def __init__(self):
        self.total, self.regressed, self.closest = 0, 0, (0.0, "")
        self.figures, self.reach, self.unjudged = {}, {}, set()
    def add(self, s):
        b = s["baseline"]
        self.total += 1
        self.regressed += bool(s["regression"])
        for d in b["windows"]:
            key = f'{d["scope"]}: {d["figure"]}'
            if d.get("judged") and d.get("sure") is not None and d["sure"] >= self.closest[0]:
                self.closest = (d["sure"], key)
            if d.get("regression"):
                self.figures[key] = self.figures.get(key, 0) + 1
            if d.get("note"):
                self.unjudged.add(f'{key} ({d["note"]})')
        for r in b.get("reach", []):
            v = r.get("detectable_pct")
            if v is None and r.get("detectable") is not None:
                v = r["detectable"] * 100.0
            if v is not None:
                self.reach.setdefault(r["label"], []).append(v)
        return b.get("verdict", "")
    def reach_lines(self):
        for label, v in sorted(self.reach.items()):
            unit = " points" if label.endswith("error rate") else " %"
            yield (f"       reach {label}: median +{statistics.median(v):.1f}{unit} "
                   f"(+{min(v):.1f} … +{max(v):.1f}) over {len(v)} verdicts")

def rate(t):
    return 100.0 * t.regressed / t.total if t.total else 0.0

# Smoke: independent pairs, one per round.
same, slow, example = Tally(), Tally(), ""
pairs = 0
for i in range(1, int(rounds) + 1):
    a, s, b = (folders(f"{out}/smoke-{k}/{i}/*/") for k in ("a", "slow", "b"))
    if not (a and b):
        continue
    pairs += 1
    example = same.add(judge(b[0], a[0]))
    same.add(judge(a[0], b[0]))
    for base in (a[0], b[0]):
        if s:
            slow.add(judge(s[0], base))
print(f"smoke  same build: {same.regressed} false alarms in {same.total} verdicts "
      f"({pairs} independent pairs, each judged both ways; goal 0)")
print(f"       closest call: {same.closest[0]*100:.1f} % sure ({same.closest[1]}); alarm at >= 95 %")
print(f"       e.g. {example}")
for line in same.reach_lines():
    print(line)
for u in sorted(same.unjudged)[:6]:
    print(f"       not judged: {u}")
print(f"smoke  slower x{smoke_factor} on queries: detected in {slow.regressed} of {slow.total} verdicts "
      f"({rate(slow):.0f} %; each slow run against its round's A and B; goal >= 90 %)")
for k, v in sorted(slow.figures.items(), key=lambda kv: -kv[1]):
    print(f"       {v:3} × {k}")

# Staged: every ordered pair of same-build runs; every slow run against each.
staged, slow_staged = folders(f"{out}/staged/*/"), folders(f"{out}/staged-slow/*/")
if staged:
    t = Tally()
    for a in staged:
        for b in staged:
            if a != b:
                t.add(judge(b, a))
    print(f"staged same build: {t.regressed} false alarms in {t.total} comparisons "
          f"({len(staged)} runs, every ordered pair; goal 0)")
    print(f"       closest call: {t.closest[0]*100:.1f} % sure ({t.closest[1]}); alarm at >= 95 %")
    for line in t.reach_lines():
        print(line)
    for u in sorted(t.unjudged)[:6]:
        print(f"       not judged: {u}")
if staged and slow_staged:
    t = Tally()
    for s in slow_staged:
        for a in staged:
            t.add(judge(s, a))
    print(f"staged slower x{staged_factor} on queries: detected in {t.regressed} of {t.total} "
          f"comparisons ({rate(t):.0f} %; goal >= 90 %)")
    for k, v in sorted(t.figures.items(), key=lambda kv: -kv[1]):
        print(f"       {v:3} × {k}")
PY
