import { describe, expect, it } from "vitest";

import { MERCATOR_LIMIT, planarRing, unwrap } from "../src/map/antimeridian";

describe("unwrap", () => {
  it("keeps a line crossing the antimeridian continuous", () => {
    expect(unwrap([[178, 60], [-179, 61], [-175, 62]])).toEqual([[178, 60], [181, 61], [185, 62]]);
  });

  it("leaves an ordinary line alone", () => {
    expect(unwrap([[-10, 40], [5, 41]])).toEqual([[-10, 40], [5, 41]]);
  });
});

describe("planarRing", () => {
  it("closes a ring round the south pole along the map's bottom edge", () => {
    const ring = [[-180, -70], [-60, -72], [60, -68], [179, -71], [-180, -70]];
    const out = planarRing(ring) as [number, number][];
    const lons = out.map((p) => p[0]);
    expect(Math.max(...lons) - Math.min(...lons)).toBeLessThanOrEqual(360);
    expect(out.filter((p) => p[1] === -MERCATOR_LIMIT)).toHaveLength(2);
    expect(out[out.length - 1]).toEqual(out[0]);
    // every step but the one along the edge stays within half a turn
    out.forEach(([lon, lat], i) => {
      const [before, beforeLat] = out[i - 1] ?? [lon, lat];
      if (lat !== -MERCATOR_LIMIT || beforeLat !== -MERCATOR_LIMIT) expect(Math.abs(lon - before)).toBeLessThanOrEqual(180);
    });
  });

  it("shifts an island ring across the antimeridian without closing it at a pole", () => {
    const out = planarRing([[179, -17], [-179, -17], [-179, -18], [179, -18], [179, -17]]);
    expect(out).toEqual([[179, -17], [181, -17], [181, -18], [179, -18], [179, -17]]);
  });
});
