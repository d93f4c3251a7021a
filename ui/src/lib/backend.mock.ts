// A stand-in for the Rust shell, used only by `vite --mode mock` (the Playwright flow tests and
// UI work without a Rust build). It keeps the same rules as the real agent-state machine for
// the transitions the UI offers, and remembers the language choice for the page's lifetime.
import type { Backend } from "./backend";
import { createMockPhone } from "./phone.mock";
import { createMockRecordings, type RecordingEntry } from "./recordings";

/** The demo desk's recordings (what crates/recordings lists from sidecars). */
export const demoRecordings: RecordingEntry[] = [
  {
    id: "20261130T123000Z-a1.wav",
    bytes: 480_044,
    duration_ms: 30_000,
    unfinished: false,
    meta: {
      version: 1, call_id: "a1@pbx", direction: "inbound", remote_number: "+8613800138000", display_name: "张伟",
      customer_id: "c-1", started_at: "2026-11-30T12:30:00Z", ended_at: "2026-11-30T12:30:30Z", codec: "PCMU/8000",
      sample_rate: 8000, paused: [{ start_ms: 10_000, end_ms: 18_000 }], error: null,
    },
  },
  {
    id: "20261129T080000Z-b2.wav",
    bytes: 160_044,
    duration_ms: 10_000,
    unfinished: true,
    meta: {
      version: 1, call_id: "b2@pbx", direction: "outbound", remote_number: "+862155550000", display_name: "李娜",
      customer_id: "c-2", started_at: "2026-11-29T08:00:00Z", ended_at: null, codec: "opus/48000",
      sample_rate: 48000, paused: [], error: null,
    },
  },
];
import { createMockDesktop } from "./desktop.mock";
import { createMockAudio } from "./audio.mock";
import type { CallerIdentity } from "./phone";
import type { AgentQuality, CallRecord, Customer, CustomerCard, Pop, PoorCall, QualityReport } from "./pop";
import type { Playbook } from "./playbook.svelte";
import type {
  AgentView,
  AppInfo,
  EditableArticle,
  KbArticle,
  LanguagePref,
  OrderStatus,
  OrderView,
  SessionView,
  SyncView,
  WorkspaceStatus,
} from "./types";

// The domain's status machine (crates/work-orders/src/status.rs).
const NEXT: Record<OrderStatus, OrderStatus[]> = {
  new: ["in_progress"],
  in_progress: ["waiting_on_customer", "resolved"],
  waiting_on_customer: ["in_progress"],
  resolved: ["closed"],
  closed: [],
};

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

const mockCustomers: Customer[] = [
  { id: "c-1", name: "张伟", phones: ["+8613800138000", "010-62345678"], email: "zhang.wei@example.com", tier: "vip", tags: ["宽带", "投诉多"], notes: "偏好下午回电。", updated_at: "2026-11-20T10:00:00Z" },
  { id: "c-2", name: "李娜", phones: ["021-55550000"], email: null, tier: "standard", tags: [], notes: "", updated_at: "2026-11-20T10:00:00Z" },
  { id: "c-3", name: "王芳", phones: ["021-55550000", "+8615012345678"], email: null, tier: "gold", tags: ["企业客户"], notes: "", updated_at: "2026-11-20T10:00:00Z" },
];

const label = (en: string, zh: string) => ({ en, "zh-CN": zh });

/** The built-in playbook of crates/playbook (Playbook::default), for the browser preview and tests. */
export const MOCK_PLAYBOOK: Playbook = {
  revision: 0,
  wrap_up_codes: [
    ["resolved", "Resolved on the call", "通话中已解决"],
    ["information", "Information given", "已提供信息"],
    ["complaint_logged", "Complaint logged", "已登记投诉"],
    ["repair_logged", "Repair logged", "已登记报修"],
    ["callback_promised", "Callback promised", "已承诺回电"],
    ["transferred", "Transferred", "已转接"],
    ["wrong_number", "Wrong number", "打错电话"],
    ["other", "Other", "其他"],
  ].map(([code, en, zh]) => ({ code: code!, labels: label(en!, zh!), promises_callback: code === "callback_promised" })),
  not_ready_reasons: [
    ["break", "Break", "小休"],
    ["lunch", "Lunch", "用餐"],
    ["meeting", "Meeting", "会议"],
    ["training", "Training", "培训"],
    ["outbound", "Outbound work", "外呼工作"],
  ].map(([code, en, zh]) => ({ code: code!, labels: label(en!, zh!) })),
  phrases: [
    { category: "greeting", lang: "en", text: "Thank you for calling, this is {agent}. How may I help you?" },
    { category: "greeting", lang: "zh-CN", text: "您好，很高兴为您服务，我是{agent}，请问有什么可以帮您？" },
    { category: "hold", lang: "en", text: "May I put you on hold for a moment while I check this?" },
    { category: "hold", lang: "zh-CN", text: "请您稍等，我帮您查询一下。" },
    { category: "closing", lang: "en", text: "Is there anything else I can help you with? Thank you for calling, goodbye." },
    { category: "closing", lang: "zh-CN", text: "请问还有其他可以帮您的吗？感谢您的来电，再见。" },
  ],
  after_call_work: true,
  after_call_work_limit_s: 120,
};

export function createMockBackend(osLocale = navigator.language): Backend {
  const reasons = MOCK_PLAYBOOK.not_ready_reasons.map((r) => r.code);
  // The server's copy of the playbook (a supervisor's save replaces it).
  let book: Playbook = structuredClone(MOCK_PLAYBOOK);
  // The center's knowledge base: this backend's own copy (supervisors edit it), each article
  // at the revision it last took, and the center's revision.
  let kb: EditableArticle[] = mockArticles.map((a, i) => ({ ...structuredClone(a), revision: i + 1 }));
  let kbRevision = kb.length;
  let nextArticle = 1;
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
    kb_articles: kb.length,
  });
  // Work orders: the mock has no server, so it is always offline and every change stays pending.
  let session: SessionView | null = null;
  const hint = { server_url: "http://127.0.0.1:18080", tenant: "demo", username: "agent" };
  const orders: OrderView[] = [];
  // Changes in the outbox (the real status bar counts changes, not orders).
  let changes = 0;
  const syncHandlers = new Set<(view: SyncView) => void>();
  const syncView = (): SyncView => {
    const pending = changes;
    return session?.signed_in
      ? { state: "offline", pending, problems: 0, retry_in_ms: 8_000, last_synced: null,
          last_error: "cannot reach the server (mock)", signed_out_reason: null }
      : { state: session ? "signed_out" : "not_signed_in", pending, problems: 0, retry_in_ms: null,
          last_synced: null, last_error: null, signed_out_reason: session ? "logged_out" : null };
  };
  const currentSession = (): SessionView =>
    session ? { ...session, sync: syncView() } : { hint, account: null, signed_in: false, keychain_warning: null, sync: syncView() };
  const publish = () => syncHandlers.forEach((h) => h(syncView()));
  const find = (id: string) => {
    const order = orders.find((o) => o.id === id);
    if (!order) throw { code: "unknown_order", message: `work order ${id} is not on this desktop` };
    return order;
  };
  const touch = (order: OrderView, count = 1) => {
    changes += count;
    order.pending = true;
    order.updated_at = new Date().toISOString();
    order.next_statuses = NEXT[order.status];
    order.can_reopen = order.status === "resolved" || order.status === "closed";
    publish();
    return structuredClone(order);
  };
  // The desk's rule for an order's own due time: overdue once passed, due soon within an hour.
  const mockUrgency = (order: OrderView) => {
    const due = order.due_at ? new Date(order.due_at).getTime() : null;
    const open = order.status !== "resolved" && order.status !== "closed";
    if (due === null || !open) {
      order.due_state = null;
      order.urgency = "normal";
      order.next_deadline = null;
    } else {
      const left = due - Date.now();
      order.due_state = left < 0 ? "overdue" : left <= 3_600_000 ? "due_soon" : "on_track";
      order.urgency = order.due_state === "on_track" ? "normal" : order.due_state;
      order.next_deadline = order.due_at;
    }
    return order;
  };
  // The customer cache: a few customers; a ringing number pops the ones it belongs to.
  const customers: CustomerCard[] = mockCustomers.map((customer) => ({ customer, open_orders: [], recent_orders: [] }));
  const withOrders = (card: CustomerCard): CustomerCard => ({
    ...card,
    open_orders: orders.filter((o) => (o.customer === card.customer.name || o.customer === card.customer.id) && o.status !== "resolved" && o.status !== "closed"),
  });
  const digits = (n: string) => n.replace(/\D/g, "").replace(/^(86|0)/, "");
  const popFor = (call: string, caller: CallerIdentity): Pop => {
    const number = caller.number ?? "";
    const cards = caller.withheld || !number ? [] : customers.filter((c) => c.customer.phones.some((p) => digits(p) === digits(number))).map(withOrders);
    return {
      call,
      caller: { raw: caller.number, e164: null, display: number || null, display_name: caller.display_name, withheld: caller.withheld, internal: digits(number).length <= 6 && digits(number).length > 0, unreadable: null },
      matched_by: cards.length > 0 ? { by: "number" } : { by: "nothing" },
      cards,
      ivr: Object.entries(caller.ivr).map(([name, value]) => ({ name, value })),
      cached_customers: customers.length,
      lookup_us: 50,
      received_at_ms: Date.now(),
    };
  };
  const phone = createMockPhone(300, popFor);
  const wrapped: CallRecord[] = [];
  const callbacks: { due: number; kept: boolean }[] = [];
  const backend: Backend = {
    ...phone,
    ...createMockDesktop(),
    ...createMockAudio(),
    ...createMockRecordings(demoRecordings, [{ file: "broken.wav", reason: "sidecar is not valid: EOF while parsing" }]),
    customerSearch: async (text) => customers.filter((c) => c.customer.name.includes(text) || c.customer.phones.some((p) => digits(p).includes(digits(text) || "\u0000"))).map(withOrders),
    customerCard: async (id) => {
      const card = customers.find((c) => c.customer.id === id);
      return card ? withOrders(card) : null;
    },
    customerChoose: async () => {},
    callWrapUp: async (call, code, notes, callback) => {
      if (!code.trim()) throw { code: "invalid", message: "a wrap-up code is required" };
      if (!MOCK_PLAYBOOK.wrap_up_codes.some((c) => c.code === code)) throw { code: "invalid", message: `"${code}" is not one of the center's wrap-up codes` };
      const now = Date.now();
      let promised: OrderView | null = null;
      if (callback) {
        if (Number.isNaN(Date.parse(callback.due))) throw { code: "invalid", message: `cannot read the due time ${callback.due}` };
        promised = await backend.createOrder({ kind: "callback", customer: "张伟", phone: "+8613800138000",
          title: callback.title ?? "Callback", description: callback.note ?? null, priority: "normal", due: callback.due });
        callbacks.push({ due: Date.parse(callback.due), kept: false });
      }
      if (agent.state.kind === "after_call_work") agent = { ...agent, state: { kind: "ready" }, since: now };
      wrapped.push({ id: call, direction: "incoming", number: null, display_name: null, e164: null, customer_id: null,
        customer_name: null, ivr: {}, ring_at: now, answer_at: now, end_at: now, hold_ms: 0, transferred_to: null,
        end_reason: "remote_hangup", wrap_up_code: code, wrap_up_at: now, notes });
      return { call: wrapped[wrapped.length - 1]!, agent, callback: promised };
    },
    callbackFigures: async (since, until) => {
      const now = Date.now();
      const due = callbacks.filter((c) => c.due >= since && c.due < until);
      return { due: due.length, kept_on_time: due.filter((c) => c.kept).length,
        late: due.filter((c) => !c.kept && c.due < now).length,
        overdue_open: callbacks.filter((c) => !c.kept && c.due < now).length };
    },
    uiReady: async () => {},
    callFigures: async () => ({ calls: wrapped.length, handled: wrapped.length, missed: 0, average_handle_s: 0, after_call_work_s: 0, without_wrap_up: 0 }),
    onAgent: async () => () => {},
    playbook: async () => structuredClone(book),
    savePlaybook: async (edit) => {
      // The server's rules as the shell reports them: role, stale revision, problems.
      if (!session?.signed_in) throw { code: "not_signed_in", message: "sign in to the central server first" };
      if (session.account?.role === "agent") throw { code: "forbidden", message: "the server refused the playbook request (403): changing the playbook needs the supervisor role" };
      const problems: string[] = [];
      if (edit.wrap_up_codes.length === 0) problems.push("at least one wrap-up code is needed (wrap-up requires one)");
      for (const c of [...edit.wrap_up_codes, ...edit.not_ready_reasons])
        if (!/^[a-z0-9_-]{1,40}$/.test(c.code)) problems.push(`code ${JSON.stringify(c.code)} may only use a-z, 0-9, '_' and '-'`);
      if (problems.length) throw { code: "invalid", message: `the playbook cannot be saved: the playbook is not valid: ${problems.join("; ")}` };
      if (edit.revision !== book.revision)
        throw { code: "conflict", message: `the playbook was edited from revision ${edit.revision}, but the server holds revision ${book.revision}: reload it and apply your change again` };
      book = { ...structuredClone(edit), revision: book.revision + 1 };
      return structuredClone(book);
    },
    customerCreate: async (customer) => {
      if (!session?.signed_in) throw { code: "not_signed_in", message: "sign in to the central server first" };
      if (!customer.name.trim()) throw { code: "invalid", message: "the customer's name is required" };
      const made: Customer = { id: `c-${customers.length + 1}`, name: customer.name.trim(), phones: customer.phones, email: customer.email,
        tier: "standard", tags: [], notes: customer.notes ?? "", updated_at: new Date().toISOString() };
      const card: CustomerCard = { customer: made, open_orders: [], recent_orders: [] };
      customers.push(card);
      return withOrders(card);
    },
    customerHistory: async (id) => ({
      calls: wrapped.filter((c) => c.customer_id === id).reverse(),
      from_server: false,
      error: null,
    }),
    onPlaybook: async () => () => {},
    callQualityReport: async (request) => {
      if (!session?.signed_in) throw { code: "not_signed_in", message: "sign in to the central server first" };
      if (request.since >= request.before) throw { code: "invalid", message: "the report's period is not valid: the period must start before it ends" };
      const role = session.account?.role;
      if (role === "agent" && request.agent_id && request.agent_id !== "mock-user")
        throw { code: "forbidden", message: "the server refused the call-quality report (403): you may not read another agent's call quality outside your teams" };
      return qualityReport(request.since, request.before, role === "agent" ? "mock-user" : (request.agent_id ?? null), request.limit ?? 50);
    },
    customerFeed: async () => ({ customers: customers.length, last_synced: null, last_error: null, signed_in: session?.signed_in ?? false }),
    session: async () => currentSession(),
    login: async (request) => {
      if (request.password !== "demo") throw { code: "bad_credentials", message: "wrong tenant, user name or password" };
      session = {
        hint,
        account: { server_url: request.server_url, tenant: request.tenant, username: request.username,
          user_id: "mock-user", display_name: request.username,
          role: request.username === "lead" ? "supervisor" : "agent",
          teams: [{ id: "mock-team", name: "Front line" }] },
        signed_in: true, keychain_warning: null, sync: syncView(),
      };
      publish();
      return currentSession();
    },
    logout: async (force) => {
      const pending = changes;
      if (pending > 0 && !force) throw { code: "unsynced_changes", message: `${pending} change(s) have not reached the server yet` };
      if (session) session = { ...session, signed_in: false };
      publish();
      return currentSession();
    },
    syncNow: async () => publish(),
    onSync: async (handler) => {
      syncHandlers.add(handler);
      return () => syncHandlers.delete(handler);
    },
    listOrders: async (query) => {
      const q = query.search?.trim().toLowerCase();
      return orders
        .map((o) => mockUrgency(o))
        .filter((o) => (query.view === "mine" ? o.mine : true))
        .filter((o) => (query.view === "overdue" ? o.urgency === "overdue" : true))
        .filter((o) => (query.view === "due_soon" ? o.urgency === "due_soon" : true))
        .filter((o) => !query.status || o.status === query.status)
        .filter((o) => !query.kind || o.kind === query.kind)
        .filter((o) => !q || `${o.customer} ${o.number} ${o.title} ${o.phone ?? ""}`.toLowerCase().includes(q))
        .map((o) => structuredClone(o));
    },
    getOrder: async (id) => structuredClone(find(id)),
    createOrder: async (order) => {
      if (!session) throw { code: "not_signed_in", message: "sign in to the central server first" };
      const id = crypto.randomUUID();
      const now = new Date().toISOString();
      const kind = order.kind === "complaint_complex" ? "complaint" : order.kind;
      const view: OrderView = {
        id, number: id.replace(/-/g, "").slice(-8).toUpperCase(), kind,
        customer: order.customer, title: order.title, category: order.category || kind,
        description: order.description ?? "", priority: order.priority, status: "new",
        team: "mock-team", team_name: "Front line", assignee: "mock-user", mine: true,
        phone: order.phone, due: order.due, due_at: order.due ? new Date(order.due).toISOString() : null,
        urgency: "normal", due_state: null, next_deadline: null,
        created_at: now, updated_at: now, pending: true,
        next_statuses: NEXT.new, can_reopen: false, notes: [], history: [],
      };
      mockUrgency(view);
      orders.unshift(view);
      return touch(view);
    },
    editOrder: async (id, edit) => {
      const order = find(id);
      if (edit.title) order.title = edit.title;
      if (edit.priority) order.priority = edit.priority;
      if (edit.category) order.category = edit.category;
      if (edit.description !== undefined) order.description = edit.description;
      if (edit.phone !== undefined) order.phone = edit.phone || null;
      if (edit.due !== undefined) {
        order.due = edit.due || null;
        order.due_at = edit.due ? new Date(edit.due).toISOString() : null;
      }
      if (edit.assignee !== undefined) {
        order.assignee = edit.assignee === "me" ? "mock-user" : edit.assignee;
        order.mine = order.assignee === "mock-user";
      }
      mockUrgency(order);
      return touch(order);
    },
    addNote: async (id, text) => {
      const order = find(id);
      order.notes.push({ author: "mock-user", at: new Date().toISOString(), text });
      return touch(order);
    },
    changeStatus: async (id, to) => {
      const order = find(id);
      const reopen = order.can_reopen && to === "in_progress";
      if (!reopen && !NEXT[order.status].includes(to)) {
        throw { code: "rejected", message: `changing status from ${order.status} to ${to} is not allowed` };
      }
      order.history.push({ from: order.status, to, reopen, at: new Date().toISOString(), by: "mock-user" });
      order.status = to;
      return touch(order);
    },
    problems: async () => [],
    teammates: async () => [
      { user_id: "mock-user", name: session?.account?.display_name ?? "me", team: "mock-team", me: true },
      { user_id: "mock-colleague", name: "Wang Fang", team: "mock-team", me: false },
    ],
    dismissProblem: async () => {},
    retryProblem: async () => {},
    appInfo: async () => info(),
    workspaceStatus: async () => status(),
    setLanguage: async (language) => {
      pref = language;
      return info();
    },
    kbSearch: async (query, limit = 20, tag = null) => {
      const q = query.trim().toLowerCase();
      const tagged = tag ? kb.filter((a) => a.tags.includes(tag)) : kb;
      if (!q) {
        if (!tag) return [];
        return [...tagged]
          .sort((a, b) => (a.title < b.title ? -1 : a.title > b.title ? 1 : 0))
          .slice(0, limit)
          .map((a) => ({ id: a.id, title: a.title, score: 0, snippet: escapeHtml(a.body) }));
      }
      return tagged
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
    kbArticle: async (id) => {
      const held = kb.find((a) => a.id === id);
      if (!held) return null;
      const { revision: _r, ...article } = held;
      return structuredClone(article);
    },
    kbEditable: async (id) => structuredClone(kb.find((a) => a.id === id) ?? null),
    kbSaveArticle: async (edit) => {
      // The desk's checks and the server's rules as the shell reports them.
      if (!session?.signed_in) throw { code: "not_signed_in", message: "sign in to the central server first" };
      const title = edit.title.trim();
      if (!title) throw { code: "invalid", message: "the article cannot be saved: the title is empty" };
      if (!edit.body.trim()) throw { code: "invalid", message: "the article cannot be saved: the article has no text" };
      if (session.account?.role === "agent")
        throw { code: "forbidden", message: "the server refused the knowledge-base request (403): publishing knowledge-base articles needs the supervisor role" };
      const id = edit.id.trim() || `kb-mock-${nextArticle++}`;
      const held = kb.find((a) => a.id === id);
      const base = edit.id.trim() ? edit.revision : 0;
      if ((held?.revision ?? 0) !== base) {
        throw held
          ? { code: "conflict", message: `someone else changed the article since you opened it (the center holds revision ${held.revision} now): reload it and apply your change again` }
          : { code: "conflict", message: "someone else deleted the article since you opened it: save it as a new article to keep your text" };
      }
      kbRevision += 1;
      const saved: EditableArticle = { id, title, body: edit.body, tags: edit.tags.map((t) => t.trim()).filter(Boolean), lang: edit.lang, revision: kbRevision };
      kb = [...kb.filter((a) => a.id !== id), saved];
      return { id, revision: kbRevision, indexed: true };
    },
    kbDeleteArticle: async (id) => {
      if (!session?.signed_in) throw { code: "not_signed_in", message: "sign in to the central server first" };
      if (session.account?.role === "agent")
        throw { code: "forbidden", message: "the server refused the knowledge-base request (403): publishing knowledge-base articles needs the supervisor role" };
      if (kb.some((a) => a.id === id)) kbRevision += 1;
      kb = kb.filter((a) => a.id !== id);
      return { id, revision: kbRevision, indexed: true };
    },
    kbSuggest: async (context, limit = 10) => {
      // Words of the context found in an article (the real one extracts keywords with jieba).
      const words = [
        ...context.ivrPath,
        ...Object.values(context.ivrData),
        ...context.openOrders.flatMap((o) => [o.title, o.category, o.notes]),
        ...context.notes.split(/[\s,，。.!?！？]+/),
        ...context.customerTags,
      ]
        .map((w) => w.trim().toLowerCase())
        .filter((w) => w.length >= 2);
      return kb
        .map((a) => {
          const text = `${a.title} ${a.body}`.toLowerCase();
          const because = [...new Set(words.filter((w) => text.includes(w)))];
          return { a, because };
        })
        .filter(({ because }) => because.length > 0)
        .sort((x, y) => y.because.length - x.because.length)
        .slice(0, limit)
        .map(({ a, because }) => ({ id: a.id, title: a.title, score: because.length, snippet: escapeHtml(a.body), because }));
    },
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
  return backend;
}

/** The mock server's measured calls: the signed-in user (mock-user) and two teammates, at
 * times relative to now so "today" and "last 7 days" differ. */
function mockMeasuredCalls(now: number): PoorCall[] {
  const hour = 3_600_000;
  const call = (agent_id: string, id: string, hoursAgo: number, mos: number | null, loss: number | null, jitter: number | null, rtt: number | null): PoorCall => ({
    agent_id, id, direction: "incoming", number: "+8613800138000", display_name: null, customer_id: null,
    ring_at: now - hoursAgo * hour, answer_at: now - hoursAgo * hour + 3_000, end_at: now - hoursAgo * hour + 180_000, wrap_up_code: "resolved",
    quality: mos === null ? null : { mos, loss_percent: loss, remote_loss_percent: null, jitter_ms: jitter, rtt_ms: rtt },
  });
  return [
    call("mock-user", "me-1", 0.5, 4.3, 0.2, 3, 40),
    call("mock-user", "me-2", 1, 3.9, 1.1, 12, 60),
    call("mock-ann", "ann-1", 0.2, 2.7, 9.5, 45, 210),
    call("mock-ann", "ann-2", 0.4, 3.2, 6, 30, 190),
    call("mock-ann", "ann-3", 30, 4.1, 0.5, 6, 80),
    call("mock-bob", "bob-1", 0.3, 4.4, 0, 2, 20),
    call("mock-bob", "bob-2", 0.6, null, null, null, null),
    call("mock-bob", "bob-3", 72, 2.2, 14, 60, 300),
  ];
}

const MOCK_AGENT_NAMES: Record<string, string> = { "mock-user": "You", "mock-ann": "Ann Li 李安", "mock-bob": "Bob Chen 陈波" };

/** The server's report (crates/server call_quality) over the mock calls. */
function qualityReport(since: number, before: number, agent: string | null, limit: number): QualityReport {
  const poorBelow = 3.6;
  const calls = mockMeasuredCalls(Date.now()).filter((c) => c.ring_at >= since && c.ring_at < before && (!agent || c.agent_id === agent));
  const mean = (xs: (number | null | undefined)[]) => {
    const known = xs.filter((x): x is number => typeof x === "number");
    return known.length ? known.reduce((a, b) => a + b, 0) / known.length : null;
  };
  const extreme = (xs: (number | null | undefined)[], pick: (...v: number[]) => number) => {
    const known = xs.filter((x): x is number => typeof x === "number");
    return known.length ? pick(...known) : null;
  };
  const agents: AgentQuality[] = [...new Set(calls.map((c) => c.agent_id))].map((id) => {
    const mine = calls.filter((c) => c.agent_id === id);
    const q = mine.map((c) => c.quality);
    return {
      agent_id: id, display_name: MOCK_AGENT_NAMES[id] ?? id, calls: mine.length,
      measured: q.filter((x) => x?.mos != null).length, poor: q.filter((x) => x?.mos != null && x.mos < poorBelow).length,
      mean_mos: mean(q.map((x) => x?.mos)), worst_mos: extreme(q.map((x) => x?.mos), Math.min),
      mean_loss_percent: mean(q.map((x) => x?.loss_percent)), max_loss_percent: extreme(q.map((x) => x?.loss_percent), Math.max),
      mean_remote_loss_percent: mean(q.map((x) => x?.remote_loss_percent)), mean_jitter_ms: mean(q.map((x) => x?.jitter_ms)),
      mean_rtt_ms: mean(q.map((x) => x?.rtt_ms)),
    };
  });
  const share = (a: AgentQuality) => a.poor / Math.max(1, a.measured);
  agents.sort((a, b) => b.poor - a.poor || share(b) - share(a) || a.display_name.localeCompare(b.display_name));
  const poor = calls
    .filter((c) => c.quality?.mos != null && c.quality.mos < poorBelow)
    .sort((a, b) => a.quality!.mos! - b.quality!.mos! || b.ring_at - a.ring_at)
    .slice(0, limit);
  return { since, before, poor_mos_below: poorBelow, agents, poor_calls: poor };
}
