#!/usr/bin/env bash
# Installs everything Seatline needs to build, run and test on Debian 12, idempotently:
# Debian packages, the UI's npm packages, and tauri-driver. Needs rustup's cargo, Node/npm and
# root or sudo. Usage: scripts/setup.sh [--for-tests]
set -euo pipefail
cd "$(dirname "$0")/.."

for_tests=0
[ "${1:-}" = "--for-tests" ] && for_tests=1

sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)

# Build dependencies: Tauri on Linux (WebKitGTK 4.1 and friends), ALSA for sound devices (cpal),
# cmake for the bundled libopus.
packages=(build-essential pkg-config curl file libssl-dev libwebkit2gtk-4.1-dev libxdo-dev
  libayatana-appindicator3-dev librsvg2-dev fonts-noto-cjk
  libasound2-dev libasound2-plugins cmake)
# What the tests drive: a display server, D-Bus, WebKit's WebDriver, Chromium for UI flows.
if [ "$for_tests" -eq 1 ]; then
  packages+=(xvfb xauth dbus dbus-x11 webkit2gtk-driver chromium postgresql)
  # Each part of the test suite lists the Debian packages it drives (SIP peers, audio tools...),
  # one per line, in scripts/test-packages.d/*.txt; '#' starts a comment.
  for list in scripts/test-packages.d/*.txt; do
    [ -f "$list" ] || continue
    while read -r p _; do
      case "$p" in ''|'#'*) continue ;; esac
      packages+=("$p")
    done <"$list"
  done
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
    -o DPkg::Lock::Timeout=600 "${missing[@]}"
fi

# The UI's packages, exactly as locked. Skipped when node_modules already matches the lock.
if [ ! -f ui/node_modules/.package-lock.json ] || ! cmp -s ui/package-lock.json ui/node_modules/.seatline-lock; then
  echo "setup: installing the UI's npm packages"
  # `npm install`, not `npm ci`: npm 11 leaves other platforms' optional packages (the Tauri
  # CLI's per-OS binaries) out of the lock file and `npm ci` then refuses it. With an existing
  # lock, `npm install` installs exactly the locked versions and leaves the lock as it is.
  npm install --prefix ui --no-audit --no-fund --loglevel=error
  cp ui/package-lock.json ui/node_modules/.seatline-lock
fi

rustup component add rustfmt clippy >/dev/null 2>&1 || true

if [ "$for_tests" -eq 1 ] && ! command -v tauri-driver >/dev/null 2>&1 \
    && [ ! -x "$HOME/.cargo/bin/tauri-driver" ]; then
  echo "setup: installing tauri-driver (takes a few minutes once)"
  cargo install tauri-driver --locked --version 2.1.0
fi
if [ "$for_tests" -eq 1 ] && [ ! -x "$HOME/.cargo/bin/cargo-fuzz" ]; then
  echo "setup: installing cargo-fuzz (takes a few minutes once)"
  cargo install cargo-fuzz --locked --version 0.13.2
fi
echo "setup: done"
