// The UI language: a reactive current language and `t()` to look strings up.
import { en, type MessageKey } from "./locales/en";
import { zhCN } from "./locales/zh-CN";
import type { Language } from "./types";

const dictionaries: Record<Language, Record<MessageKey, string>> = { en, "zh-CN": zhCN };

/** The language to show before the shell has answered: the browser's idea of the OS language. */
export function guessLanguage(locale: string | undefined): Language {
  return locale?.toLowerCase().startsWith("zh") ? "zh-CN" : "en";
}

let current = $state<Language>(guessLanguage(globalThis.navigator?.language));

export const i18n = {
  get language(): Language {
    return current;
  },
  set(language: Language) {
    current = language;
    if (typeof document !== "undefined") document.documentElement.lang = language;
  },
};

/** Looks a string up in the current language and fills `{name}` placeholders. */
export function t(key: MessageKey, params: Record<string, string | number> = {}): string {
  const template = dictionaries[current][key];
  return template.replace(/\{(\w+)\}/g, (whole, name: string) =>
    name in params ? String(params[name]) : whole,
  );
}

/** Like `t` for a key made at run time (a code from the server): `fallback` when the key is not a message. */
export function tOr(key: string, fallback: string): string {
  return key in dictionaries[current] ? t(key as MessageKey) : fallback;
}

export function allKeys(language: Language): string[] {
  return Object.keys(dictionaries[language]).sort();
}

/** "3:07" or "1:02:09" for a duration in milliseconds. */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const mm = h > 0 ? String(m).padStart(2, "0") : String(m);
  return `${h > 0 ? `${h}:` : ""}${mm}:${String(s).padStart(2, "0")}`;
}
