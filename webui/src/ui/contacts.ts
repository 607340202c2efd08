// The side list of teams and their members (status, battery, last seen) with a text filter,
// and the details of the selected contact with its recent track drawn on the map.
//
// The list is virtual: only the rows in (and just around) the viewport exist, each keyed by its
// contact or team and kept from one update to the next; an update rewrites only the cells whose
// text changed. The viewport's size and scroll offset are cached from the scroll event and a
// ResizeObserver, so drawing never reads layout after writing it.

import type { Api } from "../api";
import { type ContactEntry, type ContactStore, DRAWINGS, ago, batteryLevel } from "../state/contacts";
import { type ListItem, ROW_PX, RowLayout, flatten } from "../state/rows";
import { affiliationColour, affiliationName } from "../state/sidc";
import { teamColour } from "../state/teams";
import { errorText, formatClock, formatTime, h, replace, toast } from "./dom";

const TRACK_MINUTES = 30;
/** Viewport height assumed until the ResizeObserver has measured it. */
const INITIAL_VIEWPORT_PX = 800;

/** A drawn row and the values it shows, so an update touches only what changed. */
interface Row {
  element: HTMLElement;
  top: number;
  /** Cells whose text is the first values shown. */
  texts: HTMLElement[];
  shown: string[];
  /** A contact's affiliation dot (none on team headings). */
  dot: HTMLElement | null;
}

export class ContactList {
  readonly element: HTMLElement;
  private readonly body: HTMLElement;
  private readonly sizer: HTMLElement;
  private readonly empty: HTMLElement;
  private readonly filter: HTMLInputElement;
  private readonly rows = new Map<string, Row>();
  private layout = new RowLayout([]);
  private layoutVersion = -1;
  private layoutFilter = "";
  private scrollTop = 0;
  private viewportHeight = INITIAL_VIEWPORT_PX;
  private lastNow = 0;
  onSelect: (uid: string) => void = () => undefined;
  /** A team heading was clicked: frame its members. */
  onZoomTeam: (team: string) => void = () => undefined;
  /** The selected contact's uid: its row is highlighted. */
  selected: string | null = null;

  constructor(private readonly store: ContactStore) {
    this.filter = h("input", { type: "search", placeholder: "Filter callsign, team, type", id: "contact-filter" });
    this.filter.addEventListener("input", () => this.render(Date.now(), true));
    this.sizer = h("div", { className: "rows", role: "listbox", "aria-label": "Contacts" });
    this.empty = h("p", { className: "muted", hidden: true }, "No contacts");
    this.body = h("div", { className: "contact-rows", id: "contact-list" }, this.empty, this.sizer);
    this.body.addEventListener("scroll", () => {
      this.scrollTop = this.body.scrollTop;
      this.draw(this.lastNow);
    });
    this.body.addEventListener("click", (event) => {
      const row = event.target instanceof Element ? event.target.closest<HTMLElement>("[data-uid]") : null;
      const uid = row?.dataset.uid;
      if (uid !== undefined) this.onSelect(uid);
      const team = event.target instanceof Element ? event.target.closest<HTMLElement>("[data-team]") : null;
      if (team?.dataset.team !== undefined) this.onZoomTeam(team.dataset.team);
    });
    this.body.addEventListener("keydown", (event) => this.key(event));
    new ResizeObserver((entries) => {
      const box = entries[entries.length - 1]?.contentRect;
      if (box === undefined || box.height === this.viewportHeight) return;
      this.viewportHeight = box.height;
      this.draw(this.lastNow);
    }).observe(this.body);
    this.element = h("section", { className: "panel contacts-panel" }, this.filter, this.body);
  }

  /** Regroup when the store or the filter changed (or when forced); redraw the visible rows. */
  render(now: number, force = false): void {
    const filter = this.filter.value;
    if (force || this.layoutVersion !== this.store.version || this.layoutFilter !== filter) {
      this.layoutVersion = this.store.version;
      this.layoutFilter = filter;
      this.layout = new RowLayout(flatten(this.store.byTeam(filter)));
      this.sizer.style.height = `${this.layout.height}px`;
      this.empty.hidden = this.layout.items.length > 0;
    }
    this.draw(now);
  }

  /** Enter or Space selects the focused row; the arrow keys move between rows. */
  private key(event: KeyboardEvent): void {
    const row = event.target instanceof HTMLElement ? event.target.closest<HTMLElement>("[data-uid]") : null;
    const uid = row?.dataset.uid;
    if (row === null || uid === undefined) return;
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      this.onSelect(uid);
    } else if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      this.focusNext(uid, event.key === "ArrowDown" ? 1 : -1);
    }
  }

  private focusNext(uid: string, step: number): void {
    const items = this.layout.items;
    let index = items.findIndex((item) => item.kind === "contact" && item.entry.contact.uid === uid);
    for (index += step; index >= 0 && index < items.length; index += step) {
      const item = items[index];
      if (item?.kind !== "contact") continue;
      const top = this.layout.top(index);
      if (top < this.body.scrollTop || top > this.body.scrollTop + this.viewportHeight - ROW_PX) {
        this.body.scrollTop = Math.max(0, top - this.viewportHeight / 2);
        this.scrollTop = this.body.scrollTop;
      }
      this.draw(this.lastNow);
      this.rows.get(item.key)?.element.focus();
      return;
    }
  }

  private draw(now: number): void {
    this.lastNow = now;
    const [first, end] = this.layout.visible(this.scrollTop, this.viewportHeight);
    const wanted = new Set<string>();
    for (let index = first; index < end; index += 1) {
      const item = this.layout.items[index];
      if (item === undefined) continue;
      wanted.add(item.key);
      this.place(item, this.layout.top(index), now);
    }
    for (const [key, row] of this.rows) {
      if (wanted.has(key)) continue;
      row.element.remove();
      this.rows.delete(key);
    }
  }

  private place(item: ListItem, top: number, now: number): void {
    let row = this.rows.get(item.key);
    if (row === undefined) {
      row = item.kind === "team" ? teamRow() : contactRow(item.entry.contact.uid);
      this.rows.set(item.key, row);
      this.sizer.appendChild(row.element);
    }
    if (row.top !== top) {
      row.top = top;
      row.element.style.transform = `translateY(${top}px)`;
    }
    if (item.kind === "team") {
      const count = item.team === DRAWINGS ? `${item.total} on the map` : `${item.live}/${item.total} live`;
      const changed = update(row, [item.team, count, item.team === DRAWINGS ? "" : (teamColour(item.team) ?? "")]);
      if (changed.has(0)) row.element.dataset.team = item.team;
      if (changed.has(2) && row.dot !== null) {
        row.dot.style.background = row.shown[2] ?? "";
        row.dot.hidden = row.shown[2] === "";
      }
      return;
    }
    const entry: ContactEntry = item.entry;
    const c = entry.contact;
    const stale = entry.status !== "live";
    const changed = update(row, [
      c.callsign,
      c.battery === null ? "" : `${Math.round(c.battery)}%`,
      seenText(entry, now),
      c.shape ? c.shape.stroke : affiliationColour(c.affiliation, stale),
      entry.status,
      String(c.time),
      batteryLevel(c.battery),
      c.uid === this.selected ? "selected" : "",
    ]);
    if (changed.has(3) && row.dot !== null) row.dot.style.background = row.shown[3] ?? "";
    if (changed.has(4)) {
      row.element.classList.toggle("stale", stale);
      row.element.classList.toggle("lost", entry.status === "lost");
    }
    if (changed.has(5) || changed.has(4)) row.texts[2]?.setAttribute("title", seenTitle(entry));
    if (changed.has(6) && row.texts[1] !== undefined) row.texts[1].dataset.level = row.shown[6] ?? "";
    if (changed.has(7)) {
      row.element.classList.toggle("selected", row.shown[7] === "selected");
      row.element.setAttribute("aria-selected", String(row.shown[7] === "selected"));
    }
  }
}

/** The list's last-seen cell: how long ago, or that it went stale, or when contact was lost. */
function seenText(entry: ContactEntry, now: number): string {
  const lost = entry.contact.lost;
  if (entry.status === "lost" && lost) return `lost ${formatClock(lost.since)}`;
  return entry.status === "stale" ? "stale" : ago(entry.contact.time, now);
}

function seenTitle(entry: ContactEntry): string {
  const lost = entry.contact.lost;
  const last = `last report ${formatTime(entry.contact.time)}`;
  return lost ? `contact lost ${formatTime(lost.since)} (${lost.reason}); ${last}` : last;
}

function teamRow(): Row {
  const name = h("span", {});
  const count = h("small", {});
  const swatch = h("span", { className: "swatch", hidden: true });
  const zoom = h("button", { className: "link zoom-team", title: "Zoom to this team", tabindex: 0 }, "zoom");
  const element = h("div", { className: "row team-head", role: "heading", "aria-level": 3 }, swatch, name, " ", count, zoom);
  return { element, top: -1, texts: [name, count], shown: [], dot: swatch };
}

function contactRow(uid: string): Row {
  const callsign = h("span", { className: "callsign" });
  const battery = h("span", { className: "battery", title: "battery" });
  const seen = h("span", { className: "seen" });
  const dot = h("span", { className: "dot" });
  const element = h("div", { className: "row contact", role: "option", tabindex: 0, "data-uid": uid }, dot, callsign, battery, seen);
  return { element, top: -1, texts: [callsign, battery, seen], shown: [], dot };
}

/**
 * Bring the row's shown values up to ``values``: the first ones are the texts of its text cells
 * (each written only when different), the rest are compared only. The indexes that changed.
 */
function update(row: Row, values: string[]): Set<number> {
  const changed = new Set<number>();
  values.forEach((value, index) => {
    if (row.shown[index] === value) return;
    row.shown[index] = value;
    changed.add(index);
    const cell = row.texts[index];
    if (cell !== undefined) cell.textContent = value;
  });
  return changed;
}
function statusText(entry: ContactEntry): string {
  const lost = entry.contact.lost;
  if (entry.status === "lost" && lost) return `CONTACT LOST ${formatTime(lost.since)} (${lost.reason}): last known position`;
  return entry.status;
}

function batteryField(battery: number | null): HTMLElement | null {
  if (battery === null) return null;
  const level = batteryLevel(battery);
  const text = `${Math.round(battery)}%${level === "low" ? " LOW" : ""}`;
  return h("div", {}, h("dt", {}, "Battery"), h("dd", { className: "battery", "data-level": level }, text));
}

export class ContactDetails {
  readonly element: HTMLElement;
  selected: string | null = null;
  onTrack: (track: GeoJSON.Feature | null) => void = () => undefined;
  onMessage: (uid: string, callsign: string) => void = () => undefined;
  onClose: () => void = () => undefined;

  constructor(
    private readonly store: ContactStore,
    private readonly api: Api,
  ) {
    this.element = h("section", { className: "panel details", id: "contact-details", hidden: true });
  }

  select(uid: string | null): void {
    this.selected = uid;
    this.onTrack(null);
    this.render(Date.now());
    if (uid === null) return;
    this.api
      .get<GeoJSON.Feature>(`/api/contacts/${encodeURIComponent(uid)}/track?minutes=${TRACK_MINUTES}`)
      .then((track) => {
        if (this.selected === uid) this.onTrack(track);
      })
      .catch((error: unknown) => toast(`Track of ${uid}: ${errorText(error)}`));
  }

  render(now: number): void {
    const entry = this.selected === null ? undefined : this.store.get(this.selected);
    this.element.hidden = entry === undefined;
    if (entry === undefined) return;
    const c = entry.contact;
    const field = (name: string, value: string | number | null): HTMLElement | null =>
      value === null || value === "" ? null : h("div", {}, h("dt", {}, name), h("dd", {}, String(value)));
    const sources = c.provenance?.sources.map((s) => `${s.name}${s.kind ? ` (${s.kind})` : ""}`).join(", ") ?? null;
    replace(
      this.element,
      h(
        "header",
        {},
        h("h2", {}, c.callsign),
        h("button", { className: "close", title: "close", onclick: () => this.onClose() }, "×"),
      ),
      h(
        "dl",
        {},
        field("Status", statusText(entry)),
        field("Type", `${c.type} (${affiliationName(c.affiliation)})`),
        field("Team", c.team === null ? null : `${c.team}${c.role ? ` / ${c.role}` : ""}`),
        field("Position", `${c.lat.toFixed(5)}, ${c.lon.toFixed(5)}`),
        field("Altitude", c.hae === null ? null : `${Math.round(c.hae)} m`),
        field("Course", c.course === null ? null : `${Math.round(c.course)}°`),
        field("Speed", c.speed === null ? null : `${c.speed.toFixed(1)} m/s`),
        batteryField(c.battery),
        field("Last report", `${formatTime(c.time)} (${ago(c.time, now)})`),
        field("Stale at", formatTime(c.stale)),
        field("Remarks", c.remarks),
        field("Sources", sources),
        field("UID", c.uid),
      ),
      h("button", { onclick: () => this.onMessage(c.uid, c.callsign) }, "Message"),
    );
  }
}
