#!/usr/bin/env bash
# Run end against a target that never answers (issue 12, item 3): a 31 s plan (ramp 5 s,
# hold 25 s, Goose's 1 s ramp down) with 5 viewers and the sync job, once per request
# timeout; prints the wall time next to the bound plan + timeout + 2 s, and the request
# log's outcomes (timeouts sent during the load, requests cut off as cancelled).
# Before the fix: 57 s with a 10 s timeout, 155 s with 30 s.
#
# Usage: bench/overrun.sh [timeouts="10s 30s"]   (DASHLOAD=path picks the binary)
source "$(dirname "$0")/common.sh"
TIMEOUTS=${1:-"10s 30s"}; PORT=$(free_port)
if [ -z "${DASHLOAD:-}" ]; then
  cargo build --release -q --bin dashload
  DASHLOAD=target/release/dashload
fi
# Answers preflight (/ping, SHOW DATABASES), then reads every request and never answers.
python3 - "$PORT" > "$OUT/stall.out" 2>&1 <<'PY' &
import socket, sys, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1024); held = []
def handle(c):
    data = b""
    while b"\r\n\r\n" not in data:
        d = c.recv(65536)
        if not d: return
        data += d
    line = data.split(b"\r\n")[0]
    if b"/ping" in line:
        c.sendall(b"HTTP/1.1 204 No Content\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
    elif b"SHOW+DATABASES" in line:
        body = b'{"results":[{"statement_id":0,"series":[{"name":"databases","columns":["name"],"values":[["toggl"]]}]}]}'
        c.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    else:
        held.append(c); return
    c.close()
while True:
    c, _ = s.accept(); threading.Thread(target=handle, args=(c,), daemon=True).start()
PY
TARGET_PID=$!
wait_for_http "http://127.0.0.1:$PORT/ping" "$TARGET_PID" "the stalling server"
cp -r scenarios "$OUT/"
for t in $TIMEOUTS; do
  head=$(sed '/^\[\[stages\]\]/,$d' scenarios/smoke.toml)
  printf '%s\n[[stages]]\nusers = 6\nramp = "5s"\nhold = "25s"\n' \
    "${head/kind = \"sandbox\"/kind = \"influxdb1\"
url = \"http://127.0.0.1:$PORT\"
timeout = \"$t\"}" > "$OUT/scenarios/overrun.toml"
  rm -rf "$OUT/runs"
  start=$(date +%s.%N)
  (cd "$OUT" && "$OLDPWD/$DASHLOAD" run scenarios/overrun.toml --reports-dir runs > run.log 2>&1) || true
  end=$(date +%s.%N)
  python3 - "$t" "$start" "$end" "$(ls "$OUT"/runs/*/requests.csv)" <<'PY'
import csv, sys
from collections import Counter
t, start, end, log = sys.argv[1:]
secs = int(t.rstrip("s"))
took = float(end) - float(start)
rows = list(csv.DictReader(open(log, newline="")))
kinds = Counter("cancelled" if r["error"].endswith("cancelled at run end") else (r["error"] or "ok") for r in rows)
print(f"timeout {t}: plan 31 s, took {took:.1f} s, bound {31 + secs + 2} s; "
      f"rows {len(rows)}: " + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())))
PY
done
