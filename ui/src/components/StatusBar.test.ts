// The status bar's queue pause warning: shown when the PBX did not take the last pause/unpause
// feature code (the agent view's queue_pause_warning), gone when a later code is taken.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { cleanup, render, screen } from "@testing-library/svelte";
import StatusBar from "./StatusBar.svelte";
import { i18n } from "../lib/i18n.svelte";
import type { AppInfo, WorkspaceStatus } from "../lib/types";

const info: AppInfo = {
  version: "0.1.0",
  data_dir: "/tmp/seatline",
  data_dir_source: "argument",
  settings_file: "/tmp/seatline/settings.toml",
  language_pref: "en",
  language: "en",
  os_locale: null,
  notices: [],
};

function status(warning: string | null): WorkspaceStatus {
  return {
    agent: {
      state: { kind: "not_ready", reason: "break" },
      since: Date.now(),
      pending_not_ready: null,
      not_ready_reasons: ["break", "lunch"],
      after_call_work_ends_at: null,
      queue_pause_warning: warning,
    },
    phone: { state: "not_configured" },
    sync: { state: "not_configured" },
    kb_articles: 0,
  };
}

describe("status bar queue pause warning", () => {
  beforeEach(() => i18n.set("en"));
  afterEach(() => cleanup());

  it("shows the shell's warning next to the state, which changed anyway", () => {
    const warning = "the PBX refused the pause code *62 (404 Not Found)";
    render(StatusBar, {
      info,
      status: status(warning),
      agentError: null,
      onAgentEvent: () => {},
      onLanguage: () => {},
    });
    const shown = screen.getByTestId("queue-pause-warning");
    expect(shown.textContent).toContain("the PBX queue was not told");
    expect(shown.textContent).toContain(warning);
    expect(shown.getAttribute("role")).toBe("alert");
    expect((screen.getByTestId("agent-state") as HTMLSelectElement).value).toBe("not_ready:break");
  });

  it("shows nothing when the PBX took the code", () => {
    render(StatusBar, {
      info,
      status: status(null),
      agentError: null,
      onAgentEvent: () => {},
      onLanguage: () => {},
    });
    expect(screen.queryByTestId("queue-pause-warning")).toBeNull();
  });
});
