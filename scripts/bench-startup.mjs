// Startup and footprint of the desktop app (scripts/bench.sh startup runs this under a display).
//
//   node scripts/bench-startup.mjs --app BIN [--runs N] [--settle S] [--deb FILE] [--appimage FILE]
//                                  [--profile NAME] [--json]
//
// Cold start: wall time from just before exec until the UI says it is usable: App.svelte calls
// the `ui_ready` command once the workspace (app info, status, session) is loaded and the next
// frame painted, and the shell logs `window ready ready_unix_ms=…`. Every run is a new process
// with a new data directory (first-run work included); the OS page cache stays warm (dropping it
// needs privileges a container does not have), so "cold" means a cold app, not a cold disk.
// Idle memory: after `--settle` seconds of idling, the resident set of the app process and every
// process under it (WebKitWebProcess, WebKitNetworkProcess), summed; RSS counts pages shared
// between them (libraries) once per process, so PSS (shared pages split) is printed beside it.
// Installer size: the bundles given.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const app = opt("app");
const runs = Number(opt("runs", "5"));
const settleS = Number(opt("settle", "10"));
const deb = opt("deb");
const appimage = opt("appimage");
const profile = opt("profile", "?");
const asJson = args.includes("--json");
if (!app) {
  console.error("bench-startup: --app BIN is required");
  process.exit(2);
}
const TARGETS = { coldStartS: 1.5, idleRssMb: 150, installerMb: 20 };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function children() {
  const map = new Map();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (!map.has(ppid)) map.set(ppid, []);
      map.get(ppid).push(Number(entry));
    } catch {
      // gone
    }
  }
  return map;
}

function tree(pid) {
  const map = children();
  const out = [];
  const todo = [pid];
  while (todo.length) {
    const p = todo.pop();
    out.push(p);
    todo.push(...(map.get(p) ?? []));
  }
  return out;
}

function memory(pid) {
  let rssKb = 0;
  let pssKb = 0;
  const procs = [];
  for (const p of tree(pid)) {
    try {
      const rollup = readFileSync(`/proc/${p}/smaps_rollup`, "utf8");
      const rss = Number(/^Rss:\s+(\d+)/m.exec(rollup)?.[1] ?? 0);
      const pss = Number(/^Pss:\s+(\d+)/m.exec(rollup)?.[1] ?? 0);
      const name = readFileSync(`/proc/${p}/comm`, "utf8").trim();
      rssKb += rss;
      pssKb += pss;
      procs.push({ pid: p, name, rss_mb: +(rss / 1024).toFixed(1) });
    } catch {
      // gone
    }
  }
  return { rssMb: rssKb / 1024, pssMb: pssKb / 1024, procs };
}

async function once(measureMemory) {
  const dataDir = mkdtempSync(join(tmpdir(), "seatline-bench-startup-"));
  const started = Date.now();
  const child = spawn(app, ["--data-dir", dataDir], {
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, SEATLINE_LOG: "info", SEATLINE_PHONE_AUDIO: "null",
      SEATLINE_KEYCHAIN_SERVICE: "com.seatline.desktop.bench", NO_AT_BRIDGE: "1" },
  });
  let log = "";
  const ready = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "window ready" within 60 s:\n${log}`)), 60_000);
    child.stderr.on("data", (d) => {
      // The log is coloured when it can be: strip the escapes first.
      log += String(d).replace(/\x1b\[[0-9;]*m/g, "");
      const m = /window ready.*?ready_unix_ms=(\d+)(?:.*?since_start_ms=(\d+))?/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve({ unixMs: Number(m[1]), sinceMainMs: m[2] ? Number(m[2]) : null });
      }
    });
    child.once("exit", (code) => reject(new Error(`the app exited (${code}) before it was ready:\n${log}`)));
  });
  const result = { coldStartMs: ready.unixMs - started, sinceMainMs: ready.sinceMainMs };
  if (measureMemory) {
    await sleep(settleS * 1000);
    Object.assign(result, memory(child.pid));
  }
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  await Promise.race([exited, sleep(5000)]);
  if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  for (const p of tree(child.pid)) {
    try {
      process.kill(p, "SIGKILL");
    } catch {
      // gone
    }
  }
  rmSync(dataDir, { recursive: true, force: true });
  return result;
}

const results = [];
for (let i = 0; i < runs; i++) results.push(await once(i === runs - 1));
const starts = results.map((r) => r.coldStartMs).sort((a, b) => a - b);
const median = starts[Math.floor(starts.length / 2)];
const mem = results[results.length - 1];
const size = (f) => (f ? statSync(f).size / (1024 * 1024) : null);
const debMb = size(deb);
const appimageMb = size(appimage);
const report = {
  profile,
  runs,
  cold_start_ms: { median, min: starts[0], max: starts[starts.length - 1], all: results.map((r) => r.coldStartMs) },
  main_to_ready_ms_median: results.map((r) => r.sinceMainMs).sort((a, b) => a - b)[Math.floor(runs / 2)],
  idle_after_s: settleS,
  idle_rss_mb: +mem.rssMb.toFixed(1),
  idle_pss_mb: +mem.pssMb.toFixed(1),
  processes: mem.procs,
  deb_mb: debMb === null ? null : +debMb.toFixed(2),
  appimage_mb: appimageMb === null ? null : +appimageMb.toFixed(2),
};
if (asJson) {
  console.log(JSON.stringify(report, null, 2));
} else {
  const verdict = (ok) => (ok ? "ok" : "OVER");
  const line = (what, value, target, ok) => console.log(`${what.padEnd(38)} ${value.padStart(12)}   target ${target.padEnd(8)} ${verdict(ok)}`);
  console.log(`Seatline startup and footprint (${profile} build, ${runs} runs, ${new Date().toISOString()})`);
  line("cold start to usable window (median)", `${(median / 1000).toFixed(2)} s`, "≤ 1.5 s", median / 1000 <= TARGETS.coldStartS);
  console.log(`${"".padEnd(38)} min ${(starts[0] / 1000).toFixed(2)} s, max ${(starts[starts.length - 1] / 1000).toFixed(2)} s; main() to ready ${report.main_to_ready_ms_median} ms`);
  line(`idle RSS after ${settleS} s (app + WebKit)`, `${mem.rssMb.toFixed(0)} MB`, "≤ 150 MB", mem.rssMb <= TARGETS.idleRssMb);
  console.log(`${"".padEnd(38)} PSS ${mem.pssMb.toFixed(0)} MB; ${mem.procs.map((p) => `${p.name} ${p.rss_mb}`).join(", ")}`);
  if (debMb !== null) line("installer: .deb", `${debMb.toFixed(1)} MB`, "≤ 20 MB", debMb <= TARGETS.installerMb);
  if (appimageMb !== null) line("installer: AppImage", `${appimageMb.toFixed(1)} MB`, "≤ 20 MB", appimageMb <= TARGETS.installerMb);
  else console.log("installer: AppImage                    not built (tauri's AppImage bundler downloads linuxdeploy from GitHub)");
}
