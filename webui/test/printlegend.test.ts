import { describe, expect, it } from "vitest";

import { extentText, metresPerPixel, scaleBar, teamCounts, utcStamp } from "../src/map/printlegend";
import type { ContactEntry } from "../src/state/contacts";
import { contact } from "./fixtures";

const entry = (uid: string, team: string | null, status: ContactEntry["status"] = "live"): ContactEntry => ({
  contact: contact(uid, { team }),
  sidc: "SFGPU------",
  status,
});

describe("teamCounts", () => {
  it("counts live and grey units per team, in team order with no team last", () => {
    const counts = teamCounts([entry("a", "Red"), entry("b", null), entry("c", "Cyan"), entry("d", "Red", "lost"), entry("e", "Red")]);
    expect(counts).toEqual([
      { team: "Cyan", colour: "#00ffff", live: 1, grey: 0 },
      { team: "Red", colour: "#ff0000", live: 2, grey: 1 },
      { team: "No team", colour: null, live: 1, grey: 0 },
    ]);
  });
});

describe("scaleBar", () => {
  it("picks a round distance no longer than a fifth of the map", () => {
    const bar = scaleBar(10, 1000); // 10 km across: at most 2 km
    expect(bar).toEqual({ metres: 2000, fraction: 0.2, label: "2 km" });
    expect(scaleBar(1.3, 1000).label).toBe("200 m");
    expect(scaleBar(0.04, 1000).label).toBe("5 m");
  });

  it("reads Web Mercator's ground resolution", () => {
    expect(metresPerPixel(0, 0)).toBeCloseTo(78271.5, 0);
    expect(metresPerPixel(60, 1)).toBeCloseTo(78271.5 / 4, 0);
  });
});

describe("stamps", () => {
  it("writes the extent corner to corner with hemispheres", () => {
    expect(extentText(-77.04, 38.88, -77.02, 38.9)).toBe("38.8800° N 77.0400° W – 38.9000° N 77.0200° W");
    expect(extentText(150.1, -34, 151, -33.5)).toBe("34.0000° S 150.1000° E – 33.5000° S 151.0000° E");
  });

  it("writes the UTC time to the minute", () => {
    expect(utcStamp(Date.UTC(2026, 11, 3, 9, 40, 59))).toBe("2026-12-03 09:40Z");
  });
});
