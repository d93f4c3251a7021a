// The recordings view against the pretend recordings folder (same shapes as crates/recordings):
// listing newest first, search by number and date, playback through a Blob URL, delete, and
// the files that could not be listed.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import RecordingsPanel from "./RecordingsPanel.svelte";
import { createMockRecordings } from "../lib/recordings";
import { demoRecordings } from "../lib/backend.mock";
import { i18n } from "../lib/i18n.svelte";

describe("recordings view", () => {
  beforeEach(() => {
    i18n.set("en");
    URL.createObjectURL = vi.fn(() => "blob:mock/1");
    URL.revokeObjectURL = vi.fn();
  });
  afterEach(() => cleanup());

  const ids = () => screen.queryAllByTestId("recording").map((li) => li.dataset.id);

  it("lists, searches by number and date, plays and deletes", async () => {
    const backend = createMockRecordings(demoRecordings, [{ file: "broken.wav", reason: "sidecar is not valid" }]);
    render(RecordingsPanel, { backend });
    await waitFor(() => expect(ids()).toEqual(["20261130T123000Z-a1.wav", "20261129T080000Z-b2.wav"]));
    expect(screen.getByTestId("recordings-problems").textContent).toContain("broken.wav");
    expect(screen.getByTestId("recording-unfinished")).toBeTruthy();
    expect(screen.getAllByTestId("recording")[0]!.textContent).toContain("Paused 1×");

    await fireEvent.input(screen.getByTestId("recordings-text"), { target: { value: "138 0013" } });
    await fireEvent.click(screen.getByTestId("recordings-search"));
    await waitFor(() => expect(ids()).toEqual(["20261130T123000Z-a1.wav"]));

    await fireEvent.input(screen.getByTestId("recordings-text"), { target: { value: "" } });
    await fireEvent.input(screen.getByTestId("recordings-from"), { target: { value: "2026-11-28" } });
    await fireEvent.input(screen.getByTestId("recordings-to"), { target: { value: "2026-11-29" } });
    await fireEvent.click(screen.getByTestId("recordings-search"));
    await waitFor(() => expect(ids()).toEqual(["20261129T080000Z-b2.wav"]));

    await fireEvent.click(screen.getByTestId("recording-play"));
    await waitFor(() => expect(screen.getByTestId("recording-audio").getAttribute("src")).toBe("blob:mock/1"));
    const blob = (URL.createObjectURL as ReturnType<typeof vi.fn>).mock.calls[0]![0] as Blob;
    expect(blob.type).toBe("audio/wav");

    await fireEvent.click(screen.getByTestId("recording-delete"));
    await fireEvent.click(screen.getByTestId("recording-delete-confirm"));
    await waitFor(() => expect(screen.getByTestId("recordings-empty")).toBeTruthy());
    expect(URL.revokeObjectURL).toHaveBeenCalledWith("blob:mock/1");
  });

  it("shows a failed listing as an error, in Chinese too", async () => {
    i18n.set("zh-CN");
    const backend = createMockRecordings([]);
    backend.recordingsList = async () => {
      throw { code: "storage", message: "recordings folder /x: permission denied" };
    };
    render(RecordingsPanel, { backend });
    await waitFor(() => expect(screen.getByTestId("recordings-error").textContent).toContain("permission denied"));
    expect(screen.getByTestId("recordings-search").textContent).toBe("搜索");
  });
});
