// The picture the page draws: the latest report of every contact, with its staleness decided
// here from an injected clock (so tests can move time), and change tracking that lets the map
// redraw at most once per interval however fast reports arrive.

import type { Contact } from "../types";
import { symbolCode } from "./sidc";

/** How long a stale contact stays on the map, greyed, before it is removed. */
export const GREY_MS = 120_000;
/**
 * At most one redraw of the map per interval (reports are coalesced): this many milliseconds,
 * plus FLUSH_MS_PER_CONTACT for each contact held, up to MAX_FLUSH_INTERVAL_MS. A redraw
 * re-lays out every symbol, so a big picture redraws less often (1 000 contacts: once a second,
 * as often as they report).
 */
export const FLUSH_INTERVAL_MS = 100;
export const FLUSH_MS_PER_CONTACT = 0.9;
export const MAX_FLUSH_INTERVAL_MS = 1000;
/** Upper bound on contacts kept: a runaway feed must not exhaust the page's memory. */
export const MAX_CONTACTS = 20_000;
/**
 * The list's section for markers and drawn shapes, after the teams: they are map items, not
 * people, and a commander counting a team must not count its spot markers (as WebTAK and
 * CloudTAK keep them apart from the units).
 */
export const DRAWINGS = "Drawings/markers";
export const NO_TEAM = "No team";
/** CoT types of drawings and markers, whoever drew them (cot/shapes.py is_drawing_type). */
const DRAWING_TYPE = /^(u-d-|b-m-p)|^u-rb-a$/;

/** A marker or drawn shape rather than a unit: the server read a shape, or the type says so. */
export function isDrawing(contact: Contact): boolean {
  return (contact.shape !== null && contact.shape !== undefined) || DRAWING_TYPE.test(contact.type);
}

/** The list section a contact is shown in: its team, "No team", or the drawings. */
export function sectionOf(contact: Contact): string {
  return isDrawing(contact) ? DRAWINGS : (contact.team ?? NO_TEAM);
}

/** "lost": the server lost contact; kept (greyed) as the last known position until it reports. */
export type ContactStatus = "live" | "stale" | "lost";

export interface ContactEntry {
  contact: Contact;
  sidc: string;
  status: ContactStatus;
}

export interface ContactStoreOptions {
  greyMs?: number;
  flushIntervalMs?: number;
  maxContacts?: number;
}

export class ContactStore {
  private readonly entries = new Map<string, ContactEntry>();
  private readonly greyMs: number;
  private readonly flushIntervalMs: number;
  private readonly maxContacts: number;
  private dirty = false;
  private lastFlush = Number.NEGATIVE_INFINITY;
  /** Bumped on every change; views compare it to know whether to re-render. */
  version = 0;

  constructor(options: ContactStoreOptions = {}) {
    this.greyMs = options.greyMs ?? GREY_MS;
    this.flushIntervalMs = options.flushIntervalMs ?? FLUSH_INTERVAL_MS;
    this.maxContacts = options.maxContacts ?? MAX_CONTACTS;
  }

  get size(): number {
    return this.entries.size;
  }

  get(uid: string): ContactEntry | undefined {
    return this.entries.get(uid);
  }

  list(): ContactEntry[] {
    return [...this.entries.values()];
  }

  /** The snapshot sent when the live feed (re)connects replaces everything held. */
  replaceAll(contacts: Contact[], now: number): void {
    this.entries.clear();
    for (const contact of contacts) this.upsert(contact, now);
    this.touch();
  }

  /**
   * Keep ``contact`` unless an entry with a newer report time is already held; true if kept.
   * A mission objective's marker is never kept: the objectives layer draws it (by its state),
   * and a second copy here would put it on the map twice and in the list as a unit.
   */
  upsert(contact: Contact, now: number): boolean {
    if (contact.objective) return false;
    const held = this.entries.get(contact.uid);
    if (held !== undefined && held.contact.time > contact.time) return false;
    if (held === undefined && this.entries.size >= this.maxContacts) return false;
    const lost = contact.lost !== undefined && contact.lost !== null;
    if (!lost && now >= contact.stale + this.greyMs) return false;
    this.entries.set(contact.uid, {
      contact,
      sidc: symbolCode(contact.type, contact.sidc),
      status: lost ? "lost" : now >= contact.stale ? "stale" : "live",
    });
    this.touch();
    return true;
  }

  /**
   * The server says the contact is gone. A delete before its stale time removes it now; one
   * at or after it (stale expiry) leaves it greyed until the grey period ends. A lost unit
   * is removed only by the server (it has kept it long enough).
   */
  remove(uid: string, now: number): void {
    const held = this.entries.get(uid);
    if (held === undefined) return;
    if (now < held.contact.stale || held.status === "lost") {
      this.entries.delete(uid);
    } else {
      held.status = "stale";
    }
    this.touch();
  }

  /** Grey what has gone stale and drop what has been grey long enough; true if anything changed. */
  sweep(now: number): boolean {
    let changed = false;
    for (const [uid, entry] of this.entries) {
      if (entry.status === "lost") continue;
      if (now >= entry.contact.stale + this.greyMs) {
        this.entries.delete(uid);
        changed = true;
      } else if (now >= entry.contact.stale && entry.status === "live") {
        entry.status = "stale";
        changed = true;
      }
    }
    if (changed) this.touch();
    return changed;
  }

  /** True (once) when there are changes to draw and the last redraw is at least an interval old. */
  takeFlush(now: number): boolean {
    const interval = Math.min(MAX_FLUSH_INTERVAL_MS, this.flushIntervalMs + this.entries.size * FLUSH_MS_PER_CONTACT);
    if (!this.dirty || now - this.lastFlush < interval) return false;
    this.dirty = false;
    this.lastFlush = now;
    return true;
  }

  /**
   * Entries whose callsign, team, type or uid contains ``filter`` (case-insensitive), by
   * section: the teams (and "No team") in name order, then the drawings.
   */
  byTeam(filter: string): Map<string, ContactEntry[]> {
    const needle = filter.trim().toLowerCase();
    const teams = new Map<string, ContactEntry[]>();
    const sorted = this.list().sort((a, b) => compare(a.contact.callsign, b.contact.callsign));
    for (const entry of sorted) {
      const c = entry.contact;
      const haystack = `${c.callsign} ${c.team ?? ""} ${c.type} ${c.uid} ${c.role ?? ""}`.toLowerCase();
      if (needle !== "" && !haystack.includes(needle)) continue;
      const team = sectionOf(c);
      const members = teams.get(team);
      if (members === undefined) teams.set(team, [entry]);
      else members.push(entry);
    }
    const order = (name: string): number => (name === DRAWINGS ? 1 : 0);
    return new Map([...teams.entries()].sort(([a], [b]) => order(a) - order(b) || compare(a, b)));
  }

  private touch(): void {
    this.dirty = true;
    this.version += 1;
  }
}

/** Code-point order: a thousand localeCompare calls per redraw cost more than the list is worth. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Below this a battery is shown as low (red), below BATTERY_WARN as getting low (amber). */
const BATTERY_LOW = 20;
const BATTERY_WARN = 50;

/** "low", "warn" or "ok" ("" when unknown): how the list and details colour it. */
export function batteryLevel(battery: number | null): string {
  if (battery === null) return "";
  return battery < BATTERY_LOW ? "low" : battery < BATTERY_WARN ? "warn" : "ok";
}

/** "12 s ago", "5 min ago", "3 h ago": how long ago ``time`` was at ``now``. */
export function ago(time: number, now: number): string {
  const seconds = Math.max(0, Math.round((now - time) / 1000));
  if (seconds < 60) return `${seconds} s ago`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  return `${Math.round(minutes / 60)} h ago`;
}
