// The phone panel's model: the events the Rust phone sends (crates/sip-phone/src/events.rs,
// JSON with a `type` tag) and a pure reducer that turns them into what the panel shows.
import type { Pop } from "./pop";
import { t } from "./i18n.svelte";
import type { MessageKey } from "./locales/en";

export type SipTransport = "udp" | "tcp" | "tls";

export interface PhoneAccount {
  domain: string;
  user: string;
  auth_user: string | null;
  display_name: string | null;
  transport: SipTransport;
  outbound_proxy: string | null;
  auto_answer_ms: number | null;
  /** SRTP for calls (SDES keys in the SDP: use with TLS). Accounts saved before it read as "off". */
  media_encryption?: MediaEncryption;
}

export type MediaEncryption = "off" | "optional" | "required";

export interface Diversion {
  number: string | null;
  display_name: string | null;
  reason: string | null;
}

export interface CallerIdentity {
  display_name: string | null;
  number: string | null;
  uri: string | null;
  source: "p-asserted-identity" | "remote-party-id" | "from";
  withheld: boolean;
  called_number: string | null;
  diversions: Diversion[];
  ivr: Record<string, string>;
}

export interface MediaInfo {
  codec: string;
  clock_rate: number;
  payload_type: number;
  ptime: number;
  local_rtp: string;
  remote_rtp: string;
  /** RTCP shares the RTP port (rtcp-mux); else it runs on local_rtcp / remote_rtcp. */
  rtcp_mux: boolean;
  local_rtcp: string;
  remote_rtcp: string;
  direction: string;
  telephone_event: boolean;
  recording: string | null;
  /** The SRTP suite when the call's media is encrypted (SDES), else null. */
  srtp: string | null;
}

export type RegistrationEvent =
  | { state: "registering" }
  | { state: "registered"; expires: number; public_address: string | null }
  | { state: "failed"; code: number | null; reason: string; retry_in_ms: number }
  | { state: "unregistered" };

/** A call's media quality (crates/sip-phone `CallQuality`): our loss and jitter of the peer's
 * audio, the peer's view of ours from its RTCP reports, the round trip and an estimated MOS. */
export interface CallQuality {
  mos: number | null;
  loss_percent: number;
  remote_loss_percent: number | null;
  jitter_ms: number;
  remote_jitter_ms: number | null;
  rtt_ms: number | null;
  jitter_buffer_ms: number;
  packets_sent: number;
  packets_received: number;
  packets_lost: number;
  reports_sent: number;
  reports_received: number;
  /** Audio the playout cut in pauses to bring its delay down after a jitter burst, ms. */
  playout_cut_ms: number;
  /** Audio it added in pauses while waiting for late packets, ms. */
  playout_added_ms: number;
  /** Frames concealed (lost or too late), and of those rebuilt from Opus in-band FEC. */
  concealed_frames: number;
  fec_recovered: number;
}

export type QualityLevel = "good" | "fair" | "poor" | "unknown";

/** The figures the call log keeps of a call's quality (and the server shares for colleagues'
 * calls); a peer without RTCP reports leaves the remote loss and the round trip unknown. */
export interface LoggedQuality {
  mos: number | null;
  loss_percent: number | null;
  remote_loss_percent: number | null;
  jitter_ms: number | null;
  rtt_ms: number | null;
  /** Live calls only (the call log does not keep them). */
  playout_cut_ms?: number;
  playout_added_ms?: number;
  concealed_frames?: number;
  fec_recovered?: number;
}

/** Good from MOS 4.0 (G.107's "satisfied"), fair from 3.6 ("some users dissatisfied"), poor
 * below. */
export function qualityLevel(q: { mos: number | null } | null | undefined): QualityLevel {
  if (!q || q.mos === null) return "unknown";
  if (q.mos >= 4.0) return "good";
  if (q.mos >= 3.6) return "fair";
  return "poor";
}

export const qualityLabel: Record<QualityLevel, MessageKey> = {
  good: "phone.quality.good",
  fair: "phone.quality.fair",
  poor: "phone.quality.poor",
  unknown: "phone.quality.unknown",
};

/** "MOS 4.4 · loss 0% (caller's side 0%) · jitter 1 ms · round trip 12 ms". */
export function qualityTooltip(q: LoggedQuality): string {
  const na = t("phone.quality.na");
  return [
    t("phone.quality.mos", { mos: q.mos === null ? na : q.mos.toFixed(1) }),
    t("phone.quality.loss", {
      ours: q.loss_percent === null ? na : q.loss_percent.toFixed(1),
      theirs: q.remote_loss_percent === null ? na : `${q.remote_loss_percent.toFixed(1)}%`,
    }),
    t("phone.quality.jitter", { ms: q.jitter_ms === null ? na : Math.round(q.jitter_ms) }),
    t("phone.quality.rtt", { ms: q.rtt_ms === null ? na : `${Math.round(q.rtt_ms)} ms` }),
    // Only when the playout moved its delay: a line that never needed it says nothing.
    ...((q.playout_cut_ms ?? 0) + (q.playout_added_ms ?? 0) > 0
      ? [t("phone.quality.playout", { cut: q.playout_cut_ms ?? 0, added: q.playout_added_ms ?? 0 })]
      : []),
    // What loss cost the listener: frames guessed, and how many Opus FEC rebuilt instead.
    ...((q.concealed_frames ?? 0) > 0
      ? [t("phone.quality.concealed", { frames: q.concealed_frames ?? 0, fec: q.fec_recovered ?? 0 })]
      : []),
  ].join(" · ");
}

/** A call recording's progress (crates/sip-phone `RecordingState`). */
export type RecordingEvent =
  /** `notice`: what the caller is told (a beep or the center's announcement), or null. */
  | { state: "started"; file: string; notice: "tone" | "announcement" | null }
  | { state: "paused" }
  | { state: "resumed" }
  | { state: "stopped"; file: string }
  | { state: "failed"; message: string };

/** What the active call view shows about the recording. */
export type RecordingStatus = "off" | "recording" | "paused" | "failed";

export type PhoneEvent =
  | { type: "started"; sip_addresses: string[] }
  /** The local address changed or the computer woke up: every account registers again. */
  | { type: "network_changed"; reason: string }
  /** The phone moved its sockets and Contact to a new address; calls on a vanished one ended. */
  | { type: "address_moved"; from: string; to: string; sip_addresses: string[]; calls_ended: number }
  | ({ type: "registration"; account: string } & RegistrationEvent)
  | {
      type: "incoming_call";
      call: string;
      account: string;
      caller: CallerIdentity;
      auto_answer_in_ms: number | null;
      waiting: boolean;
      /** The call this one takes over (attended transfer); it is answered at once. */
      replaces?: string | null;
    }
  | { type: "dialing"; call: string; account: string; target: string }
  | { type: "remote_ringing"; call: string; early_media: boolean }
  | { type: "established"; call: string; direction: "incoming" | "outgoing"; media: MediaInfo | null }
  | { type: "media_changed"; call: string; media: MediaInfo }
  | { type: "held"; call: string; by: "local" | "remote" }
  | { type: "resumed"; call: string; by: "local" | "remote" }
  | { type: "muted"; call: string; muted: boolean }
  | { type: "dtmf_sent"; call: string; digits: string; method: string }
  | { type: "dtmf_received"; call: string; digit: string; method: string }
  | { type: "transfer_requested"; call: string; target: string }
  | { type: "transfer_progress"; call: string; status: number; done: boolean }
  | {
      type: "ended";
      call: string;
      reason: string;
      code: number | null;
      duration_ms: number | null;
      /** The whole call's media quality, when media ran. */
      quality?: CallQuality | null;
    }
  /** The live quality of an established call, about every 2 s. */
  | ({ type: "quality"; call: string } & CallQuality)
  | ({ type: "recording"; call: string } & RecordingEvent)
  | { type: "error"; call: string | null; message: string }
  /**
   * A chosen sound device was not found and the system default plays instead; `device` is the
   * role: input, output, ring or call_waiting.
   */
  | { type: "device_fallback"; call: string | null; device: string; wanted: string; message: string };

export type CallPhase = "ringing" | "dialing" | "remote_ringing" | "active" | "ended";

export interface CallView {
  id: string;
  direction: "incoming" | "outgoing";
  phase: CallPhase;
  /** Who is on the other end, for display. */
  peer: string;
  caller: CallerIdentity | null;
  autoAnswerInMs: number | null;
  waiting: boolean;
  localHold: boolean;
  remoteHold: boolean;
  muted: boolean;
  /** Wall-clock ms when the call was answered (for the call timer). */
  answeredAt: number | null;
  media: MediaInfo | null;
  dtmfReceived: string;
  transfer: { status: number; done: boolean } | null;
  endReason: string | null;
  endCode: number | null;
  /** The latest live media quality. */
  quality: CallQuality | null;
  recording: RecordingStatus;
  /** Why the recording failed (disk full...); the call goes on. */
  recordingError: string | null;
  /** What the caller is told about the recording, when anything. */
  recordingNotice: "tone" | "announcement" | null;
}

export interface PhoneView {
  registration: RegistrationEvent | null;
  calls: CallView[];
  lastError: string | null;
}

export const initialPhone: PhoneView = { registration: null, calls: [], lastError: null };

/** What to show for a caller: name and number, "withheld", or the raw URI. */
export function callerLabel(caller: CallerIdentity | null, fallback: string): string {
  if (!caller) return fallback;
  if (caller.withheld && !caller.number) return "";
  const parts = [caller.display_name, caller.number].filter((p): p is string => !!p);
  return parts.length > 0 ? parts.join(" · ") : (caller.uri ?? fallback);
}

function updateCall(view: PhoneView, id: string, change: (call: CallView) => CallView): PhoneView {
  return { ...view, calls: view.calls.map((c) => (c.id === id ? change(c) : c)) };
}

function newCall(id: string, direction: CallView["direction"], phase: CallPhase, peer: string): CallView {
  return {
    id,
    direction,
    phase,
    peer,
    caller: null,
    autoAnswerInMs: null,
    waiting: false,
    localHold: false,
    remoteHold: false,
    muted: false,
    answeredAt: null,
    media: null,
    dtmfReceived: "",
    transfer: null,
    endReason: null,
    endCode: null,
    quality: null,
    recording: "off",
    recordingError: null,
    recordingNotice: null,
  };
}

/** Applies one phone event. `now` is the wall clock in ms (injected for tests). */
export function reducePhone(view: PhoneView, event: PhoneEvent, now: number): PhoneView {
  switch (event.type) {
    case "started":
      return { ...view, lastError: null };
    case "address_moved":
      return event.calls_ended > 0
        ? {
            ...view,
            lastError: `network changed (${event.from} → ${event.to}): ${event.calls_ended} call(s) lost`,
          }
        : view;
    case "registration": {
      const { type: _t, account: _a, ...registration } = event;
      return { ...view, registration: registration as RegistrationEvent };
    }
    case "incoming_call": {
      const call = newCall(event.call, "incoming", "ringing", callerLabel(event.caller, ""));
      call.caller = event.caller;
      call.autoAnswerInMs = event.auto_answer_in_ms;
      call.waiting = event.waiting;
      return { ...view, calls: [...view.calls.filter((c) => c.id !== event.call), call] };
    }
    case "dialing":
      return {
        ...view,
        calls: [...view.calls.filter((c) => c.id !== event.call), newCall(event.call, "outgoing", "dialing", event.target)],
      };
    case "remote_ringing":
      return updateCall(view, event.call, (c) => (c.phase === "dialing" ? { ...c, phase: "remote_ringing" } : c));
    case "established":
      return updateCall(view, event.call, (c) => ({ ...c, phase: "active", answeredAt: now, media: event.media }));
    case "media_changed":
      return updateCall(view, event.call, (c) => ({ ...c, media: event.media }));
    case "held":
      return updateCall(view, event.call, (c) =>
        event.by === "local" ? { ...c, localHold: true } : { ...c, remoteHold: true },
      );
    case "resumed":
      return updateCall(view, event.call, (c) =>
        event.by === "local" ? { ...c, localHold: false } : { ...c, remoteHold: false },
      );
    case "muted":
      return updateCall(view, event.call, (c) => ({ ...c, muted: event.muted }));
    case "dtmf_received":
      return updateCall(view, event.call, (c) => ({ ...c, dtmfReceived: (c.dtmfReceived + event.digit).slice(-32) }));
    case "quality": {
      const { type: _t, call: _c, ...quality } = event;
      return updateCall(view, event.call, (c) => ({ ...c, quality }));
    }
    case "transfer_progress":
      return updateCall(view, event.call, (c) => ({ ...c, transfer: { status: event.status, done: event.done } }));
    case "ended":
      // Ended calls leave the list; the last reason stays visible as the panel's notice.
      return {
        ...view,
        calls: view.calls.filter((c) => c.id !== event.call),
        lastError: event.code !== null && event.code >= 400 ? `${event.reason} (${event.code})` : view.lastError,
      };
    case "recording":
      return updateCall(view, event.call, (c) => {
        switch (event.state) {
          case "started":
            return { ...c, recording: "recording", recordingNotice: event.notice ?? null };
          case "resumed":
            return { ...c, recording: "recording" };
          case "paused":
            return { ...c, recording: "paused" };
          case "failed":
            return { ...c, recording: "failed", recordingError: event.message };
          case "stopped":
            return { ...c, recording: "off" };
        }
      });
    case "error":
      return { ...view, lastError: event.message };
    case "device_fallback":
      return { ...view, lastError: `${event.device}: ${event.message}` };
    case "dtmf_sent":
    case "transfer_requested":
    // The registration events that follow show the new state.
    case "network_changed":
      return view;
  }
}

/** mm:ss (or h:mm:ss) since `since`. */
export function formatDuration(since: number | null, now: number): string {
  if (since === null) return "";
  const total = Math.max(0, Math.floor((now - since) / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const mm = h > 0 ? String(m).padStart(2, "0") : String(m);
  return `${h > 0 ? `${h}:` : ""}${mm}:${String(s).padStart(2, "0")}`;
}

/** The calls the phone commands use, as the shell exposes them. */
export interface PhoneBackend {
  phoneAccount(): Promise<PhoneAccount | null>;
  /** `onPop` receives the screen pop of every ringing call (looked up while it rings). */
  phoneConnect(
    account: PhoneAccount,
    password: string | null,
    onEvent: (event: PhoneEvent) => void,
    onPop?: (pop: Pop) => void,
  ): Promise<void>;
  phoneDisconnect(): Promise<void>;
  phoneDial(target: string): Promise<string>;
  phoneAnswer(call: string): Promise<void>;
  phoneDecline(call: string): Promise<void>;
  /** Silences the ring of the calls ringing now; they can still be answered. */
  phoneSilenceRinger(): Promise<void>;
  phoneHangup(call: string): Promise<void>;
  phoneHold(call: string, hold: boolean): Promise<void>;
  phoneMute(call: string, muted: boolean): Promise<void>;
  /** Pauses (card payments) or resumes the call's recording; the pause is kept as silence. */
  phonePauseRecording(call: string, paused: boolean): Promise<void>;
  phoneDtmf(call: string, digits: string): Promise<void>;
  phoneTransfer(call: string, target: string): Promise<void>;
  phoneAttendedTransfer(call: string, consult: string): Promise<void>;
}
