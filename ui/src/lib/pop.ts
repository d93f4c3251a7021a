// The screen pop's model: what the Rust side sends for a ringing call
// (crates/workspace/src/screen_pop.rs) and small pure helpers the customer panel uses.
import type { OrderView } from "./types";

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

export interface CustomerCard {
  customer: Customer;
  open_orders: OrderView[];
  recent_orders: OrderView[];
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
  cached_customers: number;
  lookup_us: number;
  received_at_ms: number | null;
}

export interface FeedView {
  customers: number;
  last_synced: string | null;
  last_error: string | null;
  signed_in: boolean;
}

export interface PopBackend {
  customerSearch(text: string): Promise<CustomerCard[]>;
  customerCard(id: string): Promise<CustomerCard | null>;
  customerFeed(sync: boolean): Promise<FeedView>;
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
export function attentionFirst(orders: OrderView[]): OrderView[] {
  const rank = (o: OrderView) => (o.due_state === "overdue" ? 0 : o.due_state === "due_soon" ? 1 : 2);
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
