// A stand-in for the Rust shell, used only by `vite --mode mock` (the Playwright flow tests and
// UI work without a Rust build). It keeps the same rules as the real agent-state machine for
// the transitions the UI offers, and remembers the language choice for the page's lifetime.
import type { Backend } from "./backend";
import type { AgentView, AppInfo, KbArticle, LanguagePref, WorkspaceStatus } from "./types";

// Two articles so the flow test can exercise search and the article view without Rust.
const mockArticles: KbArticle[] = [
  {
    id: "refund",
    title: "退款流程",
    body: "客户申请退款时，先核实订单号，再在三个工作日内原路退回。",
    tags: ["billing"],
    lang: "zh-CN",
  },
  {
    id: "password-reset",
    title: "Password reset",
    body: "Verify the caller's identity, then send a one-time code by SMS.",
    tags: ["account"],
    lang: "en",
  },
];

function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

export function createMockBackend(osLocale = navigator.language): Backend {
  const reasons = ["break", "lunch", "meeting", "training", "outbound"];
  let pref: LanguagePref = "system";
  let agent: AgentView = {
    state: { kind: "not_ready", reason: "login" },
    since: Date.now(),
    pending_not_ready: null,
    not_ready_reasons: reasons,
  };
  const info = (): AppInfo => ({
    version: "0.1.0-mock",
    data_dir: "/mock/data",
    data_dir_source: "mock",
    settings_file: "/mock/data/settings.toml",
    language_pref: pref,
    language: pref === "system" ? (osLocale.toLowerCase().startsWith("zh") ? "zh-CN" : "en") : pref,
    os_locale: osLocale,
    notices: [],
  });
  const status = (): WorkspaceStatus => ({
    agent,
    phone: { state: "not_configured" },
    sync: { state: "not_configured" },
    kb_articles: mockArticles.length,
  });
  return {
    appInfo: async () => info(),
    workspaceStatus: async () => status(),
    setLanguage: async (language) => {
      pref = language;
      return info();
    },
    kbSearch: async (query, limit = 20) => {
      const q = query.trim().toLowerCase();
      if (!q) return [];
      return mockArticles
        .filter((a) => `${a.title} ${a.body}`.toLowerCase().includes(q))
        .slice(0, limit)
        .map((a) => {
          const at = a.body.toLowerCase().indexOf(q);
          const snippet =
            at < 0
              ? escapeHtml(a.body)
              : `${escapeHtml(a.body.slice(0, at))}<mark>${escapeHtml(a.body.slice(at, at + q.length))}</mark>${escapeHtml(a.body.slice(at + q.length))}`;
          return { id: a.id, title: a.title, score: 1, snippet };
        });
    },
    kbArticle: async (id) => mockArticles.find((a) => a.id === id) ?? null,
    agentEvent: async (event) => {
      if (event.event === "set_ready") {
        if (agent.state.kind !== "ready") agent = { ...agent, state: { kind: "ready" }, since: Date.now() };
      } else if (event.event === "set_not_ready") {
        if (!reasons.includes(event.reason)) {
          throw { code: "agent_state", message: `unknown not-ready reason "${event.reason}"` };
        }
        agent = { ...agent, state: { kind: "not_ready", reason: event.reason }, since: Date.now() };
      } else {
        throw { code: "agent_state", message: `the mock backend does not model ${event.event}` };
      }
      return agent;
    },
  };
}
