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
