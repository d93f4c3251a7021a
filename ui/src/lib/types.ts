// Mirrors of the Rust types the shell's commands return (crates/workspace, crates/agent-state).

export type Language = "zh-CN" | "en";
export type LanguagePref = "system" | Language;

export type Notice =
  | { kind: "settings_set_aside"; moved_to: string; reason: string }
  | { kind: "kb_unavailable"; reason: string };

export interface AppInfo {
  version: string;
  data_dir: string;
  data_dir_source: string;
  settings_file: string;
  language_pref: LanguagePref;
  language: Language;
  os_locale: string | null;
  notices: Notice[];
}

export type AgentState =
  | { kind: "not_ready"; reason: string }
  | { kind: "ready" }
  | { kind: "on_call" }
  | { kind: "after_call_work" };

export type AgentEvent =
  | { event: "set_ready" }
  | { event: "set_not_ready"; reason: string }
  | { event: "call_started" }
  | { event: "call_ended" }
  | { event: "wrap_up_done"; code: string };

export interface AgentView {
  state: AgentState;
  since: number;
  pending_not_ready: string | null;
  not_ready_reasons: string[];
}

export type PhoneStatus = { state: "not_configured" };

export type SyncStatus =
  | { state: "not_configured" }
  | { state: "not_connected"; server_url: string };

export interface WorkspaceStatus {
  agent: AgentView;
  phone: PhoneStatus;
  sync: SyncStatus;
  kb_articles: number;
}

/** A knowledge-base search result; `snippet` is HTML-escaped text with `<mark>` around matches. */
export interface KbHit {
  id: string;
  title: string;
  score: number;
  snippet: string;
}

export interface KbArticle {
  id: string;
  title: string;
  body: string;
  tags: string[];
  lang: string;
}

/** The error every command returns: a stable code and a message for people. */
export interface CommandError {
  code: string;
  message: string;
}
