#!/usr/bin/env bash
# The regression gate against a real InfluxDB made slower, not through the
# sandbox's own cost knob: a real influxd (Debian's influxdb) on free loopback
# ports, seeded with 30 days of generated entries, behind two delay proxies
# (bench/delay_proxy.py): one adds nothing, the other DELAY_MS to every request.
#
# In rounds of three runs of smoke.toml pointed at influxdb1: A (through the
# plain proxy), S (through the slow one), B (plain again). B against A is a
# same-build pair (any regression is a false alarm); S against A and against B
# should be caught. Both sides go through a proxy, so its own cost is on both.
# The sync job is off (`--set sync.users=0`): its writes would grow the data
# every later run queries, a drift the gate would rightly call slower; so
# smoke's [slo.ingest_batch] is left out too (it would be "not judged", exit 1).
#
# usage: bench/influx_slowdown.sh [rounds=3] [delay_ms=5]
# env:   BIN=path (a built dashload: no cargo build); KEEP=dir (keep the runs)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source bench/machine.sh
machine
ROUNDS=${1:-3}
DELAY=${2:-5}
INFLUXD=$(command -v influxd || true)
[ -n "$INFLUXD" ] || { echo "influxd is not installed (apt-get install influxdb)" >&2; exit 2; }
if [ -n "${KEEP:-}" ]; then OUT=$KEEP; mkdir -p "$OUT"; else OUT=$(mktemp -d); fi
if [ -z "${BIN:-}" ]; then
  cargo build --release >&2
  BIN=$PWD/target/release/dashload
fi

PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -n "${KEEP:-}" ] || rm -rf "$OUT"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
HTTP=$(free_port)
RPC=$(free_port)
mkdir -p "$OUT/influx"
cat > "$OUT/influx/influxdb.conf" <<CONF
reporting-disabled = true
bind-address = "127.0.0.1:$RPC"
[meta]
  dir = "$OUT/influx/meta"
[data]
  dir = "$OUT/influx/data"
  wal-dir = "$OUT/influx/wal"
  query-log-enabled = false
[coordinator]
  query-timeout = "10s"
  max-concurrent-queries = 32
[http]
  bind-address = "127.0.0.1:$HTTP"
  log-enabled = false
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
CONF
"$INFLUXD" -config "$OUT/influx/influxdb.conf" >"$OUT/influx/log" 2>&1 &
PIDS+=($!)
for _ in $(seq 300); do
  curl -sf -o /dev/null "http://127.0.0.1:$HTTP/ping" && break
  sleep 0.1
done
curl -sf -o /dev/null -XPOST "http://127.0.0.1:$HTTP/query" --data-urlencode "q=CREATE DATABASE toggl"
# 30 days of history in another workspace's ids (seed 999), in 5,000-line batches.
"$BIN" generate toggl --count 30000 --format lp --seed 999 | split -l 5000 - "$OUT/influx/batch-"
for f in "$OUT"/influx/batch-*; do
  curl -sf -o /dev/null --data-binary @"$f" "http://127.0.0.1:$HTTP/write?db=toggl&precision=s"
done

proxy() { # proxy DELAY_MS NAME: start a proxy, its port on stdout
  python3 bench/delay_proxy.py "$HTTP" "$1" --port-file "$OUT/$2.port" &
  PIDS+=($!)
  for _ in $(seq 100); do [ -s "$OUT/$2.port" ] && break; sleep 0.1; done
}
proxy 0 plain
proxy "$DELAY" slow
PLAIN=$(cat "$OUT/plain.port")
SLOW=$(cat "$OUT/slow.port")

# smoke.toml with its [target] pointed at influxdb1 behind proxy PORT.
scenario() {
  local dir="$OUT/scenarios-$1"
  mkdir -p "$dir"
  cp -r scenarios/dashboards "$dir/"
  awk -v url="http://127.0.0.1:$2" '
    /^\[target\]/ { print; print "kind = \"influxdb1\""; print "url = \"" url "\""; print "database = \"toggl\""; skip=1; next }
    /^\[slo\.ingest_batch\]/ { drop=1; next }
    /^\[/ { skip=0; drop=0 }
    drop { next }
    skip && /^kind/ { next }
    { print }' scenarios/smoke.toml > "$dir/smoke.toml"
  echo "$dir/smoke.toml"
}
PLAIN_FILE=$(scenario plain "$PLAIN")
SLOW_FILE=$(scenario slow "$SLOW")

# Without the sync job: its writes would grow the data each later run queries.
run() {
  mkdir -p "$2"
  "$BIN" run "$1" --set sync.users=0 --reports-dir "$2" >"$OUT/last.log" 2>&1 || true
}
for i in $(seq "$ROUNDS"); do
  echo "round $i/$ROUNDS: A, slow (+$DELAY ms), B" >&2
  run "$PLAIN_FILE" "$OUT/a/$i"
  run "$SLOW_FILE" "$OUT/slow/$i"
  run "$PLAIN_FILE" "$OUT/b/$i"
done

python3 - "$BIN" "$OUT" "$ROUNDS" "$DELAY" <<'PY'
import glob, json, os, subprocess, sys
bin_, out, rounds, delay = sys.argv[1:]
def one(p):
    d = sorted(x for x in glob.glob(p) if os.path.isfile(x + "run.json"))
    return d[0] if d else None
def judge(run, base):
    rc = subprocess.run([bin_, "report", run, "--baseline", base],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
    s = json.load(open(os.path.join(run, "summary.json")))
    return rc, s
def p50(s, label):
    for c in s["judged"]:
        if c["class"] == label and c.get("latency"):
            return c["latency"]["p50"], c["latency"]["p95"]
    return None, None
alarms = caught = same = slow = 0
for i in range(1, int(rounds) + 1):
    a, s, b = one(f"{out}/a/{i}/*/"), one(f"{out}/slow/{i}/*/"), one(f"{out}/b/{i}/*/")
    if not (a and s and b):
        print(f"round {i}: a run is missing"); continue
    rc, sb = judge(b, a); same += 1; alarms += sb["regression"]
    print(f"round {i} same build: exit {rc}: {sb['baseline']['verdict']}")
    for base in (a, b):
        rc, ss = judge(s, base); slow += 1; caught += ss["regression"]
        pa, pa95 = p50(json.load(open(base + "summary.json")), "panel_query")
        ps, ps95 = p50(ss, "panel_query")
        print(f"round {i} +{delay} ms: panel query p50 {pa:.1f} → {ps:.1f} ms, p95 {pa95:.1f} → {ps95:.1f} ms; "
              f"exit {rc}: {ss['baseline']['verdict']}")
print(f"real influxd +{delay} ms a request: detected in {caught} of {slow} verdicts; "
      f"same build: {alarms} false alarms in {same} pairs")
PY
