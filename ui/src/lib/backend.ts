// The one module through which the UI talks to the Rust shell. Components receive a `Backend`;
// tests and the mock dev mode pass another implementation of the same interface.
import { Channel, invoke } from "@tauri-apps/api/core";
import type { PhoneAccount, PhoneBackend, PhoneEvent } from "./phone";
import type { RecordingScan, RecordingSettings, RecordingsBackend } from "./recordings";
import type {
  CallHistory,
  CallbackFigures,
  CustomerCard,
  DayFigures,
  FeedView,
  Pop,
  PopBackend,
  QualityReport,
  WrapUpDone,
} from "./pop";
import { listen } from "@tauri-apps/api/event";
import { PLAYBOOK_EVENT, type Playbook } from "./playbook.svelte";
import type { ConnectionSettings, DeskAction, DesktopBackend, DesktopView, DialLink, UpdateView } from "./desktop";
import { AUDIO_LEVEL_EVENT, type AudioBackend, type AudioLevel, type AudioView, type DeviceTest } from "./audio";
import type {
  AgentEvent,
  AgentView,
  AppInfo,
  CallContext,
  CommandError,
  CreateOrder,
  EditableArticle,
  EditOrder,
  KbArticle,
  KbHit,
  KbSaved,
  KbSuggestion,
  LanguagePref,
  LoginRequest,
  OrderQuery,
  OrderStatus,
  OrderView,
  ProblemView,
  SessionView,
  SyncView,
  Teammate,
  WorkspaceStatus,
} from "./types";

/** The event the shell emits with every new sync view. */
export const SYNC_EVENT = "sync-status";
/** The event the shell emits when a call changes the agent's state. */
export const AGENT_EVENT = "agent-state";
/** The event the shell emits when a tel:/sip: link waits (src-tauri/src/desktop.rs). */
export const DIAL_LINK_EVENT = "dial-link";
/** The event a global hotkey or a notification button sends to the phone panel. */
export const DESK_ACTION_EVENT = "desk-action";

export interface Backend extends PhoneBackend, PopBackend, DesktopBackend, RecordingsBackend, AudioBackend {
  appInfo(): Promise<AppInfo>;
  /** Tells the shell the first render with the workspace loaded is on screen (startup benchmark). */
  uiReady(): Promise<void>;
  workspaceStatus(): Promise<WorkspaceStatus>;
  setLanguage(language: LanguagePref): Promise<AppInfo>;
  agentEvent(event: AgentEvent): Promise<AgentView>;
  /** `tag`: only articles with this tag; with an empty query, the tag's articles by title. */
  kbSearch(query: string, limit?: number, tag?: string | null): Promise<KbHit[]>;
  kbArticle(id: string): Promise<KbArticle | null>;
  /** One of the center's articles opened for editing (pulled first); null when the center
   * does not have it. */
  kbEditable(id: string): Promise<EditableArticle | null>;
  /** A supervisor saves an article for the whole center. Codes: `conflict` (changed or
   * deleted since it was opened: reload), `invalid`, `forbidden`, `unreachable`,
   * `not_signed_in`. */
  kbSaveArticle(edit: EditableArticle): Promise<KbSaved>;
  kbDeleteArticle(id: string): Promise<KbSaved>;
  /** Articles for the call in progress, from its context (at most 20). */
  kbSuggest(context: CallContext, limit?: number): Promise<KbSuggestion[]>;
  session(): Promise<SessionView>;
  login(request: LoginRequest): Promise<SessionView>;
  logout(force: boolean): Promise<SessionView>;
  syncNow(): Promise<void>;
  /** Calls `handler` with every new sync view; resolves to an unsubscribe function. */
  onSync(handler: (view: SyncView) => void): Promise<() => void>;
  /** Calls `handler` when a call moves the agent's state; resolves to an unsubscribe function. */
  onAgent(handler: (view: AgentView) => void): Promise<() => void>;
  listOrders(query: OrderQuery): Promise<OrderView[]>;
  getOrder(id: string): Promise<OrderView>;
  createOrder(order: CreateOrder): Promise<OrderView>;
  editOrder(id: string, edit: EditOrder): Promise<OrderView>;
  addNote(id: string, text: string): Promise<OrderView>;
  changeStatus(id: string, to: OrderStatus): Promise<OrderView>;
  problems(): Promise<ProblemView[]>;
  /** Members of the agent's teams for the assignee picker (the agent alone offline). */
  teammates(): Promise<Teammate[]>;
  dismissProblem(id: number): Promise<void>;
  retryProblem(id: number): Promise<void>;
}

/** Turns whatever a command rejected with into a CommandError. */
export function asCommandError(error: unknown): CommandError {
  if (
    typeof error === "object" &&
    error !== null &&
    "code" in error &&
    "message" in error &&
    typeof (error as CommandError).message === "string"
  ) {
    return { code: String((error as CommandError).code), message: (error as CommandError).message };
  }
  return { code: "ipc", message: error instanceof Error ? error.message : String(error) };
}

async function call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(command, args);
  } catch (error) {
    throw asCommandError(error);
  }
}

export const tauriBackend: Backend = {
  appInfo: () => call<AppInfo>("app_info"),
  uiReady: () => call<void>("ui_ready"),
  workspaceStatus: () => call<WorkspaceStatus>("workspace_status"),
  setLanguage: (language) => call<AppInfo>("set_language", { language }),
  agentEvent: (event) => call<AgentView>("agent_event", { event }),
  kbSearch: (query, limit, tag) => call<KbHit[]>("kb_search", { query, limit, tag: tag ?? null }),
  kbArticle: (id) => call<KbArticle | null>("kb_article", { id }),
  kbEditable: (id) => call<EditableArticle | null>("kb_editable", { id }),
  kbSaveArticle: (edit) => call<KbSaved>("kb_save_article", { edit }),
  kbDeleteArticle: (id) => call<KbSaved>("kb_delete_article", { id }),
  kbSuggest: (context, limit) => call<KbSuggestion[]>("kb_suggest", { context, limit }),
  session: () => call<SessionView>("session"),
  login: (request) => call<SessionView>("login", { request }),
  logout: (force) => call<SessionView>("logout", { force }),
  syncNow: () => call<void>("sync_now"),
  onSync: async (handler) => {
    const unlisten = await listen<SyncView>(SYNC_EVENT, (event) => handler(event.payload));
    return unlisten;
  },
  onAgent: async (handler) => listen<AgentView>(AGENT_EVENT, (event) => handler(event.payload)),
  listOrders: (query) => call<OrderView[]>("list_orders", { query }),
  getOrder: (id) => call<OrderView>("get_order", { id }),
  createOrder: (order) => call<OrderView>("create_order", { order }),
  editOrder: (id, edit) => call<OrderView>("edit_order", { id, edit }),
  addNote: (id, text) => call<OrderView>("add_note", { id, text }),
  changeStatus: (id, to) => call<OrderView>("change_status", { id, to }),
  problems: () => call<ProblemView[]>("order_problems"),
  teammates: () => call<Teammate[]>("order_teammates"),
  dismissProblem: (id) => call<void>("dismiss_problem", { id }),
  retryProblem: (id) => call<void>("retry_problem", { id }),
  phoneAccount: () => call<PhoneAccount | null>("phone_account"),
  phoneConnect: (account, password, onEvent, onPop) => {
    // Call events arrive in order on a Channel owned by this window; screen pops on another.
    const onEventChannel = new Channel<PhoneEvent>();
    onEventChannel.onmessage = onEvent;
    const onPopChannel = new Channel<Pop>();
    onPopChannel.onmessage = (pop) => onPop?.(pop);
    return call<void>("phone_connect", { account, password, onEvent: onEventChannel, onPop: onPopChannel });
  },
  customerSearch: (text) => call<CustomerCard[]>("customer_search", { text }),
  customerCard: (id) => call<CustomerCard | null>("customer_card", { id }),
  customerFeed: (sync) => call<FeedView>("customer_feed", { sync }),
  customerChoose: (callId, id) => call<void>("customer_choose", { call: callId, id }),
  callWrapUp: (callId, code, notes, callback) =>
    call<WrapUpDone>("call_wrap_up", { call: callId, code, notes, callback: callback ?? null }),
  callFigures: (since) => call<DayFigures>("call_figures", { since }),
  callbackFigures: (since, until) => call<CallbackFigures>("callback_figures", { since, until }),
  playbook: () => call<Playbook>("playbook"),
  savePlaybook: (edit) => call<Playbook>("playbook_save", { edit }),
  callQualityReport: (request) => call<QualityReport>("call_quality_report", { request }),
  customerHistory: (id) => call<CallHistory>("customer_history", { id }),
  customerCreate: (customer, callId) => call<CustomerCard>("customer_create", { customer, call: callId }),
  onPlaybook: async (handler) => listen<Playbook>(PLAYBOOK_EVENT, (event) => handler(event.payload)),
  phoneDisconnect: () => call<void>("phone_disconnect"),
  phoneDial: (target) => call<string>("phone_dial", { target }),
  phoneAnswer: (callId) => call<void>("phone_answer", { call: callId }),
  phoneDecline: (callId) => call<void>("phone_decline", { call: callId }),
  phoneSilenceRinger: () => call<void>("phone_silence_ringer"),
  phoneHangup: (callId) => call<void>("phone_hangup", { call: callId }),
  phoneHold: (callId, hold) => call<void>("phone_hold", { call: callId, hold }),
  phoneMute: (callId, muted) => call<void>("phone_mute", { call: callId, muted }),
  phonePauseRecording: (callId, paused) => call<void>("phone_pause_recording", { call: callId, paused }),
  recordingsList: (query) => call<RecordingScan>("recordings_list", { query }),
  recordingAudio: (id) => call<ArrayBuffer>("recording_audio", { id }),
  recordingDelete: (id) => call<void>("recording_delete", { id }),
  recordingSettings: () => call<RecordingSettings>("recording_settings"),
  setRecordingSettings: (settings) => call<RecordingSettings>("set_recording_settings", { settings }),
  phoneDtmf: (callId, digits) => call<void>("phone_dtmf", { call: callId, digits }),
  phoneTransfer: (callId, target) => call<void>("phone_transfer", { call: callId, target }),
  phoneAttendedTransfer: (callId, consult) => call<void>("phone_attended_transfer", { call: callId, consult }),
  audioSettings: () => call<AudioView>("audio_settings"),
  setAudioSettings: (settings) => call<AudioView>("set_audio_settings", { settings }),
  audioTestSpeaker: (device, volume) => call<DeviceTest>("audio_test_speaker", { device, volume }),
  audioMeterStart: (device) => call<DeviceTest>("audio_meter_start", { device }),
  audioMeterStop: () => call<void>("audio_meter_stop"),
  onAudioLevel: async (handler) => listen<AudioLevel>(AUDIO_LEVEL_EVENT, (event) => handler(event.payload)),
  desktopSettings: () => call<DesktopView>("desktop_settings"),
  setDesktopSettings: (settings) => call<DesktopView>("set_desktop_settings", { settings }),
  connectionSettings: () => call<ConnectionSettings>("connection_settings"),
  setConnectionSettings: (settings) => call<ConnectionSettings>("set_connection_settings", { settings }),
  collectDiagnostics: () => call<string>("collect_diagnostics"),
  takeDialLink: () => call<DialLink | null>("take_dial_link"),
  onDialLink: async (handler) => listen<null>(DIAL_LINK_EVENT, () => handler()),
  onDeskAction: async (handler) => listen<DeskAction>(DESK_ACTION_EVENT, (event) => handler(event.payload)),
  updateCheck: () => call<UpdateView>("update_check"),
  updateInstall: () => call<UpdateView>("update_install"),
};
