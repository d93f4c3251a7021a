#!/usr/bin/env bash
# Benchmarks: builds in release and runs one. Each prints its figures next to a peer measured in
# the same run (speed and memory targets live here, not in timed unit tests).
#
#   scripts/bench.sh kb [ARGS]    knowledge-base search vs SQLite FTS5 on generated articles
#                                 (--articles N --queries N --seed S --dir PATH --json;
#                                 default 100,000 articles, several minutes on 2 cores)
#   scripts/bench.sh pop [ARGS]   screen-pop lookup in the local customer cache vs a naive
#                                 LIKE scan (--customers N --calls N --peer-calls N --seed S
#                                 --dir PATH --json; default 1,000,000 customers, ~minutes)
#   scripts/bench.sh list         the benchmarks
#
# A release target directory of its own, so benchmarks do not evict the debug build of the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/seatline/target-release}"

usage() {
  sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2
}

# One function per benchmark: bench_<name> ARGS.
bench_kb() {
  cargo build --release --locked -q -p seatline-kb-bench
  "$CARGO_TARGET_DIR/release/seatline-kb-bench" "$@"
}

bench_pop() {
  cargo build --release --locked -q -p seatline-pop-bench
  "$CARGO_TARGET_DIR/release/seatline-pop-bench" "$@"
}

name=${1:-}
case "$name" in
  "" | -h | --help | help)
    usage
    [ -n "$name" ]
    ;;
  list)
    declare -F | sed -n 's/^declare -f bench_//p'
    ;;
  *)
    shift
    if ! declare -F "bench_$name" >/dev/null; then
      echo "bench.sh: no benchmark named '$name'" >&2
      usage
      exit 2
    fi
    "bench_$name" "$@"
    ;;
esac
