import { describe, expect, it } from "vitest";

import { lastAtOrBefore, ReplayTimeline } from "../src/state/replay";
import type { ReplayPosition, ReplayWindow } from "../src/types";

function at(uid: string, time: number, lat: number): ReplayPosition {
  return { uid, callsign: uid, type: "a-f-G-U-C", time, lat, lon: 11 };
}

function window(fields: Partial<ReplayWindow> = {}): ReplayWindow {
  return {
    start: 0,
    end: 100,
    truncated: false,
    positions: [at("B", 50, 2), at("A", 10, 1), at("A", 30, 1.5), at("A", 60, 1.8)],
    chat: [{ id: "c", from_uid: "A", from_callsign: "A", to: "All Chat Rooms", room: "All Chat Rooms", text: "moving", time: 20 }],
    objectives: [
      { time: 40, id: "o", shortId: "OBJ-1", title: "Bridge", state: "designated", assignee: null, author: "cp", mission: "op", lat: 1, lon: 2 },
    ],
    alerts: [{ uid: "A-9-1-1", callsign: "A", kind: "911 Alert", lat: 1, lon: 2, time: 70, active: true }],
    rollcalls: [{ time: 80, id: "r", code: "PAR-ABC123", text: "A checked in: PAR" }],
    ...fields,
  };
}

describe("ReplayTimeline", () => {
  it("gives each unit's latest position at a time", () => {
    const timeline = new ReplayTimeline(window());
    expect(timeline.positionsAt(5)).toEqual([]);
    expect(timeline.positionsAt(30).map((p) => [p.uid, p.lat])).toEqual([["A", 1.5]]);
    expect(timeline.positionsAt(55).map((p) => [p.uid, p.lat])).toEqual([["A", 1.5], ["B", 2]]);
    expect(timeline.positionsAt(100).map((p) => p.lat)).toEqual([1.8, 2]);
    expect(timeline.trailsAt(35)).toEqual([{ uid: "A", coordinates: [[11, 1], [11, 1.5]] }]);
  });

  it("lists what was said and raised up to a time, newest first", () => {
    const timeline = new ReplayTimeline(window());
    expect(timeline.entriesUpTo(19, 5)).toEqual([]);
    expect(timeline.entriesUpTo(45, 5).map((e) => e.kind)).toEqual(["objective", "chat"]);
    expect(timeline.entriesUpTo(100, 2).map((e) => e.kind)).toEqual(["rollcall", "alert"]);
    expect(timeline.entriesUpTo(100, 1)[0]?.text).toBe("PAR-ABC123 A checked in: PAR");
  });

  it("finds the last item at or before a time", () => {
    const items = [{ time: 1 }, { time: 3 }, { time: 3 }, { time: 7 }];
    expect(lastAtOrBefore(items, 0)).toBe(-1);
    expect(lastAtOrBefore(items, 3)).toBe(2);
    expect(lastAtOrBefore(items, 9)).toBe(3);
    expect(lastAtOrBefore([], 9)).toBe(-1);
  });
});
