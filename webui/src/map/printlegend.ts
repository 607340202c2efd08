// What a printed map says beside the picture: units by team (in their colours), when it was
// printed (local time with its zone, and UTC), the extent, a scale bar and north. Pure
// functions, so the numbers on paper are tested without a browser.

import type { ContactEntry } from "../state/contacts";
import { teamColour } from "../state/teams";

/** MapLibre's world is 512 px wide at zoom 0; the equator is this long in metres. */
const EQUATOR_M = 40_075_016.686;
const TILE_PX = 512;

export interface TeamCount {
  team: string;
  /** The team's ATAK colour, or null for no team or an unknown one. */
  colour: string | null;
  live: number;
  /** Units shown grey: stale, or lost with their last known position. */
  grey: number;
}

/** Units counted per team, teams by name ("No team" last). */
export function teamCounts(entries: ContactEntry[]): TeamCount[] {
  const counts = new Map<string, TeamCount>();
  for (const { contact, status } of entries) {
    const team = contact.team ?? "No team";
    let count = counts.get(team);
    if (count === undefined) {
      count = { team, colour: teamColour(contact.team), live: 0, grey: 0 };
      counts.set(team, count);
    }
    if (status === "live") count.live += 1;
    else count.grey += 1;
  }
  const last = (t: string): number => (t === "No team" ? 1 : 0);
  return [...counts.values()].sort((a, b) => last(a.team) - last(b.team) || a.team.localeCompare(b.team));
}

/** Ground metres per CSS pixel at ``lat`` and ``zoom`` (Web Mercator). */
export function metresPerPixel(lat: number, zoom: number): number {
  return (EQUATOR_M * Math.cos((lat * Math.PI) / 180)) / (TILE_PX * 2 ** zoom);
}

export interface ScaleBar {
  metres: number;
  /** The bar's length as a share of the map's width (0–1): the printout scales the picture. */
  fraction: number;
  label: string;
}

/** The longest round distance (1, 2 or 5 × 10ⁿ m) no longer than a fifth of the map's width. */
export function scaleBar(metresPerPx: number, widthPx: number): ScaleBar {
  const most = (metresPerPx * widthPx) / 5;
  const power = 10 ** Math.floor(Math.log10(most));
  const step = [5, 2, 1].find((s) => s * power <= most) ?? 1;
  const metres = step * power;
  const label = metres >= 1000 ? `${metres / 1000} km` : `${metres} m`;
  return { metres, fraction: metres / metresPerPx / widthPx, label };
}

/** "38.8800° N 77.0400° W – 38.9000° N 77.0200° W": south-west to north-east corner. */
export function extentText(west: number, south: number, east: number, north: number): string {
  const lat = (v: number): string => `${Math.abs(v).toFixed(4)}° ${v < 0 ? "S" : "N"}`;
  const lon = (v: number): string => `${Math.abs(v).toFixed(4)}° ${v < 0 ? "W" : "E"}`;
  return `${lat(south)} ${lon(west)} – ${lat(north)} ${lon(east)}`;
}

/** "2026-12-03 09:40Z": the UTC form of a print's time, beside the local one with its zone. */
export function utcStamp(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 16).replace("T", " ")}Z`;
}
