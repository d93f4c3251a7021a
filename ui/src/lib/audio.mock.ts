// A stand-in for the shell's audio side, for `vite --mode mock` and UI tests: a headset and a
// laptop's speakers, the `[audio]` checks the shell makes, a speaker test that records what it
// played, and a microphone test a test drives with `level()`.
import type { AudioBackend, AudioDevice, AudioLevel, AudioSettings, AudioView } from "./audio";

export interface MockAudio extends AudioBackend {
  devices: AudioDevice[];
  /** Speaker tests asked for: device and volume. */
  tests: { device: string | null; volume: number }[];
  /** The running microphone test's device, or undefined when none runs. */
  meter: string | null | undefined;
  /** Sends a microphone reading to the handlers (only while a test runs). */
  level(level: AudioLevel): void;
}

const HEADSET = "alsa:hw:CARD=Headset,DEV=0";

export function createMockAudio(): MockAudio {
  let settings: AudioSettings = { input: null, output: null, ring: null, ring_volume: 80, ringtone: null };
  const handlers = new Set<(l: AudioLevel) => void>();
  const view = (): AudioView => ({ settings: structuredClone(settings), devices: structuredClone(mock.devices), devices_error: null });
  const fellBack = (id: string | null) => id !== null && !mock.devices.some((d) => d.id === id);
  const mock: MockAudio = {
    devices: [
      { id: "alsa:default", name: "Default", is_input: true, is_default: true },
      { id: "alsa:default", name: "Default", is_input: false, is_default: true },
      { id: HEADSET, name: "USB Headset", is_input: true, is_default: false },
      { id: HEADSET, name: "USB Headset", is_input: false, is_default: false },
      { id: "alsa:hw:CARD=PCH,DEV=0", name: "Built-in Speakers", is_input: false, is_default: false },
    ],
    tests: [],
    meter: undefined,
    audioSettings: async () => view(),
    setAudioSettings: async (next) => {
      const volume = next.ring_volume;
      if (!Number.isInteger(volume) || volume < 0 || volume > 100) {
        throw { code: "settings", message: `invalid ring volume "${volume}": expected a whole number from 0 to 100` };
      }
      if (next.ringtone && !/\.wav$/i.test(next.ringtone.trim())) {
        throw { code: "settings", message: `invalid ringtone "${next.ringtone}": expected the path of a .wav file` };
      }
      const blank = (v: string | null) => (v && v.trim() !== "" ? v.trim() : null);
      settings = { input: blank(next.input), output: blank(next.output), ring: blank(next.ring), ring_volume: volume, ringtone: blank(next.ringtone) };
      return view();
    },
    audioTestSpeaker: async (device, volume) => {
      mock.tests.push({ device, volume });
      return { device: device ?? "Default", fell_back: fellBack(device) };
    },
    audioMeterStart: async (device) => {
      mock.meter = device;
      return { device: device ?? "Default", fell_back: fellBack(device) };
    },
    audioMeterStop: async () => {
      mock.meter = undefined;
    },
    onAudioLevel: async (handler) => {
      handlers.add(handler);
      return () => handlers.delete(handler);
    },
    level: (l) => {
      if (mock.meter !== undefined) handlers.forEach((h) => h(l));
    },
  };
  return mock;
}
