import { describe, expect, it } from "vitest";

import { teamColour } from "../src/state/teams";

describe("teamColour", () => {
  it("knows ATAK's team names in any case", () => {
    expect(teamColour("Cyan")).toBe("#00ffff");
    expect(teamColour("dark blue")).toBe("#00007f");
    expect(teamColour(" Dark Green ")).toBe("#007f00");
  });

  it("has no colour for no team or an unknown one", () => {
    expect(teamColour(null)).toBeNull();
    expect(teamColour("Sector 7")).toBeNull();
  });
});
