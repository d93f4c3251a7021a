// The call-quality report against the mock shell, which scopes and computes it as the server
// does (crates/server call_quality): a supervisor sees the team, worst agents and calls first;
// the period changes what counts; an agent sees her own line; errors are told apart.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import CallQualityReport from "./CallQualityReport.svelte";
import { createMockBackend } from "../lib/backend.mock";
import { i18n } from "../lib/i18n.svelte";
import type { PopBackend, QualityReportRequest } from "../lib/pop";

async function signedIn(username: string) {
  const backend = createMockBackend("en-US");
  await backend.login({ server_url: "http://127.0.0.1:1", tenant: "demo", username, password: "demo" });
  return backend;
}

const rows = () =>
  screen.getAllByTestId("quality-agent-row").map((r) => [r.dataset.agent, r.querySelector("[data-testid=quality-agent-poor]")?.textContent]);

describe("call-quality report", () => {
  beforeEach(() => {
    i18n.set("en");
    // Mid-afternoon: the mock's calls of the last hours are all "today" (only Date is faked,
    // the timers the DOM queries wait on stay real).
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(new Date(2026, 11, 1, 15, 30));
  });
  afterEach(() => {
    cleanup();
    vi.useRealTimers();
  });

  it("shows a supervisor her team with the most poor calls first and the poor calls worst first", async () => {
    const backend = await signedIn("lead");
    render(CallQualityReport, { backend });
    await screen.findAllByTestId("quality-agent-row");
    // Today: Ann has two poor calls, Bob one unmeasured call and a good one, "you" two good ones.
    expect(rows()).toEqual([["mock-ann", "2"], ["mock-bob", "0"], ["mock-user", "0"]]);
    const poor = screen.getAllByTestId("quality-poor-call");
    expect(poor.map((p) => p.dataset.call)).toEqual(["ann-1", "ann-2"]);
    expect(poor[0]!.textContent).toContain("Ann Li");
    expect(poor[0]!.textContent).toContain("MOS 2.7");
    expect(poor[0]!.querySelector(".quality-badge")?.getAttribute("data-level")).toBe("poor");
    expect(poor[0]!.querySelector(".quality-badge")?.getAttribute("title")).toContain("jitter 45 ms");
    expect(screen.getByText("Poor: MOS below 3.6")).toBeTruthy();
  });

  it("counts the calls of the period chosen", async () => {
    const backend = await signedIn("lead");
    render(CallQualityReport, { backend });
    await screen.findAllByTestId("quality-agent-row");
    await fireEvent.change(screen.getByTestId("quality-period"), { target: { value: "week" } });
    // Bob's poor call three days ago now counts, and is the worst.
    await waitFor(() => expect(screen.getAllByTestId("quality-poor-call")[0]!.dataset.call).toBe("bob-3"));
    expect(rows()).toEqual([["mock-ann", "2"], ["mock-bob", "1"], ["mock-user", "0"]]);
  });

  it("asks for the local day and shows an agent her own line", async () => {
    const backend = await signedIn("ann");
    const asked: QualityReportRequest[] = [];
    const spy: Pick<PopBackend, "callQualityReport"> = {
      callQualityReport: (request) => {
        asked.push(request);
        return backend.callQualityReport(request);
      },
    };
    const now = new Date(2026, 11, 1, 15, 30);
    render(CallQualityReport, { backend: spy, now: () => now });
    await screen.findAllByTestId("quality-agent-row");
    expect(asked[0]).toMatchObject({ since: new Date(2026, 11, 1).getTime(), before: now.getTime() + 1, limit: 50 });
    expect(rows()).toEqual([["mock-user", "0"]]);
    expect(screen.getByTestId("quality-no-poor")).toBeTruthy();
  });

  it("tells a refusal and a dead server apart", async () => {
    for (const [code, text] of [
      ["forbidden", "You may not see"],
      ["unreachable", "cannot be reached"],
    ] as const) {
      const failing: Pick<PopBackend, "callQualityReport"> = {
        callQualityReport: async () => {
          throw { code, message: "details" };
        },
      };
      render(CallQualityReport, { backend: failing });
      expect((await screen.findByTestId("quality-error")).textContent).toContain(text);
      cleanup();
    }
  });

  it("says so when the period has no calls", async () => {
    const empty: Pick<PopBackend, "callQualityReport"> = {
      callQualityReport: async (r) => ({ since: r.since, before: r.before, poor_mos_below: 3.6, agents: [], poor_calls: [] }),
    };
    render(CallQualityReport, { backend: empty });
    expect(await screen.findByTestId("quality-empty")).toBeTruthy();
  });
});
