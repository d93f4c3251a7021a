// The screen pop in the real app (release UI under the production CSP, WebKitGTK, tauri-driver)
// with real parts only: the agent signs in to a real seatline-server (demo customers), the
// desktop's customer cache follows the server, the phone registers at Kamailio, and sipp calls
// the way a center's PBX does after its IVR — P-Asserted-Identity plus X-IVR-* headers. The
// caller's customer card must be on screen while the call still rings, in English and Chinese,
// by number and (number withheld) by the IVR's account field. The pop's latency from the
// ringing event to the painted card is read from the page and printed.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { createInterface } from "node:readline";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "../support/net.mjs";
import { startApp, startServer, waitFor } from "../support/webdriver.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const app = resolve(process.env.SEATLINE_APP ?? join(root, "target", "debug", "seatline-desktop"));
const bins = dirname(app);
const sipPeer = process.env.SEATLINE_SIP_PEER ?? join(bins, "sip-peer");
const serverBin = process.env.SEATLINE_SERVER ?? join(bins, "seatline-server");
const scenario = join(root, "tests", "support", "sipp_uac_ivr_pop.xml");
const PASSWORD = "pop-password";

let server;
let proxyProc;
let proxy; // { udp, realm, users }
let ui;
const callers = [];

/** sipp as the PBX's leg to the agent: calls 1001 from the authenticated account 1002. */
async function pbxCall(keys) {
  const port = await freePort();
  const mediaPort = await freePort();
  const args = ["-sf", scenario, proxy.udp, "-s", "1001", "-i", "127.0.0.1", "-p", String(port),
    "-m", "1", "-nostdin", "-au", "1002", "-ap", proxy.users["1002"], "-d", "1500",
    "-mi", "127.0.0.1", "-mp", String(mediaPort), "-rtp_echo",
    "-key", "caller", "1002", "-key", "domain", proxy.realm];
  for (const [k, v] of Object.entries(keys)) args.push("-key", k, v);
  const child = spawn("sipp", args, { stdio: ["ignore", "pipe", "pipe"] });
  const call = { child, log: "" };
  child.stdout.on("data", (d) => (call.log += d));
  child.stderr.on("data", (d) => (call.log += d));
  call.done = new Promise((res) => child.once("exit", (code) => res(code)));
  callers.push(call);
  return call;
}

before(async () => {
  assert.ok(existsSync(app), `no app binary at ${app}`);
  assert.ok(existsSync(sipPeer), `no sip-peer binary at ${sipPeer}`);
  assert.ok(process.env.DISPLAY, "no DISPLAY: run under xvfb-run");
  server = await startServer(serverBin, PASSWORD);
  proxyProc = spawn(sipPeer, ["kamailio", "md5"], { stdio: ["pipe", "pipe", "inherit"] });
  proxy = await new Promise((resolveLine, reject) => {
    createInterface({ input: proxyProc.stdout }).once("line", (line) => resolveLine(JSON.parse(line)));
    proxyProc.once("exit", (code) => reject(new Error(`sip-peer exited ${code}`)));
  });
  ui = await startApp({
    app,
    args: ["--data-dir", mkdtempSync(join(tmpdir(), "seatline-pop-"))],
    // No sound card here: calls run with silence instead of the default devices.
    env: { SEATLINE_PHONE_AUDIO: "null" },
    shotDir: join(root, "target", "native-smoke"),
  });
});

after(async () => {
  for (const c of callers) if (c.child.exitCode === null) c.child.kill("SIGKILL");
  await ui?.close();
  server?.stop();
  proxyProc?.stdin.end();
});

test("a ringing call pops the caller's customer card before it is answered, by number and by IVR data, in English and Chinese", async () => {
  // The center's supervisor keeps its own playbook on the server: a wrap-up code the UI has no
  // word of its own for, labelled in both languages, and a scripted phrase.
  const boss = await server.api("POST", "/api/v1/login", null, { tenant: "demo", username: "supervisor", password: PASSWORD });
  const book = (await server.api("GET", "/api/v1/playbook", boss.body.token)).body;
  book.wrap_up_codes.push({ code: "sales_lead", labels: { en: "Sales lead", "zh-CN": "销售线索" } });
  book.phrases.push({ category: "closing", lang: "zh-CN", text: "感谢致电星辰客服，祝您生活愉快。" });
  const saved = await server.api("PUT", "/api/v1/playbook", boss.body.token, book);
  assert.equal(saved.status, 200, JSON.stringify(saved.body));
  // Sign in: the customer cache follows the server's customers.
  await ui.typeInto("[data-testid=login-server]", server.url);
  await ui.typeInto("[data-testid=login-tenant]", "demo");
  await ui.typeInto("[data-testid=login-user]", "agent");
  await ui.typeInto("[data-testid=login-password]", PASSWORD);
  await ui.click("[data-testid=login-submit]");
  await waitFor("the customer cache to fill", async () =>
    Number(await ui.attr("[data-testid=customer-feed]", "data-count", 2_000)) >= 5, 30_000);
  // A work order of the demo customer 张伟, to be shown on the card.
  await waitFor("the seeded orders", async () => /账单重复扣费/.test(await ui.text("[data-testid=orders-list]", 2_000)), 20_000);

  await ui.typeInto("[data-testid=sip-domain]", proxy.udp);
  await ui.typeInto("[data-testid=sip-user]", "1001");
  await ui.typeInto("[data-testid=sip-password]", proxy.users["1001"]);
  await ui.click("[data-testid=phone-connect]");
  await waitFor("registered", async () => (await ui.attr("[data-testid=phone-registration]", "data-state")) === "registered");

  // 1. The PBX passes the caller's number in P-Asserted-Identity (national form with trunk 0).
  const first = await pbxCall({ pai: '"Zhang Wei" <sip:013800138000@pbx.example>', privacy: "none",
    menu: "billing>refund", account: "-" });
  await waitFor("the ringing banner", async () => /Zhang Wei/.test(await ui.text("[data-testid=caller-label]", 2_000)));
  const name = await waitFor("the customer card", () => ui.text("[data-testid=customer-name]", 2_000));
  assert.equal(name, "张伟");
  // Still ringing: the card came before "hello".
  assert.ok(await ui.find("[data-testid=answer]", 1_000), "the call must still be ringing");
  assert.equal(await ui.attr("[data-testid=customer-pop]", "data-matched-by"), "number");
  assert.match(await ui.text("[data-testid=pop-number]"), /13800138000/);
  assert.match(await ui.text("[data-testid=pop-ivr]"), /billing>refund/);
  assert.match(await ui.text("[data-testid=pop-open-orders]"), /账单重复扣费/);
  const latency = Number(await waitFor("the pop's latency", () => ui.attr("[data-testid=customer-pop]", "data-pop-latency-ms")));
  const lookupUs = Number(await ui.attr("[data-testid=customer-pop]", "data-lookup-us"));
  const deliveryMs = await ui.attr("[data-testid=customer-pop]", "data-pop-delivery-ms");
  const renderMs = await ui.attr("[data-testid=customer-pop]", "data-pop-render-ms");
  console.log(`screen pop: ringing event -> card painted in ${latency} ms: lookup (customer + ` +
    `orders + calls) ${(lookupUs / 1000).toFixed(1)} ms, event -> pop in the window ${deliveryMs} ms, ` +
    `render + next frame ${renderMs} ms (real webview, debug build)`);
  assert.ok(Number.isFinite(latency) && latency >= 0, `latency ${latency}`);
  await ui.screenshot("pop-ringing-en.png");
  await ui.click("[data-testid=answer]");
  await waitFor("on call in the status bar", async () => (await ui.attr("[data-testid=agent-state]", "value")) === "on_call");
  assert.equal(await first.done, 0, `sipp call 1\n${first.log}`);
  // The caller hung up: after-call work, and the wrap-up asks for a code before Ready.
  await waitFor("after-call work", async () => (await ui.attr("[data-testid=agent-state]", "value")) === "after_call_work");
  await ui.click("[data-testid=wrap-up-code] option[value='callback_promised']");
  await ui.typeInto("[data-testid=wrap-up-notes]", "Refund checked; call back tomorrow");
  // The promised callback needs its time: tomorrow 10:30 local time.
  const tomorrow = new Date(Date.now() + 86_400_000);
  const pad = (n) => String(n).padStart(2, "0");
  const callbackAt = `${tomorrow.getFullYear()}-${pad(tomorrow.getMonth() + 1)}-${pad(tomorrow.getDate())}T10:30`;
  await ui.setValue("[data-testid=callback-at]", callbackAt);
  await ui.click("[data-testid=wrap-up-done]");
  await waitFor("the wrap-up saved", async () => /Callback promised/.test(await ui.text("[data-testid=wrapped-up]", 2_000)));
  // The callback became a work order with that time.
  const promised = await ui.text("[data-testid=callback-promised]");
  assert.match(promised, new RegExp(`Callback #\\S+ set for ${callbackAt.replace("T", " ")}`), promised);
  await waitFor("ready again", async () => (await ui.attr("[data-testid=agent-state]", "value")) === "ready");

  // 2. In Chinese, number withheld: the IVR's account field finds the customer.
  const login = await server.api("POST", "/api/v1/login", null, { tenant: "demo", username: "agent", password: PASSWORD });
  const customers = await server.api("GET", "/api/v1/customers?limit=50", login.body.token);
  const liu = customers.body.items.find((c) => c.name === "刘洋");
  assert.ok(liu, JSON.stringify(customers.body));
  await ui.click("[data-testid=language] option[value='zh-CN']");
  const second = await pbxCall({ pai: "<sip:anonymous@anonymous.invalid>", privacy: "id",
    menu: "repair", account: liu.id });
  await waitFor("the second pop", async () => (await ui.text("[data-testid=customer-name]", 2_000)) === "刘洋");
  assert.ok(await ui.find("[data-testid=answer]", 1_000), "the call must still be ringing");
  assert.equal(await ui.attr("[data-testid=customer-pop]", "data-matched-by"), "ivr");
  assert.equal(await ui.text("[data-testid=pop-number]"), "号码未显示");
  assert.match(await ui.text("[data-testid=pop-matched-ivr]"), /X-IVR-Account/);
  assert.match(await ui.text("[data-testid=customer-vip]"), /VIP/);
  await ui.screenshot("pop-ringing-zh.png");
  await ui.click("[data-testid=answer]");
  assert.equal(await second.done, 0, `sipp call 2\n${second.log}`);
  await waitFor("话后处理", async () => (await ui.attr("[data-testid=agent-state]", "value")) === "after_call_work");
  // The wrap-up lists the center's codes from the server, with their Chinese labels, and offers
  // its phrases for the notes.
  assert.equal(await ui.text("[data-testid=wrap-up-code] option[value='sales_lead']"), "销售线索");
  assert.equal(await ui.text("[data-testid=wrap-up-phrases] optgroup[label='结束语'] option:last-child"),
    "感谢致电星辰客服，祝您生活愉快。");
  await ui.click("[data-testid=wrap-up-code] option[value='repair_logged']");
  await ui.click("[data-testid=wrap-up-done]");
  await waitFor("已小结", async () => /已登记报修/.test(await ui.text("[data-testid=wrapped-up]", 2_000)));

  // The call log: 张伟 calls again — the card shows the last call and its wrap-up.
  const third = await pbxCall({ pai: "<sip:+8613800138000@pbx.example>", privacy: "none", menu: "-", account: "-" });
  await waitFor("the third pop", async () => (await ui.text("[data-testid=customer-name]", 2_000)) === "张伟");
  await waitFor("the call history", async () => /已承诺回电/.test(await ui.text("[data-testid=pop-recent-calls]", 2_000)));
  // The card's history came from the center's call log too (the calls pushed by this desk).
  await waitFor("the center's call history", async () =>
    (await ui.attr("[data-testid=pop-recent-calls]", "data-from-server", 2_000)) === "yes");
  await ui.screenshot("pop-history-zh.png");
  await ui.click("[data-testid=decline]");
  assert.notEqual(await third.done, 0, "sipp expects an answer; a declined call fails its scenario");
});
