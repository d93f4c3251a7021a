#!/usr/bin/env bash
# The long run of the sync fault-injection test: TRIALS trials (default 1000) per seed over
# SEEDS random seeds (default 1), on SQLite, or with a third argument `pg` on a private
# PostgreSQL cluster. Every failure prints its seed; replay it with
# SEATLINE_FAULT_SEED=<seed> SEATLINE_FAULT_TRIALS=<n> cargo test -p seatline-desktop --test sync_faults
# (SEATLINE_FAULT_PG_TRIALS=<n> and the test name ending in _postgres for PostgreSQL)
set -euo pipefail
cd "$(dirname "$0")/.."
trials=${1:-1000}
seeds=${2:-1}
backend=${3:-sqlite}
case "$backend" in
  sqlite) filter=(--exact no_change_is_lost_or_doubled_across_crashes_and_server_kills) ;;
  pg) filter=(--exact no_change_is_lost_or_doubled_across_crashes_and_server_kills_postgres) ;;
  *) echo "fault-soak: backend must be sqlite or pg, not $backend" >&2; exit 2 ;;
esac
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${SEATLINE_TARGET_CACHE:-$HOME/.cache/seatline/target}}"
cargo build -q -p seatline-cli -p seatline-server
for _ in $(seq "$seeds"); do
  seed=$(od -An -N6 -tu8 /dev/urandom | tr -d ' ')
  echo "fault soak ($backend): seed $seed, $trials trials"
  SEATLINE_FAULT_SEED=$seed SEATLINE_FAULT_TRIALS=$trials SEATLINE_FAULT_PG_TRIALS=$trials \
    cargo test -q -p seatline-desktop --test sync_faults -- --nocapture "${filter[@]}" 2>&1 | grep -E "seed|panicked|test result"
done
