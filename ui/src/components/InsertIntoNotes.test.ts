// "Insert into notes": a script opened in the knowledge panel goes into the note the agent is
// writing on the open work order, on a line of its own; without an open form the button is off.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import KnowledgePanel from "./KnowledgePanel.svelte";
import OrderDetail from "./OrderDetail.svelte";
import type { Backend } from "../lib/backend";
import type { OrderView } from "../lib/types";
import { i18n } from "../lib/i18n.svelte";
import { typingDraft } from "../lib/suggest";

const order = {
  id: "0190aaaa-0000-7000-8000-00000000abcd", number: "0000ABCD", kind: "complaint", customer: "张伟",
  title: "宽带断线", priority: "high", status: "new", team: "t1", team_name: "一线", assignee: "u1",
  mine: true, phone: "+8613800138000", due: null, created_at: "2026-11-30T08:00:00Z",
  updated_at: "2026-11-30T08:00:00Z", pending: true, next_statuses: ["in_progress"], can_reopen: false,
  notes: [], history: [],
} as unknown as OrderView;

const script = "非常抱歉给您带来不便，我们会在24小时内回复处理结果。";

function backend(): Backend {
  return {
    kbSearch: vi.fn(async () => [{ id: "apology", title: "致歉话术", score: 1, snippet: "<mark>致歉</mark>" }]),
    kbArticle: vi.fn(async (id: string) => ({ id, title: "致歉话术", body: script, tags: [], lang: "zh-CN" })),
    kbSuggest: vi.fn(async () => []),
    listOrders: vi.fn(async () => []),
  } as unknown as Backend;
}

async function openArticle() {
  await fireEvent.input(screen.getByRole("searchbox"), { target: { value: "致歉" } });
  await waitFor(() => expect(screen.getByText("致歉话术")).toBeTruthy());
  await fireEvent.click(screen.getByText("致歉话术"));
  await waitFor(() => expect(screen.getByTestId("kb-article")).toBeTruthy());
}

describe("insert into notes", () => {
  beforeEach(() => i18n.set("en"));
  afterEach(() => {
    cleanup();
    typingDraft.set(null);
  });

  it("appends the article to the note being written on the open order", async () => {
    render(OrderDetail, {
      order,
      onBack: () => {},
      onStatus: async () => null,
      onNote: async () => null,
      onEdit: async () => null,
    });
    const note = screen.getByTestId("note-input") as HTMLTextAreaElement;
    await fireEvent.input(note, { target: { value: "客户投诉断网两天" } });
    render(KnowledgePanel, { backend: backend(), articleCount: 1, call: null });
    await openArticle();
    const insert = screen.getByTestId("kb-insert") as HTMLButtonElement;
    expect(insert.disabled).toBe(false);
    await fireEvent.click(insert);
    await waitFor(() => expect(note.value).toBe(`客户投诉断网两天\n${script}`));
  });

  it("is off when no order or note is open", async () => {
    render(KnowledgePanel, { backend: backend(), articleCount: 1, call: null });
    await openArticle();
    expect((screen.getByTestId("kb-insert") as HTMLButtonElement).disabled).toBe(true);
  });
});
