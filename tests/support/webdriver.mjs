// The real app under tauri-driver (WebKitWebDriver) and the real central server, for the
// native tests in tests/native: one copy of the W3C WebDriver calls they all make.
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, sleep } from "./net.mjs";

const ELEMENT = "element-6066-11e4-a52e-4f735466cecf";

/**
 * SIGKILLs every process (but this one) with `value` as one of its command-line arguments, e.g.
 * the app started with its own `--data-dir`: WebKitWebDriver kills the app when a session ends
 * cleanly, but an app left behind by a driver that died first keeps the driver's pipes open and
 * the test file would never exit. Returns the pids it killed. Linux (/proc) only.
 */
export function killByArgument(value) {
  const killed = [];
  if (!value) return killed;
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    let argv;
    try {
      argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    } catch {
      continue; // gone already, or not ours to read
    }
    if (!argv.includes(value)) continue;
    try {
      process.kill(pid, "SIGKILL");
      killed.push(pid);
      process.stderr.write(`killed stray process ${pid}: ${argv.join(" ").trim()}\n`);
    } catch {
      // exited between the read and the kill
    }
  }
  return killed;
}

/**
 * Stops a driver child (SIGTERM, SIGKILL after `graceMs`), kills what it left behind with
 * `marker` on its command line, and lets go of its pipes so the test file can exit.
 */
export async function reap(child, marker, graceMs = 5_000) {
  if (child && child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((ok) => child.once("exit", ok));
    child.kill("SIGTERM");
    await Promise.race([exited, sleep(graceMs)]);
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
  killByArgument(marker);
  child?.stdout?.destroy();
  child?.stderr?.destroy();
  child?.unref();
}

/** Polls `check` until it returns something truthy; the last error is in the message. */
export async function waitFor(what, check, timeoutMs = 15_000) {
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

/**
 * `seatline-server` seeded with the demo tenant (users agent/supervisor/admin with `password`)
 * on a free loopback port, SQLite in a temp dir.
 */
export async function startServer(serverBin, password) {
  const dir = mkdtempSync(join(tmpdir(), "seatline-native-server-"));
  const seeded = spawnSync(serverBin, ["seed", "--tenant", "demo", "--data-dir", dir], {
    input: `${password}\n`,
    encoding: "utf8",
  });
  if (seeded.status !== 0) throw new Error(`seed failed: ${seeded.stderr}`);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(serverBin, ["serve", "--listen", `127.0.0.1:${port}`, "--data-dir", dir], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const server = { url, child, log: "" };
  child.stdout.on("data", (d) => (server.log += d));
  child.stderr.on("data", (d) => (server.log += d));
  await waitFor(`seatline-server\n${server.log}`, async () => (await fetch(`${url}/healthz`)).ok, 20_000);
  server.api = async (method, path, token, body) => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: await res.json().catch(() => null) };
  };
  server.stop = () => child.kill("SIGTERM");
  return server;
}

/**
 * Starts tauri-driver and a session of the app at `app` with `args`; `env` is added to the
 * app's environment (through the driver). Returns the session's helpers.
 */
export async function startApp({ app, args = [], env = {}, shotDir }) {
  const port = await freePort();
  const nativePort = await freePort();
  const base = `http://127.0.0.1:${port}`;
  let driverLog = "";
  const driver = spawn(
    process.env.TAURI_DRIVER ?? "tauri-driver",
    ["--port", String(port), "--native-port", String(nativePort), "--native-driver",
      process.env.WEBKIT_WEBDRIVER ?? "/usr/bin/WebKitWebDriver"],
    {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, LANG: "en_US.UTF-8", LC_ALL: "en_US.UTF-8", LANGUAGE: "en_US",
        SEATLINE_KEYCHAIN_SERVICE: "com.seatline.desktop.test", NO_AT_BRIDGE: "1", ...env },
    },
  );
  driver.stdout.on("data", (d) => (driverLog += d));
  driver.stderr.on("data", (d) => (driverLog += d));

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
  await waitFor(`tauri-driver\n${driverLog}`, () => wd("GET", "/status").then(() => true), 30_000);
  const created = await fetch(`${base}/session`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ capabilities: { alwaysMatch: { "tauri:options": { application: app, args } } } }),
  }).then((r) => r.json());
  const session = created.value?.sessionId ?? created.sessionId;
  if (!session) throw new Error(`no session: ${JSON.stringify(created)}\n${driverLog}`);
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
  const text = async (css, timeoutMs) => wd("GET", s(`/element/${await find(css, timeoutMs)}/text`));
  const attr = async (css, name, timeoutMs) => wd("GET", s(`/element/${await find(css, timeoutMs)}/attribute/${name}`));
  const click = async (css) => wd("POST", s(`/element/${await find(css)}/click`), {});
  async function typeInto(css, value) {
    const el = await find(css);
    // WebKitWebDriver does not scroll inside a panel's own scroll box: bring the field into view.
    await wd("POST", s("/execute/sync"), {
      script: "arguments[0].scrollIntoView({ block: 'center' });",
      args: [{ [ELEMENT]: el }],
    });
    await wd("POST", s(`/element/${el}/clear`), {});
    await wd("POST", s(`/element/${el}/value`), { text: value });
  }
  async function screenshot(name) {
    if (!shotDir) return;
    const png = await wd("GET", s("/screenshot"));
    mkdirSync(shotDir, { recursive: true });
    writeFileSync(join(shotDir, name), Buffer.from(png, "base64"));
  }
  // The app's own data dir marks its process for `reap`.
  const dataDirAt = args.indexOf("--data-dir");
  const marker = dataDirAt >= 0 ? args[dataDirAt + 1] : undefined;
  async function close() {
    await wd("DELETE", `/session/${session}`).catch(() => {});
    // SIGTERM lets tauri-driver stop WebKitWebDriver; SIGKILL would orphan it on its port.
    await reap(driver, marker);
  }
  /** Sets an input's value as the agent's picker would (date/time inputs take no typing). */
  async function setValue(css, value) {
    const el = await find(css);
    await wd("POST", s("/execute/sync"), {
      script: "arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('input', { bubbles: true }));",
      args: [{ [ELEMENT]: el }, value],
    });
  }
  return { wd, s, find, text, attr, click, typeInto, setValue, screenshot, close, log: () => driverLog };
}
