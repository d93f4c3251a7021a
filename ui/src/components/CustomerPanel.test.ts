// The customer panel with the screen pop the Rust side sends for a ringing call: the caller's
// card before answering (VIP, tags, open orders overdue first), a choice for a shared number,
// unknown callers with a search, and the pop timed once painted — in English and Chinese.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import CustomerPanel from "./CustomerPanel.svelte";
import { createMockBackend } from "../lib/backend.mock";
import { i18n } from "../lib/i18n.svelte";
import type { CallHistory, CallRecord, CustomerCard, Pop } from "../lib/pop";
import type { CallView } from "../lib/phone";
import type { AgentView } from "../lib/types";
import type { OrderView } from "../lib/types";

function order(id: string, title: string, due_state: OrderView["due_state"]): OrderView {
  return {
    id, number: id.toUpperCase(), kind: "complaint", customer: "张伟", title, priority: "high", status: "new",
    team: "t", team_name: null, assignee: null, mine: true, phone: null, due: null, due_state,
    created_at: "2026-11-30T08:00:00Z", updated_at: "2026-11-30T08:00:00Z", pending: false,
    next_statuses: [], can_reopen: false, notes: [], history: [],
  };
}

const zhang: CustomerCard = {
  customer: { id: "c-1", name: "张伟", phones: ["+8613800138000"], email: "zw@example.com", tier: "vip", tags: ["宽带"], notes: "偏好下午回电", updated_at: "" },
  open_orders: [order("a1", "宽带报修", "on_track"), order("b2", "账单重复扣费", "overdue")],
  recent_orders: [],
};
const li: CustomerCard = {
  customer: { id: "c-2", name: "李娜", phones: ["021-55550000"], email: null, tier: "standard", tags: [], notes: "", updated_at: "" },
  open_orders: [],
  recent_orders: [],
};

function pop(cards: CustomerCard[], extra: Partial<Pop> = {}): Pop {
  return {
    call: "call-1",
    caller: { raw: "013800138000", e164: "+8613800138000", display: "13800138000", display_name: "Zhang", withheld: false, internal: false, unreadable: null },
    matched_by: cards.length ? { by: "number" } : { by: "nothing" },
    cards,
    ivr: [{ name: "X-IVR-Menu", value: "账单>退款" }],
    cached_customers: 3,
    lookup_us: 80,
    received_at_ms: Date.now(),
    ...extra,
  };
}

describe("customer panel", () => {
  beforeEach(() => i18n.set("en"));
  afterEach(() => cleanup());

  it("waits for a call, then shows the caller's card with overdue orders first", async () => {
    const backend = createMockBackend("en");
    const { rerender } = render(CustomerPanel, { backend, pop: null });
    expect(screen.getByTestId("customer-empty")).toBeTruthy();

    await rerender({ backend, pop: pop([zhang]) });
    expect(screen.getByTestId("customer-name").textContent).toBe("张伟");
    expect(screen.getByTestId("customer-vip").textContent).toContain("vip");
    expect(screen.getByTestId("pop-number").textContent).toBe("13800138000");
    expect(screen.getByTestId("pop-ivr").textContent).toContain("账单>退款");
    const orders = screen.getByTestId("pop-open-orders").querySelectorAll("li");
    expect(orders[0]?.textContent).toContain("账单重复扣费");
    expect(orders[0]?.textContent).toContain("Overdue");
    expect(orders[1]?.textContent).toContain("宽带报修");
    // Timed once painted: a number of milliseconds appears on the pop.
    await waitFor(() => expect(screen.getByTestId("customer-pop").dataset.popLatencyMs).toMatch(/^\d+$/));
  });

  it("shows the callers' survey scores on past calls and in today's figures, in Chinese", async () => {
    i18n.set("zh-CN");
    const backend = createMockBackend("zh-CN");
    backend.callFigures = async () => ({ calls: 3, handled: 3, missed: 0, average_handle_s: 200, after_call_work_s: 30,
      without_wrap_up: 0, scored: 2, average_score: 3.5 });
    const past: CallRecord = { id: "old-1", direction: "incoming", number: null, display_name: null, e164: null, customer_id: "c-1",
      customer_name: "张伟", ivr: {}, ring_at: Date.UTC(2026, 10, 29, 2), answer_at: Date.UTC(2026, 10, 29, 2), end_at: Date.UTC(2026, 10, 29, 3),
      hold_ms: 0, transferred_to: null, end_reason: null, wrap_up_code: "resolved", wrap_up_at: null, notes: "", satisfaction: 2 };
    // Waiting for a call: today's figures with the average score.
    const { rerender } = render(CustomerPanel, { backend, pop: null });
    await waitFor(() => expect(screen.getByTestId("day-scores").textContent).toContain("满意度 3.5/5（2 份评价）"));
    // The card shows this desk's calls at once, then the center's history with a colleague's call.
    let answer: (h: CallHistory) => void = () => {};
    backend.customerHistory = (id) => {
      expect(id).toBe("c-1");
      return new Promise((resolve) => (answer = resolve));
    };
    await rerender({ backend, pop: pop([{ ...zhang, recent_calls: [past] }]) });
    expect(screen.getByTestId("pop-recent-calls").querySelectorAll("li")).toHaveLength(1);
    expect(screen.getAllByTestId("call-score")[0]?.textContent).toBe("2/5 分");
    expect(screen.queryByTestId("call-colleague")).toBeNull();
    // The colleague's call had a poor line (the server shares its measured quality).
    const theirs: CallRecord = { ...past, id: "their-1", ring_at: past.ring_at + 3_600_000, satisfaction: null,
      wrap_up_code: "complaint_logged", notes: "已登记投诉", colleague: true,
      quality: { mos: 2.9, loss_percent: 8.5, remote_loss_percent: null, jitter_ms: 41.2, rtt_ms: 180 } };
    answer({ calls: [theirs, past], from_server: true, error: null });
    await waitFor(() => expect(screen.getByTestId("pop-recent-calls").dataset.fromServer).toBe("yes"));
    const rows = screen.getByTestId("pop-recent-calls").querySelectorAll("li");
    expect([...rows].map((r) => (r as HTMLElement).dataset.call)).toEqual(["their-1", "old-1"]);
    expect(rows[0]?.textContent).toContain("同事接听");
    expect(rows[0]?.textContent).toContain("已登记投诉");
    expect(screen.getAllByTestId("call-score")).toHaveLength(1);
    const lines = screen.getAllByTestId("call-line-quality");
    expect(lines).toHaveLength(1);
    expect(lines[0]?.dataset.level).toBe("poor");
    expect(lines[0]?.textContent).toBe("通话质量差");
    expect(lines[0]?.title).toBe("MOS 2.9 · 丢包 8.5%（对方 未知） · 抖动 41 毫秒 · 往返时延 180 ms");
    expect(screen.queryByTestId("history-local-only")).toBeNull();
    i18n.set("en");
  });

  it("says when the center's call history cannot be reached and keeps this desk's", async () => {
    const backend = createMockBackend("en");
    const past: CallRecord = { id: "old-1", direction: "outgoing", number: null, display_name: null, e164: null, customer_id: "c-1",
      customer_name: "张伟", ivr: {}, ring_at: Date.UTC(2026, 10, 29, 2), answer_at: null, end_at: Date.UTC(2026, 10, 29, 3),
      hold_ms: 0, transferred_to: null, end_reason: null, wrap_up_code: null, wrap_up_at: null, notes: "" };
    backend.customerHistory = async () => ({ calls: [past], from_server: false, error: "the server did not answer within 3 s" });
    render(CustomerPanel, { backend, pop: pop([{ ...zhang, recent_calls: [past] }]) });
    await waitFor(() => expect(screen.getByTestId("history-local-only").textContent).toContain("calls at this desk only"));
    expect(screen.getByTestId("pop-recent-calls").dataset.fromServer).toBe("no");
    expect(screen.getByTestId("pop-recent-calls").querySelectorAll("li")).toHaveLength(1);
  });

  it("adds an unknown caller as a customer in one step, pre-filled from the call", async () => {
    const backend = createMockBackend("en");
    const made: unknown[][] = [];
    const original = backend.customerCreate;
    backend.customerCreate = (...args) => {
      made.push(args);
      return original(...args);
    };
    const unknown = pop([], { caller: { raw: "013912345678", e164: "+8613912345678", display: "13912345678", display_name: "Wang",
      withheld: false, internal: false, unreadable: null } });
    render(CustomerPanel, { backend, pop: unknown });
    await fireEvent.click(screen.getByTestId("customer-add"));
    expect((screen.getByTestId("customer-add-name") as HTMLInputElement).value).toBe("Wang");
    expect((screen.getByTestId("customer-add-phone") as HTMLInputElement).value).toBe("+8613912345678");
    expect((screen.getByTestId("customer-add-notes") as HTMLTextAreaElement).value).toBe("X-IVR-Menu: 账单>退款");
    // Signed out there is nowhere to add the customer: the agent is told, the form stays.
    await fireEvent.click(screen.getByTestId("customer-add-save"));
    await waitFor(() => expect(screen.getByRole("alert").textContent).toContain("sign in to the central server first"));
    expect(screen.getByTestId("customer-add-form")).toBeTruthy();
    await backend.login({ server_url: "http://127.0.0.1:1", tenant: "demo", username: "agent", password: "demo" });
    await fireEvent.input(screen.getByTestId("customer-add-name"), { target: { value: "王先生" } });
    await fireEvent.click(screen.getByTestId("customer-add-save"));
    await waitFor(() => expect(screen.getByTestId("customer-name").textContent).toBe("王先生"));
    expect(screen.queryByTestId("customer-add-form")).toBeNull();
    expect(made[1]).toEqual([{ name: "王先生", phones: ["+8613912345678"], email: null, notes: "X-IVR-Menu: 账单>退款" }, "call-1"]);
  });

  it("says how many calls wait for the server and how many it refused", async () => {
    const backend = createMockBackend("en");
    backend.customerFeed = async () => ({
      customers: 3, last_synced: null, last_error: null, signed_in: true,
      calls: { calls_waiting: 2, calls_refused: 1, states_waiting: 4 },
      calls_error: "cannot reach the server to upload calls: connection refused",
    });
    render(CustomerPanel, { backend, pop: null });
    const line = await screen.findByTestId("calls-sync");
    expect(line.dataset.waiting).toBe("2");
    expect(line.dataset.refused).toBe("1");
    expect(line.textContent).toContain("2 calls of this desktop wait for the server");
    expect(line.textContent).toContain("1 calls refused by the server");
    expect(line.textContent).toContain("connection refused");

    cleanup();
    backend.customerFeed = async () => ({
      customers: 3, last_synced: null, last_error: null, signed_in: true,
      calls: { calls_waiting: 0, calls_refused: 0, states_waiting: 0 }, calls_error: null,
    });
    render(CustomerPanel, { backend, pop: null });
    await screen.findByTestId("customer-feed");
    expect(screen.queryByTestId("calls-sync")).toBeNull();
  });

  it("says where the knowledge base comes from and when its update failed", async () => {
    const backend = createMockBackend("en");
    backend.customerFeed = async () => ({
      customers: 3, last_synced: null, last_error: null, signed_in: true,
      kb_revision: 12, kb_articles: 54, kb_error: "cannot reach the server for the knowledge base: timed out",
    });
    render(CustomerPanel, { backend, pop: null });
    const line = await screen.findByTestId("kb-feed");
    expect(line.dataset.revision).toBe("12");
    expect(line.textContent).toContain("Knowledge base: 54 articles from the center");
    expect(line.textContent).toContain("knowledge base not updated: cannot reach the server for the knowledge base: timed out");

    cleanup();
    backend.customerFeed = async () => ({ customers: 3, last_synced: null, last_error: null, signed_in: true, kb_revision: 0, kb_articles: 0, kb_error: null });
    render(CustomerPanel, { backend, pop: null });
    await screen.findByTestId("customer-feed");
    expect(screen.queryByTestId("kb-feed")).toBeNull();
  });

  it("asks who is calling when a number is shared, and goes back to the choice", async () => {
    const backend = createMockBackend("en");
    render(CustomerPanel, { backend, pop: pop([li, zhang]) });
    expect(screen.getByTestId("pop-choice").textContent).toContain("2 customers share this number");
    await fireEvent.click(screen.getByText("张伟"));
    expect(screen.getByTestId("customer-name").textContent).toBe("张伟");
    await fireEvent.click(screen.getByText("Another customer with this number"));
    expect(screen.getByTestId("pop-choice")).toBeTruthy();
  });

  it("says an unknown caller is unknown and finds a customer by search, in Chinese", async () => {
    i18n.set("zh-CN");
    const backend = createMockBackend("zh-CN");
    render(CustomerPanel, { backend, pop: pop([], { caller: { raw: "+442079460958", e164: "+442079460958", display: "+442079460958", display_name: null, withheld: false, internal: false, unreadable: null } }) });
    expect(screen.getByTestId("pop-unknown").textContent).toContain("陌生来电");
    await fireEvent.input(screen.getByTestId("customer-search"), { target: { value: "王" } });
    await fireEvent.submit(screen.getByTestId("customer-search").closest("form")!);
    await waitFor(() => expect(screen.getByTestId("customer-results").textContent).toContain("王芳"));
    await fireEvent.click(screen.getByText("王芳"));
    expect(screen.getByTestId("customer-name").textContent).toBe("王芳");
  });

  it("tells a withheld caller and an empty cache apart from an unknown one", async () => {
    const backend = createMockBackend("en");
    render(CustomerPanel, { backend, pop: pop([], { cached_customers: 0, caller: { raw: null, e164: null, display: null, display_name: null, withheld: true, internal: false, unreadable: null } }) });
    expect(screen.getByTestId("pop-number").textContent).toBe("Number withheld");
    expect(screen.getByTestId("pop-unknown").textContent).toContain("has not been synced");
  });

  it("asks for a wrap-up code once the answered call is over and reports the agent's new state", async () => {
    const backend = createMockBackend("en");
    const agents: string[] = [];
    const active = { id: "call-1", phase: "active" } as CallView;
    const { rerender } = render(CustomerPanel, { backend, pop: pop([zhang]), call: active, agentState: "on_call",
      onAgent: (a: AgentView) => agents.push(a.state.kind) });
    expect(screen.queryByTestId("wrap-up")).toBeNull();
    await rerender({ backend, pop: pop([zhang]), call: null, agentState: "after_call_work", onAgent: (a: AgentView) => agents.push(a.state.kind) });
    const done = screen.getByTestId("wrap-up-done") as HTMLButtonElement;
    expect(done.disabled).toBe(true);
    await fireEvent.change(screen.getByTestId("wrap-up-code"), { target: { value: "callback_promised" } });
    await fireEvent.input(screen.getByTestId("wrap-up-notes"), { target: { value: "明天上午回电" } });
    // A promised callback needs its time before the wrap-up can be saved.
    expect(done.disabled).toBe(true);
    await fireEvent.input(screen.getByTestId("callback-at"), { target: { value: "2026-12-01T10:30" } });
    expect(done.disabled).toBe(false);
    const wrapUps: unknown[][] = [];
    const original = backend.callWrapUp;
    backend.callWrapUp = (...args) => {
      wrapUps.push(args);
      return original(...args);
    };
    // Signed out of the central server there is nowhere to keep the order: the agent is told,
    // and nothing is wrapped up yet.
    await fireEvent.click(done);
    await waitFor(() => expect(screen.getByRole("alert").textContent).toContain("sign in to the central server first"));
    expect(screen.getByTestId("wrap-up")).toBeTruthy();
    await backend.login({ server_url: "http://127.0.0.1:1", tenant: "demo", username: "agent", password: "demo" });
    await fireEvent.click(done);
    await waitFor(() => expect(screen.getByTestId("wrapped-up").textContent).toContain("Callback promised"));
    expect(screen.queryByTestId("wrap-up")).toBeNull();
    const promised = screen.getByTestId("callback-promised");
    expect(promised.textContent).toMatch(/Callback #\S+ set for 2026-12-01 10:30/);
    // The callback goes with the wrap-up: the time with the agent's offset, titled for the customer.
    expect(wrapUps).toHaveLength(2);
    const callback = wrapUps[1]?.[3] as { due: string; title: string; note: string };
    expect(new Date(callback.due).getTime()).toBe(new Date(2026, 11, 1, 10, 30).getTime());
    expect(callback.title).toBe("Callback: 张伟");
    expect(callback.note).toBe("明天上午回电");
    // The panel hands the agent state the wrap-up returned to the status bar.
    expect(agents).toHaveLength(1);
  });
});
