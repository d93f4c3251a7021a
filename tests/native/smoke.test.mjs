// Native smoke test: the real desktop binary (built with `custom-protocol`, so it serves the
// bundled UI under the production CSP) in a real WebKitGTK window, driven through tauri-driver
// and WebKitWebDriver. Run under a display: `xvfb-run -a dbus-run-session -- node --test ...`.
// SEATLINE_APP names the binary. Screenshots go to target/native-smoke/.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { freePort, sleep } from "../support/net.mjs";
import { reap } from "../support/webdriver.mjs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const app = resolve(process.env.SEATLINE_APP ?? join(root, "target", "debug", "seatline-desktop"));
const shotDir = join(root, "target", "native-smoke");
const ELEMENT = "element-6066-11e4-a52e-4f735466cecf";


let driver;
let driverLog = "";
// A real central server (seatline-server, SQLite in a temp dir) seeded with the demo tenant.
let server;
let serverLog = "";
let serverUrl;
const DEMO_PASSWORD = "smoke-password";
let base;
let session;
let dataDir;

async function wd(method, path, body) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json().catch(() => ({}));
  if (!res.ok) {
    throw new Error(`${method} ${path} -> ${res.status} ${JSON.stringify(json.value ?? json)}`);
  }
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

async function waitForText(css, pattern, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  let seen = "";
  while (Date.now() < deadline) {
    try {
      seen = await text(await find(css, 2_000));
      if (pattern.test(seen)) return seen;
    } catch {
      // re-rendered between find and read: try again
    }
    await sleep(200);
  }
  throw new Error(`${css} never matched ${pattern}; last text: ${JSON.stringify(seen)}`);
}

async function screenshot(name) {
  const png = await wd("GET", s("/screenshot"));
  mkdirSync(shotDir, { recursive: true });
  const path = join(shotDir, name);
  writeFileSync(path, Buffer.from(png, "base64"));
  return path;
}

before(async () => {
  assert.ok(existsSync(app), `no app binary at ${app}; build it with 'tauri build --debug --no-bundle'`);
  assert.ok(process.env.DISPLAY, "no DISPLAY: run under xvfb-run");
  dataDir = mkdtempSync(join(tmpdir(), "seatline-smoke-"));
  // Articles for the knowledge panel, imported with the real CLI into the app's data dir.
  const cli = process.env.SEATLINE_CLI ?? join(dirname(app), "seatline");
  const corpus = join(root, "crates", "kb-search", "tests", "corpus");
  const imported = spawnSync(cli, ["--data-dir", dataDir, "kb", "import", corpus], { encoding: "utf8" });
  assert.equal(imported.status, 0, `kb import failed: ${imported.stderr}`);
  const serverBin = process.env.SEATLINE_SERVER ?? join(dirname(app), "seatline-server");
  const serverDir = mkdtempSync(join(tmpdir(), "seatline-smoke-server-"));
  const seeded = spawnSync(serverBin, ["seed", "--tenant", "demo", "--data-dir", serverDir], {
    input: `${DEMO_PASSWORD}\n`, encoding: "utf8",
  });
  assert.equal(seeded.status, 0, `seed failed: ${seeded.stderr}`);
  const serverPort = await freePort();
  serverUrl = `http://127.0.0.1:${serverPort}`;
  server = spawn(serverBin, ["serve", "--listen", `127.0.0.1:${serverPort}`, "--data-dir", serverDir],
    { stdio: ["ignore", "pipe", "pipe"] });
  server.stdout.on("data", (d) => (serverLog += d));
  server.stderr.on("data", (d) => (serverLog += d));
  for (const deadline = Date.now() + 20_000; ; ) {
    try {
      if ((await fetch(`${serverUrl}/healthz`)).ok) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`seatline-server did not start\n${serverLog}`);
    await sleep(100);
  }
  const port = await freePort();
  const nativePort = await freePort();
  base = `http://127.0.0.1:${port}`;
  const tauriDriver = process.env.TAURI_DRIVER ?? "tauri-driver";
  driver = spawn(
    tauriDriver,
    ["--port", String(port), "--native-port", String(nativePort), "--native-driver",
      process.env.WEBKIT_WEBDRIVER ?? "/usr/bin/WebKitWebDriver"],
    {
      stdio: ["ignore", "pipe", "pipe"],
      // English OS locale: the first screen must follow it.
      env: { ...process.env, LANG: "en_US.UTF-8", LC_ALL: "en_US.UTF-8", LANGUAGE: "en_US",
        SEATLINE_KEYCHAIN_SERVICE: "com.seatline.desktop.test", NO_AT_BRIDGE: "1" },
    },
  );
  driver.stdout.on("data", (d) => (driverLog += d));
  driver.stderr.on("data", (d) => (driverLog += d));
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await wd("GET", "/status");
      break;
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`tauri-driver did not start: ${error.message}\n${driverLog}`);
      await sleep(200);
    }
  }
  const created = await fetch(`${base}/session`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      capabilities: {
        alwaysMatch: { "tauri:options": { application: app, args: ["--data-dir", dataDir] } },
      },
    }),
  }).then((r) => r.json());
  session = created.value?.sessionId ?? created.sessionId;
  assert.ok(session, `no session: ${JSON.stringify(created)}\n${driverLog}`);
});

after(async () => {
  if (session) await wd("DELETE", `/session/${session}`).catch(() => {});
  // SIGTERM lets tauri-driver stop WebKitWebDriver; SIGKILL would orphan it on its port.
  await reap(driver, dataDir);
  server?.kill("SIGTERM");
});

async function serverApi(method, path, token, body) {
  const res = await fetch(`${serverUrl}${path}`, {
    method,
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json().catch(() => ({}));
  assert.ok(res.ok, `${method} ${path} -> ${res.status} ${JSON.stringify(json)}`);
  return json;
}

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

/** Clicks `css` after scrolling it into view (a panel's own scroll box may clip it, and
 * WebKitWebDriver then refuses the click as "not interactable"). */
async function clickInView(css) {
  const el = await find(css);
  await wd("POST", s("/execute/sync"), {
    script: "arguments[0].scrollIntoView({ block: 'center' });",
    args: [{ [ELEMENT]: el }],
  });
  await wd("POST", s(`/element/${el}/click`), {});
}

test("the workspace frame opens in English, styled, with the status bar", async () => {
  await find("[data-testid=workspace]");
  for (const name of ["Phone", "Customer", "Knowledge", "Work orders"]) {
    const headings = await wd("POST", s("/elements"), { using: "css selector", value: "h2" });
    const texts = await Promise.all(headings.map((h) => text(h[ELEMENT])));
    assert.ok(texts.includes(name), `${name} not among ${texts}`);
  }
  assert.match(await waitForText("[data-testid=phone-status]", /Not configured/), /Not configured/);
  // The stylesheet loaded under the production CSP: the status bar has its dark background.
  const bg = await wd("POST", s("/execute/sync"), {
    script: "return getComputedStyle(document.querySelector('.status-bar')).backgroundColor",
    args: [],
  });
  assert.equal(bg, "rgb(28, 39, 51)");
  const path = await screenshot("workspace-en.png");
  assert.ok(readFileSync(path).length > 10_000, "screenshot is suspiciously small");
});

test("an IPC round trip from the real webview reaches the Rust workspace", async () => {
  const info = await wd("POST", s("/execute/async"), {
    script: `const done = arguments[arguments.length - 1];
      window.__TAURI_INTERNALS__.invoke("app_info").then(done, (e) => done({ error: e }));`,
    args: [],
  });
  assert.equal(info.error, undefined, JSON.stringify(info));
  assert.equal(info.data_dir, dataDir);
  assert.equal(info.data_dir_source, "--data-dir");
  assert.equal(info.language, "en");
});

test("the production CSP blocks inline scripts and inline styles", async () => {
  const probe = await wd("POST", s("/execute/sync"), {
    script: `const script = document.createElement("script");
      script.textContent = "window.__cspProbe = 'ran'";
      document.head.appendChild(script);
      const el = document.createElement("div");
      el.setAttribute("style", "color: rgb(1, 2, 3)");
      document.body.appendChild(el);
      const color = getComputedStyle(el).color;
      el.remove();
      return { script: window.__cspProbe ?? null, color };`,
    args: [],
  });
  assert.equal(probe.script, null, "an inline script ran: the CSP is not in force");
  assert.notEqual(probe.color, "rgb(1, 2, 3)", "an inline style applied: the CSP is not in force");
});

test("the knowledge panel searches the local index as the agent types", async () => {
  const input = await find("[data-testid=kb-search]");
  await wd("POST", s(`/element/${input}/value`), { text: "忘記密碼" });
  const first = await find("[data-testid=kb-results] li button", 10_000);
  assert.match(await text(first), /密[碼码]/);
  const marks = await wd("POST", s("/elements"), { using: "css selector", value: "[data-testid=kb-results] mark" });
  assert.ok(marks.length > 0, "no highlighted match in the results");
  await wd("POST", s(`/element/${first}/click`), {});
  await waitForText("[data-testid=kb-article]", /客戶|客户/);
  await screenshot("knowledge-article.png");
  const back = await find("[data-testid=kb-article] button");
  await wd("POST", s(`/element/${back}/click`), {});
  await find("[data-testid=kb-search]");
});

test("the agent signs in to a real server, creates a work order and it reaches the server", async () => {
  await waitForText("[data-testid=sync-status]", /Not signed in/);
  await typeInto("[data-testid=login-server]", serverUrl);
  await typeInto("[data-testid=login-tenant]", "demo");
  await typeInto("[data-testid=login-user]", "agent");
  await typeInto("[data-testid=login-password]", DEMO_PASSWORD);
  await wd("POST", s(`/element/${await find("[data-testid=login-submit]")}/click`), {});
  await waitForText("[data-testid=signed-in-as]", /李明 · demo/, 20_000);
  // The seeded orders of this agent arrive with the first pull.
  await waitForText("[data-testid=orders-list]", /账单重复扣费/, 20_000);
  await waitForText("[data-testid=sync-status]", /Synced/, 20_000);

  await wd("POST", s(`/element/${await find("[data-testid=orders-new]")}/click`), {});
  await wd("POST", s(`/element/${await find("[data-testid=order-kind] option[value='repair']")}/click`), {});
  await typeInto("[data-testid=order-customer]", "赵六（冒烟测试）");
  await typeInto("[data-testid=order-phone]", "+8613700001111");
  await typeInto("[data-testid=order-title]", "Smoke: fibre down");
  await typeInto("[data-testid=order-description]", "Created by the native smoke test.");
  await wd("POST", s(`/element/${await find("[data-testid=order-save]")}/click`), {});
  await find("[data-testid=order-detail]");
  // Pushed by the background sync loop: the pending marker goes and the status bar says synced.
  await waitForText("[data-testid=sync-status]", /Synced/, 20_000);
  await screenshot("work-order-synced.png");

  const login = await serverApi("POST", "/api/v1/login", null,
    { tenant: "demo", username: "supervisor", password: DEMO_PASSWORD });
  const deadline = Date.now() + 15_000;
  let found;
  while (!found) {
    const list = await serverApi("GET", "/api/v1/work-orders?view=team", login.token);
    found = list.items.find((item) => item.order.customer_id === "赵六（冒烟测试）");
    if (!found) {
      assert.ok(Date.now() < deadline, `the order never reached the server: ${JSON.stringify(list)}`);
      await sleep(300);
    }
  }
  // Title, phone and description are fields of the order now, not a marked first note.
  assert.equal(found.order.title, "Smoke: fibre down");
  assert.equal(found.order.kind.type, "repair");
  assert.equal(found.order.contact_phone, "+8613700001111");
  assert.equal(found.order.description, "Created by the native smoke test.");
  // Back to the list for the next test.
  await wd("POST", s(`/element/${await find("[data-testid=order-detail] button")}/click`), {});
});

test("a supervisor edits the center's playbook in the window and the server holds the new revision", async () => {
  // The agent of the previous test leaves (everything synced: no warning).
  await clickInView("[data-testid=logout]");
  await find("[data-testid=login-form]");
  await typeInto("[data-testid=login-server]", serverUrl);
  await typeInto("[data-testid=login-tenant]", "demo");
  await typeInto("[data-testid=login-user]", "supervisor");
  await typeInto("[data-testid=login-password]", DEMO_PASSWORD);
  await wd("POST", s(`/element/${await find("[data-testid=login-submit]")}/click`), {});
  await waitForText("[data-testid=signed-in-as]", /demo/, 20_000);

  const section = await find("[data-testid=playbook-section]");
  await wd("POST", s("/execute/sync"), {
    script: "arguments[0].open = true; arguments[0].scrollIntoView({ block: 'start' });",
    args: [{ [ELEMENT]: section }],
  });
  await find("[data-testid=playbook-editor]");
  const before = await waitForText("[data-testid=playbook-revision]", /./);
  await wd("POST", s(`/element/${await find("[data-testid=wrap-up-add]")}/click`), {});
  await typeInto("[data-testid=wrap-up-row]:last-child [data-testid=wrap-up-code]", "smoke_lead");
  await typeInto("[data-testid=wrap-up-row]:last-child [data-testid=wrap-up-label-zh-CN]", "冒烟线索");
  await typeInto("[data-testid=acw-limit]", "75");
  await wd("POST", s(`/element/${await find("[data-testid=playbook-save]")}/click`), {});
  const saved = await waitForText("[data-testid=playbook-saved]", /revision \d+/, 15_000);
  await screenshot("playbook-editor-saved.png");

  const login = await serverApi("POST", "/api/v1/login", null,
    { tenant: "demo", username: "supervisor", password: DEMO_PASSWORD });
  const book = await serverApi("GET", "/api/v1/playbook", login.token);
  assert.equal(`revision ${book.revision}`, saved.match(/revision \d+/)[0], `${before} → ${saved}`);
  assert.equal(book.after_call_work_limit_s, 75);
  const added = book.wrap_up_codes.find((c) => c.code === "smoke_lead");
  assert.deepEqual(added?.labels, { "zh-CN": "冒烟线索" });
  await wd("POST", s("/execute/sync"), { script: "arguments[0].open = false;", args: [{ [ELEMENT]: section }] });
});

test("the supervisor's call-quality report shows the team's poor call the server holds", async () => {
  // The agent's desk uploaded two measured calls (as the call log pushes them): one good, one
  // poor. The supervisor of the previous test is still signed in.
  const agent = await serverApi("POST", "/api/v1/login", null,
    { tenant: "demo", username: "agent", password: DEMO_PASSWORD });
  const at = Date.now() - 10 * 60_000;
  const measured = (id, offset, quality) => ({
    id, revision: 1, direction: "incoming", number: "+8613900007777", e164: "+8613900007777", ivr: {},
    ring_at: at + offset, answer_at: at + offset + 3_000, end_at: at + offset + 120_000, hold_ms: 0, notes: "",
    quality,
  });
  const upload = await serverApi("POST", "/api/v1/calls", agent.token, { calls: [
    measured("smoke-good@pbx", 0, { mos: 4.3, loss_percent: 0.1, jitter_ms: 3 }),
    measured("smoke-poor@pbx", 1_000, { mos: 2.6, loss_percent: 11.5, jitter_ms: 48, rtt_ms: 240 }),
  ] });
  assert.deepEqual(upload.rejected, [], JSON.stringify(upload));

  const section = await find("[data-testid=quality-section]");
  await wd("POST", s("/execute/sync"), {
    script: "arguments[0].open = true; arguments[0].scrollIntoView({ block: 'start' });",
    args: [{ [ELEMENT]: section }],
  });
  const poor = await waitForText("[data-testid=quality-poor-call][data-call='smoke-poor@pbx']", /MOS 2\.6/, 15_000);
  assert.match(poor, /\+8613900007777/);
  // WebKit joins the cells' text without spaces: name, calls 2, measured 2, poor 1, mean MOS
  // 3.5 ((4.3 + 2.6) / 2), worst 2.6.
  const row = await waitForText("[data-testid=quality-agent-row]", /李明/);
  assert.match(row, /^李明\s*2\s*2\s*1\s*3\.5\s*2\.6/, `agent row: ${row}`);
  await screenshot("call-quality-report.png");
  await wd("POST", s("/execute/sync"), { script: "arguments[0].open = false;", args: [{ [ELEMENT]: section }] });
});

test("the supervisor writes a new article in the knowledge panel and the center holds it", async () => {
  await clickInView("[data-testid=kb-new]");
  await typeInto("[data-testid=kb-edit-title]", "冒烟测试：光猫复位");
  await typeInto("[data-testid=kb-edit-tags]", "宽带, 冒烟");
  await typeInto("[data-testid=kb-edit-body]", "长按光猫复位键十秒，等待指示灯变绿。");
  await clickInView("[data-testid=kb-edit-save]");
  const saved = await waitForText("[data-testid=kb-edit-saved]", /revision \d+/, 20_000);
  // The saver's own search index has it at once (pulled and rebuilt after the save).
  await waitForText("[data-testid=kb-article]", /光猫复位/, 15_000);
  await screenshot("kb-article-published.png");

  const login = await serverApi("POST", "/api/v1/login", null,
    { tenant: "demo", username: "agent", password: DEMO_PASSWORD });
  const page = await serverApi("GET", "/api/v1/kb/changes?since=0", login.token);
  const held = page.articles.find((a) => a.title === "冒烟测试：光猫复位");
  assert.ok(held, `the center does not hold the article: ${JSON.stringify(page)}`);
  assert.deepEqual(held.tags, ["宽带", "冒烟"]);
  assert.match(held.body, /复位键十秒/);
  assert.equal(`revision ${held.revision}`, saved.match(/revision \d+/)[0]);
  await clickInView("[data-testid=kb-article] button");
});

test("switching to Chinese re-renders the frame and saves the choice", async () => {
  const option = await find("[data-testid=language] option[value='zh-CN']");
  await wd("POST", s(`/element/${option}/click`), {});
  await waitForText("#panel-customer-title", /^客户$/);
  await waitForText("[data-testid=phone-status]", /未配置/);
  const path = await screenshot("workspace-zh-CN.png");
  assert.ok(readFileSync(path).length > 10_000, "screenshot is suspiciously small");
  const settings = readFileSync(join(dataDir, "settings.toml"), "utf8");
  assert.match(settings, /language = "zh-CN"/);
});
