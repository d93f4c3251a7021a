// The "Desktop" settings section against the mock shell: hotkeys saved, a clash refused with the
// shell's message, problems the OS reported shown, diagnostics collected.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import DesktopSettings from "./DesktopSettings.svelte";
import { createMockDesktop } from "../lib/desktop.mock";
import { i18n } from "../lib/i18n.svelte";

describe("desktop settings", () => {
  beforeEach(() => i18n.set("en"));
  afterEach(() => cleanup());

  it("shows the saved hotkeys and saves a change with the toggles", async () => {
    const desk = createMockDesktop();
    render(DesktopSettings, { backend: desk });
    const answer = (await screen.findByTestId("hotkey-answer")) as HTMLInputElement;
    expect(answer.value).toBe("CmdOrCtrl+Alt+A");
    await fireEvent.input(answer, { target: { value: "Ctrl+Shift+F1" } });
    await fireEvent.input(screen.getByTestId("hotkey-mute"), { target: { value: "" } });
    await fireEvent.click(screen.getByTestId("start-at-login"));
    await fireEvent.click(screen.getByTestId("notifications"));
    await fireEvent.click(screen.getByTestId("desktop-save"));
    await screen.findByTestId("desktop-saved");
    const view = await desk.desktopSettings();
    expect(view.settings.hotkeys.answer).toBe("Ctrl+Shift+F1");
    expect(view.settings.hotkeys.mute).toBeNull();
    expect(view.settings.start_at_login).toBe(true);
    expect(view.settings.notifications).toBe(false);
  });

  it("shows the shell's error for a clash and keeps the old settings", async () => {
    const desk = createMockDesktop();
    render(DesktopSettings, { backend: desk });
    await fireEvent.input(await screen.findByTestId("hotkey-hold"), { target: { value: "CmdOrCtrl+Alt+A" } });
    await fireEvent.click(screen.getByTestId("desktop-save"));
    await waitFor(() => expect(screen.getByTestId("desktop-error").textContent).toContain("answer and hold"));
    expect(screen.queryByTestId("desktop-saved")).toBeNull();
    expect((await desk.desktopSettings()).settings.hotkeys.hold).toBe("CmdOrCtrl+Alt+P");
  });

  it("lists hotkeys the OS refused, without failing the save", async () => {
    const desk = createMockDesktop();
    desk.problems = ["The hotkey for answer (CmdOrCtrl+Alt+A) could not be registered: no X server"];
    render(DesktopSettings, { backend: desk });
    await waitFor(() => expect(screen.getByTestId("desktop-problem").textContent).toContain("could not be registered"));
  });

  it("collects diagnostics and says where they went", async () => {
    const desk = createMockDesktop();
    render(DesktopSettings, { backend: desk });
    await fireEvent.click(await screen.findByTestId("collect-diagnostics"));
    await waitFor(() =>
      expect(screen.getByTestId("diagnostics-path").textContent).toContain("/mock/data/diagnostics/seatline-diagnostics-1.zip"),
    );
    expect(desk.collected).toBe(1);
  });

  it("reads in Chinese", async () => {
    i18n.set("zh-CN");
    render(DesktopSettings, { backend: createMockDesktop() });
    expect((await screen.findByTestId("collect-diagnostics")).textContent).toContain("收集诊断信息");
  });
});

describe("updates", () => {
  beforeEach(() => i18n.set("en"));
  afterEach(() => cleanup());

  it("says the app is up to date when nothing newer is offered", async () => {
    const desk = createMockDesktop();
    render(DesktopSettings, { backend: desk });
    await fireEvent.click(await screen.findByTestId("update-check"));
    await waitFor(() => expect(screen.getByTestId("update-current").textContent).toBe("Seatline 0.1.0 is up to date."));
    expect(screen.queryByTestId("update-install")).toBeNull();
    expect(desk.installs).toBe(0);
  });

  it("shows the version and notes on offer and installs only after the confirmation", async () => {
    const desk = createMockDesktop();
    desk.offer = { version: "0.2.0", notes: "Faster screen pop.\nSRTP by default." };
    render(DesktopSettings, { backend: desk });
    await fireEvent.click(await screen.findByTestId("update-check"));
    await waitFor(() =>
      expect(screen.getByTestId("update-available").textContent).toContain("Seatline 0.2.0 is available (you have 0.1.0)."),
    );
    expect(screen.getByTestId("update-notes").textContent).toBe("Faster screen pop.\nSRTP by default.");
    // The first click only asks; cancelling installs nothing.
    await fireEvent.click(screen.getByTestId("update-install"));
    expect(screen.getByTestId("update-confirm-text").textContent).toContain("Install Seatline 0.2.0 now?");
    expect(desk.installs).toBe(0);
    await fireEvent.click(screen.getByTestId("update-cancel"));
    expect(screen.queryByTestId("update-confirm")).toBeNull();
    expect(desk.installs).toBe(0);
    // Asked again and confirmed: installed, restart to use it.
    await fireEvent.click(screen.getByTestId("update-install"));
    await fireEvent.click(screen.getByTestId("update-confirm"));
    await waitFor(() =>
      expect(screen.getByTestId("update-installed").textContent).toBe("Seatline 0.2.0 is installed. Restart Seatline to use it."),
    );
    expect(desk.installs).toBe(1);
    expect(screen.queryByTestId("update-install")).toBeNull();
  });

  it("shows why a check failed", async () => {
    const desk = createMockDesktop();
    desk.offer = { code: "update_network", message: "connection refused" };
    render(DesktopSettings, { backend: desk });
    await fireEvent.click(await screen.findByTestId("update-check"));
    await waitFor(() =>
      expect(screen.getByTestId("update-error").textContent).toBe("The update server cannot be reached. (connection refused)"),
    );
    expect(screen.queryByTestId("update-current")).toBeNull();
    expect(screen.queryByTestId("update-available")).toBeNull();
  });

  it("says a refused signature installed nothing, and keeps the offer on screen", async () => {
    const desk = createMockDesktop();
    desk.offer = { version: "0.2.0", notes: null };
    render(DesktopSettings, { backend: desk });
    await fireEvent.click(await screen.findByTestId("update-check"));
    await fireEvent.click(await screen.findByTestId("update-install"));
    desk.offer = { code: "update_signature", message: "the update's signature does not verify" };
    await fireEvent.click(screen.getByTestId("update-confirm"));
    await waitFor(() => expect(screen.getByTestId("update-error").textContent).toContain("its signature does not verify. Nothing was installed."));
    expect(desk.installs).toBe(1);
    expect(screen.queryByTestId("update-installed")).toBeNull();
    expect(screen.getByTestId("update-available").textContent).toContain("0.2.0");
    expect(screen.queryByTestId("update-notes")).toBeNull();
  });

  it("reads in Chinese", async () => {
    i18n.set("zh-CN");
    const desk = createMockDesktop();
    desk.offer = { version: "0.2.0", notes: null };
    render(DesktopSettings, { backend: desk });
    expect((await screen.findByTestId("update-check")).textContent).toContain("检查更新");
    await fireEvent.click(screen.getByTestId("update-check"));
    await waitFor(() => expect(screen.getByTestId("update-available").textContent).toContain("有新版本 Seatline 0.2.0（当前为 0.1.0）。"));
    await fireEvent.click(screen.getByTestId("update-install"));
    expect(screen.getByTestId("update-confirm").textContent).toContain("立即安装");
    desk.offer = { code: "update_not_bundled", message: "x" };
    await fireEvent.click(screen.getByTestId("update-confirm"));
    await waitFor(() => expect(screen.getByTestId("update-error").textContent).toContain("请手动安装新版本"));
  });
});
