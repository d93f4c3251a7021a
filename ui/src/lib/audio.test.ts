import { describe, expect, it } from "vitest";
import { devicesFor, meterPercent, type AudioDevice } from "./audio";

describe("audio helpers", () => {
  it("maps -60..0 dBFS onto the meter and clamps the rest", () => {
    expect(meterPercent(-90)).toBe(0);
    expect(meterPercent(-60)).toBe(0);
    expect(meterPercent(-30)).toBe(50);
    expect(meterPercent(-6)).toBe(90);
    expect(meterPercent(0)).toBe(100);
    expect(meterPercent(3)).toBe(100);
    expect(meterPercent(Number.NEGATIVE_INFINITY)).toBe(0);
  });

  it("lists one direction's devices once, the default first", () => {
    const list: AudioDevice[] = [
      { id: "hw:1", name: "Headset", is_input: false, is_default: false },
      { id: "hw:1", name: "Headset", is_input: true, is_default: false },
      { id: "default", name: "Default", is_input: false, is_default: true },
      { id: "hw:1", name: "Headset", is_input: false, is_default: false },
    ];
    expect(devicesFor(list, false).map((d) => d.id)).toEqual(["default", "hw:1"]);
    expect(devicesFor(list, true).map((d) => d.id)).toEqual(["hw:1"]);
  });
});
