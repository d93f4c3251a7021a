import { describe, expect, it } from "vitest";
import { snippetSegments } from "./snippet";

describe("snippetSegments", () => {
  it("splits marked matches from plain text and unescapes both", () => {
    expect(snippetSegments("…a &lt;b&gt; <mark>退款</mark> &amp; <mark>x</mark>")).toEqual([
      { text: "…a <b> ", marked: false },
      { text: "退款", marked: true },
      { text: " & ", marked: false },
      { text: "x", marked: true },
    ]);
  });

  it("keeps markup from an article as text, never as elements", () => {
    const segments = snippetSegments("&lt;img src=x onerror=alert(1)&gt;");
    expect(segments).toEqual([{ text: "<img src=x onerror=alert(1)>", marked: false }]);
  });

  it("handles an empty snippet", () => {
    expect(snippetSegments("")).toEqual([]);
  });
});
