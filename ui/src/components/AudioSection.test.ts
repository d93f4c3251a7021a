// The "Audio" settings section against the mock shell: devices from the list, a saved choice,
// a bad value refused with the shell's message, the speaker test on the chosen device, and the
// microphone meter following the readings.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import AudioSection from "./AudioSection.svelte";
import { createMockAudio } from "../lib/audio.mock";
import { i18n } from "../lib/i18n.svelte";

const HEADSET = "alsa:hw:CARD=Headset,DEV=0";
const SPEAKERS = "alsa:hw:CARD=PCH,DEV=0";

describe("audio settings", () => {
  beforeEach(() => i18n.set("en"));
  afterEach(() => cleanup());

  it("offers the real devices per role and saves the headset for calls, speakers for the ring", async () => {
    const audio = createMockAudio();
    render(AudioSection, { backend: audio });
    const input = (await screen.findByTestId("audio-input")) as HTMLSelectElement;
    // The system default, then the inputs: the default device and the headset.
    expect([...input.options].map((o) => o.value)).toEqual(["", "alsa:default", HEADSET]);
    const ring = screen.getByTestId("audio-ring") as HTMLSelectElement;
    expect([...ring.options].map((o) => o.value)).toEqual(["", "alsa:default", HEADSET, SPEAKERS]);
    await fireEvent.change(input, { target: { value: HEADSET } });
    await fireEvent.change(screen.getByTestId("audio-output"), { target: { value: HEADSET } });
    await fireEvent.change(ring, { target: { value: SPEAKERS } });
    await fireEvent.input(screen.getByTestId("audio-volume"), { target: { value: "45" } });
    await fireEvent.click(screen.getByTestId("audio-save"));
    await screen.findByTestId("audio-saved");
    const saved = (await audio.audioSettings()).settings;
    expect(saved).toEqual({ input: HEADSET, output: HEADSET, ring: SPEAKERS, ring_volume: 45, ringtone: null });
  });

  it("shows the shell's error for a ringtone that is not a WAV and keeps the old settings", async () => {
    const audio = createMockAudio();
    render(AudioSection, { backend: audio });
    await fireEvent.input(await screen.findByTestId("audio-ringtone"), { target: { value: "/tmp/ring.mp3" } });
    await fireEvent.click(screen.getByTestId("audio-save"));
    await waitFor(() => expect(screen.getByTestId("audio-error").textContent).toContain(".wav"));
    expect(screen.queryByTestId("audio-saved")).toBeNull();
    expect((await audio.audioSettings()).settings.ringtone).toBeNull();
  });

  it("keeps a saved device that is unplugged selectable and says when a test fell back", async () => {
    const audio = createMockAudio();
    await audio.setAudioSettings({ input: null, output: "alsa:hw:CARD=Gone,DEV=0", ring: null, ring_volume: 80, ringtone: null });
    render(AudioSection, { backend: audio });
    const output = (await screen.findByTestId("audio-output")) as HTMLSelectElement;
    expect(output.value).toBe("alsa:hw:CARD=Gone,DEV=0");
    expect(output.selectedOptions[0]!.textContent).toContain("not connected");
    await fireEvent.click(screen.getByTestId("audio-test-speaker"));
    await waitFor(() => expect(audio.tests).toEqual([{ device: "alsa:hw:CARD=Gone,DEV=0", volume: 80 }]));
    await waitFor(() => expect(screen.getByTestId("audio-notice").textContent).toContain("system default"));
  });

  it("tests the ringer on the ring device at the ring volume", async () => {
    const audio = createMockAudio();
    await audio.setAudioSettings({ input: null, output: HEADSET, ring: SPEAKERS, ring_volume: 30, ringtone: null });
    render(AudioSection, { backend: audio });
    await fireEvent.click(await screen.findByTestId("audio-test-ringer"));
    await waitFor(() => expect(audio.tests).toEqual([{ device: SPEAKERS, volume: 30 }]));
    expect(screen.queryByTestId("audio-notice")).toBeNull();
  });

  it("runs the microphone test on the chosen input and follows its level until stopped", async () => {
    const audio = createMockAudio();
    await audio.setAudioSettings({ input: HEADSET, output: null, ring: null, ring_volume: 80, ringtone: null });
    render(AudioSection, { backend: audio });
    await fireEvent.click(await screen.findByTestId("audio-meter-start"));
    const meter = await screen.findByTestId("audio-meter");
    expect(audio.meter).toBe(HEADSET);
    audio.level({ rms_dbfs: -30, peak_dbfs: -12 });
    await waitFor(() => expect(meter.getAttribute("aria-valuenow")).toBe("80"));
    audio.level({ rms_dbfs: -80, peak_dbfs: -70 });
    await waitFor(() => expect(meter.getAttribute("aria-valuenow")).toBe("0"));
    await fireEvent.click(screen.getByTestId("audio-meter-stop"));
    await waitFor(() => expect(audio.meter).toBeUndefined());
    expect(screen.queryByTestId("audio-meter")).toBeNull();
  });
});
