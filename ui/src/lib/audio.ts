// The "Audio" settings section on the UI side: which microphone, speaker and ringer the phone
// uses (`[audio]` in settings.toml, crates/settings), the ring volume and tone, a speaker test
// and a microphone level meter. The shell applies a saved choice to the next call and ring.

/** `[audio]`: device ids from the device list; null is the system default. */
export interface AudioSettings {
  input: string | null;
  output: string | null;
  ring: string | null;
  /** 0-100. */
  ring_volume: number;
  /** A .wav file to ring with instead of the built-in tone. */
  ringtone: string | null;
}

/** A sound device as the shell lists it (a device that captures and plays is listed twice). */
export interface AudioDevice {
  id: string;
  name: string;
  is_input: boolean;
  is_default: boolean;
}

export interface AudioView {
  settings: AudioSettings;
  devices: AudioDevice[];
  /** Why no devices could be listed (no sound system). */
  devices_error: string | null;
}

/** What a speaker or microphone test used. */
export interface DeviceTest {
  device: string | null;
  /** The chosen device was gone; the system default was used. */
  fell_back: boolean;
}

/** One reading of the microphone test (event `audio-level`, about 20 a second). */
export interface AudioLevel {
  rms_dbfs: number;
  peak_dbfs: number;
}

export interface AudioBackend {
  audioSettings(): Promise<AudioView>;
  /** Refused with code `settings` for a bad value (volume outside 0-100, ringtone not .wav). */
  setAudioSettings(settings: AudioSettings): Promise<AudioView>;
  /** Plays the ring's double burst on `device` at `volume`; resolves when it has played. */
  audioTestSpeaker(device: string | null, volume: number): Promise<DeviceTest>;
  /** Starts the microphone test; readings go to `onAudioLevel` handlers until stopped. */
  audioMeterStart(device: string | null): Promise<DeviceTest>;
  audioMeterStop(): Promise<void>;
  onAudioLevel(handler: (level: AudioLevel) => void): Promise<() => void>;
}

/** The event the shell emits with each microphone-test reading. */
export const AUDIO_LEVEL_EVENT = "audio-level";

/** The meter bar's fill, 0-100: -60 dBFS (and below) is empty, 0 dBFS full. */
export function meterPercent(dbfs: number): number {
  if (!Number.isFinite(dbfs)) return 0;
  return Math.round(Math.min(100, Math.max(0, ((dbfs + 60) / 60) * 100)));
}

/** The devices of one direction, the system default first, without duplicates. */
export function devicesFor(devices: AudioDevice[], input: boolean): AudioDevice[] {
  const seen = new Set<string>();
  return devices
    .filter((d) => d.is_input === input)
    .filter((d) => (seen.has(d.id) ? false : (seen.add(d.id), true)))
    .sort((a, b) => Number(b.is_default) - Number(a.is_default));
}
