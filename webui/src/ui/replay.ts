// After-action replay: load a time window from the server, move through it with a slider or
// play it at a chosen speed, and see every unit where it was at that moment (with its trail so
// far), the chat, alerts and objective changes up to then, and download the window as GeoJSON
// or KML. The replay draws on its own map layers, so the live picture underneath is untouched.

import type { GeoJSONSource, Map as MapLibre } from "maplibre-gl";

import type { Api } from "../api";
import type { MapView } from "../map/view";
import { ReplayTimeline } from "../state/replay";
import type { ReplayWindow } from "../types";
import { errorText, formatTime, h, replace, toast } from "./dom";
import "./replay.css";

const SOURCE = "replay";
const TRAILS = "replay-trails";
const PLAY_STEP_MS = 100;
const SPEEDS = [10, 60, 300, 1800];
const HOUR_MS = 3_600_000;
const SHOWN_ENTRIES = 30;
const REPLAY_COLOR = "#d9480f";

/** ``YYYY-MM-DDTHH:MM`` in local time, as a datetime-local input holds it. */
function localInput(ms: number): string {
  const date = new Date(ms - new Date(ms).getTimezoneOffset() * 60_000);
  return date.toISOString().slice(0, 16);
}

export class ReplayPanel {
  readonly element: HTMLElement;
  private readonly from = h("input", { type: "datetime-local", name: "from", id: "replay-from" });
  private readonly to = h("input", { type: "datetime-local", name: "to", id: "replay-to" });
  private readonly slider = h("input", { type: "range", id: "replay-slider", min: "0", max: "0", value: "0", disabled: true });
  private readonly play = h("button", { id: "replay-play", type: "button", disabled: true }, "Play");
  private readonly speed = h("select", { id: "replay-speed" }, ...SPEEDS.map((s) => h("option", { value: String(s) }, `${s}×`)));
  private readonly clock = h("span", { id: "replay-time", className: "replay-time" }, "");
  private readonly exports = h("span", { className: "replay-exports" });
  private readonly units = h("ul", { id: "replay-units", className: "replay-units" });
  private readonly log = h("ul", { id: "replay-log", className: "replay-log" });
  private timeline: ReplayTimeline | null = null;
  private timer: number | undefined;

  constructor(
    private readonly api: Api,
    private readonly view: MapView,
  ) {
    const now = Date.now();
    this.from.value = localInput(now - HOUR_MS);
    this.to.value = localInput(now + 60_000); // the input holds minutes: include the current one
    const form = h(
      "form",
      { className: "replay-form", id: "replay-form" },
      h("label", {}, "From ", this.from),
      h("label", {}, "To ", this.to),
      h("button", { type: "submit", id: "replay-load" }, "Load"),
      h("button", { type: "button", className: "link", onclick: () => this.clear() }, "Clear"),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.load();
    });
    this.slider.addEventListener("input", () => this.show(Number(this.slider.value)));
    this.play.addEventListener("click", () => this.toggle());
    this.element = h(
      "section",
      { className: "panel replay-panel", id: "replay-panel" },
      form,
      h("div", { className: "replay-controls" }, this.play, this.speed, this.clock),
      this.slider,
      this.exports,
      h("h4", {}, "Units at this time"),
      this.units,
      h("h4", {}, "Chat, alerts, objectives, roll calls"),
      this.log,
    );
  }

  private load(): void {
    const start = new Date(this.from.value).getTime();
    const end = new Date(this.to.value).getTime();
    if (!Number.isFinite(start) || !Number.isFinite(end)) {
      toast("Replay: choose a start and an end");
      return;
    }
    const query = `start=${start}&end=${end}`;
    this.api
      .get<ReplayWindow>(`/api/replay?${query}`)
      .then((data) => {
        this.timeline = new ReplayTimeline(data);
        this.slider.min = String(data.start);
        this.slider.max = String(data.end);
        this.slider.step = "1000";
        this.slider.disabled = this.play.disabled = false;
        replace(
          this.exports,
          "Export: ",
          h("a", { id: "replay-geojson", href: `/api/replay/export.geojson?${query}`, download: "replay.geojson" }, "GeoJSON"),
          " · ",
          h("a", { id: "replay-kml", href: `/api/replay/export.kml?${query}`, download: "replay.kml" }, "KML"),
          data.truncated ? h("span", { className: "muted" }, " (window truncated: choose a shorter one)") : null,
        );
        this.element.dataset.units = String(this.timeline.unitCount);
        this.show(data.start);
      })
      .catch((error: unknown) => toast(`Replay: ${errorText(error)}`));
  }

  /** Draw the window as it was at ``time``. */
  show(time: number): void {
    const timeline = this.timeline;
    if (timeline === null) return;
    this.slider.value = String(time);
    this.clock.textContent = formatTime(time);
    this.element.dataset.time = String(time);
    const positions = timeline.positionsAt(time);
    replace(
      this.units,
      ...positions.map((p) =>
        h("li", { "data-uid": p.uid, "data-lat": p.lat, "data-lon": p.lon }, `${p.callsign} ${p.lat.toFixed(5)}, ${p.lon.toFixed(5)} (${formatTime(p.time)})`),
      ),
    );
    replace(
      this.log,
      ...timeline.entriesUpTo(time, SHOWN_ENTRIES).map((e) =>
        h("li", { className: `replay-${e.kind}`, "data-kind": e.kind }, `${formatTime(e.time)} ${e.text}`),
      ),
    );
    this.draw({
      type: "FeatureCollection",
      features: [
        ...timeline.trailsAt(time).map(
          (t): GeoJSON.Feature => ({ type: "Feature", geometry: { type: "LineString", coordinates: t.coordinates }, properties: { uid: t.uid } }),
        ),
        ...positions.map(
          (p): GeoJSON.Feature => ({
            type: "Feature",
            geometry: { type: "Point", coordinates: [p.lon, p.lat] },
            properties: { uid: p.uid, callsign: p.callsign },
          }),
        ),
      ],
    });
  }

  private toggle(): void {
    if (this.timer !== undefined) {
      this.stop();
      return;
    }
    this.play.textContent = "Pause";
    this.timer = window.setInterval(() => {
      const end = Number(this.slider.max);
      const next = Math.min(end, Number(this.slider.value) + PLAY_STEP_MS * Number(this.speed.value));
      this.show(next);
      if (next >= end) this.stop();
    }, PLAY_STEP_MS);
  }

  private stop(): void {
    window.clearInterval(this.timer);
    this.timer = undefined;
    this.play.textContent = "Play";
  }

  private clear(): void {
    this.stop();
    this.timeline = null;
    this.slider.disabled = this.play.disabled = true;
    replace(this.units);
    replace(this.log);
    replace(this.exports);
    this.draw({ type: "FeatureCollection", features: [] });
  }

  /** Our own source and layers, made when first needed (and again if a new style dropped them). */
  private draw(data: GeoJSON.FeatureCollection): void {
    if (!this.view.isReady) return;
    const map = this.view.map;
    if (map.getSource(SOURCE) === undefined) addLayers(map);
    (map.getSource(SOURCE) as GeoJSONSource).setData(data);
  }
}

function addLayers(map: MapLibre): void {
  map.addSource(SOURCE, { type: "geojson", data: { type: "FeatureCollection", features: [] } });
  map.addLayer({
    id: TRAILS,
    type: "line",
    source: SOURCE,
    filter: ["==", ["geometry-type"], "LineString"],
    paint: { "line-color": REPLAY_COLOR, "line-width": 2, "line-dasharray": [2, 1] },
  });
  map.addLayer({
    id: "replay-units",
    type: "circle",
    source: SOURCE,
    filter: ["==", ["geometry-type"], "Point"],
    paint: { "circle-radius": 7, "circle-color": REPLAY_COLOR, "circle-stroke-color": "#fff", "circle-stroke-width": 2 },
  });
  map.addLayer({
    id: "replay-labels",
    type: "symbol",
    source: SOURCE,
    filter: ["==", ["geometry-type"], "Point"],
    layout: { "text-field": ["get", "callsign"], "text-size": 12, "text-offset": [0, 1.2], "text-anchor": "top" },
    paint: { "text-color": REPLAY_COLOR, "text-halo-color": "#fff", "text-halo-width": 1.5 },
  });
}
