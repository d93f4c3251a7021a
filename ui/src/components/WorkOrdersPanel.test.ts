// The work-order panel and the sync slot against the real backend module, IPC mocked: what the
// UI sends to the shell's commands, and how it shows sync events and refusals.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/svelte";
import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import { emit } from "@tauri-apps/api/event";
import App from "../App.svelte";
import { tauriBackend } from "../lib/backend";
import { i18n } from "../lib/i18n.svelte";
import type { OrderView, SessionView, SyncView } from "../lib/types";

type Call = { cmd: string; args: Record<string, unknown> };

const sync = (over: Partial<SyncView> = {}): SyncView => ({
  state: "synced", pending: 0, problems: 0, retry_in_ms: null, last_synced: null, last_error: null,
  signed_out_reason: null, ...over,
});

function order(over: Partial<OrderView> = {}): OrderView {
  return {
    id: "0190aaaa-0000-7000-8000-00000000abcd", number: "0000ABCD", kind: "complaint", customer: "张伟",
    title: "宽带断线", priority: "high", status: "new", team: "t1", team_name: "一线", assignee: "u1",
    mine: true, phone: "+8613800138000", due: null, created_at: "2026-11-30T08:00:00Z",
    updated_at: "2026-11-30T08:00:00Z", pending: true, next_statuses: ["in_progress"], can_reopen: false,
    notes: [], history: [], ...over,
  };
}

function fakeShell(start: "none" | "signed_in" = "none") {
  const calls: Call[] = [];
  const orders: OrderView[] = [];
  const account = { server_url: "http://127.0.0.1:8080", tenant: "demo", username: "agent", user_id: "u1",
    display_name: "Agent Li", role: "agent", teams: [{ id: "t1", name: "一线" }] };
  let session: SessionView =
    start === "none"
      ? { hint: { server_url: null, tenant: null, username: null }, account: null, signed_in: false, keychain_warning: null, sync: sync({ state: "not_signed_in" }) }
      : { hint: { server_url: null, tenant: null, username: null }, account, signed_in: true, keychain_warning: null, sync: sync() };
  mockIPC((cmd, args) => {
    calls.push({ cmd, args: (args ?? {}) as Record<string, unknown> });
    switch (cmd) {
      case "app_info":
        return { version: "0.1.0", data_dir: "/d", data_dir_source: "--data-dir", settings_file: "/d/s",
          language_pref: "en", language: "en", os_locale: "en-US", notices: [] };
      case "workspace_status":
        return { agent: { state: { kind: "ready" }, since: Date.now(), pending_not_ready: null,
          not_ready_reasons: [] }, phone: { state: "not_configured" }, sync: { state: "not_configured" },
          kb_articles: 0 };
      case "session":
        return session;
      case "login": {
        const request = (args as { request: { password: string } }).request;
        if (request.password !== "pw") throw { code: "bad_credentials", message: "wrong tenant, user name or password" };
        session = { hint: { server_url: null, tenant: null, username: null }, account, signed_in: true, keychain_warning: null, sync: sync({ state: "syncing" }) };
        return session;
      }
      case "logout": {
        const pending = orders.filter((o) => o.pending).length;
        if (pending && !(args as { force: boolean }).force) {
          throw { code: "unsynced_changes", message: `${pending} change(s) have not reached the server yet` };
        }
        session = { ...session, signed_in: false, sync: sync({ state: "signed_out", signed_out_reason: "logged_out" }) };
        return session;
      }
      case "list_orders":
        return orders;
      case "order_problems":
        return [];
      case "create_order": {
        const created = order();
        orders.unshift(created);
        return created;
      }
      case "get_order":
        return orders[0];
      case "order_teammates":
        return [
          { user_id: "u1", name: "Agent Li", team: "t1", me: true },
          { user_id: "u2", name: "Wang Fang", team: "t1", me: false },
        ];
      case "phone_dial":
        return "call-out-1";
      case "edit_order": {
        const { edit } = args as { edit: Partial<OrderView> };
        Object.assign(orders[0]!, edit, { updated_at: "2026-11-30T09:00:00Z" });
        return orders[0];
      }
      default:
        throw new Error(`unexpected command ${cmd}`);
    }
  }, { shouldMockEvents: true });
  return { calls, orders };
}

describe("work orders and sync", () => {
  beforeEach(() => i18n.set("en"));
  afterEach(() => {
    cleanup();
    clearMocks();
  });

  it("signs in through the login command and shows a refusal", async () => {
    const { calls } = fakeShell("none");
    render(App, { props: { backend: tauriBackend } });
    const form = await screen.findByTestId("login-form");
    await fireEvent.input(within(form).getByTestId("login-server"), { target: { value: "http://127.0.0.1:8080" } });
    await fireEvent.input(within(form).getByTestId("login-tenant"), { target: { value: "demo" } });
    await fireEvent.input(within(form).getByTestId("login-user"), { target: { value: "agent" } });
    await fireEvent.input(within(form).getByTestId("login-password"), { target: { value: "nope" } });
    await fireEvent.submit(form);
    expect(await screen.findByTestId("login-error")).toHaveTextContent("wrong tenant, user name or password");
    await fireEvent.input(within(form).getByTestId("login-password"), { target: { value: "pw" } });
    await fireEvent.submit(form);
    expect(await screen.findByTestId("signed-in-as")).toHaveTextContent("Agent Li · demo");
    expect(calls.filter((c) => c.cmd === "login").at(-1)?.args).toEqual({
      request: { server_url: "http://127.0.0.1:8080", tenant: "demo", username: "agent", password: "pw" },
    });
    expect(await screen.findByTestId("orders-empty")).toBeInTheDocument();
  });

  it("creates an order offline and shows it pending; the form checks required fields first", async () => {
    const { calls } = fakeShell("signed_in");
    render(App, { props: { backend: tauriBackend } });
    await fireEvent.click(await screen.findByTestId("orders-new"));
    await fireEvent.click(screen.getByTestId("order-save"));
    expect(screen.getByTestId("order-form-errors")).toHaveTextContent("Customer is required.");
    expect(calls.some((c) => c.cmd === "create_order")).toBe(false);
    await fireEvent.change(screen.getByTestId("order-kind"), { target: { value: "repair" } });
    await fireEvent.input(screen.getByTestId("order-customer"), { target: { value: "张伟" } });
    await fireEvent.input(screen.getByTestId("order-phone"), { target: { value: "+86 138-0013-8000" } });
    await fireEvent.input(screen.getByTestId("order-title"), { target: { value: "宽带断线" } });
    await fireEvent.change(screen.getByTestId("order-priority"), { target: { value: "high" } });
    await fireEvent.click(screen.getByTestId("order-save"));
    const detail = await screen.findByTestId("order-detail");
    expect(within(detail).getByTestId("order-pending")).toHaveTextContent("Pending sync");
    expect(calls.find((c) => c.cmd === "create_order")?.args).toEqual({
      order: { kind: "repair", customer: "张伟", phone: "+8613800138000", title: "宽带断线", description: null,
        priority: "high", due: null },
    });
    expect(within(detail).getByTestId("order-move-in_progress")).toHaveTextContent("Move to In progress");
    await fireEvent.keyDown(window, { key: "Escape" });
    const list = await screen.findByTestId("orders-list");
    expect(within(list).getByTestId("order-pending")).toBeInTheDocument();
  });

  it("shows sync events in the status bar, and a 401 as signed out without dropping the orders", async () => {
    const { orders } = fakeShell("signed_in");
    orders.push(order());
    render(App, { props: { backend: tauriBackend } });
    await screen.findByTestId("orders-list");
    await emit("sync-status", sync({ state: "offline", pending: 2, retry_in_ms: 4_000 }));
    await waitFor(() => expect(screen.getByTestId("sync-status")).toHaveTextContent(/Offline, retrying in [34] s · 2 pending/));
    await emit("sync-status", sync({ state: "synced", problems: 1 }));
    await waitFor(() => expect(screen.getByTestId("sync-status")).toHaveTextContent("Synced · 1 problems"));
    expect(screen.getByTestId("problems-button")).toHaveTextContent("Problems (1)");
    await emit("sync-status", sync({ state: "signed_out", signed_out_reason: "expired", pending: 1 }));
    await waitFor(() => expect(screen.getByTestId("sync-status")).toHaveTextContent("Signed out, sign in again"));
    expect(await screen.findByTestId("login-expired")).toBeInTheDocument();
    expect(screen.getByTestId("orders-list")).toBeInTheDocument();
  });

  it("warns before signing out with unsynced changes", async () => {
    const { calls, orders } = fakeShell("signed_in");
    orders.push(order());
    render(App, { props: { backend: tauriBackend } });
    await fireEvent.click(await screen.findByTestId("logout"));
    expect(await screen.findByTestId("logout-warning")).toBeInTheDocument();
    await fireEvent.click(screen.getByRole("button", { name: "Sign out anyway" }));
    await screen.findByTestId("login-form");
    expect(calls.filter((c) => c.cmd === "logout").map((c) => c.args)).toEqual([{ force: false }, { force: true }]);
  });

  it("badges overdue orders, switches to the overdue view and reassigns to a teammate", async () => {
    const { calls, orders } = fakeShell("signed_in");
    orders.push(order({ kind: "callback", urgency: "overdue", due_state: "overdue", due_at: "2026-11-30T07:00:00Z",
      next_deadline: "2026-11-30T07:00:00Z", category: "套餐", description: "" }));
    render(App, { props: { backend: tauriBackend } });
    const list = await screen.findByTestId("orders-list");
    expect(within(list).getByTestId("order-urgency")).toHaveTextContent("Overdue");
    expect(within(list).getByTestId("order-row")).toHaveTextContent("Agent Li");
    await fireEvent.click(screen.getByTestId("orders-view-overdue"));
    await waitFor(() =>
      expect(calls.filter((c) => c.cmd === "list_orders").at(-1)?.args).toEqual({
        query: { view: "overdue", status: null, kind: null, search: null },
      }));
    expect(screen.getByTestId("orders-view-due_soon")).toHaveTextContent("Due soon");
    await fireEvent.click(within(list).getByTestId("order-row"));
    const detail = await screen.findByTestId("order-detail");
    expect(within(detail).getByTestId("order-urgency")).toHaveTextContent("Overdue");
    expect(within(detail).getByTestId("edit-save")).toBeDisabled();
    await fireEvent.change(within(detail).getByTestId("edit-assignee"), { target: { value: "u2" } });
    await fireEvent.submit(within(detail).getByTestId("order-edit"));
    await waitFor(() => expect(within(detail).getByTestId("order-assignee")).toHaveTextContent("Wang Fang"));
    expect(calls.filter((c) => c.cmd === "edit_order").map((c) => c.args)).toEqual([
      { id: "0190aaaa-0000-7000-8000-00000000abcd", edit: { assignee: "u2" } },
    ]);
  });

  it("lists my callbacks overdue first and dials one from the list", async () => {
    const { calls, orders } = fakeShell("signed_in");
    orders.push(order({ kind: "callback", title: "回电：账单", urgency: "overdue", due_state: "overdue",
      due_at: "2026-11-30T07:00:00Z", next_deadline: "2026-11-30T07:00:00Z", category: "callback", description: "" }));
    orders.push(order({ id: "0190aaaa-0000-7000-8000-00000000beef", number: "0000BEEF", kind: "callback",
      status: "resolved", phone: "+8613900139000", due_at: "2026-11-30T06:00:00Z", category: "callback", description: "" }));
    render(App, { props: { backend: tauriBackend } });
    await screen.findByTestId("orders-list");
    await fireEvent.click(screen.getByTestId("orders-view-callbacks"));
    expect(screen.getByTestId("orders-view-callbacks")).toHaveTextContent("Callbacks");
    await waitFor(() =>
      expect(calls.filter((c) => c.cmd === "list_orders").at(-1)?.args).toEqual({
        query: { view: "mine", status: null, kind: "callback", search: null },
      }));
    const list = screen.getByTestId("orders-list");
    // Only the open callback can be dialled; a resolved one has nothing to call.
    const dial = within(list).getAllByTestId("order-dial");
    expect(dial).toHaveLength(1);
    expect(dial[0]).toHaveTextContent("Call +8613800138000");
    await fireEvent.click(dial[0]!);
    await waitFor(() =>
      expect(calls.filter((c) => c.cmd === "phone_dial").map((c) => c.args)).toEqual([{ target: "+8613800138000" }]));
  });
});
