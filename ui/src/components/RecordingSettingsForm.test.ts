// The recording settings against the mock shell (which checks them as the shell does): off by
// default, recording and the warning tone saved, an announcement without a WAV refused with
// the shell's message and nothing changed, the announcement's file field only when chosen, a
// retention period saved (the shell refuses more than 3650 days too: tests/capabilities.rs).
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import RecordingSettingsForm from "./RecordingSettingsForm.svelte";
import { createMockRecordings } from "../lib/recordings";
import { i18n } from "../lib/i18n.svelte";

describe("recording settings", () => {
  beforeEach(() => i18n.set("en"));
  afterEach(() => cleanup());

  it("saves recording with the warning tone", async () => {
    const backend = createMockRecordings([]);
    render(RecordingSettingsForm, { backend });
    const enabled = (await screen.findByTestId("recording-enabled")) as HTMLInputElement;
    expect(enabled.checked).toBe(false);
    expect((screen.getByTestId("recording-notice") as HTMLSelectElement).value).toBe("off");
    expect(screen.queryByTestId("recording-notice-file")).toBeNull();
    await fireEvent.click(enabled);
    await fireEvent.change(screen.getByTestId("recording-notice"), { target: { value: "tone" } });
    expect(screen.getByTestId("recording-notice-hint").textContent).toContain("even while you are muted");
    await fireEvent.click(screen.getByTestId("recording-settings-save"));
    await screen.findByTestId("recording-settings-saved");
    expect(await backend.recordingSettings()).toEqual({
      enabled: true,
      folder: null,
      notice: "tone",
      notice_file: null,
      keep_days: 0,
    });
  });

  it("saves a retention period; an impossible one is stopped by the field's range", async () => {
    const backend = createMockRecordings([]);
    render(RecordingSettingsForm, { backend });
    const days = (await screen.findByTestId("recording-keep-days")) as HTMLInputElement;
    await fireEvent.input(days, { target: { value: "4000" } });
    expect(days.validity.rangeOverflow).toBe(true);
    await fireEvent.click(screen.getByTestId("recording-settings-save"));
    expect(screen.queryByTestId("recording-settings-saved")).toBeNull();
    expect((await backend.recordingSettings()).keep_days).toBe(0);
    await fireEvent.input(days, { target: { value: "90" } });
    await fireEvent.click(screen.getByTestId("recording-settings-save"));
    await screen.findByTestId("recording-settings-saved");
    expect((await backend.recordingSettings()).keep_days).toBe(90);
  });

  it("asks for the announcement's file and shows the shell's refusal", async () => {
    const backend = createMockRecordings([]);
    render(RecordingSettingsForm, { backend });
    await fireEvent.change(await screen.findByTestId("recording-notice"), { target: { value: "announcement" } });
    const file = await screen.findByTestId("recording-notice-file");
    await fireEvent.click(screen.getByTestId("recording-settings-save"));
    await waitFor(() =>
      expect(screen.getByTestId("recording-settings-error").textContent).toContain("needs recording.notice_file"),
    );
    expect((await backend.recordingSettings()).notice).toBe("off");
    await fireEvent.input(file, { target: { value: "/srv/center/notice.wav" } });
    await fireEvent.click(screen.getByTestId("recording-settings-save"));
    await screen.findByTestId("recording-settings-saved");
    await waitFor(() => expect(screen.queryByTestId("recording-settings-error")).toBeNull());
    expect(await backend.recordingSettings()).toMatchObject({ notice: "announcement", notice_file: "/srv/center/notice.wav" });
  });

  it("reads in Chinese", async () => {
    i18n.set("zh-CN");
    render(RecordingSettingsForm, { backend: createMockRecordings([]) });
    await screen.findByTestId("recording-notice");
    expect(screen.getByTestId("recording-settings").textContent).toContain("来电者听到的提示");
  });
});
