// "Suggested for this call": the pure part. Builds the call context the shell's `kb_suggest`
// takes from the live call (IVR data), the caller's open work orders and what the agent is
// typing, and refreshes suggestions with a debounce, dropping answers to stale requests.
import { writable } from "svelte/store";
import type { CallView } from "./phone";
import type { CallContext, KbSuggestion, OpenOrderContext, OrderView } from "./types";

/** What the agent is typing in a work-order form or note, published by those components. */
export interface TypingDraft {
  source: "order_form" | "order_note";
  /** The phone number on the form or order (the caller's, usually). */
  phone: string | null;
  /** The order being edited, if any (its title and kind label). */
  title: string;
  category: string;
  /** The free text being typed (description or note). */
  text: string;
}

/** The draft being typed now; null when no form or note is open. */
export const typingDraft = writable<TypingDraft | null>(null);

/** Text the knowledge panel asks the open form or note to insert ("insert into notes"). */
export interface NoteInsertion {
  /** Increases with every request, so the same text can be inserted twice. */
  seq: number;
  /** Which draft receives it: the one that was open when the agent clicked. */
  target: TypingDraft["source"];
  text: string;
}

export const noteInsertions = writable<NoteInsertion | null>(null);

let insertionSeq = 0;

/** Asks the open form or note (if any) to append `text`; false when none is open. */
export function insertIntoNotes(draft: TypingDraft | null, text: string): boolean {
  if (!draft || !text.trim()) return false;
  insertionSeq += 1;
  noteInsertions.set({ seq: insertionSeq, target: draft.source, text });
  return true;
}

/** `current` with `text` appended on a line of its own. */
export function appendToNote(current: string, text: string): string {
  const body = text.trim();
  if (!current.trim()) return body;
  return current.endsWith("\n") ? current + body : `${current}\n${body}`;
}

/** The insertion `target` should apply now, if a new one arrived since `lastSeq`. */
export function pendingInsertion(
  insertion: NoteInsertion | null,
  target: TypingDraft["source"],
  lastSeq: number,
): NoteInsertion | null {
  return insertion && insertion.target === target && insertion.seq > lastSeq ? insertion : null;
}

/** IVR field names that carry the menu path rather than data. */
const MENU_KEY = /(path|menu|route|navigation|selection|菜单|路径)/i;
/** Separators IVR platforms put between menu levels. */
const MENU_SEPARATOR = /\s*(?:\/|>|\||→|»|›|;|；|,|，|、)\s*/;

/** The IVR menu path from the call's IVR fields, in order, e.g. ["账单查询", "退款"]. */
export function ivrMenuPath(ivr: Record<string, string>): string[] {
  const path: string[] = [];
  for (const [key, value] of Object.entries(ivr)) {
    if (!MENU_KEY.test(key)) continue;
    for (const part of value.split(MENU_SEPARATOR)) {
      const item = part.trim();
      // Digit-only parts are key presses, not menu names.
      if (item && !/^[\d*#]+$/.test(item)) path.push(item);
    }
  }
  return path;
}

/** IVR fields other than the menu path. */
export function ivrDataFields(ivr: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(ivr)) {
    if (!MENU_KEY.test(key) && value.trim()) out[key] = value.trim();
  }
  return out;
}

/** Digits of a phone number with a mainland country prefix dropped, for comparison. */
export function phoneKey(number: string | null | undefined): string {
  if (!number) return "";
  // Caller numbers may come as SIP URIs: keep the user part.
  const user = number.replace(/^(sips?|tel):/i, "").split("@")[0] ?? "";
  let digits = user.replace(/\D/g, "");
  if (digits.startsWith("0086")) digits = digits.slice(4);
  else if (digits.startsWith("86") && digits.length === 13) digits = digits.slice(2);
  return digits;
}

/** True when two numbers are the same line (equal, or one ends with the other's last 8+ digits). */
export function samePhone(a: string | null | undefined, b: string | null | undefined): boolean {
  const x = phoneKey(a);
  const y = phoneKey(b);
  if (!x || !y) return false;
  if (x === y) return true;
  const shorter = x.length < y.length ? x : y;
  const longer = x.length < y.length ? y : x;
  return shorter.length >= 8 && longer.endsWith(shorter);
}

/** The number of the other party of a call. */
export function callNumber(call: CallView | null): string | null {
  if (!call) return null;
  return call.caller?.number ?? (call.direction === "outgoing" ? call.peer : null);
}

/** The call the agent is on: an active one first, else one ringing or being dialled. */
export function liveCall(calls: CallView[]): CallView | null {
  const live = calls.filter((c) => c.phase !== "ended");
  return (
    live.find((c) => c.phase === "active" && !c.localHold) ??
    live.find((c) => c.phase === "active") ??
    live.find((c) => c.phase === "ringing" && !c.waiting) ??
    live[0] ??
    null
  );
}

const OPEN = new Set<OrderView["status"]>(["new", "in_progress", "waiting_on_customer"]);
const MAX_ORDERS = 5;

/** The caller's open orders as context, most recently changed first. */
export function openOrdersFor(
  orders: OrderView[],
  number: string | null,
  kindLabel: (kind: OrderView["kind"]) => string,
): OpenOrderContext[] {
  if (!number) return [];
  return orders
    .filter((o) => OPEN.has(o.status) && samePhone(o.phone, number))
    .sort((a, b) => b.updated_at.localeCompare(a.updated_at))
    .slice(0, MAX_ORDERS)
    .map((o) => ({
      title: o.title,
      category: kindLabel(o.kind),
      notes: o.notes.map((n) => n.text).join("\n"),
    }));
}

export interface ContextSources {
  call: CallView | null;
  /** Open orders of the caller (see openOrdersFor). */
  orders: OpenOrderContext[];
  draft: TypingDraft | null;
  customerTags?: string[];
}

/** The context to send, from the live call, the caller's open orders and the draft. */
export function buildCallContext({ call, orders, draft, customerTags = [] }: ContextSources): CallContext {
  const ivr = call?.caller?.ivr ?? {};
  const openOrders = [...orders];
  // The order whose note is being typed is part of this call even when not matched by phone.
  if (draft?.source === "order_note" && draft.title.trim()) {
    const already = openOrders.some((o) => o.title === draft.title);
    if (!already) openOrders.unshift({ title: draft.title, category: draft.category, notes: "" });
  }
  const notes =
    draft?.source === "order_form" ? [draft.title, draft.text].filter((s) => s.trim()).join("\n") : (draft?.text ?? "");
  return {
    ivrPath: ivrMenuPath(ivr),
    ivrData: ivrDataFields(ivr),
    openOrders,
    notes: notes.trim(),
    customerTags,
  };
}

/** True when the context holds nothing to suggest from. */
export function isEmptyContext(ctx: CallContext): boolean {
  return (
    ctx.ivrPath.length === 0 &&
    Object.keys(ctx.ivrData).length === 0 &&
    ctx.openOrders.length === 0 &&
    !ctx.notes.trim() &&
    ctx.customerTags.length === 0
  );
}

/** Suggestions show when the search box is empty and there is a call or an order form open. */
export function showSuggestions(query: string, call: CallView | null, draft: TypingDraft | null): boolean {
  return !query.trim() && (call !== null || draft?.source === "order_form");
}

/**
 * Refreshes suggestions as the context changes: waits `delayMs` after the last change, skips
 * a context equal to the last one sent, and ignores answers to requests that a newer one
 * replaced (they may arrive late). `onResult(null)` clears the list for an empty context.
 */
export function createSuggestRefresher(
  fetch: (ctx: CallContext) => Promise<KbSuggestion[]>,
  onResult: (suggestions: KbSuggestion[] | null) => void,
  onError: (error: unknown) => void,
  delayMs = 400,
) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let sequence = 0;
  let lastKey = "";
  return {
    update(ctx: CallContext | null) {
      clearTimeout(timer);
      if (!ctx || isEmptyContext(ctx)) {
        sequence++;
        lastKey = "";
        onResult(null);
        return;
      }
      const key = JSON.stringify(ctx);
      if (key === lastKey) return;
      timer = setTimeout(async () => {
        const mine = ++sequence;
        lastKey = key;
        try {
          const result = await fetch(ctx);
          if (mine === sequence) onResult(result);
        } catch (error) {
          if (mine === sequence) {
            lastKey = "";
            onError(error);
          }
        }
      }, delayMs);
    },
    stop() {
      clearTimeout(timer);
      sequence++;
    },
  };
}
