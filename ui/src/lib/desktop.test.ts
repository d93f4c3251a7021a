// Which call a hotkey or a notification button acts on.
import { describe, expect, it } from "vitest";
import { planDeskAction } from "./desktop";
import type { CallView } from "./phone";

function call(id: string, phase: CallView["phase"], more: Partial<CallView> = {}): CallView {
  return {
    id, direction: "incoming", phase, peer: id, caller: null, autoAnswerInMs: null, waiting: false,
    localHold: false, remoteHold: false, muted: false, answeredAt: null, media: null, dtmfReceived: "",
    transfer: null, endReason: null, endCode: null, quality: null, recording: "off", recordingError: null, recordingNotice: null, ...more,
  };
}

describe("desk actions", () => {
  it("answers and declines the ringing call, the named one first", () => {
    const calls = [call("a", "ringing"), call("b", "ringing")];
    expect(planDeskAction({ action: "answer", call: null }, calls)).toEqual({ kind: "answer", call: "a" });
    expect(planDeskAction({ action: "answer", call: "b" }, calls)).toEqual({ kind: "answer", call: "b" });
    expect(planDeskAction({ action: "decline", call: "b" }, calls)).toEqual({ kind: "decline", call: "b" });
    // A notice for a call that stopped ringing falls back to the one ringing now.
    expect(planDeskAction({ action: "answer", call: "gone" }, [call("c", "ringing")])).toEqual({ kind: "answer", call: "c" });
    expect(planDeskAction({ action: "answer", call: null }, [call("x", "active")])).toBeNull();
  });

  it("hangs up the call in progress, or declines a ringing one when none is", () => {
    const calls = [call("held", "active", { localHold: true }), call("live", "active"), call("r", "ringing")];
    expect(planDeskAction({ action: "hangup", call: null }, calls)).toEqual({ kind: "hangup", call: "live" });
    expect(planDeskAction({ action: "hangup", call: null }, [call("out", "dialing")])).toEqual({ kind: "hangup", call: "out" });
    expect(planDeskAction({ action: "hangup", call: null }, [call("r", "ringing")])).toEqual({ kind: "decline", call: "r" });
    expect(planDeskAction({ action: "hangup", call: null }, [])).toBeNull();
  });

  it("toggles hold and mute on the active call only", () => {
    expect(planDeskAction({ action: "hold", call: null }, [call("a", "active")])).toEqual({ kind: "hold", call: "a", hold: true });
    expect(planDeskAction({ action: "hold", call: null }, [call("a", "active", { localHold: true })])).toEqual({ kind: "hold", call: "a", hold: false });
    expect(planDeskAction({ action: "mute", call: null }, [call("a", "active", { muted: true })])).toEqual({ kind: "mute", call: "a", muted: false });
    expect(planDeskAction({ action: "mute", call: null }, [call("a", "dialing")])).toBeNull();
    expect(planDeskAction({ action: "hold", call: null }, [call("r", "ringing")])).toBeNull();
  });
});
