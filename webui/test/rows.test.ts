import { describe, expect, it } from "vitest";

import { ContactStore } from "../src/state/contacts";
import { OVERSCAN_ROWS, ROW_PX, RowLayout, TEAM_PX, flatten } from "../src/state/rows";
import { contact } from "./fixtures";

function picture(perTeam: number, teams: string[]): RowLayout {
  const store = new ContactStore();
  for (const team of teams) {
    for (let i = 0; i < perTeam; i += 1) store.upsert(contact(`${team}-${i}`, { team }), 1_000);
  }
  return new RowLayout(flatten(store.byTeam("")));
}

describe("flatten", () => {
  it("puts each team's heading, with its live count, before its members", () => {
    const store = new ContactStore({ greyMs: 100_000 });
    store.upsert(contact("a", { team: "Red" }), 1_000);
    store.upsert(contact("b", { team: "Red", stale: 2_000 }), 1_000);
    store.upsert(contact("c", { team: "Blue" }), 1_000);
    store.sweep(3_000);
    const items = flatten(store.byTeam(""));
    expect(items.map((i) => i.key)).toEqual(["t:Blue", "c:c", "t:Red", "c:a", "c:b"]);
    expect(items[2]).toMatchObject({ kind: "team", live: 1, total: 2 });
  });
});

describe("RowLayout", () => {
  it("stacks team headings and rows at their fixed heights", () => {
    const layout = picture(3, ["A", "B"]);
    expect(layout.top(0)).toBe(0);
    expect(layout.top(1)).toBe(TEAM_PX);
    expect(layout.top(4)).toBe(TEAM_PX + 3 * ROW_PX);
    expect(layout.height).toBe(2 * TEAM_PX + 6 * ROW_PX);
  });

  it("shows only the rows in the viewport plus the overscan, wherever it is scrolled", () => {
    const layout = picture(1_000, ["A"]);
    expect(layout.visible(0, 10 * ROW_PX)).toEqual([0, 10 + OVERSCAN_ROWS]);
    const top = TEAM_PX + 500 * ROW_PX; // row 501 starts here
    const [first, end] = layout.visible(top, 10 * ROW_PX);
    expect(first).toBe(501 - OVERSCAN_ROWS);
    expect(end).toBe(511 + OVERSCAN_ROWS);
    expect(layout.visible(layout.height + 5_000, 400)[1]).toBe(1_001); // past the end: clamped
  });

  it("shows nothing for an empty list", () => {
    expect(new RowLayout([]).visible(0, 500)).toEqual([0, 0]);
    expect(new RowLayout([]).height).toBe(0);
  });
});
