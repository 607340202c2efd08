import { describe, expect, it } from "vitest";

import { extendTrack } from "../src/state/track";

const line = (coordinates: number[][]): GeoJSON.Feature => ({
  type: "Feature",
  properties: { uid: "a" },
  geometry: { type: "LineString", coordinates },
});

describe("extendTrack", () => {
  it("appends a new position and keeps the same track for a repeated one", () => {
    const track = line([[1, 2, 10]]);
    const moved = extendTrack(track, 1.5, 2.5);
    expect(moved.geometry).toEqual({ type: "LineString", coordinates: [[1, 2, 10], [1.5, 2.5]] });
    expect(extendTrack(moved, 1.5, 2.5)).toBe(moved);
  });

  it("starts an empty track and drops the oldest points past the limit", () => {
    const track = extendTrack(extendTrack(extendTrack(line([]), 1, 1, 2), 2, 2, 2), 3, 3, 2);
    expect(track.geometry).toEqual({ type: "LineString", coordinates: [[2, 2], [3, 3]] });
  });
});
