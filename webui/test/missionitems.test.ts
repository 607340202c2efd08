import { describe, expect, it } from "vitest";

import { itemAnchor, missionItemFeatures } from "../src/map/missionitems";
import type { MissionItem } from "../src/types";

const base = { creatorUid: "ANDROID-1", time: 1_700_000_000_000 };
const spot: MissionItem = { ...base, uid: "spot-1", type: "b-m-p-s-m", callsign: "Helispot", geometry: { type: "Point", coordinates: [-77.5, 38.5] } };
const area: MissionItem = {
  ...base,
  uid: "rect-1",
  type: "u-d-r",
  callsign: null,
  geometry: { type: "Polygon", coordinates: [[[-77.04, 38.9], [-77.02, 38.9], [-77.02, 38.88], [-77.04, 38.9]]] },
};
const route: MissionItem = { ...base, uid: "route-1", type: "b-m-r", callsign: "Route", geometry: { type: "LineString", coordinates: [[-77.1, 38.7], [-77.2, 38.8]] } };
const nowhere: MissionItem = { ...base, uid: "x", type: null, callsign: "X", geometry: null };

describe("missionItemFeatures", () => {
  it("draws every item with a location, labelled by callsign or uid", () => {
    const drawn = missionItemFeatures([spot, area, route, nowhere]);
    expect(drawn.features.map((f) => f.properties?.label)).toEqual(["Helispot", "rect-1", "Route"]);
    expect(drawn.features.map((f) => f.geometry.type)).toEqual(["Point", "Polygon", "LineString"]);
    expect(drawn.features[1]?.properties?.type).toBe("u-d-r");
  });
});

describe("itemAnchor", () => {
  it("centres on a marker, a line's first vertex or an area's first corner", () => {
    expect(itemAnchor(spot)).toEqual([-77.5, 38.5]);
    expect(itemAnchor(route)).toEqual([-77.1, 38.7]);
    expect(itemAnchor(area)).toEqual([-77.04, 38.9]);
    expect(itemAnchor(nowhere)).toBeNull();
  });
});
