// A pretend phone for `vite --mode mock` and UI tests: it answers the phone commands with the
// event sequences the real one sends (crates/sip-phone), without SIP.
import type { CallQuality, CallerIdentity, PhoneAccount, PhoneBackend, PhoneEvent } from "./phone";
import type { Pop } from "./pop";

export interface MockPhone extends PhoneBackend {
  /** Whether answered calls are recorded (as with `[recording] enabled = true`). */
  recording: boolean;
  /** Makes a call ring in, as the PBX would deliver it. */
  ring(caller: Partial<CallerIdentity>): string;
  /** Reports a call's live media quality, as the phone does every 2 s. */
  quality(call: string, quality: Partial<CallQuality>): void;
  /** How many times the ringer was silenced. */
  silenced: number;
}

/** A clean LAN call's figures (what two Seatline phones measure on loopback, rounded). */
export const goodQuality: CallQuality = {
  mos: 4.38,
  loss_percent: 0,
  remote_loss_percent: 0,
  jitter_ms: 1.2,
  remote_jitter_ms: 0.8,
  rtt_ms: 12,
  jitter_buffer_ms: 40,
  packets_sent: 100,
  packets_received: 100,
  packets_lost: 0,
  reports_sent: 1,
  reports_received: 1,
  playout_cut_ms: 0,
  playout_added_ms: 0,
  concealed_frames: 0,
  fec_recovered: 0,
};

/** `popFor` plays the screen pop's part: the pop a ringing call gets, if any. */
export function createMockPhone(delayMs = 50, popFor?: (call: string, caller: CallerIdentity) => Pop | null): MockPhone {
  let emit: ((e: PhoneEvent) => void) | null = null;
  let emitPop: ((pop: Pop) => void) | null = null;
  let saved: PhoneAccount | null = null;
  let next = 1;
  const calls = new Map<string, { held: boolean; recorded: boolean }>();
  const later = (e: PhoneEvent, ms = delayMs) => setTimeout(() => emit?.(e), ms);
  const need = (call: string) => {
    if (!calls.has(call)) throw { code: "no_such_call", message: `no call "${call}"` };
  };

  const established = (call: string, direction: "incoming" | "outgoing", ms: number) => {
    later({ type: "established", call, direction, media: null }, ms);
    const c = calls.get(call);
    if (phone.recording && c) {
      c.recorded = true;
      later({ type: "recording", call, state: "started", file: `/recordings/${call}.wav`, notice: "tone" }, ms);
    }
  };

  const phone: MockPhone = {
    silenced: 0,
    recording: true,
    phoneAccount: async () => saved,
    phoneConnect: async (account, password, onEvent, onPop) => {
      if (!password && !saved) throw { code: "no_password", message: "no password stored for this account" };
      saved = account;
      emit = onEvent;
      emitPop = onPop ?? null;
      later({ type: "registration", account: "default", state: "registering" }, 0);
      later({ type: "registration", account: "default", state: "registered", expires: 300, public_address: null });
    },
    phoneDisconnect: async () => {
      emit?.({ type: "registration", account: "default", state: "unregistered" });
      emit = null;
    },
    phoneDial: async (target) => {
      const call = `mock-${next++}`;
      calls.set(call, { held: false, recorded: false });
      later({ type: "dialing", call, account: "default", target }, 0);
      later({ type: "remote_ringing", call, early_media: false });
      established(call, "outgoing", delayMs * 2);
      later({ type: "quality", call, ...goodQuality }, delayMs * 3);
      return call;
    },
    phoneAnswer: async (call) => {
      need(call);
      established(call, "incoming", 0);
      later({ type: "quality", call, ...goodQuality });
    },
    phoneSilenceRinger: async () => {
      phone.silenced += 1;
    },
    phoneDecline: async (call) => {
      need(call);
      calls.delete(call);
      later({ type: "ended", call, reason: "local_decline", code: 486, duration_ms: null }, 0);
    },
    phoneHangup: async (call) => {
      need(call);
      calls.delete(call);
      later({ type: "ended", call, reason: "local_hangup", code: null, duration_ms: 1000 }, 0);
    },
    phoneHold: async (call, hold) => {
      need(call);
      later(hold ? { type: "held", call, by: "local" } : { type: "resumed", call, by: "local" });
    },
    phoneMute: async (call, muted) => {
      need(call);
      later({ type: "muted", call, muted }, 0);
    },
    phonePauseRecording: async (call, paused) => {
      need(call);
      if (!calls.get(call)?.recorded) throw { code: "wrong_state", message: "not now: the call is not being recorded" };
      later({ type: "recording", call, state: paused ? "paused" : "resumed" }, 0);
    },
    phoneDtmf: async (call, digits) => {
      need(call);
      later({ type: "dtmf_sent", call, digits, method: "rfc4733" }, 0);
    },
    phoneTransfer: async (call) => {
      need(call);
      later({ type: "transfer_progress", call, status: 200, done: true });
      calls.delete(call);
      later({ type: "ended", call, reason: "local_hangup", code: null, duration_ms: 1000 }, delayMs * 2);
    },
    phoneAttendedTransfer: async (call, consult) => {
      need(call);
      need(consult);
      calls.delete(call);
      calls.delete(consult);
      later({ type: "ended", call, reason: "local_hangup", code: null, duration_ms: 1000 });
      later({ type: "ended", call: consult, reason: "remote_hangup", code: null, duration_ms: 1000 });
    },
    quality: (call, quality) => {
      need(call);
      emit?.({ type: "quality", call, ...goodQuality, ...quality });
    },
    ring: (caller) => {
      const call = `mock-${next++}`;
      calls.set(call, { held: false, recorded: false });
      const identity: CallerIdentity = {
        display_name: null,
        number: null,
        uri: null,
        source: "from",
        withheld: false,
        called_number: null,
        diversions: [],
        ivr: {},
        ...caller,
      };
      emit?.({
        type: "incoming_call",
        call,
        account: "default",
        caller: identity,
        auto_answer_in_ms: null,
        waiting: [...calls.keys()].length > 1,
      });
      const pop = popFor?.(call, identity);
      if (pop) setTimeout(() => emitPop?.(pop), 0);
      return call;
    },
  };
  return phone;
}
