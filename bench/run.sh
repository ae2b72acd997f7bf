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
#   bench/run.sh --help
set -euo pipefail
BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(dirname "$BENCH_DIR")"
# Own target dir: $BENCH_TARGET_DIR, else bench/target (gitignored by the repo).
BENCH_TARGET="${BENCH_TARGET_DIR:-$BENCH_DIR/target}"

CARGO_TARGET_DIR="$BENCH_TARGET" cargo build --release --quiet --manifest-path "$BENCH_DIR/Cargo.toml"

# "ours": the library's echo example, built in the repo's own target dir.
if [[ "${BENCH_SKIP_OURS_BUILD:-0}" != 1 ]]; then
    if ! (cd "$REPO_DIR" && env -u CARGO_TARGET_DIR cargo build --release --quiet --example echo); then
        echo "run.sh: WARNING: could not build the library's echo example; ours_epoll/ours_uring use the existing binary if any, else are skipped" >&2
    fi
fi

# Default --ours first; a user-supplied --ours later on the line wins.
exec "$BENCH_TARGET/release/harness" --ours "$REPO_DIR/target/release/examples/echo" "$@"
