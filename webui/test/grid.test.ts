import { describe, expect, it } from "vitest";

import { formatDegrees, gridLines, gridStep } from "../src/map/grid";

describe("grid", () => {
  it("picks a spacing that keeps a few lines across the view", () => {
    expect(gridStep(40)).toBe(5);
    expect(gridStep(0.5)).toBeCloseTo(5 / 60);
    expect(gridStep(0.01)).toBeCloseTo(10 / 3600);
  });

  it("labels in degrees and minutes with the hemisphere", () => {
    expect(formatDegrees(46.5, "N", "S")).toBe("46°30′N");
    expect(formatDegrees(-7.25, "E", "W")).toBe("7°15′W");
    expect(formatDegrees(10, "E", "W")).toBe("10°E");
  });

  it("draws meridians and parallels across the view", () => {
    const grid = gridLines(6.9, 45.9, 7.4, 46.3);
    const labels = grid.features.map((f) => f.properties?.label as string);
    expect(labels).toContain("7°E");
    expect(labels).toContain("46°N");
    expect(labels.length).toBeLessThanOrEqual(20);
  });
});
