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
#   scripts/bench.sh startup [ARGS]  the desktop app's cold start to a usable window, idle memory
#                                 (app + WebKit processes) and installer size, against the targets
#                                 1.5 s / 150 MB / 20 MB (--debug for the debug profile, --runs N,
#                                 --settle S, --json; builds the app and its .deb with tauri first)
#   scripts/bench.sh pop-e2e [ARGS]  the screen pop end to end in the real app (release, WebKit
#                                 under Xvfb, tauri-driver): sipp rings it through Kamailio once
#                                 per caller with N customers in its cache; p50/p99 of INVITE →
#                                 card painted against the 50 ms target (--customers N --calls N
#                                 --warmup N --dir PATH --json; default 1,000,000 and 100 calls)
#   scripts/bench.sh sync [ARGS]  work-order sync: N orders created offline, pushed through the
#                                 outbox to the release seatline-server, against the same
#                                 mutations POSTed straight to its push API; orders/s, p50/p95
#                                 per push (--orders N --batch N --json; default 10,000 orders,
#                                 SQLite; --pg runs it on a private PostgreSQL cluster too)
#   scripts/bench.sh media [ARGS] voice quality: real calls through Kamailio and a seeded
#                                 impairment relay (loss 0/5/10/20 %, Gilbert bursts, 40±20 ms
#                                 jitter), Seatline↔Seatline and baresip↔baresip in the same run,
#                                 PESQ-NB/WB, delay, CPU per UA (--conditions a,b --codecs
#                                 pcmu,opus,opus-fec --only seatline|baresip --seed S --json;
#                                 needs scripts/setup.sh --for-tests and scripts/pesq-setup.sh)
#   scripts/bench.sh list         the benchmarks
#
# A release target directory of its own, so benchmarks do not evict the debug build of the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/seatline/target-release}"

usage() {
  sed -n '2,32p' "$0" | sed 's/^# \{0,1\}//' >&2
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

# The release server and crates/sync-bench (see there for what each side measures); with --pg a
# second run on a private PostgreSQL cluster (initdb in a temp dir, as `postgres` when root).
bench_sync() {
  local pg=0 rest=()
  for arg in "$@"; do
    case "$arg" in
      --pg) pg=1 ;;
      *) rest+=("$arg") ;;
    esac
  done
  cargo build --release --locked -q -p seatline-sync-bench -p seatline-server
  local out="$CARGO_TARGET_DIR/release"
  "$out/seatline-sync-bench" --server-bin "$out/seatline-server" "${rest[@]}"
  [ "$pg" = 1 ] || return 0
  local bin dir port as=()
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  dir=$(mktemp -d)
  if [ "$(id -u)" = 0 ]; then
    chown postgres: "$dir"
    as=(runuser -u postgres --)
  fi
  "${as[@]}" "$bin/initdb" -D "$dir/data" -U seatline --auth=trust -E UTF8 --no-locale >/dev/null
  port=$((20000 + RANDOM % 20000))
  "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1" start >/dev/null
  local status=0
  "$out/seatline-sync-bench" --server-bin "$out/seatline-server" \
    --database-url "postgres://seatline@127.0.0.1:$port/postgres" "${rest[@]}" || status=$?
  "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null || true
  rm -rf "$dir"
  return "$status"
}

# The release `seatline phone` against baresip, both through the relay of crates/sip-peers.
bench_media() {
  cargo build --release --locked -q -p seatline-cli -p seatline-media-bench
  local out="$CARGO_TARGET_DIR/release"
  "$out/seatline-media-bench" --seatline-bin "$out/seatline" "$@"
}

# The release app (no bundle), the lookup benchmark's generator for the cache and the SIP peers,
# then scripts/bench-pop-e2e.mjs under Xvfb (see there for what each figure means).
bench_pop_e2e() {
  cargo build --release --locked -q -p seatline-pop-bench -p seatline-sip-peers --bins
  ui/node_modules/.bin/tauri build --no-bundle --ci --config tests/native/tauri.test.conf.json >&2
  local out="$CARGO_TARGET_DIR/release"
  local cmd=(node scripts/bench-pop-e2e.mjs --app "$out/seatline-desktop"
    --pop-bench "$out/seatline-pop-bench" --sip-peer "$out/sip-peer" "$@")
  if [ -n "${DISPLAY:-}" ]; then
    "${cmd[@]}"
  else
    NO_AT_BRIDGE=1 xvfb-run -a -s "-screen 0 1280x800x24" dbus-run-session -- "${cmd[@]}"
  fi
}

# The real app built and bundled as a .deb by tauri (release unless --debug), then started under
# Xvfb several times by scripts/bench-startup.mjs (see there for what each figure means).
bench_startup() {
  local profile=release build_args=() rest=()
  for arg in "$@"; do
    case "$arg" in
      --debug) profile=debug build_args=(--debug) ;;
      *) rest+=("$arg") ;;
    esac
  done
  ui/node_modules/.bin/tauri build "${build_args[@]}" --bundles deb --ci \
    --config tests/native/tauri.test.conf.json >&2
  local out="$CARGO_TARGET_DIR/$profile"
  local deb
  deb=$(ls -t "$out"/bundle/deb/*.deb | head -n 1)
  local appimage=()
  if ls "$out"/bundle/appimage/*.AppImage >/dev/null 2>&1; then
    appimage=(--appimage "$(ls -t "$out"/bundle/appimage/*.AppImage | head -n 1)")
  fi
  local cmd=(node scripts/bench-startup.mjs --app "$out/seatline-desktop" --profile "$profile"
    --deb "$deb" "${appimage[@]}" "${rest[@]}")
  if [ -n "${DISPLAY:-}" ]; then
    "${cmd[@]}"
  else
    NO_AT_BRIDGE=1 xvfb-run -a -s "-screen 0 1280x800x24" dbus-run-session -- "${cmd[@]}"
  fi
}

name=${1:-}
case "$name" in
  "" | -h | --help | help)
    usage
    [ -n "$name" ]
    ;;
  list)
    declare -F | sed -n 's/^declare -f bench_//p' | tr _ -
    ;;
  *)
    shift
    name=${name//-/_}
    if ! declare -F "bench_$name" >/dev/null; then
      echo "bench.sh: no benchmark named '$name'" >&2
      usage
      exit 2
    fi
    "bench_$name" "$@"
    ;;
esac
