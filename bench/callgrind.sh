#!/usr/bin/env bash
# User-space instructions per echoed message of one server, load-independent (BENCHMARKS.md's
# callgrind method): the server under callgrind on CPU 0, its counters zeroed once it serves,
# `loadgen` on CPU 1 for SECONDS, a dump, then instructions / messages echoed.
#   bench/callgrind.sh [--udp | --unix] [--conns N] [--size S] [--seconds T] -- SERVER [ARGS...]
# The server gets --addr 127.0.0.1:PORT (--unix: --path P) appended. Examples:
#   EVENT_BACKEND=io_uring bench/callgrind.sh --udp -- target/release/examples/udp_echo
#   bench/callgrind.sh --udp -- bench/target/release/uring_loop --udp
#   bench/callgrind.sh --unix -- bench/target/release/tokio_ct
set -euo pipefail
BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LOADGEN="${BENCH_TARGET_DIR:-$BENCH_DIR/target}/release/loadgen"
MODE=tcp CONNS=50 SIZE=64 SECONDS_=5
while [[ $# -gt 0 && "$1" != -- ]]; do
    case "$1" in
        --udp) MODE=udp ;;
        --unix) MODE=unix ;;
        --conns) CONNS=$2; shift ;;
        --size) SIZE=$2; shift ;;
        --seconds) SECONDS_=$2; shift ;;
        *) echo "callgrind.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
[[ "${1:-}" == -- ]] && shift
[[ $# -ge 1 ]] || { echo "usage: $0 [--udp|--unix] [--conns N] [--size S] [--seconds T] -- SERVER [ARGS...]" >&2; exit 2; }
WORK=$(mktemp -d)
PORT=$(( 20000 + RANDOM % 20000 ))
case $MODE in
    unix) WHERE=(--path "$WORK/echo.sock"); TARGET=(--unix "$WORK/echo.sock") ;;
    udp) WHERE=(--addr "127.0.0.1:$PORT"); TARGET=(--udp --addr "127.0.0.1:$PORT") ;;
    *) WHERE=(--addr "127.0.0.1:$PORT"); TARGET=(--addr "127.0.0.1:$PORT") ;;
esac
taskset -c 0 valgrind --tool=callgrind --callgrind-out-file="$WORK/cg.out" "$@" "${WHERE[@]}" >"$WORK/server.log" 2>&1 &
VG=$!
trap 'kill $VG 2>/dev/null; wait $VG 2>/dev/null; rm -rf "$WORK"' EXIT
# Serving: a short load run succeeds (under valgrind start-up takes seconds).
for _ in $(seq 100); do
    taskset -c 1 "$LOADGEN" "${TARGET[@]}" --conns 1 --size "$SIZE" --seconds 0.1 >/dev/null 2>&1 && break
    sleep 0.2
done
callgrind_control --zero $VG >/dev/null
OUT=$(taskset -c 1 "$LOADGEN" "${TARGET[@]}" --conns "$CONNS" --size "$SIZE" --seconds "$SECONDS_")
callgrind_control --dump $VG >/dev/null
sleep 0.5
MSGS=$(sed -n 's/.* msgs=\([0-9]*\) .*/\1/p' <<<"$OUT")
# The last dump's total instructions ("summary:" or "totals:" line).
IR=$(ls "$WORK"/cg.out* | sort | tail -1 | xargs grep -h -E '^(summary|totals):' | tail -1 | awk '{print $2}')
awk -v ir="$IR" -v m="$MSGS" 'BEGIN { printf "instructions/msg %.1f  (%d instructions, %d messages)\n", ir / m, ir, m }'
echo "$OUT"
