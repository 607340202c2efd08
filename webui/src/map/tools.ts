// Map tools of the command post: the cursor's position in decimal degrees, DDM and MGRS; a
// "go to" box that takes any of the three; and a measure tool (two clicks: great-circle distance
// and initial bearing, drawn as a line). Placed over the map, top left; nothing is sent to the
// server.

import maplibregl from "maplibre-gl";
import type { GeoJSONSource, MapMouseEvent } from "maplibre-gl";
import { describe, distanceBearing, formatDistance, parseCoordinate } from "../geo/coords";
import type { LatLon } from "../geo/mgrs";
import { h } from "../ui/dom";
import type { MapView } from "./view";
import "./tools.css";

const MEASURE_SOURCE = "measure";
/** Zoom a go-to zooms in to at least: a grid reference is usually a place, not a region. */
const GOTO_MIN_ZOOM = 13;
const GOTO_DURATION_MS = 800;

export class MapTools {
  readonly cursor = h("div", { className: "map-cursor", id: "map-cursor" }, "move over the map");
  private readonly input = h("input", {
    id: "goto-input",
    type: "text",
    placeholder: "Go to: 38.8895, -77.0353 · 38 53.37 N 77 2.12 W · 18S UJ 23478 06483",
    "aria-label": "Go to coordinate",
  });
  private readonly measureButton = h("button", { type: "button", id: "measure-button", title: "Measure distance and bearing" }, "Measure");
  private readonly result = h("div", { className: "map-tool-result", id: "map-tool-result", role: "status" });
  /** The panel over the map's top left corner the tools sit in (other tools may join it). */
  readonly panel: HTMLElement;
  private marker: maplibregl.Marker | null = null;
  private measuring: LatLon[] | null = null;

  constructor(private readonly view: MapView) {
    const form = h(
      "form",
      { className: "goto-form", id: "goto-form" },
      this.input,
      h("button", { type: "submit" }, "Go"),
      this.measureButton,
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.goTo(this.input.value);
    });
    this.measureButton.addEventListener("click", () => this.toggleMeasure());
    const container = view.map.getContainer();
    this.panel = h("div", { className: "map-tools" }, form, this.result);
    container.append(this.panel, this.cursor);
    view.map.on("mousemove", (event: MapMouseEvent) => this.showCursor(event.lngLat.lat, event.lngLat.lng));
  }

  /** Centre the map on a typed position (and mark it); says so when it cannot be read. */
  goTo(text: string): boolean {
    const at = parseCoordinate(text);
    if (at === null) {
      this.result.textContent = "Not a position: type decimal degrees, DDM (38 53.37 N 77 2.12 W) or MGRS";
      this.result.dataset.kind = "error";
      return false;
    }
    const map = this.view.map;
    this.marker?.remove();
    this.marker = new maplibregl.Marker({ color: "#d32f2f" }).setLngLat([at.lon, at.lat]).addTo(map);
    map.easeTo({ center: [at.lon, at.lat], zoom: Math.max(map.getZoom(), GOTO_MIN_ZOOM), duration: GOTO_DURATION_MS });
    const shown = describe(at.lat, at.lon);
    this.result.textContent = `${shown.mgrs} · ${shown.ddm}`;
    this.result.dataset.kind = "goto";
    return true;
  }

  private showCursor(lat: number, lon: number): void {
    const shown = describe(lat, lon);
    this.cursor.textContent = `${shown.decimal} · ${shown.ddm} · ${shown.mgrs}`;
  }

  private toggleMeasure(): void {
    if (this.measuring !== null) {
      this.stopMeasuring();
      this.draw([]);
      this.result.textContent = "";
      return;
    }
    this.measuring = [];
    this.measureButton.classList.add("active");
    this.result.textContent = "Measure: click the first point";
    this.result.dataset.kind = "measure";
    this.view.onPick = ([lon, lat]) => this.picked({ lat, lon });
  }

  private picked(at: LatLon): void {
    const points = this.measuring;
    if (points === null) return;
    points.push(at);
    this.draw(points);
    const [from, to] = points;
    if (from === undefined) return;
    if (to === undefined) {
      this.result.textContent = "Measure: click the second point";
      return;
    }
    const { metres, bearing } = distanceBearing(from, to);
    this.result.textContent = `Distance ${formatDistance(metres)} · bearing ${bearing.toFixed(1)}° true`;
    this.result.dataset.metres = String(metres);
    this.result.dataset.bearing = String(bearing);
    this.stopMeasuring();
  }

  private stopMeasuring(): void {
    this.measuring = null;
    this.measureButton.classList.remove("active");
    if (this.view.onPick !== null) this.view.onPick = null;
  }

  private draw(points: LatLon[]): void {
    const map = this.view.map;
    const data: GeoJSON.FeatureCollection = {
      type: "FeatureCollection",
      features: [
        ...points.map((p): GeoJSON.Feature => ({ type: "Feature", properties: {}, geometry: { type: "Point", coordinates: [p.lon, p.lat] } })),
        ...(points.length === 2
          ? [{ type: "Feature", properties: {}, geometry: { type: "LineString", coordinates: points.map((p) => [p.lon, p.lat]) } } as GeoJSON.Feature]
          : []),
      ],
    };
    const source = map.getSource(MEASURE_SOURCE) as GeoJSONSource | undefined;
    if (source !== undefined) {
      source.setData(data);
      return;
    }
    map.addSource(MEASURE_SOURCE, { type: "geojson", data });
    map.addLayer({ id: "measure-line", type: "line", source: MEASURE_SOURCE, paint: { "line-color": "#d32f2f", "line-width": 3, "line-dasharray": [2, 1] } });
    map.addLayer({
      id: "measure-points",
      type: "circle",
      source: MEASURE_SOURCE,
      filter: ["==", ["geometry-type"], "Point"],
      paint: { "circle-radius": 5, "circle-color": "#d32f2f", "circle-stroke-color": "#ffffff", "circle-stroke-width": 2 },
    });
  }
}
