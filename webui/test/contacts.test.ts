import { describe, expect, it } from "vitest";

import { ContactStore, DRAWINGS, ago, batteryLevel, sectionOf } from "../src/state/contacts";
import { contact } from "./fixtures";

describe("ContactStore", () => {
  it("keeps the latest report per uid and ignores older ones", () => {
    const store = new ContactStore();
    expect(store.upsert(contact("a", { time: 2_000, lat: 1 }), 2_000)).toBe(true);
    expect(store.upsert(contact("a", { time: 1_500, lat: 2 }), 2_100)).toBe(false);
    expect(store.upsert(contact("a", { time: 3_000, lat: 3 }), 3_000)).toBe(true);
    expect(store.size).toBe(1);
    expect(store.get("a")?.contact.lat).toBe(3);
  });

  it("derives a symbol code when the server sent none", () => {
    const store = new ContactStore();
    store.upsert(contact("h", { type: "a-h-G-U-C-I", sidc: null }), 1_000);
    store.upsert(contact("m", { type: "b-m-p-s-m", sidc: null }), 1_000);
    expect(store.get("h")?.sidc).toBe("SHGPUCI--------");
    expect(store.get("m")?.sidc).toBe("SUGP-----------");
  });

  it("coalesces a burst of reports into one redraw per interval", () => {
    const store = new ContactStore({ flushIntervalMs: 100 });
    expect(store.takeFlush(0)).toBe(false); // nothing to draw yet
    store.upsert(contact("a"), 0);
    expect(store.takeFlush(0)).toBe(true); // the first change draws at once
    for (let i = 1; i <= 50; i += 1) store.upsert(contact("a", { time: 1_000 + i }), i);
    expect(store.takeFlush(50)).toBe(false); // within the interval: wait
    expect(store.takeFlush(101)).toBe(true); // one redraw for the 50 reports
    expect(store.takeFlush(300)).toBe(false); // nothing new since
  });

  it("redraws a big picture less often, at most once a second", () => {
    const store = new ContactStore({ flushIntervalMs: 100 });
    for (let i = 0; i < 2_000; i += 1) store.upsert(contact(`c${i}`), 0);
    expect(store.takeFlush(0)).toBe(true);
    store.upsert(contact("c1", { time: 2_000 }), 500);
    expect(store.takeFlush(999)).toBe(false);
    expect(store.takeFlush(1_000)).toBe(true);
  });

  it("greys a contact at its stale time and removes it after the grey period", () => {
    const store = new ContactStore({ greyMs: 10_000 });
    store.upsert(contact("a", { stale: 5_000 }), 1_000);
    expect(store.sweep(4_999)).toBe(false);
    expect(store.get("a")?.status).toBe("live");
    expect(store.sweep(5_000)).toBe(true);
    expect(store.get("a")?.status).toBe("stale");
    expect(store.sweep(14_999)).toBe(false);
    expect(store.get("a")).toBeDefined();
    expect(store.sweep(15_000)).toBe(true);
    expect(store.get("a")).toBeUndefined();
  });

  it("a fresh report brings a grey contact back to live", () => {
    const store = new ContactStore({ greyMs: 10_000 });
    store.upsert(contact("a", { stale: 5_000 }), 1_000);
    store.sweep(6_000);
    store.upsert(contact("a", { time: 6_000, stale: 66_000 }), 6_000);
    expect(store.get("a")?.status).toBe("live");
  });

  it("removes a deleted contact at once, but leaves a stale-expired one greyed", () => {
    const store = new ContactStore({ greyMs: 10_000 });
    store.upsert(contact("deleted", { stale: 50_000 }), 1_000);
    store.upsert(contact("expired", { stale: 5_000 }), 1_000);
    store.remove("deleted", 6_000);
    store.remove("expired", 6_000);
    store.remove("unknown", 6_000);
    expect(store.get("deleted")).toBeUndefined();
    expect(store.get("expired")?.status).toBe("stale");
  });

  it("does not take a report that is already past its grey period", () => {
    const store = new ContactStore({ greyMs: 1_000 });
    expect(store.upsert(contact("old", { stale: 5_000 }), 6_000)).toBe(false);
    expect(store.upsert(contact("grey", { stale: 5_000 }), 5_500)).toBe(true);
    expect(store.get("grey")?.status).toBe("stale");
  });

  it("a snapshot replaces everything held", () => {
    const store = new ContactStore();
    store.upsert(contact("gone"), 1_000);
    store.replaceAll([contact("a"), contact("b")], 1_000);
    expect(store.list().map((e) => e.contact.uid).sort()).toEqual(["a", "b"]);
  });

  it("is bounded", () => {
    const store = new ContactStore({ maxContacts: 2 });
    store.upsert(contact("a"), 1_000);
    store.upsert(contact("b"), 1_000);
    expect(store.upsert(contact("c"), 1_000)).toBe(false);
    expect(store.upsert(contact("a", { time: 2_000 }), 2_000)).toBe(true); // updates still apply
    expect(store.size).toBe(2);
  });

  it("groups by team, sorted, and filters on callsign, team, type and uid", () => {
    const store = new ContactStore();
    store.upsert(contact("b1", { callsign: "BRAVO-1", team: "Red" }), 1_000);
    store.upsert(contact("a2", { callsign: "ALPHA-2", team: "Cyan" }), 1_000);
    store.upsert(contact("a1", { callsign: "ALPHA-1", team: "Cyan" }), 1_000);
    store.upsert(contact("x", { callsign: "HOSTILE", team: null, type: "a-h-G" }), 1_000);
    const all = store.byTeam("");
    expect([...all.keys()]).toEqual(["Cyan", "No team", "Red"]);
    expect(all.get("Cyan")?.map((e) => e.contact.callsign)).toEqual(["ALPHA-1", "ALPHA-2"]);
    expect([...store.byTeam("red").keys()]).toEqual(["Red"]);
    expect([...store.byTeam("a-h").keys()]).toEqual(["No team"]);
    expect(store.byTeam("alpha-2").get("Cyan")?.length).toBe(1);
    expect(store.byTeam("nothing").size).toBe(0);
  });

  it("lists markers and shapes in their own section after the teams, not under No team", () => {
    const store = new ContactStore();
    const square = { kind: "polygon" as const, coordinates: [], radius: null, stroke: "#f00", fill: null, colour: "#ff0000", weight: 3, labels: true };
    store.upsert(contact("u", { callsign: "UNIT", team: null }), 1_000);
    store.upsert(contact("zulu", { callsign: "ZULU", team: "Yellow" }), 1_000);
    store.upsert(contact("spot", { callsign: "CCP", team: null, type: "b-m-p-s-m", affiliation: null }), 1_000);
    store.upsert(contact("rect", { callsign: "Rect 1", team: null, type: "u-d-r", shape: square }), 1_000);
    store.upsert(contact("rb", { callsign: "R&B 1", team: null, type: "u-rb-a" }), 1_000);
    const sections = store.byTeam("");
    expect([...sections.keys()]).toEqual(["No team", "Yellow", DRAWINGS]);
    expect(sections.get("No team")?.map((e) => e.contact.uid)).toEqual(["u"]);
    expect(sections.get(DRAWINGS)?.map((e) => e.contact.callsign)).toEqual(["CCP", "R&B 1", "Rect 1"]);
    expect(sectionOf(contact("g", { team: "Cyan", type: "u-d-f" }))).toBe(DRAWINGS);
    expect([...store.byTeam("ccp").keys()]).toEqual([DRAWINGS]);
  });

  it("keeps no mission objective's marker: the objectives layer draws it, once", () => {
    const store = new ContactStore();
    expect(store.upsert(contact("obj-1", { type: "b-m-p-s-p-i", team: null, objective: "obj-1" }), 1_000)).toBe(false);
    expect(store.upsert(contact("obj-2", { type: "u-d-f", team: null, objective: "obj-2" }), 1_000)).toBe(false);
    expect(store.size).toBe(0);
    expect(store.byTeam("").size).toBe(0);
    expect(store.upsert(contact("spot", { type: "b-m-p-s-m", objective: null }), 1_000)).toBe(true);
  });

  it("bumps its version on every change so views know when to redraw", () => {
    const store = new ContactStore();
    const before = store.version;
    store.upsert(contact("a"), 1_000);
    expect(store.version).toBeGreaterThan(before);
    const after = store.version;
    store.sweep(2_000);
    expect(store.version).toBe(after);
  });
});

describe("ago", () => {
  it("says how long ago in seconds, minutes or hours", () => {
    expect(ago(0, 12_400)).toBe("12 s ago");
    expect(ago(0, 5 * 60_000)).toBe("5 min ago");
    expect(ago(0, 3 * 3_600_000)).toBe("3 h ago");
    expect(ago(10_000, 0)).toBe("0 s ago");
  });
});

describe("lost units", () => {
  const lost = { since: 5_000, reason: "disconnected" };

  it("keeps a lost unit past its stale and grey time, until the server removes it", () => {
    const store = new ContactStore({ greyMs: 1_000 });
    store.upsert(contact("a", { stale: 10_000 }), 2_000);
    expect(store.upsert(contact("a", { stale: 10_000, lost }), 5_000)).toBe(true);
    expect(store.get("a")?.status).toBe("lost");
    store.sweep(60_000);
    expect(store.get("a")?.status).toBe("lost");
    expect(store.upsert(contact("b", { stale: 1_000, lost }), 90_000)).toBe(true); // a snapshot long after
    store.remove("a", 6_000); // before its stale time or after: the server's word is final
    expect(store.get("a")).toBeUndefined();
  });

  it("is live again when a newer report comes", () => {
    const store = new ContactStore();
    store.upsert(contact("a", { lost }), 5_000);
    store.upsert(contact("a", { time: 6_000 }), 6_000);
    expect(store.get("a")?.status).toBe("live");
    expect(store.get("a")?.contact.lost).toBeUndefined();
  });

  it("grades the battery so 8 % does not look like 95 %", () => {
    expect([8, 19, 20, 49, 50, 95].map(batteryLevel)).toEqual(["low", "low", "warn", "warn", "ok", "ok"]);
    expect(batteryLevel(null)).toBe("");
  });
});
