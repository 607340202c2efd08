// The side list of teams and their members (status, battery, last seen) with a text filter,
// and the details of the selected contact with its recent track drawn on the map.

import type { Api } from "../api";
import { type ContactEntry, type ContactStore, ago } from "../state/contacts";
import { affiliationColour, affiliationName } from "../state/sidc";
import { errorText, formatTime, h, replace, toast } from "./dom";

/** Rows drawn at most: past this the list asks for a narrower filter (the map shows them all). */
export const MAX_ROWS = 300;
const TRACK_MINUTES = 30;

export class ContactList {
  readonly element: HTMLElement;
  private readonly body: HTMLElement;
  private readonly filter: HTMLInputElement;
  private renderedVersion = -1;
  onSelect: (uid: string) => void = () => undefined;

  constructor(private readonly store: ContactStore) {
    this.filter = h("input", { type: "search", placeholder: "Filter callsign, team, type", id: "contact-filter" });
    this.filter.addEventListener("input", () => this.render(Date.now(), true));
    this.body = h("div", { className: "contact-rows", id: "contact-list" });
    this.element = h("section", { className: "panel contacts-panel" }, this.filter, this.body);
  }

  /** Re-render when the store changed since the last render (or when forced). */
  render(now: number, force = false): void {
    if (!force && this.renderedVersion === this.store.version) return;
    this.renderedVersion = this.store.version;
    const teams = this.store.byTeam(this.filter.value);
    const blocks: HTMLElement[] = [];
    let rows = 0;
    let hidden = 0;
    for (const [team, members] of teams) {
      const live = members.filter((m) => m.status === "live").length;
      const list = h("ul", {});
      for (const entry of members) {
        if (rows >= MAX_ROWS) {
          hidden += 1;
          continue;
        }
        rows += 1;
        list.appendChild(this.row(entry, now));
      }
      blocks.push(h("div", { className: "team" }, h("h3", {}, `${team} `, h("small", {}, `${live}/${members.length} live`)), list));
    }
    if (hidden > 0) blocks.push(h("p", { className: "muted" }, `${hidden} more: narrow the filter`));
    if (blocks.length === 0) blocks.push(h("p", { className: "muted" }, "No contacts"));
    replace(this.body, ...blocks);
  }

  private row(entry: ContactEntry, now: number): HTMLElement {
    const c = entry.contact;
    const stale = entry.status === "stale";
    const dot = h("span", { className: "dot" });
    dot.style.background = affiliationColour(c.affiliation, stale);
    const battery = c.battery === null ? "" : `${Math.round(c.battery)}%`;
    return h(
      "li",
      { className: stale ? "contact stale" : "contact", "data-uid": c.uid, onclick: () => this.onSelect(c.uid) },
      dot,
      h("span", { className: "callsign" }, c.callsign),
      h("span", { className: "battery", title: "battery" }, battery),
      h("span", { className: "seen", title: formatTime(c.time) }, stale ? "stale" : ago(c.time, now)),
    );
  }
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
