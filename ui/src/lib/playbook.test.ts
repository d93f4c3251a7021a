// The center's playbook in the UI: labels and phrases in the UI language with fallbacks,
// phrases inserted at the cursor, and the wrap-up form and status bar built from a playbook
// the server sent (codes and reasons the UI has no words of its own for).
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import CustomerPanel from "../components/CustomerPanel.svelte";
import StatusBar from "../components/StatusBar.svelte";
import OrderDetail from "../components/OrderDetail.svelte";
import { createMockBackend, MOCK_PLAYBOOK } from "./backend.mock";
import { i18n } from "./i18n.svelte";
import { fillPhrase, insertPhrase, labelIn, phrasesFor, playbook, reasonLabel, usePlaybook, wrapUpLabel, type Playbook } from "./playbook.svelte";
import type { Pop } from "./pop";
import type { CallView } from "./phone";
import type { OrderView, WorkspaceStatus } from "./types";

const center: Playbook = {
  ...structuredClone(MOCK_PLAYBOOK),
  revision: 4,
  wrap_up_codes: [
    { code: "sales_lead", labels: { en: "Sales lead", "zh-CN": "销售线索" }, promises_callback: false },
    { code: "visit_booked", labels: { "zh-TW": "已預約上門" }, promises_callback: true },
    { code: "resolved", labels: {}, promises_callback: false },
  ],
  not_ready_reasons: [{ code: "coaching", labels: { en: "Coaching", "zh-CN": "辅导" } }],
  phrases: [
    { category: "closing", lang: "zh-CN", text: "感谢来电，再见。" },
    { category: "greeting", lang: "zh-CN", text: "您好，我是{agent}。" },
    { category: "greeting", lang: "en", text: "Hello, {agent} speaking." },
  ],
};

describe("playbook helpers", () => {
  afterEach(() => i18n.set("en"));

  it("labels fall back to the other Chinese script, then English, then the UI's word, then the code", () => {
    expect(labelIn({ en: "Lunch", "zh-CN": "用餐" }, "zh-CN")).toBe("用餐");
    expect(labelIn({ en: "Lunch", "zh-CN": "用餐" }, "zh-TW")).toBe("用餐");
    expect(labelIn({ "zh-TW": "已預約上門" }, "zh-CN")).toBe("已預約上門");
    expect(labelIn({ "zh-CN": "用餐" }, "en")).toBeNull();
    i18n.set("zh-CN");
    expect(wrapUpLabel("sales_lead", center)).toBe("销售线索");
    // No label in the playbook: the UI's own word for a known code, else the code itself.
    expect(wrapUpLabel("resolved", center)).toBe("通话中已解决");
    expect(wrapUpLabel("mystery", center)).toBe("mystery");
    expect(reasonLabel("coaching", center)).toBe("辅导");
    expect(reasonLabel("lunch", center)).toBe("用餐");
    expect(reasonLabel("nap", null)).toBe("nap");
  });

  it("offers the phrases of the UI language, else the nearest, and fills in the agent", () => {
    expect(phrasesFor(center, "zh-CN").map((p) => p.text)).toEqual(["感谢来电，再见。", "您好，我是{agent}。"]);
    expect(phrasesFor(center, "zh-TW")).toHaveLength(2);
    expect(phrasesFor(center, "en").map((p) => p.text)).toEqual(["Hello, {agent} speaking."]);
    expect(phrasesFor(null, "en")).toEqual([]);
    expect(fillPhrase("您好，我是{agent}。", "小李")).toBe("您好，我是小李。");
    expect(fillPhrase("Hi {agent}", null)).toBe("Hi {agent}");
  });

  it("takes only an answer that is a playbook", () => {
    playbook.current = null;
    expect(usePlaybook({ agent: {}, phone: {} })).toBe(false);
    expect(usePlaybook(null)).toBe(false);
    expect(playbook.current).toBeNull();
    expect(usePlaybook({ ...center, phrases: undefined })).toBe(true);
    expect((playbook.current as Playbook | null)?.phrases).toEqual([]);
    playbook.current = null;
  });

  it("inserts a phrase at the cursor on a line of its own", () => {
    expect(insertPhrase("", "Hello.")).toEqual({ text: "Hello.", cursor: 6 });
    expect(insertPhrase("Line one", "Hello.")).toEqual({ text: "Line one\nHello.", cursor: 15 });
    expect(insertPhrase("ab", "X", 1)).toEqual({ text: "a\nX\nb", cursor: 3 });
    expect(insertPhrase("a\n", "X", 2)).toEqual({ text: "a\nX", cursor: 3 });
    expect(insertPhrase("abc", "X", 99).text).toBe("abc\nX");
  });
});

describe("the playbook in the panels", () => {
  beforeEach(() => {
    playbook.current = structuredClone(center);
  });
  afterEach(() => {
    cleanup();
    playbook.current = null;
    i18n.set("en");
  });

  const ringing: Pop = {
    call: "call-9",
    caller: { raw: "013800138000", e164: "+8613800138000", display: "13800138000", display_name: null, withheld: false, internal: false, unreadable: null },
    matched_by: { by: "nothing" },
    cards: [],
    ivr: [],
    cached_customers: 3,
    lookup_us: 10,
    received_at_ms: null,
  } as Pop;

  it("builds the wrap-up form from the center's codes and inserts its phrases, in Chinese", async () => {
    i18n.set("zh-CN");
    const backend = createMockBackend("zh-CN");
    const wrapUps: unknown[][] = [];
    backend.callWrapUp = async (...args) => {
      wrapUps.push(args);
      return { call: { wrap_up_code: args[1] } as never, agent: (await backend.workspaceStatus()).agent, callback: null };
    };
    render(CustomerPanel, { backend, pop: ringing, call: null as CallView | null, agentState: "after_call_work", agentName: "小李" });
    const select = screen.getByTestId("wrap-up-code") as HTMLSelectElement;
    const options = [...select.options].filter((o) => !o.disabled).map((o) => [o.value, o.textContent]);
    expect(options).toEqual([["sales_lead", "销售线索"], ["visit_booked", "已預約上門"], ["resolved", "通话中已解决"]]);
    // A code that promises a callback asks when, whatever it is called.
    await fireEvent.change(select, { target: { value: "visit_booked" } });
    expect(screen.getByTestId("callback-at")).toBeTruthy();
    await fireEvent.change(select, { target: { value: "sales_lead" } });
    expect(screen.queryByTestId("callback-at")).toBeNull();

    const notes = screen.getByTestId("wrap-up-notes") as HTMLTextAreaElement;
    await fireEvent.input(notes, { target: { value: "客户想了解套餐" } });
    const picker = screen.getByTestId("wrap-up-phrases") as HTMLSelectElement;
    const groups = [...picker.querySelectorAll("optgroup")].map((g) => g.label);
    expect(groups).toEqual(["问候", "结束语"]);
    const greeting = [...picker.options].find((o) => o.textContent === "您好，我是小李。")!;
    await fireEvent.change(picker, { target: { value: greeting.value } });
    expect(notes.value).toBe("客户想了解套餐\n您好，我是小李。");
    expect(picker.value).toBe("");
    await fireEvent.click(screen.getByTestId("wrap-up-done"));
    await waitFor(() => expect(wrapUps).toHaveLength(1));
    expect(wrapUps[0]?.slice(0, 3)).toEqual(["call-9", "sales_lead", "客户想了解套餐\n您好，我是小李。"]);
  });

  it("offers the phrases in a work order's note too", async () => {
    i18n.set("zh-CN");
    const order = {
      id: "0190aaaa-0000-7000-8000-00000000abcd", number: "0000ABCD", kind: "complaint", customer: "张伟",
      title: "宽带断线", priority: "high", status: "new", team: "t1", team_name: "一线", assignee: "u1",
      mine: true, phone: null, due: null, created_at: "2026-11-30T08:00:00Z", updated_at: "2026-11-30T08:00:00Z",
      pending: false, next_statuses: [], can_reopen: false, notes: [], history: [],
    } as unknown as OrderView;
    render(OrderDetail, { order, onBack: () => {}, onStatus: async () => null, onNote: async () => null, onEdit: async () => null });
    const note = screen.getByTestId("note-input") as HTMLTextAreaElement;
    await fireEvent.input(note, { target: { value: "已回访" } });
    const picker = screen.getByTestId("note-phrases") as HTMLSelectElement;
    const closing = [...picker.options].find((o) => o.textContent === "感谢来电，再见。")!;
    await fireEvent.change(picker, { target: { value: closing.value } });
    expect(note.value).toBe("已回访\n感谢来电，再见。");
  });

  it("shows the center's Not-ready reasons with their labels in the status bar", async () => {
    const backend = createMockBackend("en");
    const status: WorkspaceStatus = await backend.workspaceStatus();
    status.agent = { ...status.agent, not_ready_reasons: ["coaching"], state: { kind: "not_ready", reason: "lunch" } };
    const info = await backend.appInfo();
    render(StatusBar, { info, status, agentError: null, onAgentEvent: () => {}, onLanguage: () => {} });
    const texts = [...(screen.getByTestId("agent-state") as HTMLSelectElement).options].map((o) => o.textContent);
    // The reason the agent is in was withdrawn from the list: still shown, with the UI's word.
    expect(texts).toContain("Not ready · Lunch");
    expect(texts).toContain("Not ready · Coaching");
  });
});
