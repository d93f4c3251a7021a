// A stand-in for the shell's desktop side, for `vite --mode mock` and UI tests: it keeps the
// desktop settings, refuses clashing or modifier-less hotkeys as the shell does, and lets a
// test hand over a dial link or press a hotkey. Updates: `offer` sets what the update server
// offers (or the error it fails with); an install of an offered update marks it installed.
import type {
  ConnectionSettings,
  DeskAction,
  DesktopBackend,
  DesktopSettings,
  DesktopView,
  DialLink,
  UpdateView,
} from "./desktop";

export interface MockDesktop extends DesktopBackend {
  /** The OS hands over a link (`error` plays a link the shell could not parse). */
  link(link: DialLink | { error: string }): void;
  /** A global hotkey or notification button. */
  press(action: DeskAction): void;
  /** Problems the next save reports (e.g. a hotkey the OS refused). */
  problems: string[];
  collected: number;
  /** What the update server offers: a version and notes, nothing newer (null), or an error. */
  offer: { version: string; notes: string | null } | null | { code: string; message: string };
  /** How many installs were asked for. */
  installs: number;
}

const CURRENT_VERSION = "0.1.0";

const defaults = (): DesktopSettings => ({
  hotkeys: { answer: "CmdOrCtrl+Alt+A", hangup: "CmdOrCtrl+Alt+H", mute: "CmdOrCtrl+Alt+M", hold: "CmdOrCtrl+Alt+P" },
  notifications: true,
  start_at_login: false,
});

/** The shell's checks of the `[sync]` timeouts (crates/settings/src/sync.rs), same messages. */
function checkConnection(next: ConnectionSettings): ConnectionSettings {
  const limits: [keyof ConnectionSettings, number][] = [
    ["connect_timeout_secs", 60],
    ["read_timeout_secs", 300],
    ["request_timeout_secs", 600],
  ];
  for (const [name, max] of limits) {
    const value = next[name];
    if (!Number.isInteger(value) || value < 1 || value > max) {
      throw { code: "settings", message: `invalid sync.${name} ${value}: expected 1 to ${max} seconds` };
    }
  }
  if (next.request_timeout_secs < next.read_timeout_secs) {
    throw {
      code: "settings",
      message: `sync.request_timeout_secs ${next.request_timeout_secs} is shorter than sync.read_timeout_secs ${next.read_timeout_secs}: a request would end before its answer may go silent`,
    };
  }
  return { ...next };
}

export function createMockDesktop(): MockDesktop {
  let settings = defaults();
  let connection: ConnectionSettings = { connect_timeout_secs: 5, read_timeout_secs: 15, request_timeout_secs: 30 };
  let pending: DialLink | { error: string } | null = null;
  const linkHandlers = new Set<() => void>();
  const actionHandlers = new Set<(a: DeskAction) => void>();
  const update = (install: boolean): UpdateView => {
    const offer = mock.offer;
    if (offer && "code" in offer) throw { code: offer.code, message: offer.message };
    return {
      current_version: CURRENT_VERSION,
      available: offer?.version ?? null,
      notes: offer?.notes ?? null,
      installed: install && offer !== null,
    };
  };
  const view = (): DesktopView => ({ settings: structuredClone(settings), problems: [...mock.problems], log_dir: "/mock/data/logs" });
  const mock: MockDesktop = {
    problems: [],
    collected: 0,
    offer: null,
    installs: 0,
    updateCheck: async () => update(false),
    updateInstall: async () => {
      mock.installs += 1;
      return update(true);
    },
    desktopSettings: async () => view(),
    setDesktopSettings: async (next) => {
      const seen = new Map<string, string>();
      for (const [action, key] of Object.entries(next.hotkeys)) {
        if (!key || key.trim() === "") continue;
        const canonical = key.replace(/\s/g, "").toLowerCase();
        const last = canonical.split("+").pop() ?? "";
        if (!canonical.includes("+") && !/^f\d+$/.test(last)) {
          throw { code: "hotkey", message: `hotkey for ${action}: a key without a modifier would take that key from every application (in "${key}")` };
        }
        const other = seen.get(canonical);
        if (other) throw { code: "hotkey", message: `hotkeys for ${other} and ${action} are both ${key}; give each action its own` };
        seen.set(canonical, action);
      }
      settings = structuredClone(next);
      return view();
    },
    connectionSettings: async () => ({ ...connection }),
    setConnectionSettings: async (next) => {
      connection = checkConnection(next);
      return { ...connection };
    },
    collectDiagnostics: async () => `/mock/data/diagnostics/seatline-diagnostics-${++mock.collected}.zip`,
    takeDialLink: async () => {
      const link = pending;
      pending = null;
      if (link && "error" in link) throw { code: "bad_link", message: link.error };
      return link;
    },
    onDialLink: async (handler) => {
      linkHandlers.add(handler);
      return () => linkHandlers.delete(handler);
    },
    onDeskAction: async (handler) => {
      actionHandlers.add(handler);
      return () => actionHandlers.delete(handler);
    },
    link: (link) => {
      pending = link;
      linkHandlers.forEach((h) => h());
    },
    press: (action) => actionHandlers.forEach((h) => h(action)),
  };
  return mock;
}
