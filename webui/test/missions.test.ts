import { describe, expect, it } from "vitest";

import { readDetail } from "../src/ui/missions";

describe("readDetail", () => {
  it("reads the mission's map items beside its objectives and change log", () => {
    const item = { uid: "spot-1", type: "b-m-p-s-m", callsign: "Spot", creatorUid: "A", time: 1, geometry: null };
    const detail = readDetail({ name: "op", objectives: [], changeLog: [], items: [item] });
    expect(detail.mission.name).toBe("op");
    expect(detail.items).toEqual([item]);
  });

  it("has no items when the server sends none", () => {
    expect(readDetail({ name: "op" }).items).toEqual([]);
  });
});
