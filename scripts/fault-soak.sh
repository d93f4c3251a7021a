#!/usr/bin/env bash
# The long run of the sync fault-injection test: TRIALS trials (default 1000) per seed over
# SEEDS random seeds (default 1). Every failure prints its seed; replay it with
# SEATLINE_FAULT_SEED=<seed> SEATLINE_FAULT_TRIALS=<n> cargo test -p seatline-desktop --test sync_faults
set -euo pipefail
cd "$(dirname "$0")/.."
trials=${1:-1000}
seeds=${2:-1}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${SEATLINE_TARGET_CACHE:-$HOME/.cache/seatline/target}}"
cargo build -q -p seatline-cli -p seatline-server
for _ in $(seq "$seeds"); do
  seed=$(od -An -N6 -tu8 /dev/urandom | tr -d ' ')
  echo "fault soak: seed $seed, $trials trials"
  SEATLINE_FAULT_SEED=$seed SEATLINE_FAULT_TRIALS=$trials \
    cargo test -q -p seatline-desktop --test sync_faults -- --nocapture 2>&1 | grep -E "seed|panicked|test result"
done
