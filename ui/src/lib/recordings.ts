// The recordings view's model: what `recordings_list` returns (crates/recordings `Scan`) and
// the calls the view makes. Playback goes through a Blob URL (CSP media-src 'self' blob:).

export interface PausedSpan {
  start_ms: number;
  end_ms: number | null;
}

export interface RecordingMeta {
  version: number;
  call_id: string;
  direction: "inbound" | "outbound";
  remote_number: string;
  display_name: string | null;
  customer_id: string | null;
  started_at: string;
  ended_at: string | null;
  codec: string;
  sample_rate: number;
  paused: PausedSpan[];
  error: string | null;
}

export interface RecordingEntry {
  /** The WAV's file name: what playback and delete take. */
  id: string;
  meta: RecordingMeta;
  bytes: number;
  duration_ms: number;
  /** The app stopped before finishing it (a crash); it still plays. */
  unfinished: boolean;
}

export interface RecordingProblem {
  file: string;
  reason: string;
}

export interface RecordingScan {
  entries: RecordingEntry[];
  problems: RecordingProblem[];
}

/** Search terms; RFC 3339 times for the date range (`to` exclusive). */
export interface RecordingQuery {
  text?: string | null;
  customer_id?: string | null;
  from?: string | null;
  to?: string | null;
}

/** `[recording]` in settings.toml (crates/settings `RecordingSettings`). */
export interface RecordingSettings {
  enabled: boolean;
  /** The recordings folder; the data directory's `recordings` when null. */
  folder: string | null;
  /** What the far end hears while its call is recorded. */
  notice: "off" | "tone" | "announcement";
  /** The announcement WAV for `notice = "announcement"`. */
  notice_file: string | null;
  /** Retention in days: older calls' recordings are deleted; 0 keeps them all. */
  keep_days: number;
}

export interface RecordingsBackend {
  recordingsList(query: RecordingQuery | null): Promise<RecordingScan>;
  /** The WAV bytes. */
  recordingAudio(id: string): Promise<ArrayBuffer>;
  recordingDelete(id: string): Promise<void>;
  recordingSettings(): Promise<RecordingSettings>;
  /** Checked (an announcement must be a WAV that plays) and saved; the next call uses it. */
  setRecordingSettings(settings: RecordingSettings): Promise<RecordingSettings>;
}

/** A date input's `YYYY-MM-DD` as the start of that local day (RFC 3339), or null. */
export function dayStart(day: string): string | null {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) return null;
  const d = new Date(`${day}T00:00:00`);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

/** The start of the local day after `day` (so `to` includes the whole day), or null. */
export function dayEnd(day: string): string | null {
  const start = dayStart(day);
  if (!start) return null;
  const d = new Date(start);
  d.setDate(d.getDate() + 1);
  return d.toISOString();
}

/** Builds the query the form describes; empty fields are left out. */
export function buildQuery(text: string, fromDay: string, toDay: string): RecordingQuery {
  const q: RecordingQuery = {};
  if (text.trim()) q.text = text.trim();
  const from = dayStart(fromDay);
  const to = dayEnd(toDay);
  if (from) q.from = from;
  if (to) q.to = to;
  return q;
}

const digits = (s: string) => s.replace(/\D/g, "");

/** The same matching as crates/recordings `Query::matches` (for the mock backend). */
export function matches(q: RecordingQuery, m: RecordingMeta): boolean {
  if (q.customer_id && m.customer_id !== q.customer_id) return false;
  if (q.from && m.started_at < q.from) return false;
  if (q.to && m.started_at >= q.to) return false;
  const text = q.text?.trim();
  if (!text) return true;
  const d = digits(text);
  if (d.length >= 3 && d.length * 2 >= text.replace(/\s/g, "").length && digits(m.remote_number).includes(d)) return true;
  const lower = text.toLowerCase();
  return (
    [m.display_name, m.customer_id].some((v) => v?.toLowerCase().includes(lower)) ||
    m.remote_number.includes(text) ||
    m.call_id === text
  );
}

/** m:ss of a duration in ms. */
export function formatLength(ms: number): string {
  const total = Math.round(ms / 1000);
  return `${Math.floor(total / 60)}:${String(total % 60).padStart(2, "0")}`;
}

/** A pretend recordings folder for `vite --mode mock` and the UI tests. */
export function createMockRecordings(entries: RecordingEntry[], problems: RecordingProblem[] = []): RecordingsBackend {
  let list = [...entries];
  let settings: RecordingSettings = { enabled: false, folder: null, notice: "off", notice_file: null, keep_days: 0 };
  return {
    recordingSettings: async () => ({ ...settings }),
    setRecordingSettings: async (next) => {
      // The shell's checks: an announcement needs a WAV file (the mock cannot open it).
      if (next.notice === "announcement" && !next.notice_file) {
        throw { code: "settings", message: 'recording.notice = "announcement" needs recording.notice_file (a WAV file)' };
      }
      if (next.notice === "announcement" && !next.notice_file?.toLowerCase().endsWith(".wav")) {
        throw { code: "settings", message: `the recording announcement ${next.notice_file} cannot be played: not a WAV file` };
      }
      if (!Number.isInteger(next.keep_days) || next.keep_days < 0 || next.keep_days > 3650) {
        throw { code: "settings", message: `invalid recording.keep_days "${next.keep_days}": expected 0 (keep all) to 3650 days` };
      }
      settings = { ...next };
      return { ...settings };
    },
    recordingsList: async (query) => ({
      entries: list
        .filter((e) => matches(query ?? {}, e.meta))
        .sort((a, b) => b.meta.started_at.localeCompare(a.meta.started_at)),
      problems,
    }),
    recordingAudio: async (id) => {
      if (!list.some((e) => e.id === id)) throw { code: "not_found", message: `no recording "${id}"` };
      // A valid 44-byte WAV header with no samples is enough for the element to load.
      return new Uint8Array([
        82, 73, 70, 70, 36, 0, 0, 0, 87, 65, 86, 69, 102, 109, 116, 32, 16, 0, 0, 0, 1, 0, 2, 0, 64, 31, 0, 0, 0, 125, 0,
        0, 4, 0, 16, 0, 100, 97, 116, 97, 0, 0, 0, 0,
      ]).buffer;
    },
    recordingDelete: async (id) => {
      if (!list.some((e) => e.id === id)) throw { code: "not_found", message: `no recording "${id}"` };
      list = list.filter((e) => e.id !== id);
    },
  };
}
