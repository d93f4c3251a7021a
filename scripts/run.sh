#!/usr/bin/env bash
# Builds and starts the Seatline desktop app on Debian 12, installing what it needs first, with a
# local central server (seatline-server, SQLite) seeded with demo data the app signs in to.
# Data lives in the OS data directory unless --data-dir DIR or SEATLINE_DATA_DIR says otherwise;
# the demo server keeps its database in <data dir>/demo-server.
# Extra arguments go to the app (e.g. scripts/run.sh --data-dir /tmp/seatline-demo).
# SEATLINE_DEMO_PORT picks the server's port (default 18080, else the next free one);
# SEATLINE_NO_DEMO_SERVER=1 starts the app alone.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${SEATLINE_TARGET_CACHE:-$HOME/.cache/seatline/target}}"

# A debug build with the bundled UI (custom-protocol): quick to build, same target cache as the
# tests. `tauri dev` (hot reload) is for UI work: see the README.
ui/node_modules/.bin/tauri build --debug --no-bundle --ci
app="$CARGO_TARGET_DIR/debug/seatline-desktop"
if [ "${SEATLINE_NO_DEMO_SERVER:-}" = "1" ]; then
  exec "$app" "$@"
fi
cargo build -p seatline-server -p seatline-cli

# The app's data directory, resolved the way the app does it.
data_dir=""
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[$i]}" in
    --data-dir) data_dir="${args[$((i + 1))]:-}" ;;
    --data-dir=*) data_dir="${args[$i]#--data-dir=}" ;;
  esac
done
data_dir="${data_dir:-${SEATLINE_DATA_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/seatline}}"
mkdir -p "$data_dir"
server_dir="$data_dir/demo-server"
mkdir -p "$server_dir"

port="${SEATLINE_DEMO_PORT:-18080}"
while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
url="http://127.0.0.1:$port"

# Demo data (tenant "demo"; users admin, agent, supervisor); a second run keeps what is there.
demo_password="seatline-demo"
echo "$demo_password" | "$CARGO_TARGET_DIR/debug/seatline-server" seed --tenant demo --data-dir "$server_dir"
"$CARGO_TARGET_DIR/debug/seatline-server" serve --listen "127.0.0.1:$port" --data-dir "$server_dir" \
  2>"$server_dir/server.log" &
server_pid=$!
trap 'kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
  sleep 0.1
done
"$CARGO_TARGET_DIR/debug/seatline" --data-dir "$data_dir" settings set server_url "$url"
# Demo knowledge base (our own articles, zh-CN/zh-TW/en): published to the center as the
# supervisor (a second run changes nothing), which every signed-in desk pulls; imported locally
# too, once per data directory, so search works before signing in.
echo "$demo_password" | "$CARGO_TARGET_DIR/debug/seatline" --data-dir "$data_dir" kb publish \
  crates/kb-search/tests/own-corpus --server "$url" --tenant demo --user supervisor --replace >/dev/null
if [ ! -e "$data_dir/demo-kb-imported" ]; then
  "$CARGO_TARGET_DIR/debug/seatline" --data-dir "$data_dir" kb import crates/kb-search/tests/own-corpus >/dev/null
  touch "$data_dir/demo-kb-imported"
fi

cat <<INFO

  Seatline demo server: $url  (SQLite in $server_dir, log in $server_dir/server.log)
  Sign in from the Work orders panel with:
      server    $url
      tenant    demo
      user      agent        (or: supervisor, admin)
      password  $demo_password
  The login form is pre-filled except for the password. Orders work offline too: stop the
  server (kill $server_pid) to see them queue as "pending", start it again to see them sync.

INFO

SEATLINE_LOGIN_HINT="demo/agent" "$app" --data-dir "$data_dir" "${args[@]}"
