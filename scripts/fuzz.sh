#!/usr/bin/env bash
# Runs every cargo-fuzz target for SECONDS each (default 20), seeded from the crate's
# fuzz-corpus/. The corpus is copied first so runs never rewrite the repository's seeds.
# Needs cargo-fuzz (scripts/setup.sh --for-tests installs it); libFuzzer needs nightly flags,
# which RUSTC_BOOTSTRAP=1 allows on the stable toolchain.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}
export RUSTC_BOOTSTRAP=1
export PATH="$HOME/.cargo/bin:$PATH"
status=0
for fuzz_dir in crates/*/fuzz; do
  crate_dir=$(dirname "$fuzz_dir")
  work=$(mktemp -d)
  # Build the fuzz targets in the shared target cache, under their own folder.
  target_dir="${CARGO_TARGET_DIR:-$HOME/.cache/seatline/target}/fuzz-$(basename "$crate_dir")"
  for target in $(cd "$crate_dir" && cargo fuzz list); do
    echo "fuzz: $crate_dir $target for ${seconds}s"
    mkdir -p "$work/$target"
    cp -r "$crate_dir/fuzz-corpus/." "$work/$target/"
    if ! (cd "$crate_dir" && CARGO_TARGET_DIR="$target_dir" cargo fuzz run "$target" \
        "$work/$target" -- -max_total_time="$seconds" -rss_limit_mb=2048 \
        -artifact_prefix="$work/$target-" 2>&1 | tail -n 4); then
      echo "fuzz: $crate_dir $target FAILED; crashing inputs: $(ls "$work/$target"-* 2>/dev/null)"
      status=1
    fi
  done
done
exit $status
