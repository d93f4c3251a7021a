import { beforeEach, describe, expect, it } from "vitest";
import { i18n } from "./i18n.svelte";
import { checkOrderForm, emptyOrderForm, syncDot, syncText, toCreateOrder } from "./orders";
import type { SyncView } from "./types";

const view = (over: Partial<SyncView>): SyncView => ({
  state: "synced", pending: 0, problems: 0, retry_in_ms: null, last_synced: null, last_error: null,
  signed_out_reason: null, ...over,
});

describe("sync slot text", () => {
  beforeEach(() => i18n.set("en"));

  it("counts the retry down from when the view arrived", () => {
    const v = view({ state: "offline", retry_in_ms: 8_000 });
    expect(syncText(v, 1_000, 1_000)).toBe("Offline, retrying in 8 s");
    expect(syncText(v, 1_000, 6_500)).toBe("Offline, retrying in 3 s");
    expect(syncText(v, 1_000, 60_000)).toBe("Offline, retrying in 0 s");
    expect(syncDot(v)).toBe("dot-bad");
  });

  it("says pending, problems and signed out in both languages", () => {
    expect(syncText(view({ state: "pending", pending: 3, problems: 2 }), 0, 0)).toBe("3 pending · 2 problems");
    expect(syncText(view({ state: "signed_out" }), 0, 0)).toBe("Signed out, sign in again");
    i18n.set("zh-CN");
    expect(syncText(view({ state: "pending", pending: 3 }), 0, 0)).toBe("3 项待同步");
    expect(syncText(view({ state: "synced" }), 0, 0)).toBe("已同步");
    expect(syncText(view({ state: "signed_out" }), 0, 0)).toBe("已登出，请重新登录");
  });
});

describe("the new-order form", () => {
  beforeEach(() => i18n.set("en"));

  it("requires customer and title, a callback time for callbacks, and a plausible phone", () => {
    const form = emptyOrderForm();
    expect(checkOrderForm(form)).toEqual(["Customer is required.", "Title is required."]);
    form.customer = "王芳";
    form.title = "回电确认";
    form.kind = "callback";
    form.phone = "abc";
    expect(checkOrderForm(form)).toEqual([
      "Enter the phone number as digits, e.g. +8613800138000.",
      "A callback needs a callback time.",
    ]);
    form.phone = "+86 139-1234-5678";
    form.due = "2026-12-01T10:00";
    expect(checkOrderForm(form)).toEqual([]);
    expect(toCreateOrder(form)).toEqual({
      kind: "callback", customer: "王芳", phone: "+8613912345678", title: "回电确认", description: null,
      priority: "normal", due: "2026-12-01T10:00",
    });
  });
});
