// Placing markers and drawing shapes that reach the TAK clients: a bar over the map (marker,
// polygon, rectangle, line, circle; colour; label), clicks on the map for the points, and a
// card for a clicked drawing to rename, recolour or delete it. The server turns each into the
// CoT ATAK draws with and routes it into the user's groups; the map shows it when the live feed
// brings it back, exactly as a TAK client's drawing is shown.

import type { GeoJSONSource } from "maplibre-gl";
import type { Api } from "../api";
import {
  COLOURS,
  DRAW_KINDS,
  MAX_POINTS,
  type DrawKind,
  type LngLat,
  bodyOf,
  clicksNeeded,
  draftRing,
  drawingBody,
  minimumClicks,
} from "../state/drawing";
import type { Contact } from "../types";
import { errorText, h, replace } from "../ui/dom";
import type { MapView } from "./view";

const DRAFT_SOURCE = "drawing-draft";
const DRAFT_COLOUR = "#e05000";
const TITLES: Record<DrawKind, string> = Object.fromEntries(DRAW_KINDS.map((k) => [k.kind, k.title])) as Record<DrawKind, string>;

export class DrawTools {
  readonly bar = h("div", { className: "draw-bar", id: "draw-bar" });
  readonly card = h("div", { className: "drawing-card", id: "drawing-card", hidden: true });
  private readonly status = h("div", { className: "map-tool-result", id: "draw-status", role: "status" });
  private readonly colour = colourSelect("draw-colour", COLOURS[0]?.value ?? "#ff0000");
  private readonly label = h("input", { id: "draw-label", type: "text", maxlength: 200, placeholder: "Label", "aria-label": "Label" });
  private readonly finish = h("button", { type: "button", id: "draw-finish", hidden: true }, "Finish");
  private readonly buttons = new Map<DrawKind, HTMLButtonElement>();
  private kind: DrawKind | null = null;
  private clicks: LngLat[] = [];
  private count = 0;
  private editing: string | null = null;

  constructor(
    private readonly view: MapView,
    private readonly api: Api,
    private readonly lookup: (uid: string) => Contact | undefined,
  ) {
    for (const { kind, title } of DRAW_KINDS) {
      const name = kind === "rangebearing" ? "range and bearing line" : title.toLowerCase();
      const button = h("button", { type: "button", id: `draw-${kind}`, title: `Draw a ${name}`, onclick: () => this.toggle(kind) }, title);
      this.buttons.set(kind, button);
      this.bar.append(button);
    }
    this.finish.addEventListener("click", () => void this.send());
    this.bar.append(this.colour, this.label, this.finish);
    view.map.getContainer().append(this.card);
    view.onShapeClick = (uid) => this.open(uid);
  }

  /** The bar and its status line, for the map tools' panel. */
  elements(): HTMLElement[] {
    return [this.bar, this.status];
  }

  private toggle(kind: DrawKind): void {
    const again = this.kind === kind;
    this.stop();
    if (again) return;
    this.kind = kind;
    this.buttons.get(kind)?.classList.add("active");
    this.finish.hidden = clicksNeeded(kind) !== null;
    this.say(this.hint());
    this.view.onPick = (at) => this.picked(at);
  }

  private picked(at: LngLat): void {
    const kind = this.kind;
    if (kind === null || this.clicks.length >= MAX_POINTS) return;
    this.clicks.push(at);
    this.drawDraft();
    const needed = clicksNeeded(kind);
    if (needed !== null && this.clicks.length >= needed) void this.send();
    else this.say(this.hint());
  }

  private hint(): string {
    const kind = this.kind;
    if (kind === "marker") return "Marker: click where it goes";
    if (kind === "rectangle") return this.clicks.length === 0 ? "Rectangle: click one corner" : "Rectangle: click the opposite corner";
    if (kind === "circle") return this.clicks.length === 0 ? "Circle: click the centre" : "Circle: click the edge";
    if (kind === "rangebearing") return this.clicks.length === 0 ? "Range & bearing: click the start" : "Range & bearing: click the end";
    const title = kind === null ? "" : TITLES[kind];
    return `${title}: click the points (${this.clicks.length} so far), then Finish`;
  }

  /** Send what was drawn; on failure the tool stays as it is, so nothing drawn is lost. */
  private async send(): Promise<void> {
    const kind = this.kind;
    if (kind === null) return;
    if (this.clicks.length < minimumClicks(kind)) {
      this.say(`${TITLES[kind]}: at least ${minimumClicks(kind)} points`, "error");
      return;
    }
    this.count += 1;
    const label = this.label.value.trim() || `${TITLES[kind]} ${this.count}`;
    const body = drawingBody(kind, this.clicks, label, this.colour.value);
    try {
      const sent = await this.api.post<{ uid: string; delivered: number }>("/api/drawings", body);
      this.stop();
      this.label.value = "";
      this.say(`${label} sent to ${sent.delivered} TAK client${sent.delivered === 1 ? "" : "s"}`, "sent");
      this.status.dataset.uid = sent.uid;
    } catch (error) {
      this.say(`Not sent: ${errorText(error)}`, "error");
    }
  }

  private stop(): void {
    for (const button of this.buttons.values()) button.classList.remove("active");
    this.kind = null;
    this.clicks = [];
    this.finish.hidden = true;
    this.drawDraft();
    if (this.view.onPick !== null) this.view.onPick = null;
    this.say("");
  }

  /** The card of a clicked drawing: its label and colour to change, or delete it. */
  private open(uid: string): void {
    const contact = this.lookup(uid);
    if (contact === undefined || this.kind !== null) return;
    this.editing = uid;
    const label = h("input", { id: "drawing-label", type: "text", maxlength: 200, value: contact.callsign, "aria-label": "Label" });
    const colour = colourSelect("drawing-colour", contact.shape?.colour ?? "#ff0000");
    const message = h("div", { className: "drawing-message", id: "drawing-message", role: "status" });
    const save = async (): Promise<void> => {
      const current = this.lookup(uid);
      const body = current === undefined ? null : bodyOf(current, label.value.trim(), colour.value);
      if (body === null) return;
      try {
        await this.api.put<unknown>(`/api/drawings/${encodeURIComponent(uid)}`, body);
        this.close();
      } catch (error) {
        message.textContent = errorText(error);
      }
    };
    const remove = async (): Promise<void> => {
      try {
        await this.api.delete<unknown>(`/api/drawings/${encodeURIComponent(uid)}`);
        this.close();
      } catch (error) {
        message.textContent = errorText(error);
      }
    };
    replace(
      this.card,
      h("strong", {}, contact.callsign),
      h("span", { className: "muted" }, ` ${contact.type}`),
      h("label", {}, "Label ", label),
      h("label", {}, "Colour ", colour),
      h("div", { className: "drawing-actions" },
        h("button", { type: "button", id: "drawing-save", onclick: () => void save() }, "Save"),
        h("button", { type: "button", id: "drawing-delete", onclick: () => void remove() }, "Delete"),
        h("button", { type: "button", onclick: () => this.close() }, "Close"),
      ),
      message,
    );
    this.card.dataset.uid = uid;
    this.card.hidden = false;
  }

  private close(): void {
    this.editing = null;
    this.card.hidden = true;
    delete this.card.dataset.uid;
  }

  /** The drawing being edited went away (deleted here or elsewhere): its card goes too. */
  removed(uid: string): void {
    if (this.editing === uid) this.close();
  }

  private say(text: string, kind = "draw"): void {
    this.status.textContent = text;
    this.status.dataset.kind = kind;
  }

  private drawDraft(): void {
    const map = this.view.map;
    const ring = this.kind === null ? [] : draftRing(this.kind, this.clicks);
    const features: GeoJSON.Feature[] = this.clicks.map((p) => ({ type: "Feature", properties: {}, geometry: { type: "Point", coordinates: p } }));
    if (ring.length > 1) features.push({ type: "Feature", properties: {}, geometry: { type: "LineString", coordinates: ring } });
    const data: GeoJSON.FeatureCollection = { type: "FeatureCollection", features };
    const source = map.getSource(DRAFT_SOURCE) as GeoJSONSource | undefined;
    if (source !== undefined) {
      source.setData(data);
      return;
    }
    if (!this.view.isReady) return;
    map.addSource(DRAFT_SOURCE, { type: "geojson", data });
    map.addLayer({ id: "drawing-draft-line", type: "line", source: DRAFT_SOURCE, paint: { "line-color": DRAFT_COLOUR, "line-width": 2, "line-dasharray": [2, 1] } });
    map.addLayer({
      id: "drawing-draft-points",
      type: "circle",
      source: DRAFT_SOURCE,
      filter: ["==", ["geometry-type"], "Point"],
      paint: { "circle-radius": 4, "circle-color": DRAFT_COLOUR },
    });
  }
}

function colourSelect(id: string, selected: string): HTMLSelectElement {
  const known = COLOURS.some((c) => c.value === selected.toLowerCase());
  const options = COLOURS.map((c) => h("option", { value: c.value, selected: c.value === selected.toLowerCase() }, c.name));
  if (!known) options.unshift(h("option", { value: selected, selected: true }, selected));
  return h("select", { id, "aria-label": "Colour" }, ...options);
}
