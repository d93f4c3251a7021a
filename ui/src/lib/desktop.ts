// The desk habits on the UI side: dial links handed over by the OS, hotkeys and notification
// buttons that ask the phone panel to act, and the "Desktop" settings section.
import type { CallView } from "./phone";

/** What a global hotkey or a notification button asks for (`call` when the shell knows it). */
export interface DeskAction {
  action: "answer" | "decline" | "hangup" | "mute" | "hold";
  call: string | null;
}

/** A `tel:`/`sip:` link the shell parsed (crates/desk-habits). */
export interface DialLink {
  scheme: "tel" | "sip" | "sips";
  target: string;
  original: string;
}

export interface Hotkeys {
  answer: string | null;
  hangup: string | null;
  mute: string | null;
  hold: string | null;
}

export interface DesktopSettings {
  hotkeys: Hotkeys;
  notifications: boolean;
  start_at_login: boolean;
}

/** How long requests to the center's server may take (the settings' `[sync]` section). */
export interface ConnectionSettings {
  /** To open the connection, 1-60 s. */
  connect_timeout_secs: number;
  /** Silence while waiting for an answer before the request fails and is retried, 1-300 s. */
  read_timeout_secs: number;
  /** One whole request, 1-600 s and at least the read timeout. */
  request_timeout_secs: number;
}

export interface DesktopView {
  settings: DesktopSettings;
  /** What could not be applied: hotkeys the OS refused, start at login … */
  problems: string[];
  log_dir: string;
}

/** What the shell says about updates (src-tauri/src/updates.rs, UpdateView). */
export interface UpdateView {
  current_version: string;
  /** The newer version the update server offers; null: this is the newest. */
  available: string | null;
  notes: string | null;
  /** A verified update was installed: it takes effect when Seatline restarts. */
  installed: boolean;
}

export interface DesktopBackend {
  desktopSettings(): Promise<DesktopView>;
  /** Refused with code `hotkey` when a hotkey is invalid or two actions share one. */
  setDesktopSettings(settings: DesktopSettings): Promise<DesktopView>;
  connectionSettings(): Promise<ConnectionSettings>;
  /** Saves the server timeouts; refused with code `settings` (and a message naming the field). */
  setConnectionSettings(settings: ConnectionSettings): Promise<ConnectionSettings>;
  /** Writes the diagnostics zip (secrets redacted) and resolves to its path. */
  collectDiagnostics(): Promise<string>;
  /** The waiting dial link, taken once; refused with code `bad_link` for a link that is junk. */
  takeDialLink(): Promise<DialLink | null>;
  /** Calls `handler` when a dial link is waiting; resolves to an unsubscribe function. */
  onDialLink(handler: () => void): Promise<() => void>;
  onDeskAction(handler: (action: DeskAction) => void): Promise<() => void>;
  /** Asks the update server for a newer version (downloads nothing). */
  updateCheck(): Promise<UpdateView>;
  /**
   * Downloads the update, verifies its signature and installs it. Refused with code
   * `update_signature` (does not verify), `update_network`, `update_not_bundled` (a copy the
   * updater cannot replace) or `update_install`.
   */
  updateInstall(): Promise<UpdateView>;
}

/** The phone command a desk action becomes, on the calls the panel shows; null: nothing to do. */
export type DeskStep =
  | { kind: "answer" | "decline" | "hangup"; call: string }
  | { kind: "hold"; call: string; hold: boolean }
  | { kind: "mute"; call: string; muted: boolean };

export function planDeskAction(action: DeskAction, calls: CallView[]): DeskStep | null {
  const ringing = calls.filter((c) => c.phase === "ringing");
  const named = action.call ? calls.find((c) => c.id === action.call) : undefined;
  const current =
    calls.find((c) => c.phase === "active" && !c.localHold) ??
    calls.find((c) => c.phase === "active") ??
    calls.find((c) => c.phase === "dialing" || c.phase === "remote_ringing");
  switch (action.action) {
    case "answer":
    case "decline": {
      const call = named && named.phase === "ringing" ? named : ringing[0];
      return call ? { kind: action.action, call: call.id } : null;
    }
    case "hangup": {
      // Hang up the call in progress; with none, a ringing call is declined.
      if (current) return { kind: "hangup", call: current.id };
      return ringing[0] ? { kind: "decline", call: ringing[0].id } : null;
    }
    case "hold":
      return current && current.phase === "active" ? { kind: "hold", call: current.id, hold: !current.localHold } : null;
    case "mute":
      return current && current.phase === "active" ? { kind: "mute", call: current.id, muted: !current.muted } : null;
  }
}
