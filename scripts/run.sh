#!/usr/bin/env bash
# Builds and starts the Seatline desktop app on Debian 12, installing what it needs first.
# Data lives in the OS data directory unless --data-dir DIR or SEATLINE_DATA_DIR says otherwise.
# Extra arguments go to the app (e.g. scripts/run.sh --data-dir /tmp/seatline-demo).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${SEATLINE_TARGET_CACHE:-$HOME/.cache/seatline/target}}"

# A debug build with the bundled UI (custom-protocol): quick to build, same target cache as the
# tests. `tauri dev` (hot reload) is for UI work: see the README.
ui/node_modules/.bin/tauri build --debug --no-bundle --ci
exec "$CARGO_TARGET_DIR/debug/seatline-desktop" "$@"
