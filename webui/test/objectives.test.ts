import { describe, expect, it } from "vitest";

import { ObjectiveStore, STATES, canMove, isFinal, stateView } from "../src/state/objectives";
import { objective } from "./fixtures";

describe("objective state machine view", () => {
  it("walks designated → assigned → acknowledged → in progress → done", () => {
    const path = ["designated", "assigned", "acknowledged", "in_progress", "done"];
    path.forEach((state, step) => {
      expect(stateView(state).step).toBe(step);
      const next = path[step + 1];
      if (next !== undefined) expect(canMove(state, next)).toBe(true);
    });
  });

  it("allows cancelling any open state and nothing after done or cancelled", () => {
    for (const state of ["designated", "assigned", "acknowledged", "in_progress"]) {
      expect(canMove(state, "cancelled")).toBe(true);
      expect(isFinal(state)).toBe(false);
    }
    for (const state of ["done", "cancelled"]) {
      expect(isFinal(state)).toBe(true);
      for (const to of STATES) expect(canMove(state, to)).toBe(false);
      expect(stateView(state).actions).toEqual([]);
    }
  });

  it("needs an acknowledgement before done, but starting implies acknowledging", () => {
    expect(canMove("assigned", "done")).toBe(false);
    expect(canMove("assigned", "in_progress")).toBe(true);
    expect(canMove("designated", "acknowledged")).toBe(false);
    expect(canMove("acknowledged", "done")).toBe(true);
  });

  it("offers status moves but not assignment (a separate action)", () => {
    expect(stateView("designated").actions).toEqual(["cancelled"]);
    expect(stateView("assigned").actions).toEqual(["acknowledged", "in_progress", "cancelled"]);
    expect(stateView("acknowledged").actions).toEqual(["in_progress", "done", "cancelled"]);
  });

  it("labels and colours each state, and shows unknown states as they are", () => {
    expect(stateView("in_progress").label).toBe("In progress");
    expect(new Set(STATES.map((s) => stateView(s).colour)).size).toBe(STATES.length);
    const unknown = stateView("paused");
    expect(unknown.label).toBe("paused");
    expect(unknown.step).toBe(-1);
    expect(canMove("paused", "done")).toBe(false);
    expect(stateView("cancelled").step).toBe(-1);
  });
});

describe("ObjectiveStore", () => {
  it("keeps the objective with the longer history whatever the arrival order", () => {
    const store = new ObjectiveStore();
    const assigned = objective("o1", {
      state: "assigned",
      history: [
        { state: "designated", author: "cmd", time: 1_000 },
        { state: "assigned", author: "cmd", time: 2_000 },
      ],
    });
    expect(store.upsert(assigned)).toBe(true);
    expect(store.upsert(objective("o1"))).toBe(false); // a late REST answer with less history
    expect(store.get("o1")?.state).toBe("assigned");
  });

  it("lists a mission's open objectives first, then by title", () => {
    const store = new ObjectiveStore();
    store.upsert(objective("1", { title: "Bridge", state: "done" }));
    store.upsert(objective("2", { title: "Ridge" }));
    store.upsert(objective("3", { title: "Crossing", state: "assigned" }));
    store.upsert(objective("4", { title: "Elsewhere", mission: "other" }));
    expect(store.ofMission("op-north").map((o) => o.title)).toEqual(["Crossing", "Ridge", "Bridge"]);
    expect(store.all()).toHaveLength(4);
  });
});
