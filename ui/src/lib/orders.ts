// Work-order UI logic that needs no DOM: status-bar sync text, form checks, labels.
import { t } from "./i18n.svelte";
import type { MessageKey } from "./locales/en";
import type { CreateOrder, OrderStatus, ProblemView, SyncView } from "./types";

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
  due: string;
}

export function emptyOrderForm(): OrderForm {
  return { kind: "complaint", customer: "", phone: "", title: "", description: "", priority: "normal", due: "" };
}

/** Problems with the form, as messages; empty when it can be saved. */
export function checkOrderForm(form: OrderForm): string[] {
  const errors: string[] = [];
  if (!form.customer.trim()) errors.push(t("orders.required", { field: t("orders.customer") }));
  if (!form.title.trim()) errors.push(t("orders.required", { field: t("orders.title") }));
  const phone = form.phone.replace(/[\s-]/g, "");
  if (phone && !/^\+?\d{3,20}$/.test(phone)) errors.push(t("orders.bad_phone"));
  if (form.kind === "callback" && !form.due.trim()) errors.push(t("orders.callback_needs_time"));
  return errors;
}

export function toCreateOrder(form: OrderForm): CreateOrder {
  const blank = (s: string) => (s.trim() ? s.trim() : null);
  return {
    kind: form.kind,
    customer: form.customer.trim(),
    phone: blank(form.phone.replace(/[\s-]/g, "")),
    title: form.title.trim(),
    description: blank(form.description),
    priority: form.priority,
    due: blank(form.due),
  };
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
