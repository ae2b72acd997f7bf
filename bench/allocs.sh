#!/usr/bin/env bash
# Heap allocations per accepted connection and per echoed message of the echo example, on one
# driver. Builds the example with `--features count-allocs` (a counting global allocator in the
# example only; the library is the same) into target/allocs, runs it pinned to CPU 0, warms it
# up, then reads its counters (SIGUSR1) around two loads from `loadgen` on CPU 1:
#   churn:    connections one after another (connect, 64 B echoed, close), `--seconds` s;
#   messages: `--conns` connections x 64 B ping-pong, `--seconds` s (the connections' own
#             allocations, from the churn figure, are subtracted).
#
#   bench/allocs.sh [--backend epoll|io_uring] [--echo PATH] [--seconds S] [--conns N]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
backend=epoll echo_bin="" secs=3 conns=50
while [ $# -gt 0 ]; do
  case "$1" in
    --backend) backend="$2"; shift 2 ;;
    --echo) echo_bin="$2"; shift 2 ;;
    --seconds) secs="$2"; shift 2 ;;
    --conns) conns="$2"; shift 2 ;;
    *) echo "allocs.sh: unknown flag $1" >&2; exit 2 ;;
  esac
done
bench_target="${BENCH_TARGET_DIR:-$root/bench/target}"
if [ -z "$echo_bin" ]; then
  (cd "$root" && CARGO_TARGET_DIR=target/allocs cargo build -q --release --example echo --features count-allocs)
  echo_bin="$root/target/allocs/release/examples/echo"
fi
CARGO_TARGET_DIR="$bench_target" cargo build -q --release --manifest-path "$root/bench/Cargo.toml" --bin loadgen
loadgen="$bench_target/release/loadgen"
port=$((10000 + RANDOM % 10000))  # below the ephemeral range (32768+)
err="$(mktemp)"
EVENT_BACKEND="$backend" taskset -c 0 "$echo_bin" --addr "127.0.0.1:$port" 2>"$err" >/dev/null &
pid=$!
trap 'kill $pid 2>/dev/null; rm -f "$err"' EXIT
for _ in $(seq 100); do
  grep -q ":$(printf '%04X' $port) 00000000:0000 0A" /proc/net/tcp && break
  sleep 0.05
done
# One counter reading: SIGUSR1, then the new line on stderr.
read_counts() {
  local lines; lines=$(grep -c '^allocations:' "$err" || true)
  kill -USR1 $pid
  for _ in $(seq 200); do
    [ "$(grep -c '^allocations:' "$err" || true)" -gt "$lines" ] && break
    sleep 0.01
  done
  grep '^allocations:' "$err" | tail -1 | awk '{print $2}'
}
lg() { taskset -c 1 "$loadgen" --addr "127.0.0.1:$port" "$@"; }
# Warm-up: the loop's tables and buffers reach their working size.
lg --churn --seconds 1 >/dev/null
lg --conns "$conns" --size 64 --seconds 1 >/dev/null
a=$(read_counts)
n=$(lg --churn --seconds "$secs" | sed -n 's/.*connections=\([0-9]*\).*/\1/p')
b=$(read_counts)
m=$(lg --conns "$conns" --size 64 --seconds "$secs" | sed -n 's/.* messages=\([0-9]*\).*/\1/p')
c=$(read_counts)
awk -v a="$a" -v b="$b" -v c="$c" -v n="$n" -v m="$m" -v k="$conns" -v be="$backend" 'BEGIN {
  per_conn = (b - a) / n
  printf "%s: %.2f allocations per connection (%d connections), %.4f per message (%d messages, %d connections)\n",
    be, per_conn, n, (c - b - k * per_conn) / m, m, k
}'
