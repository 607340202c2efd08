import { describe, expect, it } from "vitest";

import { formatClock, formatTime } from "../src/ui/dom";

describe("formatTime", () => {
  it("gives the date and the zone, so a log read the next day or elsewhere is unambiguous", () => {
    const at = Date.UTC(2026, 11, 3, 9, 5, 9);
    const zone = new Intl.DateTimeFormat([], { timeZoneName: "short" }).formatToParts(at).find((p) => p.type === "timeZoneName");
    const text = formatTime(at);
    expect(text).toContain("2026");
    expect(zone).toBeDefined();
    expect(text).toContain(zone?.value ?? "zone");
    expect(text.length).toBeGreaterThan(formatClock(at).length);
  });
});
