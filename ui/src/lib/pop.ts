// The screen pop's model: what the Rust side sends for a ringing call
// (crates/workspace/src/screen_pop.rs) and small pure helpers the customer panel uses.
import type { AgentView, OrderView } from "./types";
import type { Playbook } from "./playbook.svelte";
import type { LoggedQuality } from "./phone";

export interface Customer {
  id: string;
  name: string;
  phones: string[];
  email: string | null;
  tier: string;
  tags: string[];
  notes: string;
  updated_at: string;
}

export interface CallRecord {
  id: string;
  direction: "incoming" | "outgoing";
  number: string | null;
  display_name: string | null;
  e164: string | null;
  customer_id: string | null;
  customer_name: string | null;
  ivr: Record<string, string>;
  ring_at: number;
  answer_at: number | null;
  end_at: number | null;
  hold_ms: number;
  transferred_to: string | null;
  end_reason: string | null;
  wrap_up_code: string | null;
  wrap_up_at: number | null;
  notes: string;
  /** Why the server refused this call, if it did (the call stays on the desktop). */
  sync_error?: string | null;
  /** The caller's survey score (1-5), once the server has one. */
  satisfaction?: number | null;
  /** Handled at a colleague's desk (from the server's call log). */
  colleague?: boolean;
  /** The call's final media quality, when the phone measured one. */
  quality?: LoggedQuality | null;
}

/** An unknown caller to add as a customer (pre-filled from the call). */
export interface NewCustomer {
  name: string;
  phones: string[];
  email: string | null;
  notes: string | null;
}

/** A customer's calls at every desk (crates/workspace screen_pop.rs CallHistory). */
export interface CallHistory {
  calls: CallRecord[];
  /** The server's call log was read (otherwise: this desk's calls only). */
  from_server: boolean;
  error: string | null;
}

export interface DayFigures {
  calls: number;
  handled: number;
  missed: number;
  average_handle_s: number;
  after_call_work_s: number;
  without_wrap_up: number;
  /** Calls the callers scored in the center's survey, and their average (1-5). */
  scored?: number;
  average_score?: number | null;
}

/** An order as a pop card lists it: headline fields only (no notes or history). */
export type OrderBrief = Pick<OrderView, "id" | "number" | "kind" | "customer" | "title" | "priority" | "status" | "phone" | "due" | "due_at" | "due_state" | "updated_at">;

export interface CustomerCard {
  customer: Customer;
  open_orders: OrderBrief[];
  recent_orders: OrderBrief[];
  /** Optional so cards built elsewhere (tests, the mock) need not carry it. */
  recent_calls?: CallRecord[];
}

export interface CallerView {
  raw: string | null;
  e164: string | null;
  display: string | null;
  display_name: string | null;
  withheld: boolean;
  internal: boolean;
  unreadable: string | null;
}

export type MatchedBy = { by: "number" } | { by: "ivr"; field: string } | { by: "nothing" };

export interface Pop {
  call: string | null;
  caller: CallerView;
  matched_by: MatchedBy;
  cards: CustomerCard[];
  ivr: { name: string; value: string }[];
  /** null: the first count after start-up is still running (the cache is not empty). */
  cached_customers: number | null;
  lookup_us: number;
  received_at_ms: number | null;
}

/** A callback promised at wrap-up: becomes a callback work order. */
export interface CallbackPromise {
  /** RFC 3339 with the agent's offset. */
  due: string;
  title?: string | null;
  note?: string | null;
}

export interface WrapUpDone {
  call: CallRecord;
  agent: AgentView;
  /** The callback order, when one was promised. */
  callback?: OrderView | null;
}

/** The agent's callbacks due today and those open past their time. */
export interface CallbackFigures {
  due: number;
  kept_on_time: number;
  late: number;
  overdue_open: number;
}

export interface FeedView {
  customers: number;
  last_synced: string | null;
  last_error: string | null;
  signed_in: boolean;
  /** The call log's upload to the server. */
  calls?: { calls_waiting: number; calls_refused: number; states_waiting: number };
  calls_error?: string | null;
  /** The center's knowledge base on this desk: server revision held (0: none), articles. */
  kb_revision?: number;
  kb_articles?: number;
  kb_error?: string | null;
}

export interface PopBackend {
  customerSearch(text: string): Promise<CustomerCard[]>;
  customerCard(id: string): Promise<CustomerCard | null>;
  customerFeed(sync: boolean): Promise<FeedView>;
  /** The agent picked this customer for the call (a shared number). */
  customerChoose(call: string, id: string): Promise<void>;
  /** Code (required) and notes for a call; leaves after-call work. */
  callWrapUp(call: string, code: string, notes: string, callback?: CallbackPromise | null): Promise<WrapUpDone>;
  callFigures(since: number): Promise<DayFigures>;
  callbackFigures(since: number, until: number): Promise<CallbackFigures>;
  /** Adds an unknown caller as a (standard) customer and links the call to it. */
  customerCreate(customer: NewCustomer, call: string | null): Promise<CustomerCard>;
  /** A customer's latest calls at every desk (this desk's alone when the server is away). */
  customerHistory(id: string): Promise<CallHistory>;
  /** The center's playbook in use (wrap-up codes, reasons, phrases). */
  playbook(): Promise<Playbook>;
  /** A supervisor's edit, saved on the server (code `conflict` when someone saved since it was
   * loaded, `invalid` with every problem, `forbidden` for an agent) and in use at once. */
  savePlaybook(edit: Playbook): Promise<Playbook>;
  /** Calls `handler` when a pull brought a new playbook; resolves to an unsubscribe function. */
  onPlaybook(handler: (book: Playbook) => void): Promise<() => void>;
  /** The center's call-quality report for a period, read live from the server (supervisors:
   * their teams; admins: the center; agents: their own calls). Codes: `forbidden`, `invalid`,
   * `unreachable`, `not_signed_in`. */
  callQualityReport(request: QualityReportRequest): Promise<QualityReport>;
}

/** What the call-quality report covers (crates/workspace `quality_report::ReportRequest`):
 * calls that rang in [since, before), unix ms. */
export interface QualityReportRequest {
  since: number;
  before: number;
  agent_id?: string | null;
  limit?: number | null;
}

/** One agent's calls in the report's period (crates/server `call_quality::AgentQuality`). */
export interface AgentQuality {
  agent_id: string;
  display_name: string;
  calls: number;
  measured: number;
  poor: number;
  mean_mos: number | null;
  worst_mos: number | null;
  mean_loss_percent: number | null;
  max_loss_percent: number | null;
  mean_remote_loss_percent: number | null;
  mean_jitter_ms: number | null;
  mean_rtt_ms: number | null;
}

/** A poor call as the report lists it. */
export interface PoorCall {
  agent_id: string;
  id: string;
  direction: string;
  number: string | null;
  display_name: string | null;
  customer_id: string | null;
  ring_at: number;
  answer_at: number | null;
  end_at: number | null;
  wrap_up_code: string | null;
  quality: LoggedQuality | null;
}

export interface QualityReport {
  since: number | null;
  before: number | null;
  /** Calls below this MOS are poor (the same line the call history draws). */
  poor_mos_below: number;
  /** Most poor calls first. */
  agents: AgentQuality[];
  /** Worst first. */
  poor_calls: PoorCall[];
}


/** Local midnight of `now`, for "today's" figures. */
export function startOfDay(now: Date): number {
  return new Date(now.getFullYear(), now.getMonth(), now.getDate()).getTime();
}

/** Seconds as m:ss. */
export function minutes(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

/** Tiers shown as a VIP badge. */
const VIP_TIERS = new Set(["vip", "gold", "platinum", "diamond", "svip"]);

export function isVip(tier: string): boolean {
  return VIP_TIERS.has(tier.trim().toLowerCase());
}

/** The number to show for the caller: the readable form, else what the PBX sent. */
export function callerNumber(caller: CallerView): string | null {
  return caller.display ?? caller.raw;
}

/** Open orders that need attention first: overdue, then due soon, then the rest (stable). */
export function attentionFirst<T extends Pick<OrderView, "due_state">>(orders: T[]): T[] {
  const rank = (o: T) => (o.due_state === "overdue" ? 0 : o.due_state === "due_soon" ? 1 : 2);
  return orders
    .map((order, index) => ({ order, index }))
    .sort((a, b) => rank(a.order) - rank(b.order) || a.index - b.index)
    .map((x) => x.order);
}

/**
 * Milliseconds from the ringing event reaching the app to now (the pop on screen), or null
 * when the pop did not come from a call. Negative clock steps read as 0.
 */
export function popLatencyMs(pop: Pop, now: number): number | null {
  if (pop.received_at_ms == null) return null;
  return Math.max(0, now - pop.received_at_ms);
}
