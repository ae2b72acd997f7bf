#!/usr/bin/env bash
# One command for the benchmark: builds the bench workspace (own target dir,
# so it never waits on the main repo's cargo lock) and the library's echo
# example, then runs the harness with all arguments passed through.
#   bench/run.sh                  # default run (4 configurations, ~25 s each)
#   bench/run.sh --self-check --seconds 5
#   bench/run.sh --syscalls --seconds 10
#   bench/run.sh --idle
#   bench/run.sh --multicore 2 --seconds 10
#   bench/run.sh --hostile        # hostile clients (fairness, non-reading peers, drain, accept burst)
#   bench/run.sh --http           # HTTP: ours (event-hyper, both drivers) vs hyper on tokio; --wrk adds wrk
#   bench/run.sh --udp            # UDP echo, 50 sockets x 64 B datagrams (ours = the udp_echo example)
#   bench/run.sh --unix           # stream echo over Unix-domain sockets, 50 x 64 B (ours = unix_echo)
#   bench/run.sh --help
set -euo pipefail
BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(dirname "$BENCH_DIR")"
# Own target dir: $BENCH_TARGET_DIR, else bench/target (gitignored by the repo).
BENCH_TARGET="${BENCH_TARGET_DIR:-$BENCH_DIR/target}"

CARGO_TARGET_DIR="$BENCH_TARGET" cargo build --release --quiet --manifest-path "$BENCH_DIR/Cargo.toml"

HTTP=0
for a in "$@"; do [[ "$a" == --http ]] && HTTP=1; done
if [[ $HTTP == 1 ]]; then
    # --http: ours is the bench workspace's http_event (event-hyper by path), built above; the
    # echo example is not needed. wrk (the optional --wrk cross-check) is installed when missing.
    if ! command -v wrk >/dev/null; then
        if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
            apt-get install -y -q wrk >/dev/null || echo "run.sh: WARNING: apt-get install wrk failed; --wrk will report it unavailable" >&2
        else
            echo "run.sh: wrk is missing and this is not root: install the Debian package wrk (sudo apt-get install wrk) for --wrk" >&2
        fi
    fi
    exec "$BENCH_TARGET/release/harness" "$@"
fi

# "ours": the library's echo examples (TCP; --udp: udp_echo; --unix: unix_echo, found beside
# echo), built in the repo's own target dir.
if [[ "${BENCH_SKIP_OURS_BUILD:-0}" != 1 ]]; then
    if ! (cd "$REPO_DIR" && env -u CARGO_TARGET_DIR cargo build --release --quiet --example echo --example udp_echo --example unix_echo); then
        echo "run.sh: WARNING: could not build the library's echo examples; ours_epoll/ours_uring use the existing binaries if any, else are skipped" >&2
    fi
fi

# Default --ours first; a user-supplied --ours later on the line wins.
exec "$BENCH_TARGET/release/harness" --ours "$REPO_DIR/target/release/examples/echo" "$@"
