// The one module through which the UI talks to the Rust shell. Components receive a `Backend`;
// tests and the mock dev mode pass another implementation of the same interface.
import { invoke } from "@tauri-apps/api/core";
import type {
  AgentEvent,
  AgentView,
  AppInfo,
  CommandError,
  KbArticle,
  KbHit,
  LanguagePref,
  WorkspaceStatus,
} from "./types";

export interface Backend {
  appInfo(): Promise<AppInfo>;
  workspaceStatus(): Promise<WorkspaceStatus>;
  setLanguage(language: LanguagePref): Promise<AppInfo>;
  agentEvent(event: AgentEvent): Promise<AgentView>;
  kbSearch(query: string, limit?: number): Promise<KbHit[]>;
  kbArticle(id: string): Promise<KbArticle | null>;
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
  workspaceStatus: () => call<WorkspaceStatus>("workspace_status"),
  setLanguage: (language) => call<AppInfo>("set_language", { language }),
  agentEvent: (event) => call<AgentView>("agent_event", { event }),
  kbSearch: (query, limit) => call<KbHit[]>("kb_search", { query, limit }),
  kbArticle: (id) => call<KbArticle | null>("kb_article", { id }),
};
