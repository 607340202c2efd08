import { describe, expect, it } from "vitest";

import { clusteredSource, drawnUids } from "../src/map/clusters";

describe("drawnUids", () => {
  it("reads a single unit's uid", () => {
    expect(drawnUids({ uid: "ANDROID-1", callsign: "ALPHA" })).toEqual(["ANDROID-1"]);
  });

  it("reads every member of a cluster", () => {
    expect(drawnUids({ cluster_id: 7, point_count: 3, uids: "A\nB\nC" })).toEqual(["A", "B", "C"]);
  });

  it("draws nothing for a feature of neither kind", () => {
    expect(drawnUids({ title: "an objective" })).toEqual([]);
  });
});

describe("clusteredSource", () => {
  it("accumulates member uids with a separator no uid holds", () => {
    const source = clusteredSource({ type: "FeatureCollection", features: [] });
    expect(source.cluster).toBe(true);
    expect(source.clusterProperties).toEqual({ uids: [["concat", ["accumulated"], "\n", ["get", "uids"]], ["get", "uid"]] });
  });
});
