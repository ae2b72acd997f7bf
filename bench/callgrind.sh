#!/usr/bin/env bash
# User-space instructions per message or per connection of one server under callgrind (the
# method of BENCHMARKS.md): the server under `valgrind --tool=callgrind` on CPU 0, counters
# zeroed once it listens, `loadgen` on CPU 1, a dump, instructions / messages (or connections).
#
#   bench/callgrind.sh --server PATH [--backend epoll|io_uring] [--conns N | --churn] [--udp]
#                      [--size BYTES] [--seconds S] [--out FILE] [-- valgrind options, e.g. --cache-sim=yes]
#
# --udp: PATH is a UDP echo (the udp_echo example, or a reference server given `--udp` by the
# caller through a wrapper) and the load is `loadgen --udp` with --conns sockets.
#
# PATH is the echo example (EVENT_BACKEND=--backend) or a reference server (mio_loop,
# uring_loop: any binary taking --addr). Prints `instructions=I units=U per_unit=I/U`; the
# callgrind file stays in --out (default /tmp/callgrind.<server>.<pid>) for callgrind_annotate.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
server="" backend=epoll conns=50 size=64 churn=0 udp=0 secs=5 out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --server) server="$2"; shift 2 ;;
    --backend) backend="$2"; shift 2 ;;
    --conns) conns="$2"; shift 2 ;;
    --size) size="$2"; shift 2 ;;
    --churn) churn=1; shift ;;
    --udp) udp=1; shift ;;
    --seconds) secs="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --) shift; break ;;
    *) echo "callgrind.sh: unknown flag $1" >&2; exit 2 ;;
  esac
done
[ -n "$server" ] || { echo "callgrind.sh: --server PATH needed" >&2; exit 2; }
loadgen="${BENCH_TARGET_DIR:-$root/bench/target}/release/loadgen"
port=$((10000 + RANDOM % 10000))  # below the ephemeral range (32768+)
out="${out:-/tmp/callgrind.$(basename "$server").$$}"
EVENT_BACKEND="$backend" taskset -c 0 valgrind --tool=callgrind --callgrind-out-file="$out" "$@" \
  "$server" --addr "127.0.0.1:$port" >/dev/null 2>"$out.log" &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 600); do
  if [ $udp = 1 ]; then
    grep -q ":$(printf '%04X' $port) 00000000:0000 07" /proc/net/udp && break
  else
    grep -q ":$(printf '%04X' $port) 00000000:0000 0A" /proc/net/tcp && break
  fi
  sleep 0.05
done
sleep 0.5
callgrind_control -z $pid >/dev/null
if [ $udp = 1 ]; then
  units=$(taskset -c 1 "$loadgen" --udp --addr "127.0.0.1:$port" --conns "$conns" --size "$size" --seconds "$secs" | sed -n 's/.* messages=\([0-9]*\).*/\1/p')
elif [ $churn = 1 ]; then
  units=$(taskset -c 1 "$loadgen" --addr "127.0.0.1:$port" --churn --seconds "$secs" | sed -n 's/.*connections=\([0-9]*\).*/\1/p')
else
  units=$(taskset -c 1 "$loadgen" --addr "127.0.0.1:$port" --conns "$conns" --size "$size" --seconds "$secs" | sed -n 's/.* messages=\([0-9]*\).*/\1/p')
fi
sleep 0.3
callgrind_control -d $pid >/dev/null
sleep 0.5
kill -KILL $pid; wait $pid 2>/dev/null || true
trap - EXIT
dump=$(ls -t "$out"* | grep -v '\.log$' | head -1)
ins=$(grep -m1 '^summary:\|^totals:' "$dump" | awk '{print $2}')
echo "instructions=$ins units=$units per_unit=$(awk -v i="$ins" -v u="$units" 'BEGIN{printf "%.1f", i/u}') file=$dump"
