import { describe, expect, it } from "vitest";

import { type Alarm, membersInOrder, RollCallStore, statusAt, summary } from "../src/state/rollcall";
import type { RollCall, RollCallMember } from "../src/types";

function member(uid: string, fields: Partial<RollCallMember> = {}): RollCallMember {
  return {
    uid,
    callsign: uid,
    team: "Cyan",
    status: "waiting",
    answered: null,
    answer: null,
    lastPosition: 1_000,
    noPosition: false,
    ...fields,
  };
}

function rollcall(fields: Partial<RollCall> = {}): RollCall {
  return {
    id: "r1",
    code: "PAR-ABC123",
    team: null,
    groups: ["blue"],
    author: "alice",
    started: 1_000,
    deadline: 61_000,
    noPositionMinutes: 10,
    state: "open",
    ended: null,
    complete: false,
    counts: { answered: 0, waiting: 2, overdue: 0, noPosition: 0 },
    members: [member("BRAVO"), member("ALPHA", { status: "answered", answered: 5_000 })],
    ...fields,
  };
}

describe("roll call state", () => {
  it("turns a waiting member overdue when the deadline passes", () => {
    const r = rollcall();
    const bravo = r.members[0]!;
    expect(statusAt(r, bravo, 60_999)).toBe("waiting");
    expect(statusAt(r, bravo, 61_000)).toBe("overdue");
    expect(statusAt(rollcall({ state: "cancelled" }), bravo, 99_000)).toBe("waiting");
  });

  it("lists overdue first and sums up", () => {
    const r = rollcall({ members: [member("ALPHA", { answered: 2_000 }), member("BRAVO", { noPosition: true })] });
    expect(membersInOrder(r, 70_000).map((m) => m.uid)).toEqual(["BRAVO", "ALPHA"]);
    expect(summary(r, 70_000)).toBe("1/2 answered, 1 overdue, 1 without position");
    expect(summary(r, 2_000)).toBe("1/2 answered, 1 without position");
  });

  it("keeps an alarm until acknowledged or the roll call ends", () => {
    const store = new RollCallStore();
    store.apply(rollcall());
    const overdue: Alarm = { id: "r1", code: "PAR-ABC123", kind: "overdue", names: ["BRAVO"] };
    store.raise(overdue);
    expect(store.pendingAlarms()).toHaveLength(1);
    store.apply(rollcall({ complete: true }));
    expect(store.pendingAlarms()).toHaveLength(0);
    store.raise(overdue);
    store.acknowledge(overdue);
    expect(store.pendingAlarms()).toHaveLength(0);
  });

  it("raises a missed alarm from the server's list, but not an acknowledged one", () => {
    const store = new RollCallStore();
    const late = rollcall({ members: [member("BRAVO", { status: "overdue" })] });
    store.replaceAll([late]);
    const [alarm] = store.pendingAlarms();
    expect(alarm).toEqual({ id: "r1", code: "PAR-ABC123", kind: "overdue", names: ["BRAVO"] });
    store.acknowledge(alarm!);
    store.replaceAll([late]);
    expect(store.pendingAlarms()).toEqual([]);
  });

  it("alarms for members without position, again for each one newly lost", () => {
    const store = new RollCallStore();
    store.apply(rollcall());
    store.raise({ id: "r1", code: "PAR-ABC123", kind: "no-position", names: ["BRAVO"], minutes: 10 });
    store.raise({ id: "r1", code: "PAR-ABC123", kind: "no-position", names: ["ALPHA"], minutes: 10 });
    const [alarm] = store.pendingAlarms();
    expect(alarm?.names).toEqual(["BRAVO", "ALPHA"]);
    store.acknowledge(alarm!);
    const lost = rollcall({ members: [member("BRAVO", { noPosition: true }), member("ALPHA", { noPosition: true })] });
    store.replaceAll([lost]);
    expect(store.pendingAlarms()).toEqual([]);
    store.raise({ id: "r1", code: "PAR-ABC123", kind: "no-position", names: ["BRAVO"], minutes: 10 });
    expect(store.pendingAlarms().map((a) => a.names)).toEqual([["BRAVO"]]);
  });

  it("drops a member from the no-position alarm once it reports again", () => {
    const store = new RollCallStore();
    store.raise({ id: "r1", code: "PAR-ABC123", kind: "no-position", names: ["BRAVO", "ALPHA"], minutes: 10 });
    store.apply(rollcall({ members: [member("BRAVO", { noPosition: true }), member("ALPHA")] }));
    expect(store.pendingAlarms().map((a) => a.names)).toEqual([["BRAVO"]]);
    store.apply(rollcall({ members: [member("BRAVO"), member("ALPHA")] }));
    expect(store.pendingAlarms()).toEqual([]);
  });

  it("lists the newest first", () => {
    const store = new RollCallStore();
    store.replaceAll([rollcall({ id: "old", started: 1 }), rollcall({ id: "new", started: 2 })]);
    expect(store.list().map((r) => r.id)).toEqual(["new", "old"]);
  });
});
