// The after-action timeline held by the page: positions per unit and the window's events, asked
// for "as of time t" as the slider moves or the replay plays. Each unit's track is in time order,
// so the position at t is a binary search, and a whole frame costs units × log(reports).

import type { ReplayPosition, ReplayWindow } from "../types";

export interface ReplayEntry {
  time: number;
  kind: "chat" | "alert" | "objective" | "rollcall";
  text: string;
}

export class ReplayTimeline {
  private readonly tracks = new Map<string, ReplayPosition[]>();
  private readonly entries: ReplayEntry[];

  constructor(readonly window: ReplayWindow) {
    for (const position of window.positions) {
      const track = this.tracks.get(position.uid);
      if (track === undefined) this.tracks.set(position.uid, [position]);
      else track.push(position);
    }
    for (const track of this.tracks.values()) track.sort((a, b) => a.time - b.time);
    this.entries = [
      ...window.chat.map((m): ReplayEntry => ({ time: m.time, kind: "chat", text: `${m.from_callsign} → ${m.to}: ${m.text}` })),
      ...window.alerts.map((a): ReplayEntry => ({
        time: a.time,
        kind: "alert",
        text: `${a.active ? "EMERGENCY" : "cancelled"} ${a.kind} ${a.callsign}`,
      })),
      ...window.objectives.map((o): ReplayEntry => ({
        time: o.time,
        kind: "objective",
        text: `${o.shortId} ${o.title}: ${o.state}${o.author ? ` (${o.author})` : ""}`,
      })),
      ...(window.rollcalls ?? []).map((r): ReplayEntry => ({ time: r.time, kind: "rollcall", text: `${r.code} ${r.text}` })),
    ].sort((a, b) => a.time - b.time);
  }

  get unitCount(): number {
    return this.tracks.size;
  }

  /** Each unit's latest position at or before ``time`` (units not heard from yet are absent). */
  positionsAt(time: number): ReplayPosition[] {
    const found: ReplayPosition[] = [];
    for (const track of this.tracks.values()) {
      const index = lastAtOrBefore(track, time);
      const position = index < 0 ? undefined : track[index];
      if (position !== undefined) found.push(position);
    }
    return found.sort((a, b) => a.callsign.localeCompare(b.callsign));
  }

  /** The track of each unit up to ``time``, as [lon, lat] lists (for the trail lines). */
  trailsAt(time: number): { uid: string; coordinates: [number, number][] }[] {
    const trails = [];
    for (const [uid, track] of this.tracks) {
      const coordinates = track.slice(0, lastAtOrBefore(track, time) + 1).map((p): [number, number] => [p.lon, p.lat]);
      if (coordinates.length > 1) trails.push({ uid, coordinates });
    }
    return trails;
  }

  /** The last ``count`` chat, alert and objective entries at or before ``time``, newest first. */
  entriesUpTo(time: number, count: number): ReplayEntry[] {
    const index = lastAtOrBefore(this.entries, time);
    return this.entries.slice(Math.max(0, index + 1 - count), index + 1).reverse();
  }
}

/** Index of the last item whose time is at or before ``time``; -1 if none. */
export function lastAtOrBefore(items: { time: number }[], time: number): number {
  let low = 0;
  let high = items.length - 1;
  let found = -1;
  while (low <= high) {
    const middle = (low + high) >> 1;
    if ((items[middle]?.time ?? Infinity) <= time) {
      found = middle;
      low = middle + 1;
    } else {
      high = middle - 1;
    }
  }
  return found;
}
