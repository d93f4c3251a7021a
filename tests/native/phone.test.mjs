// The phone panel in the real app (release UI under the production CSP, WebKitGTK, tauri-driver)
// against real SIP peers: Kamailio (started by `sip-peer`, digest MD5) as registrar/proxy and
// the `seatline phone` CLI as the other party. The agent sets the account up in the panel,
// registers, takes a call (caller shown before answering), holds it, hangs up, and dials out.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, writeFileSync, existsSync } from "node:fs";
import { createInterface } from "node:readline";
import { freePort, sleep } from "../support/net.mjs";
import { reap } from "../support/webdriver.mjs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const app = resolve(process.env.SEATLINE_APP ?? join(root, "target", "debug", "seatline-desktop"));
const bins = dirname(app);
const cli = process.env.SEATLINE_CLI ?? join(bins, "seatline");
const sipPeer = process.env.SEATLINE_SIP_PEER ?? join(bins, "sip-peer");
const shotDir = join(root, "target", "native-smoke");
const ELEMENT = "element-6066-11e4-a52e-4f735466cecf";

let driver;
let driverLog = "";
let proxyProc;
let proxy; // { udp, tcp, users }
let base;
let session;
let dataDir;
const peers = [];

async function wd(method, path, body) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(`${method} ${path} -> ${res.status} ${JSON.stringify(json.value ?? json)}`);
  return json.value;
}
const s = (path) => `/session/${session}${path}`;

async function find(css, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      const el = await wd("POST", s("/element"), { using: "css selector", value: css });
      return el[ELEMENT];
    } catch (error) {
      last = error;
      await sleep(200);
    }
  }
  throw new Error(`element ${css} did not appear: ${last?.message}`);
}
const text = (id) => wd("GET", s(`/element/${id}/text`));
const attr = (id, name) => wd("GET", s(`/element/${id}/attribute/${name}`));
const click = async (css) => wd("POST", s(`/element/${await find(css)}/click`), {});
async function typeInto(css, value) {
  const el = await find(css);
  await wd("POST", s(`/element/${el}/clear`), {});
  await wd("POST", s(`/element/${el}/value`), { text: value });
}
async function waitFor(what, check, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v) return v;
    } catch (error) {
      last = error;
    }
    await sleep(200);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ""}`);
}
async function screenshot(name) {
  const png = await wd("GET", s("/screenshot"));
  mkdirSync(shotDir, { recursive: true });
  writeFileSync(join(shotDir, name), Buffer.from(png, "base64"));
}

/** `seatline phone` as the far end; `events` collects its JSON lines. */
function startPeer(user, extra) {
  const child = spawn(
    cli,
    ["phone", "--domain", proxy.udp, "--user", user, "--password-env", "PEER_PW", "--bind", "127.0.0.1", ...extra],
    { stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, PEER_PW: proxy.users[user], SEATLINE_DATA_DIR: mkdtempSync(join(tmpdir(), "peer-")) } },
  );
  const peer = { child, events: [], log: "" };
  createInterface({ input: child.stdout }).on("line", (line) => {
    peer.log += `${line}\n`;
    try {
      peer.events.push(JSON.parse(line));
    } catch {
      // not JSON: keep it in the log only
    }
  });
  child.stderr.on("data", (d) => (peer.log += d));
  peer.send = (line) => child.stdin.write(`${line}\n`);
  peer.waitEvent = (what, pred, timeoutMs = 15_000) =>
    waitFor(`${what} at peer ${user}\n${peer.log}`, () => peer.events.find(pred), timeoutMs);
  peers.push(peer);
  return peer;
}

before(async () => {
  assert.ok(existsSync(app), `no app binary at ${app}`);
  assert.ok(existsSync(sipPeer), `no sip-peer binary at ${sipPeer} (cargo build -p seatline-sip-peers)`);
  assert.ok(process.env.DISPLAY, "no DISPLAY: run under xvfb-run");
  proxyProc = spawn(sipPeer, ["kamailio", "md5"], { stdio: ["pipe", "pipe", "inherit"] });
  proxy = await new Promise((resolveLine, reject) => {
    createInterface({ input: proxyProc.stdout }).once("line", (line) => resolveLine(JSON.parse(line)));
    proxyProc.once("exit", (code) => reject(new Error(`sip-peer exited ${code}`)));
  });
  dataDir = mkdtempSync(join(tmpdir(), "seatline-phone-"));
  const port = await freePort();
  const nativePort = await freePort();
  base = `http://127.0.0.1:${port}`;
  driver = spawn(
    process.env.TAURI_DRIVER ?? "tauri-driver",
    ["--port", String(port), "--native-port", String(nativePort), "--native-driver",
      process.env.WEBKIT_WEBDRIVER ?? "/usr/bin/WebKitWebDriver"],
    {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, LANG: "en_US.UTF-8", LC_ALL: "en_US.UTF-8", LANGUAGE: "en_US",
        SEATLINE_KEYCHAIN_SERVICE: "com.seatline.desktop.test", NO_AT_BRIDGE: "1",
        // No sound card here: calls run with silence instead of the default devices.
        SEATLINE_PHONE_AUDIO: "null" },
    },
  );
  driver.stdout.on("data", (d) => (driverLog += d));
  driver.stderr.on("data", (d) => (driverLog += d));
  await waitFor(`tauri-driver\n${driverLog}`, () => wd("GET", "/status").then(() => true), 30_000);
  const created = await fetch(`${base}/session`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ capabilities: { alwaysMatch: { "tauri:options": { application: app, args: ["--data-dir", dataDir] } } } }),
  }).then((r) => r.json());
  session = created.value?.sessionId ?? created.sessionId;
  assert.ok(session, `no session: ${JSON.stringify(created)}\n${driverLog}`);
});

after(async () => {
  for (const p of peers) {
    p.child.kill("SIGTERM");
    // A peer that does not exit within 5 s is a bug, but must not hang the test run.
    setTimeout(() => p.child.exitCode === null && p.child.kill("SIGKILL"), 5_000).unref();
  }
  if (session) await wd("DELETE", `/session/${session}`).catch(() => {});
  await reap(driver, dataDir);
  proxyProc?.stdin.end();
});

test("the agent registers from the phone panel, takes a call with the caller shown, holds and hangs up, then dials out", async () => {
  await typeInto("[data-testid=sip-domain]", proxy.udp);
  await typeInto("[data-testid=sip-user]", "1001");
  await typeInto("[data-testid=sip-password]", proxy.users["1001"]);
  await click("[data-testid=phone-connect]");
  await waitFor("registered in the panel", async () =>
    (await attr(await find("[data-testid=phone-registration]"), "data-state")) === "registered");
  await screenshot("phone-registered.png");

  // A call comes in: the caller is shown while it rings.
  const caller = startPeer("1002", ["--call", "1001"]);
  const label = await waitFor("the ringing banner", async () => {
    const t = await text(await find("[data-testid=caller-label]", 2_000));
    return /1002/.test(t) ? t : null;
  });
  assert.match(label, /1002/);
  await screenshot("phone-incoming.png");
  await click("[data-testid=answer]");
  await caller.waitEvent("established", (e) => e.type === "established");
  await waitFor("the call timer", async () =>
    (await attr(await find("[data-testid=current-call]"), "data-phase")) === "active");

  await click("[data-testid=hold]");
  await caller.waitEvent("held by the app", (e) => e.type === "held" && e.by === "remote");
  await click("[data-testid=hold]");
  await caller.waitEvent("resumed by the app", (e) => e.type === "resumed" && e.by === "remote");
  await screenshot("phone-in-call.png");
  await click("[data-testid=hangup]");
  await caller.waitEvent("the app's hang-up", (e) => e.type === "ended" && e.reason === "remote_hangup");

  // Dial out from the pad to a peer that answers by itself; the peer hangs up.
  const callee = startPeer("1003", ["--auto-answer", "0"]);
  await callee.waitEvent("registered", (e) => e.type === "registration" && e.state === "registered");
  await typeInto("[data-testid=dial-number]", "1003");
  await click("[data-testid=dial]");
  await callee.waitEvent("the app's call", (e) => e.type === "established");
  await waitFor("active outgoing call", async () =>
    (await attr(await find("[data-testid=current-call]"), "data-phase")) === "active");
  callee.send("hangup");
  // SIGTERM un-registers and exits promptly, even with standard input still open.
  const exited = new Promise((res) => caller.child.once("exit", (code, signal) => res({ code, signal })));
  caller.child.kill("SIGTERM");
  const status = await Promise.race([exited, sleep(5_000).then(() => "still running")]);
  assert.deepEqual(status, { code: 0, signal: null }, `peer 1002 after SIGTERM\n${caller.log}`);
  assert.ok(caller.events.some((e) => e.type === "registration" && e.state === "unregistered"), caller.log);
  await waitFor("the call to leave the panel", async () => {
    try {
      await wd("POST", s("/element"), { using: "css selector", value: "[data-testid=current-call]" });
      return false;
    } catch {
      return true;
    }
  });
});
