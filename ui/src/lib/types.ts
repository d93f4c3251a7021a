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
  /** When after-call work ends by itself (the center's time box), while in it. */
  after_call_work_ends_at?: number | null;
  /** The PBX did not take the last queue pause/unpause feature code: why (English, from the
   * shell). The state changed anyway. */
  queue_pause_warning?: string | null;
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
  /** Set when this article is a near-copy of the better-ranked hit with this id. */
  duplicate_of?: string;
}

/** What the knowledge panel knows about the call in progress (crates/kb-search/src/suggest.rs). */
export interface CallContext {
  /** IVR menu choices in order, e.g. ["账单查询", "退款"]. */
  ivrPath: string[];
  /** Other IVR / SIP data fields. */
  ivrData: Record<string, string>;
  /** The caller's open work orders, most recent first. */
  openOrders: OpenOrderContext[];
  /** What the agent is typing now. */
  notes: string;
  customerTags: string[];
}

export interface OpenOrderContext {
  title: string;
  category: string;
  notes: string;
}

/** A suggested article; `because` lists the context words that led to it. */
export interface KbSuggestion extends KbHit {
  because: string[];
}

export interface KbArticle {
  id: string;
  title: string;
  body: string;
  tags: string[];
  lang: string;
}

/** One of the center's articles opened for editing (crates/workspace `kb_sync::EditableArticle`):
 * `revision` is what the edit starts from (0: new, or not the center's yet); an empty `id`
 * makes a new article. */
export interface EditableArticle extends KbArticle {
  revision: number;
}

/** A save or deletion of an article for the whole center (`indexed`: this desk's search has
 * it already). */
export interface KbSaved {
  id: string;
  revision: number;
  indexed: boolean;
}

/** The error every command returns: a stable code and a message for people. */
export interface CommandError {
  code: string;
  message: string;
}

// Work orders and their sync (crates/workspace/src/desk.rs).

export type SyncState =
  | "not_signed_in"
  | "signed_out"
  | "synced"
  | "syncing"
  | "pending"
  | "offline"
  | "stopped";

export interface SyncView {
  state: SyncState;
  pending: number;
  problems: number;
  retry_in_ms: number | null;
  last_synced: string | null;
  last_error: string | null;
  signed_out_reason: "logged_out" | "expired" | null;
}

export interface TeamRef {
  id: string;
  name: string;
}

export interface AccountView {
  server_url: string;
  tenant: string;
  username: string;
  user_id: string;
  display_name: string;
  role: string;
  teams: TeamRef[];
}

export interface LoginHint {
  server_url: string | null;
  tenant: string | null;
  username: string | null;
}

export interface SessionView {
  hint: LoginHint;
  account: AccountView | null;
  signed_in: boolean;
  keychain_warning: string | null;
  sync: SyncView;
}

export interface LoginRequest {
  server_url: string;
  tenant: string;
  username: string;
  password: string;
}

export type OrderStatus = "new" | "in_progress" | "waiting_on_customer" | "resolved" | "closed";
export type OrderKind = "complaint" | "repair" | "inquiry" | "callback";
export type Priority = "low" | "normal" | "high" | "urgent";

export type OrderListView = "mine" | "team" | "overdue" | "due_soon" | "all";

/** How pressing an order is (complaint clocks and its own due time). */
export type Urgency = "overdue" | "due_soon" | "normal";

export interface OrderQuery {
  view?: OrderListView;
  status?: OrderStatus | null;
  kind?: OrderKind | null;
  search?: string | null;
}

export interface NoteView {
  author: string;
  at: string;
  text: string;
}

export interface HistoryView {
  from: OrderStatus;
  to: OrderStatus;
  reopen: boolean;
  at: string;
  by: string;
}

export interface OrderView {
  id: string;
  number: string;
  kind: OrderKind;
  customer: string;
  title: string;
  // The fields below came with issue #4; optional so views built elsewhere (tests, the mock)
  // without them still type-check. The desk always sends them.
  category?: string;
  description?: string;
  priority: Priority;
  status: OrderStatus;
  team: string;
  team_name: string | null;
  assignee: string | null;
  mine: boolean;
  phone: string | null;
  /** Due / callback time as YYYY-MM-DDTHH:MM in the desk's offset (use due_at to show it). */
  due: string | null;
  /** RFC 3339. */
  due_at?: string | null;
  urgency?: Urgency;
  due_state?: "on_track" | "due_soon" | "overdue" | null;
  next_deadline?: string | null;
  created_at: string;
  updated_at: string;
  pending: boolean;
  next_statuses: OrderStatus[];
  can_reopen: boolean;
  notes: NoteView[];
  history: HistoryView[];
}

export interface CreateOrder {
  kind: OrderKind | "complaint_complex";
  customer: string;
  phone: string | null;
  title: string;
  description: string | null;
  priority: Priority;
  /** RFC 3339 with the agent's offset. */
  due: string | null;
  category?: string | null;
}

/** Changed fields only; "" clears phone, due and description, assignee null unassigns. */
export interface EditOrder {
  title?: string;
  priority?: Priority;
  category?: string;
  description?: string;
  phone?: string;
  due?: string;
  assignee?: string | null;
}

/** A member of the agent's teams (the assignee picker). */
export interface Teammate {
  user_id: string;
  name: string;
  team: string;
  me: boolean;
}

export interface ProblemView {
  id: number;
  order_id: string;
  number: string;
  seen: boolean;
  kind: "rejected" | "conflict";
  what: string;
  code: string;
  message: string;
  can_retry: boolean;
}
