// The screen pop end to end (issue #7): the real app (release build, WebKitGTK under Xvfb,
// driven by tauri-driver) with N customers in its local cache, registered at Kamailio; sipp
// rings it the way a center's PBX does (the caller in P-Asserted-Identity, one digest
// challenge), once per caller. For each call the page itself records, with the wall clock:
//   delivery  the INVITE's event reaching the app (Rust) → the pop arriving in the window
//   render    the pop arriving → the card rendered and the next frame painted
//   total     the two together: INVITE at the desktop → card on screen (the target: p99 ≤ 50 ms)
// and the lookup's own time in the Rust cache (customer + orders + calls). Every pop must show the
// caller's own customer; a wrong or missing card fails the run. The agent declines each call
// once its card is on screen. There is no peer here: commercial desktops are not installable
// offline; `scripts/bench.sh pop` measures the lookup against a naive peer.
//
//   node scripts/bench-pop-e2e.mjs --app PATH --pop-bench PATH --sip-peer PATH
//        [--customers N] [--calls N] [--warmup N] [--dir PATH] [--json]
import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { freePort } from "../tests/support/net.mjs";
import { startApp, waitFor } from "../tests/support/webdriver.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const TARGET_P99_MS = 50;

function parseArgs(argv) {
  const options = { customers: 1_000_000, calls: 100, warmup: 5, dir: join(process.env.HOME ?? tmpdir(), ".cache", "seatline", "pop-bench"), json: false };
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i].replace(/^--/, "");
    if (name === "json") options.json = true;
    else if (["app", "pop-bench", "sip-peer", "dir"].includes(name)) options[name] = argv[++i];
    else if (["customers", "calls", "warmup"].includes(name)) options[name] = Number(argv[++i]);
    else throw new Error(`unknown argument ${argv[i]}`);
  }
  for (const need of ["app", "pop-bench", "sip-peer"])
    if (!options[need] || !existsSync(options[need])) throw new Error(`--${need} PATH is required and must exist`);
  return options;
}

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

function summary(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return { n: sorted.length, p50: percentile(sorted, 50), p95: percentile(sorted, 95), p99: percentile(sorted, 99), max: sorted.at(-1) ?? NaN };
}

const options = parseArgs(process.argv.slice(2));
const log = (line) => process.stderr.write(`${line}\n`);

// 1. The cache: filled by the lookup benchmark's generator (reused when already there).
log(`preparing ${options.customers} customers in ${options.dir} (the first run fills them: minutes)…`);
const prepared = spawnSync(options["pop-bench"], ["--customers", String(options.customers), "--dir", options.dir,
  "--e2e-callers", String(options.calls + options.warmup)], { encoding: "utf8", maxBuffer: 64 << 20 });
if (prepared.status !== 0) throw new Error(`seatline-pop-bench failed: ${prepared.stderr}`);
const plan = JSON.parse(prepared.stdout);
const dataDir = mkdtempSync(join(tmpdir(), "seatline-pop-e2e-"));
// The generator's file with its write-ahead log (SQLite may leave the rows there on close).
copyFileSync(plan.cache, join(dataDir, "customers.db"));
if (existsSync(`${plan.cache}-wal`)) copyFileSync(`${plan.cache}-wal`, join(dataDir, "customers.db-wal"));
// The numbers were indexed for a Beijing center; the app must read callers the same way.
writeFileSync(join(dataDir, "settings.toml"), 'phone_region = "CN"\narea_code = "10"\n');

// 2. The PBX side: Kamailio with digest users, from the test peers.
const proxyProc = spawn(options["sip-peer"], ["kamailio", "md5"], { stdio: ["pipe", "pipe", "inherit"] });
const proxy = await new Promise((res, rej) => {
  createInterface({ input: proxyProc.stdout }).once("line", (line) => res(JSON.parse(line)));
  proxyProc.once("exit", (code) => rej(new Error(`sip-peer exited ${code}`)));
});

let ui;
const scenario = join(root, "tests", "support", "sipp_uac_ring_decline.xml");
async function ring(user) {
  const port = await freePort();
  const mediaPort = await freePort();
  const child = spawn("sipp", ["-sf", scenario, proxy.udp, "-s", "1001", "-i", "127.0.0.1", "-p", String(port),
    "-m", "1", "-nostdin", "-au", "1002", "-ap", proxy.users["1002"], "-mi", "127.0.0.1", "-mp", String(mediaPort),
    "-key", "caller", "1002", "-key", "domain", proxy.realm, "-key", "pai", `<sip:${user}@pbx.example>`,
    "-key", "privacy", "none", "-key", "menu", "-", "-key", "account", "-"], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (out += d));
  const done = new Promise((res) => child.once("exit", (code) => res(code)));
  return { child, done, log: () => out };
}

const samples = { total: [], delivery: [], render: [], lookup: [] };
let wrong = 0;
try {
  ui = await startApp({
    app: options.app,
    args: ["--data-dir", dataDir],
    env: { SEATLINE_PHONE_AUDIO: "null" },
    shotDir: join(root, "target", "bench"),
  });
  // Not signed in: the cache is used as it is (the feed would replace it with the server's).
  await ui.find("[data-testid=workspace]", 60_000);
  log("app up; registering…");
  await ui.typeInto("[data-testid=sip-domain]", proxy.udp);
  await ui.typeInto("[data-testid=sip-user]", "1001");
  await ui.typeInto("[data-testid=sip-password]", proxy.users["1001"]);
  await ui.click("[data-testid=phone-connect]");
  await waitFor("registered", async () => (await ui.attr("[data-testid=phone-registration]", "data-state")) === "registered", 20_000);

  let previous = "";
  for (const [i, caller] of plan.callers.entries()) {
    const rungAt = Date.now();
    const call = await ring(caller.user);
    // This call's pop: a new call id on the card, and its paint time recorded.
    const fields = await waitFor(`the pop of ${caller.user}`, async () => {
      const id = await ui.attr("[data-testid=customer-pop]", "data-call", 2_000);
      if (!id || id === previous) return null;
      const total = await ui.attr("[data-testid=customer-pop]", "data-pop-latency-ms");
      if (!total) return null;
      return { id, total: Number(total),
        delivery: Number(await ui.attr("[data-testid=customer-pop]", "data-pop-delivery-ms")),
        render: Number(await ui.attr("[data-testid=customer-pop]", "data-pop-render-ms")),
        lookup: Number(await ui.attr("[data-testid=customer-pop]", "data-lookup-us")) / 1000 };
    }, i < options.warmup ? 180_000 : 15_000); // the first pop opens the cache (slow: see the README)
    previous = fields.id;
    const name = await ui.text("[data-testid=customer-name]", 2_000).catch(() => "");
    if (name !== caller.name) {
      wrong++;
      log(`call ${i}: ${caller.user} popped ${JSON.stringify(name)}, expected ${caller.name}`);
    }
    if (i === 0) log(`first pop after start: ${Date.now() - rungAt} ms from sipp's start (the cache opens on first use)`);
    if (i === options.warmup) await ui.screenshot("pop-e2e.png");
    await ui.click("[data-testid=decline]");
    const code = await call.done;
    if (code !== 0) throw new Error(`sipp call ${i} exited ${code}\n${call.log()}`);
    if (i < options.warmup) continue;
    for (const key of Object.keys(samples)) samples[key].push(fields[key]);
  }
} finally {
  await ui?.close();
  proxyProc.stdin.end();
  rmSync(dataDir, { recursive: true, force: true });
}

const report = {
  customers: plan.customers,
  calls: samples.total.length,
  wrong_cards: wrong,
  total_ms: summary(samples.total),
  delivery_ms: summary(samples.delivery),
  render_ms: summary(samples.render),
  lookup_ms: summary(samples.lookup),
  target_p99_ms: TARGET_P99_MS,
};
if (options.json) {
  console.log(JSON.stringify(report, null, 2));
} else {
  const row = (label, s) => `${label.padEnd(44)} ${[s.p50, s.p95, s.p99, s.max].map((v) => v.toFixed(1).padStart(8)).join("")}`;
  console.log(`screen pop end to end, ${report.customers} customers in the cache, ${report.calls} ringing calls (release app, real webview)`);
  console.log(`${"".padEnd(44)} ${["p50", "p95", "p99", "max"].map((h) => h.padStart(8)).join("")}`);
  console.log(row("INVITE at the desktop -> card painted (ms)", report.total_ms));
  console.log(row("  event -> pop in the window (ms)", report.delivery_ms));
  console.log(row("  pop in the window -> painted (ms)", report.render_ms));
  console.log(row("  lookup in the cache (ms, part of delivery)", report.lookup_ms));
  const ratio = report.total_ms.p99 / TARGET_P99_MS;
  console.log(`p99 / target ${TARGET_P99_MS} ms: ${ratio.toFixed(2)} (${ratio <= 1 ? "met" : "MISSED"}); wrong or missing cards: ${wrong}`);
}
process.exit(wrong > 0 ? 1 : 0);
