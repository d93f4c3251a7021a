import { describe, expect, it } from "vitest";
import { allKeys, formatDuration, guessLanguage, i18n, t } from "./i18n.svelte";

describe("i18n", () => {
  it("ships the same keys in Chinese and English", () => {
    expect(allKeys("zh-CN")).toEqual(allKeys("en"));
  });

  it("fills placeholders in the current language", () => {
    i18n.set("en");
    expect(t("status.in_state_for", { time: "1:05" })).toBe("for 1:05");
    i18n.set("zh-CN");
    expect(t("status.in_state_for", { time: "1:05" })).toBe("已持续 1:05");
    expect(document.documentElement.lang).toBe("zh-CN");
  });

  it("leaves unknown placeholders visible instead of printing undefined", () => {
    i18n.set("en");
    expect(t("app.load_failed")).toBe("The workspace could not be opened: {message}");
  });

  it("guesses the language from a browser locale", () => {
    expect(guessLanguage("zh-TW")).toBe("zh-CN");
    expect(guessLanguage("en-GB")).toBe("en");
    expect(guessLanguage(undefined)).toBe("en");
  });

  it("formats durations for the state timer", () => {
    expect(formatDuration(0)).toBe("0:00");
    expect(formatDuration(65_000)).toBe("1:05");
    expect(formatDuration(3_725_000)).toBe("1:02:05");
    expect(formatDuration(-5)).toBe("0:00");
  });
});
