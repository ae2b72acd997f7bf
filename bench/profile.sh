#!/usr/bin/env bash
# Kernel and user profile of one echo server under load, by sampling (`perf record -e cpu-clock`:
# works where the VM has no hardware counters). The server runs on CPU 0, `loadgen` on CPU 1.
#
#   bench/profile.sh --server PATH [--backend epoll|io_uring] [--conns N] [--size BYTES]
#                    [--seconds S] [--out FILE]
#
# PATH is the echo example (EVENT_BACKEND=--backend) or a reference server (mio_loop,
# uring_loop: any binary taking --addr). Prints the top symbols (`perf report --sort sym`,
# self time); the perf data stays in --out (default /tmp/perf.<server>.<pid>.data).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
target="${BENCH_TARGET_DIR:-$here/target}"
server="" backend=io_uring conns=500 size=64 seconds=4 out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --server) server="$2"; shift 2 ;;
    --backend) backend="$2"; shift 2 ;;
    --conns) conns="$2"; shift 2 ;;
    --size) size="$2"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
[ -n "$server" ] || { echo "--server PATH is required" >&2; exit 2; }
command -v perf >/dev/null || { echo "perf is required" >&2; exit 1; }
out="${out:-/tmp/perf.$(basename "$server").$$.data}"
addr=127.0.0.1:7400
taskset -c 0 env EVENT_BACKEND="$backend" "$server" --addr "$addr" >/dev/null 2>&1 &
spid=$!
trap 'kill $spid 2>/dev/null || true' EXIT
sleep 0.5
# Load for the warm-up (2 s) and the sample, plus a margin.
taskset -c 1 "$target/release/loadgen" --addr "$addr" --conns "$conns" --size "$size" \
  --seconds "$(awk -v s="$seconds" 'BEGIN { print s + 3 }')" >/dev/null 2>&1 &
lpid=$!
sleep 2
perf record -e cpu-clock -F 4000 -p "$spid" -o "$out" -- sleep "$seconds" >/dev/null 2>&1
wait "$lpid" || true
{ perf report -i "$out" --no-children --sort sym --stdio 2>/dev/null || true; } | grep -E '^\s+[0-9]' | head -40 || true
echo "perf data: $out"
