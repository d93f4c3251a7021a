// Work-order UI logic that needs no DOM: status-bar sync text, form checks, labels.
import { t } from "./i18n.svelte";
import type { MessageKey } from "./locales/en";
import type { CreateOrder, EditOrder, OrderStatus, OrderView, ProblemView, SyncView, Teammate } from "./types";

/** Longest title and description (crates/work-orders/src/mutation.rs). */
export const MAX_TITLE_CHARS = 200;
export const MAX_DESCRIPTION_CHARS = 8000;

/** The sync slot's text. `receivedAt` is when the view arrived, `now` the current time. */
export function syncText(view: SyncView, receivedAt: number, now: number): string {
  let text: string;
  switch (view.state) {
    case "not_signed_in":
      text = t("sync.not_signed_in");
      break;
    case "signed_out":
      text = t("sync.signed_out");
      break;
    case "synced":
      text = t("sync.synced");
      break;
    case "syncing":
      text = view.pending > 0 ? t("sync.pending", { count: view.pending }) : t("sync.syncing");
      break;
    case "pending":
      text = t("sync.pending", { count: view.pending });
      break;
    case "offline": {
      const left = Math.max(0, (view.retry_in_ms ?? 0) - Math.max(0, now - receivedAt));
      text = t("sync.offline", { seconds: Math.ceil(left / 1000) });
      if (view.pending > 0) text += ` · ${t("sync.pending", { count: view.pending })}`;
      break;
    }
    case "stopped":
      text = t("sync.stopped", { message: view.last_error ?? "" });
      break;
  }
  if (view.problems > 0) text += ` · ${t("sync.problems", { count: view.problems })}`;
  return text;
}

/** The colour class of the sync dot. */
export function syncDot(view: SyncView): "dot-on" | "dot-warn" | "dot-off" | "dot-bad" {
  if (view.state === "synced") return view.problems > 0 ? "dot-warn" : "dot-on";
  if (view.state === "syncing" || view.state === "pending") return "dot-warn";
  if (view.state === "offline" || view.state === "signed_out" || view.state === "stopped") return "dot-bad";
  return "dot-off";
}

export interface OrderForm {
  kind: CreateOrder["kind"];
  customer: string;
  phone: string;
  title: string;
  description: string;
  priority: CreateOrder["priority"];
  /** A datetime-local value (the agent's local time). */
  due: string;
  category: string;
}

export function emptyOrderForm(): OrderForm {
  return { kind: "complaint", customer: "", phone: "", title: "", description: "", priority: "normal", due: "",
    category: "" };
}

const pad = (n: number) => String(n).padStart(2, "0");

/** A datetime-local value ("2026-12-01T09:30") as RFC 3339 with this machine's UTC offset at
 * that moment (so the desk never has to guess the agent's time zone); null if it is not one. */
export function localToRfc3339(local: string): string | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2}))?$/.exec(local.trim());
  if (!m) return null;
  const [y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0] = m.slice(1).map((v) => Number(v ?? 0));
  const at = new Date(y, mo - 1, d, h, mi, s);
  if (Number.isNaN(at.getTime()) || at.getMonth() !== mo - 1 || at.getDate() !== d) return null;
  const offset = -at.getTimezoneOffset();
  const sign = offset < 0 ? "-" : "+";
  const abs = Math.abs(offset);
  return `${y}-${pad(mo)}-${pad(d)}T${pad(h)}:${pad(mi)}:${pad(s)}${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

/** An RFC 3339 time as a datetime-local value in local time ("" for none). */
export function toDatetimeLocal(rfc3339: string | null): string {
  if (!rfc3339) return "";
  const d = new Date(rfc3339);
  if (Number.isNaN(d.getTime())) return "";
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** Problems with the form, as messages; empty when it can be saved. */
export function checkOrderForm(form: OrderForm): string[] {
  const errors: string[] = [];
  if (!form.customer.trim()) errors.push(t("orders.required", { field: t("orders.customer") }));
  if (!form.title.trim()) errors.push(t("orders.required", { field: t("orders.title") }));
  const phone = form.phone.replace(/[\s-]/g, "");
  if (phone && !/^\+?\d{3,20}$/.test(phone)) errors.push(t("orders.bad_phone"));
  if (form.kind === "callback" && !form.due.trim()) errors.push(t("orders.callback_needs_time"));
  errors.push(...checkCommon(form));
  return errors;
}

/** Checks the create and edit forms share: lengths, the due time. */
function checkCommon(form: { title: string; description: string; due: string }): string[] {
  const errors: string[] = [];
  if (form.title.trim().length > MAX_TITLE_CHARS) {
    errors.push(t("orders.too_long", { field: t("orders.title"), max: MAX_TITLE_CHARS }));
  }
  if (form.description.length > MAX_DESCRIPTION_CHARS) {
    errors.push(t("orders.too_long", { field: t("orders.description"), max: MAX_DESCRIPTION_CHARS }));
  }
  if (form.due.trim() && !localToRfc3339(form.due)) errors.push(t("orders.bad_due"));
  return errors;
}

export function toCreateOrder(form: OrderForm): CreateOrder {
  const blank = (s: string) => (s.trim() ? s.trim() : null);
  const order: CreateOrder = {
    kind: form.kind,
    customer: form.customer.trim(),
    phone: blank(form.phone.replace(/[\s-]/g, "")),
    title: form.title.trim(),
    description: blank(form.description),
    priority: form.priority,
    due: form.due.trim() ? localToRfc3339(form.due) : null,
  };
  if (form.category.trim()) order.category = form.category.trim();
  return order;
}

/** The detail view's edit form. `assignee` is a user id, "" for unassigned. */
export interface EditForm {
  title: string;
  category: string;
  priority: OrderView["priority"];
  phone: string;
  due: string;
  description: string;
  assignee: string;
}

export function editForm(order: OrderView): EditForm {
  return {
    title: order.title,
    category: order.category ?? "",
    priority: order.priority,
    phone: order.phone ?? "",
    due: toDatetimeLocal(order.due_at ?? null),
    description: order.description ?? "",
    assignee: order.assignee ?? "",
  };
}

export function checkEditForm(form: EditForm): string[] {
  const errors: string[] = [];
  if (!form.title.trim()) errors.push(t("orders.required", { field: t("orders.title") }));
  const phone = form.phone.replace(/[\s-]/g, "");
  if (phone && !/^\+?\d{3,20}$/.test(phone)) errors.push(t("orders.bad_phone"));
  errors.push(...checkCommon(form));
  return errors;
}

/** Only what changed (each field is its own last-writer-wins write: sending unchanged values
 * would overwrite a colleague's concurrent edit for nothing). */
export function changedFields(order: OrderView, form: EditForm): EditOrder {
  const before = editForm(order);
  const edit: EditOrder = {};
  if (form.title.trim() !== before.title) edit.title = form.title.trim();
  if (form.category.trim() && form.category.trim() !== before.category) edit.category = form.category.trim();
  if (form.priority !== before.priority) edit.priority = form.priority;
  const phone = form.phone.replace(/[\s-]/g, "");
  if (phone !== before.phone.replace(/[\s-]/g, "")) edit.phone = phone;
  if (form.due.trim() !== before.due) edit.due = form.due.trim() ? (localToRfc3339(form.due) ?? "") : "";
  if (form.description.trim() !== before.description.trim()) edit.description = form.description.trim();
  if (form.assignee !== before.assignee) edit.assignee = form.assignee || null;
  return edit;
}

/** The overdue / due-soon badge of a row, if any. */
export function urgencyBadge(order: OrderView): { text: string; cls: string } | null {
  if (order.urgency === "overdue") return { text: t("orders.badge_overdue"), cls: "badge-overdue" };
  if (order.urgency === "due_soon") return { text: t("orders.badge_due_soon"), cls: "badge-due-soon" };
  return null;
}

/** The assignee's name from the teammates list, else the id; "unassigned" for none. */
export function assigneeName(assignee: string | null, teammates: Teammate[]): string {
  if (!assignee) return t("orders.unassigned");
  return teammates.find((m) => m.user_id === assignee)?.name ?? assignee;
}

export function statusLabel(status: OrderStatus): string {
  return t(`order_status.${status}` as MessageKey);
}

function label(prefix: string, name: string): string {
  const key = `${prefix}.${name}` as MessageKey;
  const text = t(key);
  return text === key ? name : text;
}

export function problemText(problem: ProblemView): string {
  if (problem.kind === "rejected") {
    return t("problems.rejected", {
      what: label("change", problem.what),
      number: problem.number,
      message: problem.message,
    });
  }
  return t("problems.conflict", {
    what: label("field", problem.what),
    number: problem.number,
    message: problem.message,
  });
}

/** "2026-11-30 14:05" in local time for an RFC 3339 string. */
export function localTime(rfc3339: string): string {
  const d = new Date(rfc3339);
  if (Number.isNaN(d.getTime())) return rfc3339;
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}
