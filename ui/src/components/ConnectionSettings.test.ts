// The server timeouts against the mock shell (which checks them as crates/settings does): the
// saved values shown, a change saved, a request shorter than its silence refused with the
// shell's message and nothing changed.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import ConnectionSettings from "./ConnectionSettings.svelte";
import { createMockDesktop } from "../lib/desktop.mock";
import { i18n } from "../lib/i18n.svelte";

describe("server connection settings", () => {
  beforeEach(() => i18n.set("en"));
  afterEach(() => cleanup());

  it("shows the saved timeouts and saves a change", async () => {
    const desk = createMockDesktop();
    render(ConnectionSettings, { backend: desk });
    const read = (await screen.findByTestId("timeout-read_timeout_secs")) as HTMLInputElement;
    expect(read.value).toBe("15");
    await fireEvent.input(read, { target: { value: "60" } });
    await fireEvent.input(screen.getByTestId("timeout-request_timeout_secs"), { target: { value: "120" } });
    await fireEvent.click(screen.getByTestId("connection-save"));
    await screen.findByTestId("connection-saved");
    expect(await desk.connectionSettings()).toEqual({
      connect_timeout_secs: 5,
      read_timeout_secs: 60,
      request_timeout_secs: 120,
    });
  });

  it("shows the shell's refusal and keeps the old timeouts", async () => {
    const desk = createMockDesktop();
    render(ConnectionSettings, { backend: desk });
    await fireEvent.input(await screen.findByTestId("timeout-read_timeout_secs"), { target: { value: "60" } });
    await fireEvent.click(screen.getByTestId("connection-save"));
    await waitFor(() =>
      expect(screen.getByTestId("connection-error").textContent).toContain("shorter than sync.read_timeout_secs"),
    );
    expect(screen.queryByTestId("connection-saved")).toBeNull();
    expect((await desk.connectionSettings()).read_timeout_secs).toBe(15);
  });

  it("reads in Chinese", async () => {
    i18n.set("zh-CN");
    render(ConnectionSettings, { backend: createMockDesktop() });
    expect((await screen.findByTestId("connection-settings")).textContent).toContain("服务器连接");
  });
});
