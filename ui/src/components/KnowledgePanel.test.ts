// The knowledge panel's "Suggested for this call" list: shown for a live call with an empty
// search box, built from the call's IVR data, the caller's open orders and the typed draft,
// refreshed after a pause, and opened like a search hit.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import KnowledgePanel from "./KnowledgePanel.svelte";
import type { Backend } from "../lib/backend";
import type { CallView } from "../lib/phone";
import type { CallContext, OrderView } from "../lib/types";
import { i18n } from "../lib/i18n.svelte";
import { typingDraft } from "../lib/suggest";

const call: CallView = {
  id: "c1",
  direction: "incoming",
  phase: "active",
  peer: "李四",
  caller: {
    display_name: "李四",
    number: "+8613800138000",
    uri: null,
    source: "from",
    withheld: false,
    called_number: null,
    diversions: [],
    ivr: { "X-IVR-Path": "账单查询/退款" },
  },
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
};

const openOrder = {
  id: "o1",
  number: "7",
  kind: "complaint",
  customer: "李四",
  title: "多收月租",
  priority: "normal",
  status: "in_progress",
  phone: "13800138000",
  updated_at: "2026-11-30T10:00:00Z",
  notes: [{ author: "a", at: "", text: "要求退还" }],
} as unknown as OrderView;

function fakeBackend() {
  const sent: CallContext[] = [];
  const backend = {
    kbSearch: vi.fn(async () => []),
    kbArticle: vi.fn(async (id: string) => ({ id, title: "退款流程", body: "先核实订单号", tags: [], lang: "zh-CN" })),
    kbSuggest: vi.fn(async (context: CallContext) => {
      sent.push(context);
      return [{ id: "refund", title: "退款流程", score: 2, snippet: "申请<mark>退款</mark>", because: ["退款"] }];
    }),
    listOrders: vi.fn(async () => [openOrder]),
  } as unknown as Backend;
  return { backend, sent };
}

describe("knowledge panel suggestions", () => {
  beforeEach(() => i18n.set("en"));
  afterEach(() => {
    cleanup();
    typingDraft.set(null);
  });

  it("suggests for the live call without a query and opens a suggestion", async () => {
    const { backend, sent } = fakeBackend();
    render(KnowledgePanel, { backend, articleCount: 2, call });
    await waitFor(() => expect(screen.getByTestId("kb-suggested")).toBeInTheDocument(), { timeout: 3000 });
    expect(screen.getByText("Suggested for this call")).toBeInTheDocument();
    expect(screen.getByText("From: 退款")).toBeInTheDocument();
    const last = sent[sent.length - 1];
    expect(last?.ivrPath).toEqual(["账单查询", "退款"]);
    expect(last?.openOrders).toEqual([{ title: "多收月租", category: "Complaint", notes: "要求退还" }]);

    await fireEvent.click(screen.getByText("退款流程"));
    await waitFor(() => expect(screen.getByTestId("kb-article")).toBeInTheDocument());
    expect(backend.kbArticle).toHaveBeenCalledWith("refund");
  });

  it("sends the note being typed and hides suggestions while searching", async () => {
    const { backend, sent } = fakeBackend();
    render(KnowledgePanel, { backend, articleCount: 2, call });
    await waitFor(() => expect(screen.getByTestId("kb-suggested")).toBeInTheDocument(), { timeout: 3000 });
    typingDraft.set({ source: "order_note", phone: null, title: "多收月租", category: "Complaint", text: "客户要求退款" });
    await waitFor(() => expect(sent.some((c) => c.notes === "客户要求退款")).toBe(true), { timeout: 3000 });

    await fireEvent.input(screen.getByTestId("kb-search"), { target: { value: "退款" } });
    await waitFor(() => expect(screen.queryByTestId("kb-suggested")).toBeNull());
  });

  it("shows nothing to suggest without a call or an order form", async () => {
    const { backend } = fakeBackend();
    render(KnowledgePanel, { backend, articleCount: 2, call: null });
    await new Promise((r) => setTimeout(r, 500));
    expect(screen.queryByTestId("kb-suggested")).toBeNull();
    expect(backend.kbSuggest).not.toHaveBeenCalled();
  });
});

describe("knowledge panel results", () => {
  beforeEach(() => i18n.set("en"));
  afterEach(() => cleanup());

  it("folds a near-duplicate article to one line under the hit it copies", async () => {
    const { backend } = fakeBackend();
    (backend.kbSearch as ReturnType<typeof vi.fn>).mockResolvedValue([
      { id: "a", title: "宽带断网处理", score: 3, snippet: "<mark>宽带</mark>断网" },
      { id: "a-old", title: "宽带无法上网", score: 2.9, snippet: "<mark>宽带</mark>无法上网", duplicate_of: "a" },
      { id: "b", title: "宽带资费", score: 1, snippet: "<mark>宽带</mark>套餐" },
    ]);
    render(KnowledgePanel, { backend, articleCount: 3, call: null });
    await fireEvent.input(screen.getByRole("searchbox"), { target: { value: "宽带" } });
    await waitFor(() => expect(screen.getByText("Similar article: 宽带无法上网")).toBeTruthy());
    const buttons = screen.getByTestId("kb-results").querySelectorAll("button");
    expect([...buttons].map((b) => b.dataset.id)).toEqual(["a", "a-old", "b"]);
    expect(buttons[1]?.dataset.duplicateOf).toBe("a");
    // The copy shows no snippet of its own, the others do.
    expect(buttons[1]?.querySelector(".kb-snippet")).toBeNull();
    expect(buttons[2]?.querySelector(".kb-snippet")).not.toBeNull();
    // It still opens like any hit.
    await fireEvent.click(buttons[1] as HTMLButtonElement);
    await waitFor(() => expect(backend.kbArticle).toHaveBeenCalledWith("a-old"));
  });
});

describe("knowledge panel tags", () => {
  beforeEach(() => i18n.set("en"));
  afterEach(() => cleanup());

  it("lists a clicked tag's articles, keeps searches within it, and lets it go", async () => {
    const { createMockBackend } = await import("../lib/backend.mock");
    const backend = createMockBackend("en");
    render(KnowledgePanel, { backend, articleCount: 2 });
    const box = screen.getByTestId("kb-search") as HTMLInputElement;
    await fireEvent.input(box, { target: { value: "退款" } });
    await fireEvent.click(await screen.findByText("退款流程"));
    const chip = await screen.findByTestId("kb-tag");
    expect(chip.textContent).toBe("billing");
    await fireEvent.click(chip);
    expect((await screen.findByTestId("kb-tag-filter")).textContent).toContain("Only articles tagged billing");
    // The query is kept and searched within the tag.
    await waitFor(() =>
      expect([...screen.getByTestId("kb-results").querySelectorAll(".kb-hit")].map((b) => b.getAttribute("data-id"))).toEqual([
        "refund",
      ]),
    );
    // With no query, the tag's articles; a query outside the tag finds nothing. (The search
    // box is a new one: the article view replaced the list.)
    const again = screen.getByTestId("kb-search") as HTMLInputElement;
    expect(again.value).toBe("退款");
    await fireEvent.input(again, { target: { value: "" } });
    await waitFor(() => expect(screen.getByTestId("kb-results").querySelectorAll(".kb-hit")).toHaveLength(1));
    await fireEvent.input(again, { target: { value: "caller" } });
    expect((await screen.findByTestId("kb-none")).textContent).toContain("caller");
    await fireEvent.click(screen.getByTestId("kb-tag-clear"));
    expect(screen.queryByTestId("kb-tag-filter")).toBeNull();
    await waitFor(() =>
      expect(screen.getByTestId("kb-results").querySelector(".kb-hit")?.getAttribute("data-id")).toBe("password-reset"),
    );
  });
});
