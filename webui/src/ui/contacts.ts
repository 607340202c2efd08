// The side list of teams and their members (status, battery, last seen) with a text filter,
// and the details of the selected contact with its recent track drawn on the map.
//
// The list is virtual: only the rows in (and just around) the viewport exist, each keyed by its
// contact or team and kept from one update to the next; an update rewrites only the cells whose
// text changed. The viewport's size and scroll offset are cached from the scroll event and a
// ResizeObserver, so drawing never reads layout after writing it.

import type { Api } from "../api";
import { type ContactEntry, type ContactStore, ago } from "../state/contacts";
import { type ListItem, RowLayout, flatten } from "../state/rows";
import { affiliationColour, affiliationName } from "../state/sidc";
import { errorText, formatTime, h, replace, toast } from "./dom";

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

  constructor(private readonly store: ContactStore) {
    this.filter = h("input", { type: "search", placeholder: "Filter callsign, team, type", id: "contact-filter" });
    this.filter.addEventListener("input", () => this.render(Date.now(), true));
    this.sizer = h("div", { className: "rows", role: "list" });
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
    });
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
      update(row, [item.team, `${item.live}/${item.total} live`]);
      return;
    }
    const entry: ContactEntry = item.entry;
    const c = entry.contact;
    const stale = entry.status === "stale";
    const changed = update(row, [
      c.callsign,
      c.battery === null ? "" : `${Math.round(c.battery)}%`,
      stale ? "stale" : ago(c.time, now),
      affiliationColour(c.affiliation, stale),
      stale ? "stale" : "live",
      String(c.time),
    ]);
    if (changed.has(3) && row.dot !== null) row.dot.style.background = row.shown[3] ?? "";
    if (changed.has(4)) row.element.classList.toggle("stale", stale);
    if (changed.has(5)) row.texts[2]?.setAttribute("title", formatTime(c.time));
  }
}

function teamRow(): Row {
  const name = h("span", {});
  const count = h("small", {});
  const element = h("div", { className: "row team-head", role: "heading", "aria-level": 3 }, name, " ", count);
  return { element, top: -1, texts: [name, count], shown: [], dot: null };
}

function contactRow(uid: string): Row {
  const callsign = h("span", { className: "callsign" });
  const battery = h("span", { className: "battery", title: "battery" });
  const seen = h("span", { className: "seen" });
  const dot = h("span", { className: "dot" });
  const element = h("div", { className: "row contact", role: "listitem", "data-uid": uid }, dot, callsign, battery, seen);
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
        field("Status", entry.status === "stale" ? "stale" : "live"),
        field("Type", `${c.type} (${affiliationName(c.affiliation)})`),
        field("Team", c.team === null ? null : `${c.team}${c.role ? ` / ${c.role}` : ""}`),
        field("Position", `${c.lat.toFixed(5)}, ${c.lon.toFixed(5)}`),
        field("Altitude", c.hae === null ? null : `${Math.round(c.hae)} m`),
        field("Course", c.course === null ? null : `${Math.round(c.course)}°`),
        field("Speed", c.speed === null ? null : `${c.speed.toFixed(1)} m/s`),
        field("Battery", c.battery === null ? null : `${Math.round(c.battery)}%`),
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
