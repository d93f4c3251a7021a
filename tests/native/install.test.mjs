// The Linux package as an agent's PC gets it: the .deb that `tauri build` made (SEATLINE_DEB) is
// installed into the system with apt (as root, which CI is), the installed binary is started
// through tauri-driver and must show its window and answer an IPC round trip, and the package is
// removed afterwards. Run under a display: `xvfb-run -a dbus-run-session -- node --test ...`.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readlinkSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { startApp } from "../support/webdriver.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const deb = process.env.SEATLINE_DEB ? resolve(process.env.SEATLINE_DEB) : null;
const shotDir = join(root, "target", "native-install");
const isRoot = process.getuid?.() === 0;
const skip = !deb ? "SEATLINE_DEB names no .deb (scripts/test.sh builds one)" : !isRoot ? "installing a .deb needs root" : false;

function run(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: "utf8", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
  return { ok: r.status === 0, out: `${r.stdout ?? ""}${r.stderr ?? ""}`, stdout: r.stdout ?? "" };
}

let pkg;
let session;
let dataDir;

before(() => {
  if (skip) return;
  const field = (name) => run("dpkg-deb", ["--field", deb, name]).stdout.trim();
  pkg = field("Package");
  assert.ok(pkg, `no Package field in ${deb}`);
  // apt resolves the package's Depends from Debian if any is missing (dpkg alone would not).
  const installed = run("apt-get", ["install", "-y", "--no-install-recommends", "-o", "DPkg::Lock::Timeout=600", deb]);
  assert.ok(installed.ok, `apt-get install ${deb} failed:\n${installed.out}`);
});

after(async () => {
  await session?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  if (skip || !pkg) return;
  run("apt-get", ["remove", "-y", "-o", "DPkg::Lock::Timeout=600", pkg]);
});

test("the .deb declares what Debian 12 needs and installs the app, its menu entry and icons", { skip }, () => {
  const depends = run("dpkg-deb", ["--field", deb, "Depends"]).stdout;
  assert.match(depends, /libwebkit2gtk-4\.1-0/);
  assert.match(depends, /libgtk-3-0/);
  assert.match(depends, /libasound2/);
  assert.match(depends, /libdbus-1-3/);
  const status = run("dpkg-query", ["-W", "-f", "${Status} ${Version}", pkg]);
  assert.ok(status.ok, status.out);
  assert.match(status.stdout, /^install ok installed 0\.1\.0/);
  const files = run("dpkg", ["-L", pkg]).stdout.split("\n");
  assert.ok(files.includes("/usr/bin/seatline-desktop"), files.join("\n"));
  const desktop = files.find((f) => f.startsWith("/usr/share/applications/") && f.endsWith(".desktop"));
  assert.ok(desktop, "no .desktop entry");
  const entry = readFileSync(desktop, "utf8");
  assert.match(entry, /^Exec=seatline-desktop/m);
  assert.match(entry, /^Name=Seatline$/m);
  assert.ok(files.some((f) => f.startsWith("/usr/share/icons/hicolor/") && f.endsWith(".png")), "no icons");
});

test("the installed binary shows its window and answers an IPC round trip", { skip }, async () => {
  dataDir = mkdtempSync(join(tmpdir(), "seatline-installed-"));
  session = await startApp({
    app: "/usr/bin/seatline-desktop",
    args: ["--data-dir", dataDir],
    env: { SEATLINE_PHONE_AUDIO: "null", SEATLINE_NO_DEMO_SERVER: "1" },
    shotDir,
  });
  await session.find("[data-testid=workspace]", 30_000);
  assert.equal(await session.wd("GET", session.s("/title")), "Seatline");
  // The process serving this window is the installed file, not the build tree's.
  const exes = readdirSync("/proc")
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, "utf8").split("\0").includes(dataDir);
      } catch {
        return false;
      }
    })
    .map((p) => {
      try {
        return readlinkSync(`/proc/${p}/exe`);
      } catch {
        return null;
      }
    });
  assert.deepEqual(exes, ["/usr/bin/seatline-desktop"]);
  const info = await session.wd("POST", session.s("/execute/async"), {
    script: `const done = arguments[arguments.length - 1];
      window.__TAURI_INTERNALS__.invoke("app_info").then(done, (e) => done({ error: e }));`,
    args: [],
  });
  assert.equal(info.error, undefined, JSON.stringify(info));
  assert.equal(info.version, "0.1.0");
  assert.equal(info.data_dir, dataDir);
  assert.equal(info.data_dir_source, "--data-dir");
  await session.screenshot("installed.png");
  assert.ok(existsSync(join(shotDir, "installed.png")));
  assert.ok(readFileSync(join(shotDir, "installed.png")).length > 10_000, "screenshot is suspiciously small");
  await session.close();
  session = null;
});

test("removing the package takes the binary away", { skip }, () => {
  const removed = run("apt-get", ["remove", "-y", "-o", "DPkg::Lock::Timeout=600", pkg]);
  assert.ok(removed.ok, removed.out);
  assert.equal(existsSync("/usr/bin/seatline-desktop"), false);
  const status = run("dpkg-query", ["-W", "-f", "${Status}", pkg]);
  assert.ok(!status.ok || !/installed/.test(status.stdout.replace("not-installed", "")), status.out);
});
