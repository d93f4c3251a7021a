// A supervisor edits the center's knowledge base from the knowledge panel, against the mock
// shell (which applies the server's rules: a save from a stale revision is a conflict, an
// agent is refused): edit, conflict and reload keeping the typed text, a new article, delete.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import KnowledgePanel from "./KnowledgePanel.svelte";
import { createMockBackend } from "../lib/backend.mock";
import { i18n } from "../lib/i18n.svelte";

async function signedIn(username: string) {
  const backend = createMockBackend("en-US");
  await backend.login({ server_url: "http://127.0.0.1:1", tenant: "demo", username, password: "demo" });
  return backend;
}

async function openArticle(query: string, title: string) {
  await fireEvent.input(screen.getByTestId("kb-search"), { target: { value: query } });
  await fireEvent.click(await screen.findByText(title));
  await screen.findByTestId("kb-article");
}

describe("knowledge-base editor", () => {
  beforeEach(() => i18n.set("en"));
  afterEach(() => cleanup());

  it("saves a supervisor's edit for the center and shows the new text", async () => {
    const backend = await signedIn("lead");
    render(KnowledgePanel, { backend, articleCount: 2, mayEdit: true });
    await openArticle("password", "Password reset");
    await fireEvent.click(screen.getByTestId("kb-edit"));
    expect((await screen.findByTestId("kb-edit-base")).textContent).toContain("revision 2");
    await fireEvent.input(screen.getByTestId("kb-edit-body"), { target: { value: "Verify identity with two questions, then send a code." } });
    await fireEvent.input(screen.getByTestId("kb-edit-tags"), { target: { value: "account， security , " } });
    await fireEvent.click(screen.getByTestId("kb-edit-save"));

    expect((await screen.findByTestId("kb-edit-saved")).textContent).toContain("revision 3");
    expect((await screen.findByTestId("kb-article")).textContent).toContain("two questions");
    const held = await backend.kbEditable("password-reset");
    expect(held).toMatchObject({ revision: 3, tags: ["account", "security"] });
  });

  it("refuses a save from a stale revision, shows the center's version and keeps the typed text", async () => {
    const backend = await signedIn("lead");
    render(KnowledgePanel, { backend, articleCount: 2, mayEdit: true });
    await openArticle("退款", "退款流程");
    await fireEvent.click(screen.getByTestId("kb-edit"));
    await screen.findByTestId("kb-editor");
    // Another supervisor saves the same article meanwhile.
    const theirs = (await backend.kbEditable("refund"))!;
    await backend.kbSaveArticle({ ...theirs, body: "另一位主管的版本：先核实身份。" });

    await fireEvent.input(screen.getByTestId("kb-edit-body"), { target: { value: "我的版本：三个工作日内原路退回。" } });
    await fireEvent.click(screen.getByTestId("kb-edit-save"));
    const error = await screen.findByTestId("kb-edit-error");
    expect(error.dataset.code).toBe("conflict");
    expect((await backend.kbEditable("refund"))!.body, "nothing overwritten").toContain("另一位主管");

    await fireEvent.click(screen.getByTestId("kb-edit-reload"));
    expect((await screen.findByTestId("kb-edit-theirs")).textContent).toContain("另一位主管");
    expect((screen.getByTestId("kb-edit-body") as HTMLTextAreaElement).value).toContain("我的版本");
    await fireEvent.click(screen.getByTestId("kb-edit-save"));
    expect((await screen.findByTestId("kb-edit-saved")).textContent).toContain("revision 4");
    expect((await backend.kbEditable("refund"))!.body).toContain("我的版本");
  });

  it("creates a new article and deletes one, asking twice", async () => {
    const backend = await signedIn("lead");
    render(KnowledgePanel, { backend, articleCount: 2, mayEdit: true });
    await fireEvent.click(await screen.findByTestId("kb-new"));
    await fireEvent.input(screen.getByTestId("kb-edit-title"), { target: { value: "Roaming" } });
    await fireEvent.input(screen.getByTestId("kb-edit-body"), { target: { value: "Open international roaming before travel." } });
    await fireEvent.click(screen.getByTestId("kb-edit-save"));
    await waitFor(() => expect(screen.getByTestId("kb-article").textContent).toContain("Roaming"));
    expect((await backend.workspaceStatus()).kb_articles).toBe(3);

    await fireEvent.click(screen.getByTestId("kb-edit"));
    await fireEvent.click(await screen.findByTestId("kb-edit-delete"));
    expect((await backend.workspaceStatus()).kb_articles).toBe(3);
    expect(screen.getByTestId("kb-edit-delete").textContent).toContain("Click again");
    await fireEvent.click(screen.getByTestId("kb-edit-delete"));
    expect((await screen.findByTestId("kb-edit-saved")).textContent).toContain("Deleted");
    expect((await backend.workspaceStatus()).kb_articles).toBe(2);
    expect(await backend.kbSearch("roaming")).toEqual([]);
  });

  it("lists what is wrong with an empty title and sends nothing", async () => {
    const backend = await signedIn("lead");
    render(KnowledgePanel, { backend, articleCount: 2, mayEdit: true });
    await fireEvent.click(await screen.findByTestId("kb-new"));
    await fireEvent.input(screen.getByTestId("kb-edit-title"), { target: { value: "   " } });
    await fireEvent.input(screen.getByTestId("kb-edit-body"), { target: { value: "text" } });
    // The form's own `required` would stop an empty field; spaces reach the shell's check.
    await fireEvent.submit(screen.getByTestId("kb-editor"));
    expect((await screen.findByTestId("kb-edit-error")).dataset.code).toBe("invalid");
    expect((await backend.workspaceStatus()).kb_articles).toBe(2);
  });

  it("offers no editing without the role", async () => {
    const backend = await signedIn("ann");
    render(KnowledgePanel, { backend, articleCount: 2 });
    await openArticle("password", "Password reset");
    expect(screen.queryByTestId("kb-edit")).toBeNull();
    expect(screen.queryByTestId("kb-new")).toBeNull();
    // And the shell refuses an agent who got there anyway.
    await expect(backend.kbSaveArticle({ ...(await backend.kbEditable("refund"))! })).rejects.toMatchObject({ code: "forbidden" });
  });
});
