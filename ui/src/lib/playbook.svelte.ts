// The center's playbook (crates/playbook): wrap-up codes, Not-ready reasons, scripted phrases
// and the after-call-work time box, maintained on the server and cached by the desktop. One
// reactive copy for every panel; labels follow the UI language with a fallback.
import { i18n, tOr } from "./i18n.svelte";

export interface CodeLabel {
  code: string;
  /** Language tag (en, zh-CN, zh-TW) → label. */
  labels: Record<string, string>;
}

export interface WrapUpCodeDef extends CodeLabel {
  /** Closing a call with this code promises a callback: the form asks when. */
  promises_callback: boolean;
}

export type PhraseCategory = "greeting" | "verification" | "hold" | "transfer" | "apology" | "closing" | "other";
export const PHRASE_CATEGORIES: PhraseCategory[] = ["greeting", "verification", "hold", "transfer", "apology", "closing", "other"];

export interface Phrase {
  category: PhraseCategory;
  lang: string;
  text: string;
}

export interface Playbook {
  revision: number;
  wrap_up_codes: WrapUpCodeDef[];
  not_ready_reasons: CodeLabel[];
  phrases: Phrase[];
  after_call_work: boolean;
  after_call_work_limit_s: number | null;
}

/** The event the shell sends when a pull brought a new playbook. */
export const PLAYBOOK_EVENT = "playbook";

/** The playbook in use (null until the shell has answered). */
export const playbook = $state<{ current: Playbook | null }>({ current: null });

/** Makes `value` the playbook in use if it looks like one (the shell's answer is not trusted
 * blindly: a broken one must not take the status bar down); returns whether it did. */
export function usePlaybook(value: unknown): boolean {
  const book = value as Partial<Playbook> | null;
  const ok =
    book !== null &&
    typeof book === "object" &&
    Array.isArray(book.wrap_up_codes) &&
    Array.isArray(book.not_ready_reasons) &&
    Array.isArray(book.phrases ?? []);
  if (ok) playbook.current = { ...book, phrases: book.phrases ?? [] } as Playbook;
  else console.warn("ignoring a playbook that is not one", value);
  return ok;
}

/** `lang` first, then the other Chinese script, then English (as the Rust side does). */
export function fallbacks(lang: string): string[] {
  const order = [lang];
  if (lang === "zh-CN") order.push("zh-TW");
  if (lang === "zh-TW") order.push("zh-CN");
  if (lang !== "en") order.push("en");
  return order;
}

/** The playbook's label for `code` in `lang`, or null when it has none. */
export function labelIn(labels: Record<string, string> | undefined, lang: string): string | null {
  for (const l of fallbacks(lang)) {
    const label = labels?.[l];
    if (label) return label;
  }
  return null;
}

/** What to show for a wrap-up code: the playbook's label, the UI's own word for it, or the code. */
export function wrapUpLabel(code: string, book: Playbook | null = playbook.current): string {
  const def = book?.wrap_up_codes.find((c) => c.code === code);
  return labelIn(def?.labels, i18n.language) ?? tOr(`wrapup.${code}`, code);
}

/** What to show for a Not-ready reason (same fallbacks). */
export function reasonLabel(code: string, book: Playbook | null = playbook.current): string {
  const def = book?.not_ready_reasons.find((r) => r.code === code);
  return labelIn(def?.labels, i18n.language) ?? tOr(`reason.${code}`, code);
}

/** The phrases to offer in `lang`: its own, else those of the nearest language. */
export function phrasesFor(book: Playbook | null, lang: string): Phrase[] {
  for (const l of fallbacks(lang)) {
    const list = (book?.phrases ?? []).filter((p) => p.lang === l);
    if (list.length > 0) return list;
  }
  return [];
}

/** A phrase ready to insert: `{agent}` becomes the agent's name when known. */
export function fillPhrase(text: string, agent: string | null): string {
  return agent ? text.replaceAll("{agent}", agent) : text;
}

/** Puts `phrase` into `notes` at the cursor (`at`), on its own line when text is around it. */
export function insertPhrase(notes: string, phrase: string, at: number = notes.length): { text: string; cursor: number } {
  const pos = Math.max(0, Math.min(at, notes.length));
  const before = notes.slice(0, pos);
  const after = notes.slice(pos);
  const lead = before.length > 0 && !before.endsWith("\n") ? "\n" : "";
  const tail = after.length > 0 && !after.startsWith("\n") ? "\n" : "";
  const text = `${before}${lead}${phrase}${tail}${after}`;
  return { text, cursor: before.length + lead.length + phrase.length };
}
