#!/usr/bin/env bash
# Runs every Seatline test on Debian 12, installing what it needs first (scripts/setup.sh).
# Stages: format, lints, Rust tests, UI type check and unit tests, the UI flow in Chromium,
# and the native smoke test of the real app under Xvfb through tauri-driver.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

scripts/setup.sh --for-tests
# PESQ (ITU-T P.862) from PyPI in a venv under ~/.cache: the softphone tests score received speech.
scripts/pesq-setup.sh
export PATH="$HOME/.cargo/bin:$PATH"

# One target directory outside the clone, reused between runs on the same machine; one debug
# profile for everything (tests, lints and the native build share most artifacts).
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${SEATLINE_TARGET_CACHE:-$HOME/.cache/seatline/target}}"
mkdir -p "$CARGO_TARGET_DIR"
export CARGO_TERM_COLOR=never
# Tests never touch the agent's real data or keychain entries.
export SEATLINE_KEYCHAIN_SERVICE=com.seatline.desktop.test
export SEATLINE_DATA_DIR="$root/target/test-data"

passed=0
failed=0
failures=()
stage() {
  local name=$1
  shift
  echo
  echo "=== $name"
  local start=$SECONDS
  if "$@"; then
    passed=$((passed + 1))
    echo "=== $name: ok ($((SECONDS - start)) s)"
  else
    failed=$((failed + 1))
    failures+=("$name")
    echo "=== $name: FAILED ($((SECONDS - start)) s)"
  fi
}

native_smoke() {
  # One debug build that is also bundled as a .deb: `tauri build` sets the custom-protocol
  # feature (the binary serves the bundled UI under the production CSP) and packages that same
  # binary. The test config changes the app identifier and makes no updater artifacts (they need
  # the release signing key). tests/native/install.test.mjs installs the .deb with apt, launches
  # the installed binary and removes the package. No AppImage: tauri's AppImage bundler downloads
  # linuxdeploy and its plugins from GitHub, which CI cannot reach.
  local deb_dir="$CARGO_TARGET_DIR/debug/bundle/deb"
  rm -f "$deb_dir"/*.deb
  ui/node_modules/.bin/tauri build --debug --bundles deb --ci \
    --config tests/native/tauri.test.conf.json || return 1
  local deb
  deb=$(ls "$deb_dir"/*.deb) || return 1
  SEATLINE_APP="$CARGO_TARGET_DIR/debug/seatline-desktop" SEATLINE_CLI="$CARGO_TARGET_DIR/debug/seatline" \
    SEATLINE_DEB="$deb" NO_AT_BRIDGE=1 \
    xvfb-run -a -s "-screen 0 1280x800x24" dbus-run-session -- \
    node --test --test-reporter=spec tests/native/
}

stage "cargo fmt" cargo fmt --all --check
stage "cargo test" cargo test --workspace --locked --no-fail-fast
stage "clippy" cargo clippy --workspace --all-targets --locked -- -D warnings
stage "fuzz (20 s per target)" scripts/fuzz.sh 20
stage "ui type check" npm --prefix ui run --silent check
stage "ui unit tests (vitest)" npm --prefix ui test --silent
stage "ui flow (playwright, chromium)" node --test --test-reporter=spec ui/e2e/
stage "native smoke (tauri-driver, webkitgtk)" native_smoke

echo
if [ "$failed" -gt 0 ]; then
  echo "failed stages: ${failures[*]}"
fi
echo "stages: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
