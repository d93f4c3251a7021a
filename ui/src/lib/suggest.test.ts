import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { get } from "svelte/store";
import type { CallView, CallerIdentity } from "./phone";
import type { CallContext, KbSuggestion, OrderView } from "./types";
import {
  appendToNote,
  buildCallContext,
  insertIntoNotes,
  noteInsertions,
  pendingInsertion,
  callNumber,
  createSuggestRefresher,
  isEmptyContext,
  ivrDataFields,
  ivrMenuPath,
  liveCall,
  openOrdersFor,
  phoneKey,
  samePhone,
  showSuggestions,
  typingDraft,
} from "./suggest";

const caller = (over: Partial<CallerIdentity> = {}): CallerIdentity => ({
  display_name: null,
  number: "+8613800138000",
  uri: null,
  source: "from",
  withheld: false,
  called_number: null,
  diversions: [],
  ivr: {},
  ...over,
});

const call = (over: Partial<CallView> = {}): CallView => ({
  id: "c1",
  direction: "incoming",
  phase: "active",
  peer: "13800138000",
  caller: caller(),
  autoAnswerInMs: null,
  waiting: false,
  localHold: false,
  remoteHold: false,
  muted: false,
  answeredAt: 0,
  media: null,
  dtmfReceived: "",
  transfer: null,
  endReason: null,
  endCode: null,
  quality: null,
  recording: "off",
  recordingError: null,
  recordingNotice: null,
  ...over,
});

const order = (over: Partial<OrderView>): OrderView => ({
  id: "o1",
  number: "1",
  kind: "complaint",
  customer: "张伟",
  title: "多收月租",
  priority: "normal",
  status: "new",
  team: "t",
  team_name: null,
  assignee: null,
  mine: true,
  phone: "13800138000",
  due: null,
  created_at: "2026-11-01T00:00:00Z",
  updated_at: "2026-11-01T00:00:00Z",
  pending: false,
  next_statuses: [],
  can_reopen: false,
  notes: [],
  history: [],
  ...over,
});

const kind = (k: string) => ({ complaint: "投诉", repair: "报修" })[k] ?? k;

describe("IVR fields", () => {
  it("splits the menu path and keeps the other fields as data", () => {
    const ivr = { "X-IVR-Path": "账单查询 > 退款", "X-IVR-Intent": "refund", "X-IVR-Account": " 8812345 " };
    expect(ivrMenuPath(ivr)).toEqual(["账单查询", "退款"]);
    expect(ivrDataFields(ivr)).toEqual({ "X-IVR-Intent": "refund", "X-IVR-Account": "8812345" });
  });

  it("accepts other separators and drops bare key presses", () => {
    expect(ivrMenuPath({ "x-ivr-menu": "1/2/宽带故障" })).toEqual(["宽带故障"]);
    expect(ivrMenuPath({ "X-IVR-Route": "Billing|Refunds" })).toEqual(["Billing", "Refunds"]);
    expect(ivrMenuPath({ "X-IVR-Choice": "2" })).toEqual([]);
  });
});

describe("phone matching", () => {
  it("ignores country prefixes, URIs and punctuation", () => {
    expect(phoneKey("+86 138-0013-8000")).toBe("13800138000");
    expect(phoneKey("sip:008613800138000@pbx")).toBe("13800138000");
    expect(samePhone("+8613800138000", "13800138000")).toBe(true);
    expect(samePhone("010-62345678", "62345678")).toBe(true);
    expect(samePhone("13800138000", "13900139000")).toBe(false);
    expect(samePhone("1001", "11001")).toBe(false);
    expect(samePhone(null, "13800138000")).toBe(false);
  });

  it("takes the caller's number, or the dialled one for an outgoing call", () => {
    expect(callNumber(call())).toBe("+8613800138000");
    expect(callNumber(call({ direction: "outgoing", caller: null, peer: "1002" }))).toBe("1002");
    expect(callNumber(null)).toBeNull();
  });
});

describe("live call", () => {
  it("prefers the active call over one on hold or a waiting call", () => {
    const held = call({ id: "held", localHold: true });
    const active = call({ id: "active" });
    const waiting = call({ id: "waiting", phase: "ringing", waiting: true });
    expect(liveCall([held, waiting, active])?.id).toBe("active");
    expect(liveCall([held, waiting])?.id).toBe("held");
    expect(liveCall([waiting])?.id).toBe("waiting");
    expect(liveCall([])).toBeNull();
  });
});

describe("open orders of the caller", () => {
  it("keeps the caller's open orders, newest first, with kind labels and notes", () => {
    const orders = [
      order({ id: "a", title: "旧单", updated_at: "2026-11-01T00:00:00Z" }),
      order({ id: "b", title: "新单", kind: "repair", updated_at: "2026-11-20T00:00:00Z",
        notes: [{ author: "x", at: "", text: "小区断网" }] }),
      order({ id: "c", title: "已关闭", status: "closed" }),
      order({ id: "d", title: "别人的", phone: "13900139000" }),
    ];
    expect(openOrdersFor(orders, "+8613800138000", kind)).toEqual([
      { title: "新单", category: "报修", notes: "小区断网" },
      { title: "旧单", category: "投诉", notes: "" },
    ]);
    expect(openOrdersFor(orders, null, kind)).toEqual([]);
  });
});

describe("call context", () => {
  it("combines IVR path and data, orders and the note being typed", () => {
    const c = call({ caller: caller({ ivr: { "X-IVR-Path": "账单查询/退款", "X-IVR-Intent": "refund" } }) });
    const ctx = buildCallContext({
      call: c,
      orders: [{ title: "多收月租", category: "投诉", notes: "" }],
      draft: { source: "order_note", phone: null, title: "多收月租", category: "投诉", text: " 客户要求退款 " },
    });
    expect(ctx).toEqual({
      ivrPath: ["账单查询", "退款"],
      ivrData: { "X-IVR-Intent": "refund" },
      openOrders: [{ title: "多收月租", category: "投诉", notes: "" }],
      notes: "客户要求退款",
      customerTags: [],
    });
  });

  it("uses the order form's title and description as notes, without a call", () => {
    const ctx = buildCallContext({
      call: null,
      orders: [],
      draft: { source: "order_form", phone: "13800138000", title: "宽带断网", category: "报修", text: "两天了" },
    });
    expect(ctx.notes).toBe("宽带断网\n两天了");
    expect(ctx.ivrPath).toEqual([]);
    expect(isEmptyContext(ctx)).toBe(false);
  });

  it("adds the order whose note is typed when the phone did not match it", () => {
    const ctx = buildCallContext({
      call: call(),
      orders: [],
      draft: { source: "order_note", phone: null, title: "断网", category: "报修", text: "" },
    });
    expect(ctx.openOrders).toEqual([{ title: "断网", category: "报修", notes: "" }]);
  });

  it("is empty for a plain call with no IVR data", () => {
    expect(isEmptyContext(buildCallContext({ call: call(), orders: [], draft: null }))).toBe(true);
  });

  it("shows suggestions only with an empty search box and a call or an order form", () => {
    const form = { source: "order_form" as const, phone: null, title: "", category: "", text: "" };
    expect(showSuggestions("", call(), null)).toBe(true);
    expect(showSuggestions("退款", call(), null)).toBe(false);
    expect(showSuggestions("", null, form)).toBe(true);
    expect(showSuggestions("", null, { ...form, source: "order_note" })).toBe(false);
    expect(showSuggestions(" ", null, null)).toBe(false);
  });

  it("publishes drafts through a store", () => {
    typingDraft.set({ source: "order_note", phone: null, title: "t", category: "", text: "x" });
    expect(get(typingDraft)?.text).toBe("x");
    typingDraft.set(null);
    expect(get(typingDraft)).toBeNull();
  });
});

describe("refresh", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  const ctx = (notes: string): CallContext => ({ ivrPath: [], ivrData: {}, openOrders: [], notes, customerTags: [] });
  const hit = (id: string): KbSuggestion => ({ id, title: id, score: 1, snippet: id, because: [] });

  it("debounces changes and sends only the last context", async () => {
    const fetch = vi.fn(async (c: CallContext) => [hit(c.notes)]);
    const results: (KbSuggestion[] | null)[] = [];
    const r = createSuggestRefresher(fetch, (s) => results.push(s), () => {}, 400);
    r.update(ctx("退"));
    await vi.advanceTimersByTimeAsync(200);
    r.update(ctx("退款"));
    await vi.advanceTimersByTimeAsync(399);
    expect(fetch).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(fetch).toHaveBeenCalledTimes(1);
    expect(results).toEqual([[hit("退款")]]);
    // The same context again is not sent again.
    r.update(ctx("退款"));
    await vi.advanceTimersByTimeAsync(1000);
    expect(fetch).toHaveBeenCalledTimes(1);
  });

  it("drops the answer of a request a newer one replaced", async () => {
    const pending: ((v: KbSuggestion[]) => void)[] = [];
    const fetch = vi.fn(() => new Promise<KbSuggestion[]>((resolve) => pending.push(resolve)));
    const results: (KbSuggestion[] | null)[] = [];
    const r = createSuggestRefresher(fetch, (s) => results.push(s), () => {}, 400);
    r.update(ctx("密码"));
    await vi.advanceTimersByTimeAsync(400);
    r.update(ctx("退款"));
    await vi.advanceTimersByTimeAsync(400);
    expect(fetch).toHaveBeenCalledTimes(2);
    pending[1]?.([hit("new")]);
    await vi.advanceTimersByTimeAsync(0);
    pending[0]?.([hit("old")]);
    await vi.advanceTimersByTimeAsync(0);
    expect(results).toEqual([[hit("new")]]);
  });

  it("clears at once for an empty context and ignores a late answer", async () => {
    let resolve: (v: KbSuggestion[]) => void = () => {};
    const fetch = vi.fn(() => new Promise<KbSuggestion[]>((r) => (resolve = r)));
    const results: (KbSuggestion[] | null)[] = [];
    const r = createSuggestRefresher(fetch, (s) => results.push(s), () => {}, 400);
    r.update(ctx("退款"));
    await vi.advanceTimersByTimeAsync(400);
    r.update(null);
    resolve([hit("late")]);
    await vi.advanceTimersByTimeAsync(0);
    expect(results).toEqual([null]);
  });

  it("reports errors of the current request and retries the same context later", async () => {
    const fetch = vi.fn(async () => {
      throw { code: "knowledge_base", message: "down" };
    });
    const errors: unknown[] = [];
    const r = createSuggestRefresher(fetch, () => {}, (e) => errors.push(e), 400);
    r.update(ctx("退款"));
    await vi.advanceTimersByTimeAsync(400);
    expect(errors).toEqual([{ code: "knowledge_base", message: "down" }]);
    r.update(ctx("退款"));
    await vi.advanceTimersByTimeAsync(400);
    expect(fetch).toHaveBeenCalledTimes(2);
  });
});

describe("insert into notes", () => {
  it("appends on a line of its own and targets the open draft", () => {
    expect(appendToNote("", "  您好，请问有什么可以帮您？ ")).toBe("您好，请问有什么可以帮您？");
    expect(appendToNote("客户来电", "稍等")).toBe("客户来电\n稍等");
    expect(appendToNote("客户来电\n", "稍等")).toBe("客户来电\n稍等");

    expect(insertIntoNotes(null, "稍等")).toBe(false);
    const draft = { source: "order_note" as const, phone: null, title: "", category: "", text: "" };
    expect(insertIntoNotes(draft, "   ")).toBe(false);
    expect(insertIntoNotes(draft, "稍等")).toBe(true);
    const first = get(noteInsertions);
    expect(first?.target).toBe("order_note");
    // Only the targeted draft takes it, once.
    expect(pendingInsertion(first, "order_form", 0)).toBeNull();
    expect(pendingInsertion(first, "order_note", 0)?.text).toBe("稍等");
    expect(pendingInsertion(first, "order_note", first?.seq ?? 0)).toBeNull();
    // The same text again is a new request.
    insertIntoNotes(draft, "稍等");
    expect(pendingInsertion(get(noteInsertions), "order_note", first?.seq ?? 0)?.text).toBe("稍等");
  });
});
