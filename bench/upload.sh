#!/usr/bin/env bash
# Cluster file uploads on loopback (examples/upload_throughput: the manager's receive
# path and a worker's send path, as the cluster runs them): a worker's file of each
# size streamed to a receiving process, receiver on core 1, sender on core 0
# (BENCH.md). Prints per size: throughput (MiB/s, the sender's hashing pass included)
# and each side's peak RSS (/usr/bin/time -v). Streaming means the peak RSS stays flat
# as the file grows; the received copy is compared with the sent one (cmp).
#
# Usage: bench/upload.sh [sizes_mib="64 512"] [rounds=3]
source "$(dirname "$0")/common.sh"
SIZES=${1:-64 512}; ROUNDS=${2:-3}
PROFILE=${PROFILE:-release}
if [ "$PROFILE" = release ]; then
  cargo build --release -q --example upload_throughput
else
  cargo build -q --example upload_throughput
fi
BIN=target/$PROFILE/examples/upload_throughput

rss_mib() { awk -F': ' '/Maximum resident set size/ {printf "%.1f", $2 / 1024}' "$1"; }

echo "size_mib round mib_per_s sender_peak_rss_mib receiver_peak_rss_mib ($PROFILE build)"
for size in $SIZES; do
  mkdir -p "$OUT/send" "$OUT/recv"
  head -c "$((size << 20))" /dev/urandom > "$OUT/send/requests.csv"
  for round in $(seq "$ROUNDS"); do
    rm -f "$OUT/recv/requests.csv"
    PORT=$(free_port)
    /usr/bin/time -v -o "$OUT/recv.time" taskset -c 1 "$BIN" serve "$PORT" "$OUT/recv" 1 &
    server=$!
    # The receiver takes one upload and exits: wait for its port to listen, without
    # connecting (a connection would be taken for the upload).
    for _ in $(seq 100); do
      kill -0 "$server" 2>/dev/null || { echo "the receiver did not start: nothing measured" >&2; exit 4; }
      ss -Hltn "sport = :$PORT" | grep -q . && break
      sleep 0.1
    done
    ss -Hltn "sport = :$PORT" | grep -q . || { echo "the receiver does not listen on $PORT: nothing measured" >&2; exit 4; }
    line=$(/usr/bin/time -v -o "$OUT/send.time" taskset -c 0 "$BIN" send "$PORT" "$OUT/send/requests.csv")
    wait "$server"
    cmp -s "$OUT/send/requests.csv" "$OUT/recv/requests.csv" || { echo "size $size: copies differ" >&2; exit 1; }
    echo "$size $round $(awk '{print $6}' <<< "$line") $(rss_mib "$OUT/send.time") $(rss_mib "$OUT/recv.time")"
  done
  rm -rf "$OUT/send" "$OUT/recv"
done
