import { describe, expect, it } from "vitest";
import { attentionFirst, callerNumber, isVip, popLatencyMs, type Pop } from "./pop";
import type { OrderView } from "./types";

function order(id: string, due_state: OrderView["due_state"]): OrderView {
  return { id, due_state } as OrderView;
}

describe("screen pop helpers", () => {
  it("puts overdue, then due-soon orders first and keeps the rest in order", () => {
    const sorted = attentionFirst([
      order("a", "on_track"),
      order("b", "overdue"),
      order("c", null),
      order("d", "due_soon"),
      order("e", "overdue"),
    ]);
    expect(sorted.map((o) => o.id)).toEqual(["b", "e", "d", "a", "c"]);
  });

  it("badges VIP tiers whatever their case", () => {
    expect(isVip("VIP")).toBe(true);
    expect(isVip(" gold ")).toBe(true);
    expect(isVip("standard")).toBe(false);
  });

  it("shows the readable number, else the raw one", () => {
    const caller = { raw: "sip:0138@x", e164: null, display: null, display_name: null, withheld: false, internal: false, unreadable: "bad" };
    expect(callerNumber(caller)).toBe("sip:0138@x");
    expect(callerNumber({ ...caller, display: "13800138000" })).toBe("13800138000");
  });

  it("measures the pop from the ringing event and never goes negative", () => {
    const pop = { received_at_ms: 1_000 } as Pop;
    expect(popLatencyMs(pop, 1_012)).toBe(12);
    expect(popLatencyMs(pop, 990)).toBe(0);
    expect(popLatencyMs({ ...pop, received_at_ms: null }, 5)).toBeNull();
  });
});
