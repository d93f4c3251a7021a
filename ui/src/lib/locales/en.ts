// English strings. Every key here must exist in zh-CN.ts (the type checker enforces it).
export const en = {
  "app.name": "Seatline",
  "app.skip_to_main": "Skip to the workspace",
  "app.loading": "Opening the workspace…",
  "app.load_failed": "The workspace could not be opened: {message}",
  "app.retry": "Try again",
  "app.shortcuts": "Shortcuts: Alt+1 phone, Alt+2 customer, Alt+3 knowledge, Alt+4 work orders",

  "status.label": "Status",
  "status.agent": "Agent",
  "status.agent_change": "Change agent state",
  "status.in_state_for": "for {time}",
  "status.pending": "then Not ready: {reason}",
  "status.phone": "Phone",
  "status.sync": "Sync",
  "status.language": "Language",
  "status.error": "Could not change state: {message}",

  "agent.ready": "Ready",
  "agent.not_ready": "Not ready",
  "agent.on_call": "On call",
  "agent.after_call_work": "After-call work",

  "reason.login": "Just logged in",
  "reason.break": "Break",
  "reason.lunch": "Lunch",
  "reason.meeting": "Meeting",
  "reason.training": "Training",
  "reason.outbound": "Outbound work",

  "phone.not_configured": "Not configured",
  "sync.not_configured": "Local only",
  "sync.not_connected": "Not connected",

  "language.system": "Follow system",
  "language.zh-CN": "中文（简体）",
  "language.en": "English",

  "panel.phone": "Phone",
  "panel.customer": "Customer",
  "panel.knowledge": "Knowledge",
  "panel.work_orders": "Work orders",

  "phone.empty_title": "No phone account yet",
  "phone.empty_body": "Add your SIP account from the center's PBX to make and take calls.",
  "phone.number": "Number to dial",
  "phone.dialpad": "Dial pad",
  "phone.call": "Call",
  "phone.clear": "Clear",

  "customer.empty_title": "No call in progress",
  "customer.empty_body": "When a call rings, the caller's record, history and open work orders appear here.",

  "knowledge.search": "Search the knowledge base",
  "knowledge.search_placeholder": "Search articles and scripts",
  "knowledge.empty_title": "The knowledge base is empty",
  "knowledge.empty_body": "Articles appear here once they are imported or synced from the server.",

  "knowledge.no_results": "No articles match “{query}”.",
  "knowledge.hint": "{count} articles. Type a word or a question; ↑↓ to choose, Enter to open.",
  "knowledge.back": "Back to results",
  "knowledge.copy": "Copy",
  "knowledge.copied": "Copied",
  "knowledge.gone": "This article is no longer in the knowledge base.",
  "notice.kb_unavailable": "The knowledge base could not be opened; search is off. ({reason})",

  "orders.empty_title": "No work orders",
  "orders.empty_body": "Complaints, repairs and callbacks you create appear here, also while offline.",
  "orders.filter": "Show",
  "orders.mine": "Mine",
  "orders.team": "My team",
  "orders.overdue": "Overdue",

  "notice.settings_set_aside": "Your settings file could not be read and was kept as {path}; defaults are in use. ({reason})",
} as const;

export type MessageKey = keyof typeof en;
