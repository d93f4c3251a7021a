import { describe, expect, it } from "vitest";
import {
  callerLabel,
  formatDuration,
  initialPhone,
  qualityLevel,
  reducePhone,
  type CallerIdentity,
  type PhoneEvent,
} from "./phone";
import { goodQuality } from "./phone.mock";

const caller = (over: Partial<CallerIdentity> = {}): CallerIdentity => ({
  display_name: "李四",
  number: "+8613800138000",
  uri: "sip:+8613800138000@pbx",
  source: "p-asserted-identity",
  withheld: false,
  called_number: "4001",
  diversions: [],
  ivr: { "X-IVR-Choice": "2" },
  ...over,
});

function run(events: PhoneEvent[], now = 1_000) {
  return events.reduce((view, e) => reducePhone(view, e, now), initialPhone);
}

describe("phone reducer", () => {
  it("keeps the latest quality of its call only, and grades it from the MOS", () => {
    let v = run([
      { type: "dialing", call: "c1", account: "default", target: "1002" },
      { type: "dialing", call: "c2", account: "default", target: "1003" },
      { type: "established", call: "c1", direction: "outgoing", media: null },
    ]);
    expect(v.calls[0]!.quality).toBeNull();
    v = reducePhone(v, { type: "quality", call: "c1", ...goodQuality, mos: 3.7, rtt_ms: 80 }, 2_000);
    expect(v.calls[0]!.quality).toEqual({ ...goodQuality, mos: 3.7, rtt_ms: 80 });
    expect(v.calls[1]!.quality).toBeNull();
    expect(qualityLevel(v.calls[0]!.quality)).toBe("fair");
    expect(qualityLevel({ ...goodQuality, mos: 4.0 })).toBe("good");
    expect(qualityLevel({ ...goodQuality, mos: 3.59 })).toBe("poor");
    expect(qualityLevel({ ...goodQuality, mos: null })).toBe("unknown");
    expect(qualityLevel(null)).toBe("unknown");
    v = reducePhone(v, { type: "ended", call: "c1", reason: "local_hangup", code: null, duration_ms: 9, quality: goodQuality }, 3_000);
    expect(v.calls.map((c) => c.id)).toEqual(["c2"]);
  });

  it("follows an incoming call from ringing to answered, hold and end", () => {
    let v = run([
      { type: "registration", account: "default", state: "registered", expires: 300, public_address: null },
      { type: "incoming_call", call: "c1", account: "default", caller: caller(), auto_answer_in_ms: null, waiting: false },
    ]);
    expect(v.registration?.state).toBe("registered");
    expect(v.calls).toHaveLength(1);
    expect(v.calls[0]!.phase).toBe("ringing");
    expect(v.calls[0]!.peer).toBe("李四 · +8613800138000");
    v = reducePhone(v, { type: "established", call: "c1", direction: "incoming", media: null }, 5_000);
    expect(v.calls[0]!.phase).toBe("active");
    expect(v.calls[0]!.answeredAt).toBe(5_000);
    v = reducePhone(v, { type: "held", call: "c1", by: "remote" }, 6_000);
    expect(v.calls[0]!.remoteHold).toBe(true);
    expect(v.calls[0]!.localHold).toBe(false);
    v = reducePhone(v, { type: "resumed", call: "c1", by: "remote" }, 7_000);
    expect(v.calls[0]!.remoteHold).toBe(false);
    v = reducePhone(v, { type: "dtmf_received", call: "c1", digit: "5", method: "rfc4733" }, 7_000);
    expect(v.calls[0]!.dtmfReceived).toBe("5");
    v = reducePhone(v, { type: "ended", call: "c1", reason: "remote_hangup", code: null, duration_ms: 3000 }, 8_000);
    expect(v.calls).toHaveLength(0);
    expect(v.lastError).toBeNull();
  });

  it("keeps a failed outgoing call's reason as the notice", () => {
    const v = run([
      { type: "dialing", call: "o1", account: "default", target: "1002" },
      { type: "remote_ringing", call: "o1", early_media: false },
    ]);
    expect(v.calls[0]!.phase).toBe("remote_ringing");
    const ended = reducePhone(v, { type: "ended", call: "o1", reason: "busy", code: 486, duration_ms: null }, 2_000);
    expect(ended.calls).toHaveLength(0);
    expect(ended.lastError).toBe("busy (486)");
  });

  it("says why calls vanished when the phone moved off a lost address", () => {
    const v = run([
      { type: "dialing", call: "o1", account: "default", target: "1002" },
      { type: "ended", call: "o1", reason: "network_lost", code: null, duration_ms: 5_000 },
    ]);
    const quiet = reducePhone(
      v,
      { type: "address_moved", from: "10.0.0.5", to: "192.168.1.7", sip_addresses: [], calls_ended: 0 },
      2_000,
    );
    expect(quiet.lastError).toBeNull();
    const lost = reducePhone(
      v,
      { type: "address_moved", from: "10.0.0.5", to: "192.168.1.7", sip_addresses: [], calls_ended: 1 },
      2_000,
    );
    expect(lost.calls).toHaveLength(0);
    expect(lost.lastError).toBe("network changed (10.0.0.5 → 192.168.1.7): 1 call(s) lost");
  });

  it("ignores events for unknown calls and keeps call waiting separate", () => {
    let v = run([
      { type: "incoming_call", call: "a", account: "default", caller: caller(), auto_answer_in_ms: 0, waiting: false },
      { type: "established", call: "a", direction: "incoming", media: null },
      { type: "incoming_call", call: "b", account: "default", caller: caller({ number: "1003", display_name: null }), auto_answer_in_ms: null, waiting: true },
    ]);
    v = reducePhone(v, { type: "held", call: "zzz", by: "local" }, 1);
    expect(v.calls.map((c) => [c.id, c.phase, c.waiting])).toEqual([
      ["a", "active", false],
      ["b", "ringing", true],
    ]);
    expect(v.calls[1]!.peer).toBe("1003");
  });

  it("follows the call recording: started, paused, resumed, failed", () => {
    let v = run([
      { type: "incoming_call", call: "r", account: "default", caller: caller(), auto_answer_in_ms: null, waiting: false },
      { type: "established", call: "r", direction: "incoming", media: null },
    ]);
    expect(v.calls[0]!.recording).toBe("off");
    v = reducePhone(v, { type: "recording", call: "r", state: "started", file: "/rec/r.wav", notice: "tone" }, 1);
    expect(v.calls[0]!.recording).toBe("recording");
    expect(v.calls[0]!.recordingNotice).toBe("tone");
    v = reducePhone(v, { type: "recording", call: "r", state: "paused" }, 2);
    expect(v.calls[0]!.recording).toBe("paused");
    v = reducePhone(v, { type: "recording", call: "r", state: "resumed" }, 3);
    expect(v.calls[0]!.recording).toBe("recording");
    v = reducePhone(v, { type: "recording", call: "r", state: "failed", message: "No space left on device" }, 4);
    expect(v.calls[0]!.recording).toBe("failed");
    expect(v.calls[0]!.recordingError).toContain("No space");
    // The call itself goes on.
    expect(v.calls[0]!.phase).toBe("active");
  });

  it("labels withheld callers and formats the call timer", () => {
    expect(callerLabel(caller({ withheld: true, number: null, display_name: null }), "x")).toBe("");
    expect(callerLabel(null, "1002")).toBe("1002");
    expect(formatDuration(0, 65_000)).toBe("1:05");
    expect(formatDuration(0, 3_725_000)).toBe("1:02:05");
    expect(formatDuration(null, 1)).toBe("");
  });
});

describe("sound device fallback", () => {
  it("shows which device was replaced by the system default", () => {
    const view = reducePhone(
      initialPhone,
      { type: "device_fallback", call: "c1", device: "output", wanted: "alsa:hw:CARD=Headset,DEV=0", message: "no output device \"alsa:hw:CARD=Headset,DEV=0\"; using the system default" },
      0,
    );
    expect(view.lastError).toBe('output: no output device "alsa:hw:CARD=Headset,DEV=0"; using the system default');
  });
});
