// The workspace frame against the real backend module, with Tauri's IPC mocked (mockIPC):
// checks what the UI sends to each command and how it shows what comes back.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import { emit } from "@tauri-apps/api/event";
import App from "./App.svelte";
import { tauriBackend } from "./lib/backend";
import { i18n } from "./lib/i18n.svelte";
import { MOCK_PLAYBOOK } from "./lib/backend.mock";
import type { AgentView, AppInfo, WorkspaceStatus } from "./lib/types";

type Call = { cmd: string; args: unknown };

function fakeShell(options: { failAgent?: boolean; link?: { scheme: string; target: string; original: string }; role?: string } = {}) {
  let link = options.link ?? null;
  const calls: Call[] = [];
  let info: AppInfo = {
    version: "0.1.0",
    data_dir: "/data",
    data_dir_source: "--data-dir",
    settings_file: "/data/settings.toml",
    language_pref: "system",
    language: "en",
    os_locale: "en-US",
    notices: [],
  };
  let agent: AgentView = {
    state: { kind: "not_ready", reason: "login" },
    since: Date.now() - 65_000,
    pending_not_ready: null,
    not_ready_reasons: ["break", "lunch"],
  };
  const status = (): WorkspaceStatus => ({
    agent,
    phone: { state: "not_configured" },
    sync: { state: "not_configured" },
    kb_articles: 2,
  });
  mockIPC((cmd, args) => {
    calls.push({ cmd, args });
    switch (cmd) {
      case "app_info":
        return info;
      case "workspace_status":
        return status();
      case "set_language": {
        const language = (args as { language: AppInfo["language_pref"] }).language;
        info = { ...info, language_pref: language, language: language === "zh-CN" ? "zh-CN" : "en" };
        return info;
      }
      case "agent_event":
        if (options.failAgent) throw { code: "agent_state", message: "unknown not-ready reason" };
        agent = { ...agent, state: { kind: "not_ready", reason: "lunch" }, since: Date.now() };
        return agent;
      case "kb_search":
        return (args as { query: string }).query.includes("退款")
          ? [{ id: "refund", title: "退款流程", score: 3.2, snippet: "申请<mark>退款</mark>时 &lt;先核实&gt;" }]
          : [];
      case "session":
        return {
          hint: { server_url: null, tenant: null, username: null },
          account: options.role
            ? { server_url: "http://127.0.0.1:1", tenant: "demo", username: "lead", user_id: "u-1", display_name: "Lead",
              role: options.role, teams: [] }
            : null,
          signed_in: Boolean(options.role),
          keychain_warning: null,
          sync: { state: "not_signed_in", pending: 0, problems: 0, retry_in_ms: null, last_synced: null,
            last_error: null, signed_out_reason: null },
        };
      case "kb_article":
        return (args as { id: string }).id === "refund"
          ? { id: "refund", title: "退款流程", body: "客户申请退款时，先核实订单。", tags: ["billing"], lang: "zh-CN" }
          : null;
      case "customer_feed":
        return { customers: 0, last_synced: null, last_error: null, signed_in: false };
      case "take_dial_link": {
        const waiting = link;
        link = null;
        return waiting;
      }
      case "playbook":
        return MOCK_PLAYBOOK;
      case "playbook_save":
        return { ...(args as { edit: typeof MOCK_PLAYBOOK }).edit, revision: 1 };
      case "call_quality_report": {
        const request = (args as { request: { since: number; before: number } }).request;
        return { since: request.since, before: request.before, poor_mos_below: 3.6, poor_calls: [],
          agents: [{ agent_id: "u-2", display_name: "Ann", calls: 3, measured: 2, poor: 0, mean_mos: 4.2, worst_mos: 4.1,
            mean_loss_percent: 0.5, max_loss_percent: 0.8, mean_remote_loss_percent: null, mean_jitter_ms: 4, mean_rtt_ms: null }] };
      }
      case "call_figures":
        return { calls: 0, handled: 0, missed: 0, average_handle_s: 0, after_call_work_s: 0, without_wrap_up: 0 };
      case "callback_figures":
        // Unconfigured: no central server, so no callback orders to count.
        throw { code: "not_signed_in", message: "sign in to the central server first" };
      default:
        throw new Error(`unexpected command ${cmd}`);
    }
  }, { shouldMockEvents: true });
  return calls;
}

describe("workspace frame", () => {
  beforeEach(() => i18n.set("en"));
  afterEach(() => {
    cleanup();
    clearMocks();
  });

  it("shows every panel and the honest status of an unconfigured install", async () => {
    const calls = fakeShell();
    render(App, { props: { backend: tauriBackend } });
    expect(await screen.findByTestId("workspace")).toBeInTheDocument();
    for (const name of ["Phone", "Customer", "Knowledge", "Work orders"]) {
      expect(screen.getByRole("heading", { name })).toBeInTheDocument();
    }
    expect(screen.getByTestId("phone-status")).toHaveTextContent("Not configured");
    await waitFor(() => expect(screen.getByTestId("sync-status")).toHaveTextContent("Not signed in"));
    expect(screen.getByTestId("agent-state")).toHaveValue("not_ready:login");
    expect(screen.getByTestId("agent-timer")).toHaveTextContent(/for 1:0\d/);
    // The phone panel asks once for a saved SIP account (none: it offers the account form); the
    // customer panel for the customer cache's size and today's call figures.
    await waitFor(() => expect(screen.getByTestId("customer-feed")).toHaveTextContent("0 customers"));
    expect(screen.getByTestId("day-figures")).toHaveTextContent("Today: 0 calls");
    expect([...new Set(calls.map((c) => c.cmd))].sort()).toEqual(
      ["app_info", "call_figures", "callback_figures", "customer_feed", "phone_account", "playbook", "session", "take_dial_link", "workspace_status"]);
    // Signed out, the callback line is not shown rather than showing zeros.
    expect(screen.queryByTestId("callback-figures")).toBeNull();
    expect(calls.filter((c) => c.cmd === "phone_account")).toHaveLength(1);
    expect(screen.getByTestId("phone-account-form")).toBeInTheDocument();
    // Without an account the work-order panel offers the sign-in form, not fake orders.
    expect(screen.getByTestId("login-form")).toBeInTheDocument();
  });

  it("puts a tel: link handed over by the OS into the phone panel, at start and later", async () => {
    const calls = fakeShell({ link: { scheme: "tel", target: "+861012345678", original: "tel:+86-10-1234-5678" } });
    render(App, { props: { backend: tauriBackend } });
    const number = (await screen.findByTestId("dial-number")) as HTMLInputElement;
    await waitFor(() => expect(number.value).toBe("+861012345678"));
    // No phone yet: the panel says so instead of dialling.
    expect(screen.getByTestId("phone-notice")).toHaveTextContent("Connect the phone to call +861012345678");
    expect(calls.some((c) => c.cmd === "phone_dial")).toBe(false);
    const takes = calls.filter((c) => c.cmd === "take_dial_link").length;
    await emit("dial-link");
    await waitFor(() => expect(calls.filter((c) => c.cmd === "take_dial_link").length).toBe(takes + 1));
  });

  it("asks for the desktop settings only when their section is opened", async () => {
    const calls = fakeShell();
    render(App, { props: { backend: tauriBackend } });
    const section = (await screen.findByTestId("desktop-section")) as HTMLDetailsElement;
    expect(calls.some((c) => c.cmd === "desktop_settings")).toBe(false);
    section.open = true;
    section.dispatchEvent(new Event("toggle"));
    await waitFor(() => expect(calls.some((c) => c.cmd === "desktop_settings")).toBe(true));
  });

  it("offers the playbook editor to a supervisor and sends the edit through playbook_save", async () => {
    const calls = fakeShell({ role: "supervisor" });
    render(App, { props: { backend: tauriBackend } });
    const section = (await screen.findByTestId("playbook-section")) as HTMLDetailsElement;
    section.open = true;
    section.dispatchEvent(new Event("toggle"));
    await fireEvent.input(await screen.findByTestId("acw-limit"), { target: { value: "90" } });
    await fireEvent.click(screen.getByTestId("playbook-save"));
    await screen.findByTestId("playbook-saved");
    const save = calls.find((c) => c.cmd === "playbook_save");
    expect((save?.args as { edit: { revision: number; after_call_work_limit_s: number } }).edit).toMatchObject({
      revision: 0,
      after_call_work_limit_s: 90,
    });
  });

  it("reads the call-quality report through call_quality_report when its section opens", async () => {
    const calls = fakeShell({ role: "supervisor" });
    render(App, { props: { backend: tauriBackend } });
    const section = (await screen.findByTestId("quality-section")) as HTMLDetailsElement;
    expect(calls.some((c) => c.cmd === "call_quality_report")).toBe(false);
    section.open = true;
    section.dispatchEvent(new Event("toggle"));
    expect((await screen.findByTestId("quality-agent-row")).textContent).toContain("Ann");
    const asked = calls.find((c) => c.cmd === "call_quality_report");
    const request = (asked?.args as { request: { since: number; before: number; limit: number } }).request;
    expect(request.since).toBeLessThan(request.before);
    expect(request.limit).toBe(50);
  });

  it("does not offer the playbook editor to an agent or when signed out", async () => {
    fakeShell({ role: "agent" });
    render(App, { props: { backend: tauriBackend } });
    // Signed in (the session has been read), and still no editor.
    await screen.findByTestId("signed-in-as");
    expect(screen.queryByTestId("playbook-section")).toBeNull();
    // An agent has her own line's quality.
    expect(screen.getByTestId("quality-section")).toBeTruthy();
    cleanup();
    clearMocks();
    fakeShell();
    render(App, { props: { backend: tauriBackend } });
    await screen.findByTestId("login-form");
    expect(screen.queryByTestId("playbook-section")).toBeNull();
    expect(screen.queryByTestId("quality-section")).toBeNull();
  });

  it("switches the whole frame to Chinese and saves the choice through set_language", async () => {
    const calls = fakeShell();
    render(App, { props: { backend: tauriBackend } });
    const select = await screen.findByTestId("language");
    await fireEvent.change(select, { target: { value: "zh-CN" } });
    await waitFor(() => expect(screen.getByRole("heading", { name: "客户" })).toBeInTheDocument());
    expect(screen.getByTestId("phone-status")).toHaveTextContent("未配置");
    expect(screen.getByTestId("workspace")).toHaveAttribute("data-language", "zh-CN");
    expect(calls.filter((c) => c.cmd === "set_language").at(-1)).toEqual({ cmd: "set_language", args: { language: "zh-CN" } });
  });

  it("sends agent state changes and shows the new state", async () => {
    const calls = fakeShell();
    render(App, { props: { backend: tauriBackend } });
    const select = await screen.findByTestId("agent-state");
    await fireEvent.change(select, { target: { value: "not_ready:lunch" } });
    await waitFor(() => expect(select).toHaveValue("not_ready:lunch"));
    expect(calls.filter((c) => c.cmd === "agent_event").at(-1)).toEqual({
      cmd: "agent_event",
      args: { event: { event: "set_not_ready", reason: "lunch" } },
    });
  });

  it("counts down after-call work and shows the state the time box ends it in", async () => {
    fakeShell();
    render(App, { props: { backend: tauriBackend } });
    await screen.findByTestId("agent-state");
    const now = Date.now();
    await emit("agent-state", { state: { kind: "after_call_work" }, since: now, pending_not_ready: null,
      not_ready_reasons: ["lunch"], after_call_work_ends_at: now + 90_000 });
    const left = await screen.findByTestId("acw-left");
    expect(left.textContent).toMatch(/wrap-up time left 1:(29|30)/);
    // The shell ends it (time box): the countdown goes with it.
    await emit("agent-state", { state: { kind: "ready" }, since: now + 90_000, pending_not_ready: null,
      not_ready_reasons: ["lunch"], after_call_work_ends_at: null });
    await waitFor(() => expect(screen.queryByTestId("acw-left")).toBeNull());
    expect(screen.getByTestId("agent-state")).toHaveValue("ready");
  });

  it("shows a refused state change instead of swallowing it", async () => {
    fakeShell({ failAgent: true });
    render(App, { props: { backend: tauriBackend } });
    const select = await screen.findByTestId("agent-state");
    await fireEvent.change(select, { target: { value: "ready" } });
    expect(await screen.findByRole("alert")).toHaveTextContent("unknown not-ready reason");
  });

  it("moves focus between panels with Alt+1..4", async () => {
    fakeShell();
    render(App, { props: { backend: tauriBackend } });
    await screen.findByTestId("workspace");
    await fireEvent.keyDown(window, { key: "3", altKey: true });
    expect(document.activeElement?.id).toBe("panel-knowledge");
    await fireEvent.keyDown(window, { key: "1", altKey: true });
    expect(document.activeElement?.id).toBe("panel-phone");
  });

  it("offers a retry when the shell cannot open the workspace", async () => {
    let fail = true;
    mockIPC((cmd) => {
      if (fail) throw { code: "settings", message: "cannot create the data directory /x" };
      if (cmd === "session") {
        return { hint: { server_url: null, tenant: null, username: null }, account: null, signed_in: false,
          keychain_warning: null, sync: { state: "not_signed_in", pending: 0, problems: 0, retry_in_ms: null,
            last_synced: null, last_error: null, signed_out_reason: null } };
      }
      return cmd === "app_info"
        ? { version: "0.1.0", data_dir: "/x", data_dir_source: "x", settings_file: "/x/s", language_pref: "en", language: "en", os_locale: null, notices: [] }
        : { agent: { state: { kind: "ready" }, since: Date.now(), pending_not_ready: null, not_ready_reasons: [] }, phone: { state: "not_configured" }, sync: { state: "not_configured" }, kb_articles: 0 };
    });
    render(App, { props: { backend: tauriBackend } });
    expect(await screen.findByRole("alert")).toHaveTextContent("cannot create the data directory /x");
    fail = false;
    await fireEvent.click(screen.getByRole("button", { name: "Try again" }));
    expect(await screen.findByTestId("workspace")).toBeInTheDocument();
  });

  it("searches the knowledge base as the agent types and opens an article by keyboard", async () => {
    const calls = fakeShell();
    render(App, { props: { backend: tauriBackend } });
    const input = await screen.findByTestId("kb-search");
    await fireEvent.input(input, { target: { value: "退款" } });
    const results = await screen.findByTestId("kb-results");
    await waitFor(() => expect(results.querySelectorAll("li")).toHaveLength(1));
    const mark = results.querySelector("mark");
    expect(mark).toHaveTextContent("退款");
    // Escaped text stays text.
    expect(results).toHaveTextContent("<先核实>");
    expect(calls.find((c) => c.cmd === "kb_search")?.args).toEqual({ query: "退款", limit: 20, tag: null });
    await fireEvent.keyDown(input, { key: "Enter" });
    const article = await screen.findByTestId("kb-article");
    expect(article).toHaveTextContent("客户申请退款时，先核实订单。");
    await fireEvent.click(screen.getByRole("button", { name: "Back to results" }));
    expect(await screen.findByTestId("kb-search")).toBeInTheDocument();
  });

  it("says so when nothing matches", async () => {
    fakeShell();
    render(App, { props: { backend: tauriBackend } });
    const input = await screen.findByTestId("kb-search");
    await fireEvent.input(input, { target: { value: "nothing here" } });
    expect(await screen.findByTestId("kb-none")).toHaveTextContent("No articles match “nothing here”.");
  });
});
