// The side list as fixed-height rows (team headings and contacts), and which of them a scrolled
// viewport shows. Only those rows exist in the page: a thousand contacts cost the DOM the
// forty or so on screen, not a thousand rows laid out and painted on every update.

import type { ContactEntry } from "./contacts";

export const ROW_PX = 22;
export const TEAM_PX = 28;
/** Rows kept beyond each edge of the viewport, so a short scroll shows no blank gap. */
export const OVERSCAN_ROWS = 8;

export type ListItem =
  | { kind: "team"; key: string; team: string; live: number; total: number }
  | { kind: "contact"; key: string; entry: ContactEntry };

/** Teams (already in display order) flattened to one heading row then one row per member. */
export function flatten(teams: Map<string, ContactEntry[]>): ListItem[] {
  const items: ListItem[] = [];
  for (const [team, members] of teams) {
    const live = members.filter((m) => m.status === "live").length;
    items.push({ kind: "team", key: `t:${team}`, team, live, total: members.length });
    for (const entry of members) items.push({ kind: "contact", key: `c:${entry.contact.uid}`, entry });
  }
  return items;
}

/** Top offsets of the rows; ``offsets[i]`` is where row ``i`` starts, the last one the total. */
export class RowLayout {
  readonly offsets: Float64Array;

  constructor(readonly items: ListItem[]) {
    this.offsets = new Float64Array(items.length + 1);
    let top = 0;
    items.forEach((item, index) => {
      this.offsets[index] = top;
      top += item.kind === "team" ? TEAM_PX : ROW_PX;
    });
    this.offsets[items.length] = top;
  }

  get height(): number {
    return this.offsets[this.items.length] ?? 0;
  }

  top(index: number): number {
    return this.offsets[index] ?? 0;
  }

  /** Indexes [first, end) of the rows that intersect the viewport, widened by the overscan. */
  visible(scrollTop: number, viewportHeight: number, overscan = OVERSCAN_ROWS): [number, number] {
    const count = this.items.length;
    if (count === 0) return [0, 0];
    const first = this.indexAt(Math.max(0, scrollTop));
    const last = this.indexAt(Math.max(0, scrollTop + viewportHeight - 1));
    return [Math.max(0, first - overscan), Math.min(count, last + 1 + overscan)];
  }

  /** The row that covers pixel ``y`` (the last row when past the end). */
  private indexAt(y: number): number {
    let low = 0;
    let high = this.items.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if (this.top(middle) <= y) low = middle;
      else high = middle - 1;
    }
    return low;
  }
}
