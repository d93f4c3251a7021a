// UI flow test: the Vite dev server in mock mode (backend module swapped for its in-page
// stand-in), driven by Playwright in Debian's Chromium. Screenshots go to target/ui-flow/.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { freePort, sleep } from "../../tests/support/net.mjs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const uiDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const shotDir = resolve(uiDir, "..", "target", "ui-flow");
const chromiumPath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";


async function waitForHttp(url, ms) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      // not up yet
    }
    await sleep(200);
  }
  throw new Error(`dev server did not answer at ${url} within ${ms} ms`);
}

let vite;
let browser;
let baseUrl;

before(async () => {
  mkdirSync(shotDir, { recursive: true });
  const port = await freePort();
  baseUrl = `http://127.0.0.1:${port}/`;
  vite = spawn(
    process.execPath,
    [resolve(uiDir, "node_modules/vite/bin/vite.js"), "--mode", "mock", "--host", "127.0.0.1", "--port", String(port), "--strictPort"],
    { cwd: uiDir, stdio: ["ignore", "pipe", "pipe"], detached: true },
  );
  let log = "";
  vite.stdout.on("data", (d) => (log += d));
  vite.stderr.on("data", (d) => (log += d));
  try {
    await waitForHttp(baseUrl, 30_000);
  } catch (error) {
    throw new Error(`${error.message}\n${log}`);
  }
  browser = await chromium.launch({
    executablePath: chromiumPath,
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
});

after(async () => {
  await browser?.close();
  if (vite?.pid) {
    try {
      process.kill(-vite.pid, "SIGTERM");
    } catch {
      // already gone
    }
  }
});

async function openPage(locale) {
  const context = await browser.newContext({ locale, viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  page.on("response", (r) => r.status() >= 400 && errors.push(`${r.status()} ${r.url()}`));
  await page.goto(baseUrl);
  await page.getByTestId("workspace").waitFor();
  return { page, context, errors };
}

test("an English OS gets the English workspace; the agent works it by keyboard", async () => {
  const { page, context, errors } = await openPage("en-US");
  for (const name of ["Phone", "Customer", "Knowledge", "Work orders"]) {
    assert.equal(await page.getByRole("heading", { name, exact: true }).count(), 1, name);
  }
  assert.match(await page.getByTestId("phone-status").innerText(), /Not configured/);
  assert.equal(await page.getByTestId("agent-state").inputValue(), "not_ready:login");

  // Keyboard only: Alt+1 to the phone panel, type digits on the dial field, Alt+4 to orders.
  await page.keyboard.press("Alt+1");
  assert.equal(await page.evaluate(() => document.activeElement?.id), "panel-phone");
  await page.getByTestId("dial-number").focus();
  await page.keyboard.type("10086");
  assert.equal(await page.getByTestId("dial-number").inputValue(), "10086");
  await page.keyboard.press("Alt+4");
  assert.equal(await page.evaluate(() => document.activeElement?.id), "panel-orders");

  // Agent state through the status bar.
  await page.getByTestId("agent-state").focus();
  await page.getByTestId("agent-state").selectOption("ready");
  await page.waitForFunction(() => document.querySelector("[data-state='ready']") !== null);
  await page.screenshot({ path: resolve(shotDir, "workspace-en.png") });

  // Knowledge base: type, see highlighted results, open one with the keyboard.
  await page.keyboard.press("Alt+3");
  await page.getByTestId("kb-search").focus();
  await page.keyboard.type("退款");
  await page.locator("[data-testid=kb-results] mark").first().waitFor();
  assert.equal(await page.locator("[data-testid=kb-results] li").count(), 1);
  await page.keyboard.press("Enter");
  await page.getByTestId("kb-article").waitFor();
  assert.match(await page.getByTestId("kb-article").innerText(), /原路退回/);
  await page.getByRole("button", { name: "Back to results" }).click();

  // Switch to Chinese from the status bar.
  await page.getByTestId("language").selectOption("zh-CN");
  await page.getByRole("heading", { name: "客户", exact: true }).waitFor();
  assert.match(await page.getByTestId("phone-status").innerText(), /未配置/);
  assert.equal(await page.evaluate(() => document.documentElement.lang), "zh-CN");
  await page.screenshot({ path: resolve(shotDir, "workspace-zh-CN.png") });
  assert.deepEqual(errors, []);
  await context.close();
});

test("a Chinese OS gets the Chinese workspace on the first screen", async () => {
  const { page, context, errors } = await openPage("zh-CN");
  for (const name of ["电话", "客户", "知识库", "工单"]) {
    assert.equal(await page.getByRole("heading", { name, exact: true }).count(), 1, name);
  }
  assert.match(await page.getByTestId("sync-status").innerText(), /未登录/);
  assert.equal(await page.getByTestId("login-form").count(), 1);
  assert.deepEqual(errors, []);
  await context.close();
});

test("the agent signs in, creates a work order offline by keyboard and sees it pending", async () => {
  const { page, context, errors } = await openPage("en-US");
  assert.match(await page.getByTestId("sync-status").innerText(), /Not signed in/);
  // The form is pre-filled from the login hint; only the password is typed.
  await page.keyboard.press("Alt+4");
  assert.equal(await page.getByTestId("login-tenant").inputValue(), "demo");
  await page.getByTestId("login-password").focus();
  await page.keyboard.type("wrong");
  await page.keyboard.press("Enter");
  await page.getByTestId("login-error").waitFor();
  await page.getByTestId("login-password").fill("demo");
  await page.keyboard.press("Enter");
  await page.getByTestId("signed-in-as").waitFor();
  await page.getByTestId("orders-empty").waitFor();

  await page.getByTestId("orders-new").focus();
  await page.keyboard.press("Enter");
  await page.getByTestId("order-form").waitFor();
  // The kind select has the focus; walk the form with Tab.
  await page.keyboard.press("Tab");
  await page.keyboard.type("张伟");
  await page.keyboard.press("Tab");
  await page.keyboard.type("+86 138 0013 8000");
  await page.keyboard.press("Tab");
  await page.keyboard.type("Broadband keeps dropping");
  await page.keyboard.press("Tab");
  await page.keyboard.type("Since Monday, every evening.");
  await page.getByTestId("order-priority").selectOption("high");
  await page.getByTestId("order-save").focus();
  await page.keyboard.press("Enter");
  const detail = page.getByTestId("order-detail");
  await detail.waitFor();
  assert.match(await detail.getByTestId("order-pending").innerText(), /Pending sync/);
  assert.match(await detail.innerText(), /\+8613800138000/);

  // Status along the legal transitions, and a note, all offline.
  await page.getByTestId("order-move-in_progress").click();
  await page.waitForFunction(() => document.querySelector("[data-testid=order-status]")?.textContent === "In progress");
  await page.getByTestId("note-input").fill("Called back, customer not home");
  await page.keyboard.press("Control+Enter");
  await page.locator("[data-testid=order-notes] li", { hasText: "customer not home" }).waitFor();
  assert.match(await detail.getByTestId("order-description-value").innerText(), /Since Monday/);
  // A due time already passed: the order turns overdue (one field change; the rest stays).
  await detail.getByTestId("edit-due").fill("2026-01-05T09:30");
  await detail.getByTestId("edit-save").click();
  await detail.getByTestId("order-urgency").waitFor();
  assert.equal(await detail.getByTestId("order-urgency").innerText(), "Overdue");
  assert.match(await detail.getByTestId("order-due-value").innerText(), /2026-01-05 09:30/);
  await page.keyboard.press("Escape");
  const row = page.getByTestId("order-row").first();
  await row.waitFor();
  assert.match(await row.innerText(), /Pending sync/);
  assert.match(await row.innerText(), /张伟/);
  assert.match(await row.innerText(), /Overdue/);
  assert.match(await page.getByTestId("sync-status").innerText(), /Offline, retrying in \d+ s · 4 pending/);
  // The overdue view lists it; the due-soon view does not.
  await page.getByTestId("orders-view-due_soon").click();
  await page.getByTestId("orders-empty").waitFor();
  await page.getByTestId("orders-view-overdue").click();
  await page.getByTestId("order-row").first().waitFor();
  await page.screenshot({ path: resolve(shotDir, "orders-overdue-en.png") });
  // Reassign to a teammate from the picker.
  await page.getByTestId("order-row").first().click();
  await detail.getByTestId("edit-assignee").selectOption({ label: "Wang Fang" });
  await detail.getByTestId("edit-save").click();
  await page.waitForFunction(() => document.querySelector("[data-testid=order-assignee]")?.textContent === "Wang Fang");
  await page.keyboard.press("Escape");
  await page.getByTestId("orders-view-all").click();

  // Search narrows the list; the order number finds it too.
  await page.getByTestId("orders-search").fill("nobody");
  await page.getByTestId("orders-no-match").waitFor();
  await page.getByTestId("orders-search").fill("张");
  await page.getByTestId("order-row").first().waitFor();
  await page.screenshot({ path: resolve(shotDir, "orders-pending-en.png") });

  // Signing out with unsynced changes warns first.
  await page.getByTestId("logout").click();
  await page.getByTestId("logout-warning").waitFor();
  await page.getByTestId("language").selectOption("zh-CN");
  await page.getByText("仍然登出").waitFor();
  await page.screenshot({ path: resolve(shotDir, "orders-pending-zh-CN.png") });
  assert.deepEqual(errors, []);
  await context.close();
});
