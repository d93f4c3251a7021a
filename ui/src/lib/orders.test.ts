import { beforeEach, describe, expect, it } from "vitest";
import { i18n } from "./i18n.svelte";
import {
  assigneeName, changedFields, checkEditForm, checkOrderForm, editForm, emptyOrderForm, localToRfc3339,
  syncDot, syncText, toCreateOrder, toDatetimeLocal, urgencyBadge,
} from "./orders";
import type { OrderView, SyncView } from "./types";

/** "+08:00" for this machine's offset at local time `at` (the tests run in any time zone). */
function offsetText(at: Date): string {
  const offset = -at.getTimezoneOffset();
  const abs = Math.abs(offset);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${offset < 0 ? "-" : "+"}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

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
    // The local time goes out with this machine's offset, so the desk never guesses the zone.
    const local = new Date(2026, 11, 1, 10, 0);
    expect(toCreateOrder(form)).toEqual({
      kind: "callback", customer: "王芳", phone: "+8613912345678", title: "回电确认", description: null,
      priority: "normal", due: `2026-12-01T10:00:00${offsetText(local)}`,
    });
    expect(new Date(toCreateOrder(form).due!).getTime()).toBe(local.getTime());
  });

  it("sends a category only when typed, and refuses a long title or a broken due time", () => {
    const form = { ...emptyOrderForm(), customer: "张伟", title: "x".repeat(201), due: "2026-13-45T99:00" };
    expect(checkOrderForm(form)).toEqual([
      "Title is too long (at most 200 characters).",
      "Enter the due time as a date and a time.",
    ]);
    form.title = "宽带断线";
    form.due = "";
    expect(toCreateOrder(form).category).toBeUndefined();
    form.category = " 宽带 ";
    expect(toCreateOrder(form).category).toBe("宽带");
    expect(localToRfc3339("tomorrow")).toBeNull();
    expect(localToRfc3339("2026-02-30T10:00")).toBeNull();
  });
});

const order = (over: Partial<OrderView> = {}): OrderView => ({
  id: "o1", number: "1", kind: "callback", customer: "李娜", title: "回电确认套餐变更", category: "套餐",
  description: "", priority: "normal", status: "new", team: "t", team_name: null, assignee: "u1", mine: true,
  phone: "+8615012345678", due: null, due_at: "2026-12-01T02:00:00Z", urgency: "normal", due_state: "on_track",
  next_deadline: "2026-12-01T02:00:00Z", created_at: "2026-11-01T00:00:00Z", updated_at: "2026-11-01T00:00:00Z",
  pending: false, next_statuses: [], can_reopen: false, notes: [], history: [], ...over,
});

describe("editing an order", () => {
  beforeEach(() => i18n.set("en"));

  it("sends only the fields the agent changed", () => {
    const o = order();
    const form = editForm(o);
    expect(form.due).toBe(toDatetimeLocal("2026-12-01T02:00:00Z"));
    expect(changedFields(o, form)).toEqual({});
    form.assignee = "u2";
    form.phone = "+86 150-1234-5679";
    expect(changedFields(o, form)).toEqual({ assignee: "u2", phone: "+8615012345679" });
  });

  it("clears phone, due time and description with empty text and unassigns with null", () => {
    const o = order({ description: "客户下午有空" });
    const form = { ...editForm(o), phone: "", due: "", description: " ", assignee: "" };
    expect(changedFields(o, form)).toEqual({ phone: "", due: "", description: "", assignee: null });
    expect(checkEditForm(form)).toEqual([]);
  });

  it("moves the due time with the agent's offset and refuses an empty title", () => {
    const o = order();
    const form = { ...editForm(o), due: "2026-12-02T09:30", title: " " };
    const local = new Date(2026, 11, 2, 9, 30);
    expect(changedFields(o, form).due).toBe(`2026-12-02T09:30:00${offsetText(local)}`);
    expect(checkEditForm(form)).toEqual(["Title is required."]);
  });
});

describe("urgency and assignee", () => {
  it("badges overdue and due-soon orders in both languages", () => {
    i18n.set("en");
    expect(urgencyBadge(order({ urgency: "overdue" }))).toEqual({ text: "Overdue", cls: "badge-overdue" });
    expect(urgencyBadge(order({ urgency: "due_soon" }))?.text).toBe("Due soon");
    expect(urgencyBadge(order({ urgency: "normal" }))).toBeNull();
    expect(urgencyBadge(order({ urgency: undefined }))).toBeNull();
    i18n.set("zh-CN");
    expect(urgencyBadge(order({ urgency: "overdue" }))?.text).toBe("已超时");
    expect(urgencyBadge(order({ urgency: "due_soon" }))?.text).toBe("即将到期");
  });

  it("names the assignee from the teammates, else shows the id", () => {
    i18n.set("en");
    const team = [{ user_id: "u1", name: "李明", team: "t", me: true }];
    expect(assigneeName("u1", team)).toBe("李明");
    expect(assigneeName("u9", team)).toBe("u9");
    expect(assigneeName(null, team)).toBe("Unassigned");
  });
});
