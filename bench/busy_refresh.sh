#!/usr/bin/env bash
# Refreshes that fall while a dashboard is still loading, past capacity:
# `[viewers] busy_refresh = "cancel"` (Grafana's behaviour: the queries in
# flight are dropped and the load sent again) against `"skip"` (the tick is
# missed: a self-throttling load no browser makes). Same build, same scenario,
# one `--set` apart, A B alternated, on two targets:
#
# - the embedded sandbox with its queries made dearer (`sandbox.query_cost`);
# - a real influxd (Debian's influxdb) on free loopback ports, seeded with
#   SEED_ENTRIES generated Toggl entries, at its own capacity on this machine.
#
# Per run: queries sent per viewer per minute over the hold (the request log's
# panel and variable rows, replaced ones included, and what the server counted),
# queries replaced, dashboard loads completed and their p95, and for influxd its
# own `SHOW STATS` before and after: HTTP query requests, statements executed,
# and query time (queryDurationNs) per statement, and its running queries
# (queriesActive, sampled every 0.5 s) during the run and after it. influxd aborts a query whose
# client went away (services/httpd/handler.go: CloseNotify closes the query's
# `closing` channel, ExecuteQuery stops it), so with "cancel" its query time
# per statement should fall while requests rise.
#
# usage: bench/busy_refresh.sh [viewers=40] [hold_s=40] [refresh=2s]
# env:   BIN=path (a built dashload: no cargo build); KEEP=dir (keep the runs);
#        SEED_ENTRIES=200000 QUERY_COST=6 PAIRS=1
source "$(dirname "$0")/common.sh"
VIEWERS=${1:-40}
HOLD=${2:-40}
REFRESH=${3:-2s}
PAIRS=${PAIRS:-1}
SEED_ENTRIES=${SEED_ENTRIES:-200000}
QUERY_COST=${QUERY_COST:-6}
if [ -z "${BIN:-}" ]; then
  cargo build --release -q --bin dashload
  BIN=$PWD/target/release/dashload
fi
INFLUXD=$(command -v influxd || true)
[ -n "$INFLUXD" ] || { echo "influxd is not installed (apt-get install influxdb)" >&2; exit 2; }
INFLUX_PID=
cleanup() {
  [ -z "$INFLUX_PID" ] || kill "$INFLUX_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  bench_cleanup
}
trap cleanup EXIT

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
  query-timeout = "30s"
  max-concurrent-queries = 0
[http]
  bind-address = "127.0.0.1:$HTTP"
  log-enabled = false
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
CONF
"$INFLUXD" -config "$OUT/influx/influxdb.conf" >"$OUT/influx/log" 2>&1 &
INFLUX_PID=$!
wait_for_http "http://127.0.0.1:$HTTP/ping" "$INFLUX_PID" "influxd"
curl -sf -o /dev/null -XPOST "http://127.0.0.1:$HTTP/query" --data-urlencode "q=CREATE DATABASE toggl"
"$BIN" generate toggl --count "$SEED_ENTRIES" --format lp --seed 999 | split -l 5000 - "$OUT/influx/batch-"
for f in "$OUT"/influx/batch-*; do
  curl -sf -o /dev/null --data-binary @"$f" "http://127.0.0.1:$HTTP/write?db=toggl&precision=s"
done
rm -f "$OUT"/influx/batch-*
echo "influxd on 127.0.0.1:$HTTP seeded with $SEED_ENTRIES entries"

# One scenario, two targets: viewers only (the sync job's writes would change
# what later runs query), one stage held past capacity.
mkdir -p "$OUT/scenarios"
cp -r scenarios/dashboards "$OUT/scenarios/"
body() {
  cat <<TOML
[viewers]
dashboard = "dashboards/toggl-overview.json"
refresh = "$REFRESH"
refreshes_per_visit = 10
think_time = "1s..2s"
[[stages]]
users = $VIEWERS
ramp = "5s"
hold = "${HOLD}s"
TOML
}
{ echo 'name = "busy-refresh-sandbox"'; echo 'seed = 5'; echo '[target]'; echo 'kind = "sandbox"';
  echo '[sandbox]'; echo "query_cost = $QUERY_COST"; body; } > "$OUT/scenarios/sandbox.toml"
{ echo 'name = "busy-refresh-influxd"'; echo 'seed = 5'; echo '[target]'; echo 'kind = "influxdb1"';
  echo "url = \"http://127.0.0.1:$HTTP\""; echo 'database = "toggl"'; echo 'timeout = "30s"'; body; } \
  > "$OUT/scenarios/influxd.toml"

stats() { # influxd's SHOW STATS as JSON, on stdout
  curl -sf -G "http://127.0.0.1:$HTTP/query" --data-urlencode "q=SHOW STATS"
}
active() { # influxd's queries running now (queryExecutor queriesActive)
  stats | python3 -c 'import json,sys
for s in json.load(sys.stdin)["results"][0]["series"]:
    if s["name"] == "queryExecutor": print(dict(zip(s["columns"], s["values"][0])).get("queriesActive", 0))'
}
run() { # run TARGET MODE I
  local dir="$OUT/runs/$1-$2-$3" sampler=
  mkdir -p "$dir"
  if [ "$1" = influxd ]; then
    stats > "$dir/stats-before.json"
    # influxd's running queries every 0.5 s while the run goes, and for 5 s
    # after it: queries its clients dropped that it did not abort stay there.
    ( while :; do active >> "$dir/active"; sleep 0.5; done ) &
    sampler=$!
  fi
  "$BIN" run "$OUT/scenarios/$1.toml" --set "viewers.busy_refresh=$2" --reports-dir "$dir" \
    > "$dir/console.txt" 2>&1 || true
  if [ -n "$sampler" ]; then
    echo end >> "$dir/active"
    sleep 5
    kill "$sampler" 2>/dev/null || true
    wait "$sampler" 2>/dev/null || true
    stats > "$dir/stats-after.json"
  fi
}
for i in $(seq "$PAIRS"); do
  for target in sandbox influxd; do
    echo "pair $i/$PAIRS: $target, cancel then skip" >&2
    run "$target" cancel "$i"
    run "$target" skip "$i"
  done
done

python3 - "$OUT" "$VIEWERS" <<'PY'
import csv, glob, json, os, sys
out, viewers = sys.argv[1], int(sys.argv[2])

def module(stats, name):
    for s in stats["results"][0]["series"]:
        if s["name"] == name:
            return dict(zip(s["columns"], s["values"][0]))
    return {}

print(f"{'run':<22} {'queries/viewer/min':>18} {'server/viewer/min':>17} {'replaced':>8} "
      f"{'loads ok':>8} {'load p95 ms':>11} {'influxd ms/stmt (statements), running queries':>15}")
for d in sorted(glob.glob(f"{out}/runs/*")):
    runs = [r for r in glob.glob(f"{d}/*/") if os.path.isfile(r + "summary.json")]
    if not runs:
        print(f"{os.path.basename(d):<22} no report (see {d}/console.txt)")
        continue
    r = runs[0]
    s = json.load(open(r + "summary.json"))
    hold = next(w for w in s["windows"] if w["kind"] == "hold")
    minutes = (hold["end_ms"] - hold["start_ms"]) / 60000
    sent = replaced = 0
    with open(r + "requests.csv", newline="") as f:
        for row in csv.DictReader(f):
            t = int(row["elapsed"])
            if not hold["start_ms"] <= t < hold["end_ms"]:
                continue
            if row["name"].startswith(("panel ", "variable ")):
                sent += 1
                replaced += row["error"].endswith("cancelled: the next refresh replaced it")
    loads = next((c for c in hold["classes"] if c["class"] == "dashboard_load"), None)
    ok = loads["count"] - loads["failed"] if loads else 0
    p95 = (loads.get("latency") or {}).get("p95") if loads else None
    server = ""
    check = next((c for c in (s.get("server") or {}).get("count_check", [])
                  if c["scope"] == hold["name"] and c["kind"] == "query"), None)
    if check:
        server = f"{check['server'] / viewers / minutes:.1f}"
    per_stmt = ""
    if os.path.isfile(f"{d}/stats-after.json"):
        a = module(json.load(open(f"{d}/stats-after.json")), "queryExecutor")
        b = module(json.load(open(f"{d}/stats-before.json")), "queryExecutor")
        n = a.get("queriesExecuted", 0) - b.get("queriesExecuted", 0)
        ns = a.get("queryDurationNs", 0) - b.get("queryDurationNs", 0)
        per_stmt = f"{ns / max(n, 1) / 1e6:.1f} ({n})"
        samples = open(f"{d}/active").read().split()
        during = [int(x) for x in samples[:samples.index("end")]] if "end" in samples else []
        after = [int(x) for x in samples[samples.index("end") + 1:]] if "end" in samples else []
        per_stmt += f" active max {max(during, default=0)}, after {after[:3]}"
    print(f"{os.path.basename(d):<22} {sent / viewers / minutes:>18.1f} {server:>17} {replaced:>8} "
          f"{ok:>8} {'-' if p95 is None else round(p95):>11} {per_stmt:>15}")
PY
