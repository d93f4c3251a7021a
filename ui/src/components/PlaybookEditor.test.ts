// The supervisor's playbook editor against the mock shell, which applies the server's rules:
// a save becomes the next revision and the playbook in use, an invalid edit lists its problems,
// a stale edit is refused as a conflict and stays on screen, an agent is refused.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import PlaybookEditor from "./PlaybookEditor.svelte";
import { createMockBackend } from "../lib/backend.mock";
import { i18n } from "../lib/i18n.svelte";
import { playbook, wrapUpLabel } from "../lib/playbook.svelte";

async function signedIn(username: string) {
  const backend = createMockBackend("en-US");
  await backend.login({ server_url: "http://127.0.0.1:1", tenant: "demo", username, password: "demo" });
  return backend;
}

describe("playbook editor", () => {
  beforeEach(() => i18n.set("en"));
  afterEach(() => cleanup());

  it("adds a wrap-up code with labels, saves it for the center and puts it in use", async () => {
    const backend = await signedIn("lead");
    render(PlaybookEditor, { backend });
    expect((await screen.findByTestId("playbook-revision")).textContent).toContain("built-in");
    await fireEvent.click(screen.getByTestId("wrap-up-add"));
    const rows = screen.getAllByTestId("wrap-up-row");
    const last = rows[rows.length - 1]!;
    await fireEvent.input(last.querySelector("[data-testid=wrap-up-code]")!, { target: { value: "sales_lead" } });
    await fireEvent.input(last.querySelector("[data-testid=wrap-up-label-en]")!, { target: { value: "Sales lead" } });
    await fireEvent.input(last.querySelector("[data-testid=wrap-up-label-zh-CN]")!, { target: { value: "销售线索" } });
    await fireEvent.input(screen.getByTestId("acw-limit"), { target: { value: "45" } });
    await fireEvent.click(screen.getByTestId("playbook-save"));

    expect((await screen.findByTestId("playbook-saved")).textContent).toContain("revision 1");
    const stored = await backend.playbook();
    expect(stored.revision).toBe(1);
    expect(stored.after_call_work_limit_s).toBe(45);
    const added = stored.wrap_up_codes.find((c) => c.code === "sales_lead");
    // The empty zh-TW label is not sent as an empty string (the server refuses those).
    expect(added?.labels).toEqual({ en: "Sales lead", "zh-CN": "销售线索" });
    expect(playbook.current?.revision).toBe(1);
    expect(wrapUpLabel("sales_lead")).toBe("Sales lead");
  });

  it("lists every problem of an invalid edit and saves nothing", async () => {
    const backend = await signedIn("lead");
    render(PlaybookEditor, { backend });
    await screen.findByTestId("playbook-editor");
    while (screen.queryAllByTestId("wrap-up-remove").length) await fireEvent.click(screen.getAllByTestId("wrap-up-remove")[0]!);
    await fireEvent.click(screen.getByTestId("reason-add"));
    const reasons = screen.getAllByTestId("reason-row");
    await fireEvent.input(reasons[reasons.length - 1]!.querySelector("[data-testid=reason-code]")!, { target: { value: "Coffee Break" } });
    await fireEvent.click(screen.getByTestId("playbook-save"));

    const problems = await screen.findByTestId("playbook-problems");
    expect(problems.querySelectorAll("li")).toHaveLength(2);
    expect(problems.textContent).toContain("at least one wrap-up code");
    expect(problems.textContent).toContain("Coffee Break");
    expect((await backend.playbook()).revision).toBe(0);
  });

  it("refuses a stale edit as a conflict, keeps it on screen, and saves after a reload", async () => {
    const backend = await signedIn("lead");
    render(PlaybookEditor, { backend });
    await screen.findByTestId("playbook-editor");
    // Another supervisor saves first.
    const other = await backend.playbook();
    await backend.savePlaybook({ ...other, after_call_work_limit_s: 300 });

    await fireEvent.input(screen.getByTestId("acw-limit"), { target: { value: "60" } });
    await fireEvent.click(screen.getByTestId("playbook-save"));
    await waitFor(() => expect(screen.getByTestId("playbook-error").textContent).toContain("Someone saved"));
    expect((screen.getByTestId("acw-limit") as HTMLInputElement).value).toBe("60");
    expect((await backend.playbook()).after_call_work_limit_s).toBe(300);

    await fireEvent.click(screen.getByTestId("playbook-reload"));
    await waitFor(() => expect(screen.getByTestId("playbook-revision").textContent).toContain("Revision 1"));
    expect((screen.getByTestId("acw-limit") as HTMLInputElement).value).toBe("300");
    await fireEvent.input(screen.getByTestId("acw-limit"), { target: { value: "60" } });
    await fireEvent.click(screen.getByTestId("playbook-save"));
    expect((await screen.findByTestId("playbook-saved")).textContent).toContain("revision 2");
  });

  it("reorders reasons and removes one, as saved", async () => {
    const backend = await signedIn("lead");
    render(PlaybookEditor, { backend });
    await screen.findByTestId("playbook-editor");
    const before = (await backend.playbook()).not_ready_reasons.map((r) => r.code);
    const first = screen.getAllByTestId("reason-row")[0]!;
    await fireEvent.click(first.querySelector("button[aria-label='Move down']")!);
    const last = screen.getAllByTestId("reason-row").at(-1)!;
    await fireEvent.click(last.querySelector("[data-testid=reason-remove]")!);
    await fireEvent.click(screen.getByTestId("playbook-save"));
    await screen.findByTestId("playbook-saved");
    const after = (await backend.playbook()).not_ready_reasons.map((r) => r.code);
    expect(after).toEqual([before[1], before[0], ...before.slice(2, -1)]);
  });

  it("says an agent may not change the playbook", async () => {
    const backend = await signedIn("agent");
    render(PlaybookEditor, { backend });
    await screen.findByTestId("playbook-editor");
    await fireEvent.click(screen.getByTestId("playbook-save"));
    await waitFor(() => expect(screen.getByTestId("playbook-error").textContent).toContain("Only supervisors"));
  });

  it("refuses a time box that is not a number before anything is sent", async () => {
    const backend = await signedIn("lead");
    render(PlaybookEditor, { backend });
    await fireEvent.input(await screen.findByTestId("acw-limit"), { target: { value: "two minutes" } });
    await fireEvent.click(screen.getByTestId("playbook-save"));
    await waitFor(() => expect(screen.getByTestId("playbook-problems").textContent).toContain("whole number"));
    expect((await backend.playbook()).revision).toBe(0);
  });
});
