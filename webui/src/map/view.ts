// The map: MapLibre with the offline basemap, contacts as one symbol layer (a milsymbol image
// per SIDC, callsign label, heading arrow), the selected contact's track, mission objectives
// (points and areas, coloured by state) and the shape being designated.

import maplibregl from "maplibre-gl";
import type { GeoJSONSource, Map as MapLibre, MapMouseEvent } from "maplibre-gl";
import "maplibre-gl/dist/maplibre-gl.css";

import type { ContactEntry } from "../state/contacts";
import { shapeFeature } from "../state/drawing";
import { stateView } from "../state/objectives";
import { teamColour } from "../state/teams";
import type { Objective, WebConfig } from "../types";
import { formatClock } from "../ui/dom";
import { Basemaps, loadBasemap } from "./basemap";
import { SHAPE_LAYERS, SHAPES_SOURCE, addShapeLayers, renderedShapes } from "./shapes";
import { BasemapSwitcher } from "./switcher";
import { HEADING_IMAGE, SymbolImages } from "./symbols";

const CONTACT_LAYERS = ["contacts", "contacts-heading", ...SHAPE_LAYERS];
const FIT_MAX_ZOOM = 13;
/**
 * Callsigns and heading arrows from these zooms on: below them a thousand labels collide into
 * noise, and placing them costs more than drawing the symbols (software WebGL especially).
 */
const LABEL_MIN_ZOOM = 11;
/**
 * A small picture (a few crews) is labelled from this zoom on: its labels neither collide into
 * noise nor cost much to place, and a commander zoomed out to the whole incident still reads
 * who is where.
 */
const SMALL_PICTURE = 150;
const SMALL_LABEL_MIN_ZOOM = 6;
const HEADING_MIN_ZOOM = 9;
/**
 * The basemap is converted and handed to MapLibre's worker only once the first contacts are
 * drawn (or this long after the map loaded, if none come): the world's outlines take the
 * worker a second or more, and the picture matters more than the coastline.
 */
const BASEMAP_WAIT_MS = 3000;
/** Half a period of the emergency ring's blink. */
const BLINK_MS = 500;
const empty = (): GeoJSON.FeatureCollection => ({ type: "FeatureCollection", features: [] });

export type LngLat = [number, number];

export class MapView {
  readonly map: MapLibre;
  readonly ready: Promise<void>;
  /** Resolves once the shipped basemap is drawn (the map is idle with it). */
  readonly basemapReady: Promise<void>;
  readonly basemaps: Basemaps;
  private readonly symbols: SymbolImages;
  private fitted = false;
  private contactsSet = false;
  private contactsDrawn: () => void = () => undefined;
  private blinkTimer: number | undefined;
  private labelZoom = LABEL_MIN_ZOOM;
  /** True once the style and our layers exist; before that, data waits in ``pending``. */
  isReady = false;
  private readonly pending = new Map<string, GeoJSON.GeoJSON>();
  onContactClick: (uid: string) => void = () => undefined;
  /** A marker or shape was clicked (when no unit was under the click). */
  onShapeClick: (uid: string) => void = () => undefined;
  /** Called in every frame the map draws (inside MapLibre's animation-frame callback). */
  onRender: () => void = () => undefined;
  /** Pixels at the bottom of the map hidden by the panel (a phone's bottom sheet): centre above them. */
  coveredBelow: () => number = () => 0;
  /** While set, map clicks go here (designating an objective) instead of selecting contacts. */
  onPick: ((at: LngLat) => void) | null = null;

  constructor(container: HTMLElement, config: WebConfig | null) {
    this.basemaps = new Basemaps(config, window.localStorage);
    this.map = new maplibregl.Map({
      container,
      style: this.basemaps.style,
      center: [10, 30],
      zoom: 1.6,
      attributionControl: { compact: true, customAttribution: "Natural Earth" },
      fadeDuration: 0,
    });
    this.map.addControl(new maplibregl.NavigationControl({ showCompass: true }), "top-right");
    this.map.addControl(new maplibregl.ScaleControl({ unit: "metric" }), "bottom-right");
    this.map.addControl(new BasemapSwitcher(this.basemaps), "top-left");
    this.symbols = new SymbolImages(this.map);
    this.ready = new Promise((resolve) => {
      this.map.once("load", () => {
        this.basemaps.attach(this.map);
        this.addLayers();
        this.isReady = true;
        for (const [id, data] of this.pending) this.source(id).setData(data);
        this.pending.clear();
        resolve();
      });
    });
    const contactsDrawn = new Promise<void>((resolve) => (this.contactsDrawn = resolve));
    const waited = this.ready.then(() => new Promise<void>((resolve) => window.setTimeout(resolve, BASEMAP_WAIT_MS)));
    this.basemapReady = Promise.race([contactsDrawn, waited]).then(async () => {
      this.basemaps.fill(await loadBasemap());
      await this.map.once("idle");
    });
  }

  /** Redraw every contact (at most once per flush interval): units as symbols, drawings as drawn. */
  setContacts(entries: ContactEntry[]): void {
    const features: GeoJSON.Feature[] = [];
    const shapes: GeoJSON.Feature[] = [];
    for (const entry of entries) {
      const c = entry.contact;
      const stale = entry.status !== "live";
      const shape = c.shape ? shapeFeature(c, stale) : null;
      if (shape !== null) {
        shapes.push(shape);
        continue;
      }
      const lost = entry.status === "lost" && c.lost ? c.lost : null;
      const properties: Record<string, string | number | boolean> = {
        uid: c.uid,
        callsign: lost === null ? c.callsign : `${c.callsign} (lost ${formatClock(lost.since)})`,
        icon: this.symbols.ensure(entry.sidc, stale),
        stale,
        lost: lost !== null,
      };
      const team = teamColour(c.team);
      if (team !== null) properties.team = team;
      if (c.course !== null && c.speed !== null && c.speed > 0.2) properties.course = c.course;
      features.push({ type: "Feature", id: c.uid, properties, geometry: { type: "Point", coordinates: [c.lon, c.lat] } });
    }
    this.setData(SHAPES_SOURCE, { type: "FeatureCollection", features: shapes });
    this.setData("contacts", { type: "FeatureCollection", features });
    this.labelFrom(entries.length <= SMALL_PICTURE ? SMALL_LABEL_MIN_ZOOM : LABEL_MIN_ZOOM);
    if (!this.contactsSet) {
      this.contactsSet = true;
      this.map.once("idle", () => this.contactsDrawn());
    }
  }

  /** Show callsigns from ``zoom`` on (changed only when the picture crosses SMALL_PICTURE). */
  private labelFrom(zoom: number): void {
    if (zoom === this.labelZoom || !this.isReady) return;
    this.labelZoom = zoom;
    this.map.setLayoutProperty("contacts", "text-field", ["step", ["zoom"], "", zoom, ["get", "callsign"]]);
  }

  /**
   * Frame the picture once, when the page opens on a non-empty snapshot. Contacts that arrive
   * later do not move the camera: the commander's view stays where they put it.
   */
  fitOnce(entries: ContactEntry[]): void {
    if (this.fitted || entries.length === 0) return;
    this.fitted = true;
    this.fit(entries.map((e) => [e.contact.lon, e.contact.lat]));
  }

  /** The recent track of the selected contact, or none. */
  setTrack(track: GeoJSON.Feature | null): void {
    this.setData("track", track === null ? empty() : { type: "FeatureCollection", features: [track] });
  }

  setObjectives(objectives: Objective[]): void {
    const features: GeoJSON.Feature[] = [];
    for (const o of objectives) {
      if (o.geometry === null) continue;
      const view = stateView(o.state);
      features.push({
        type: "Feature",
        id: o.id,
        properties: { id: o.id, title: `${o.title} (${view.label})`, colour: view.colour },
        geometry: o.geometry,
      });
    }
    this.setData("objectives", { type: "FeatureCollection", features });
  }

  /** The points of the area being drawn (a line while open, the first point marked). */
  setDraft(points: LngLat[]): void {
    const features: GeoJSON.Feature[] = points.map((p) => ({
      type: "Feature",
      properties: {},
      geometry: { type: "Point", coordinates: p },
    }));
    if (points.length > 1) {
      features.push({ type: "Feature", properties: {}, geometry: { type: "LineString", coordinates: points } });
    }
    this.setData("draft", { type: "FeatureCollection", features });
  }

  /**
   * Rings around what needs the commander's eye: the selected contact (blue) and every unit in
   * an unacknowledged emergency (red, blinking while any is pending).
   */
  setHighlights(selected: LngLat | null, alerts: LngLat[]): void {
    const ring = (at: LngLat, kind: string): GeoJSON.Feature => ({
      type: "Feature",
      properties: { kind },
      geometry: { type: "Point", coordinates: at },
    });
    const features = alerts.map((at) => ring(at, "alert"));
    if (selected !== null) features.push(ring(selected, "selected"));
    this.setData("highlight", { type: "FeatureCollection", features });
    window.clearInterval(this.blinkTimer);
    this.blinkTimer = undefined;
    if (alerts.length === 0 || !this.isReady) return;
    let on = true;
    this.blinkTimer = window.setInterval(() => {
      on = !on;
      this.map.setPaintProperty("highlight", "circle-stroke-opacity", on ? 1 : 0.25);
    }, BLINK_MS);
  }

  /** Frame every contact given (all of them, or a team's). */
  zoomTo(entries: ContactEntry[]): void {
    if (entries.length === 0) return;
    this.fit(entries.map((e) => [e.contact.lon, e.contact.lat]));
  }

  flyTo(lon: number, lat: number): void {
    const padding = { top: 0, left: 0, right: 0, bottom: this.coveredBelow() };
    this.map.easeTo({ center: [lon, lat], zoom: Math.max(this.map.getZoom(), 12), duration: 400, padding });
  }

  /** Uids of the contacts MapLibre actually drew in the current frame. */
  renderedContactUids(): string[] {
    if (!this.map.getLayer("contacts")) return [];
    const features = this.map.queryRenderedFeatures({ layers: ["contacts"] });
    return [...new Set(features.map((f) => String(f.properties.uid)))];
  }

  /** Uids of the markers and shapes MapLibre drew in the current frame. */
  renderedShapeUids(): string[] {
    return renderedShapes(this.map);
  }

  /** The screen position of a map coordinate (for the test hook and the benchmark). */
  project(lon: number, lat: number): { x: number; y: number } {
    const point = this.map.project([lon, lat]);
    return { x: point.x, y: point.y };
  }

  private fit(points: LngLat[]): void {
    const bounds = new maplibregl.LngLatBounds();
    for (const p of points) bounds.extend(p);
    this.map.fitBounds(bounds, { padding: 80, maxZoom: FIT_MAX_ZOOM, duration: 0 });
  }

  private setData(id: string, data: GeoJSON.GeoJSON): void {
    if (this.isReady) this.source(id).setData(data);
    else this.pending.set(id, data);
  }

  private source(id: string): GeoJSONSource {
    return this.map.getSource(id) as GeoJSONSource;
  }

  private addLayers(): void {
    const m = this.map;
    this.symbols.addStatic();
    for (const id of ["contacts", "track", "objectives", "draft", "highlight"]) m.addSource(id, { type: "geojson", data: empty() });
    m.addLayer({
      id: "objectives-fill",
      type: "fill",
      source: "objectives",
      filter: ["==", ["geometry-type"], "Polygon"],
      paint: { "fill-color": ["get", "colour"], "fill-opacity": 0.25 },
    });
    m.addLayer({
      id: "objectives-line",
      type: "line",
      source: "objectives",
      paint: { "line-color": ["get", "colour"], "line-width": 2, "line-dasharray": [2, 1] },
    });
    m.addLayer({
      id: "objectives-point",
      type: "circle",
      source: "objectives",
      filter: ["==", ["geometry-type"], "Point"],
      paint: {
        "circle-radius": 9,
        "circle-color": ["get", "colour"],
        "circle-opacity": 0.6,
        "circle-stroke-color": "#202020",
        "circle-stroke-width": 2,
      },
    });
    m.addLayer({
      id: "objectives-label",
      type: "symbol",
      source: "objectives",
      layout: { "text-field": ["get", "title"], "text-size": 12, "text-offset": [0, 1.4], "text-anchor": "top" },
      paint: { "text-color": "#202020", "text-halo-color": "#ffffff", "text-halo-width": 1.5 },
    });
    addShapeLayers(m);
    m.addLayer({
      id: "track",
      type: "line",
      source: "track",
      paint: { "line-color": "#d03090", "line-width": 3, "line-opacity": 0.8 },
    });
    m.addLayer({
      id: "draft-line",
      type: "line",
      source: "draft",
      paint: { "line-color": "#e05000", "line-width": 2 },
    });
    m.addLayer({
      id: "draft-points",
      type: "circle",
      source: "draft",
      filter: ["==", ["geometry-type"], "Point"],
      paint: { "circle-radius": 4, "circle-color": "#e05000" },
    });
    m.addLayer({
      id: "highlight",
      type: "circle",
      source: "highlight",
      paint: {
        "circle-radius": ["match", ["get", "kind"], "alert", 24, 19],
        "circle-color": "rgba(0,0,0,0)",
        "circle-stroke-color": ["match", ["get", "kind"], "alert", "#e01010", "#1f5fa8"],
        "circle-stroke-width": ["match", ["get", "kind"], "alert", 5, 3],
      },
    });
    m.addLayer({
      id: "contacts-team",
      type: "circle",
      source: "contacts",
      filter: ["has", "team"],
      paint: {
        "circle-radius": 15,
        "circle-color": "rgba(0,0,0,0)",
        "circle-stroke-color": ["get", "team"],
        "circle-stroke-width": 3,
        "circle-stroke-opacity": ["case", ["get", "stale"], 0.4, 0.9],
      },
    });
    m.addLayer({
      id: "contacts-lost",
      type: "circle",
      source: "contacts",
      filter: ["==", ["get", "lost"], true],
      paint: { "circle-radius": 16, "circle-color": "rgba(120,120,120,0.15)", "circle-stroke-color": "#606060", "circle-stroke-width": 1.5 },
    });
    m.addLayer({
      id: "contacts-heading",
      type: "symbol",
      source: "contacts",
      minzoom: HEADING_MIN_ZOOM,
      filter: ["has", "course"],
      layout: {
        "icon-image": HEADING_IMAGE,
        "icon-rotate": ["get", "course"],
        "icon-rotation-alignment": "map",
        "icon-anchor": "bottom",
        "icon-allow-overlap": true,
        "icon-ignore-placement": true,
      },
    });
    m.addLayer({
      id: "contacts",
      type: "symbol",
      source: "contacts",
      layout: {
        "icon-image": ["get", "icon"],
        "icon-allow-overlap": true,
        "icon-ignore-placement": true,
        "text-field": ["step", ["zoom"], "", LABEL_MIN_ZOOM, ["get", "callsign"]],
        "text-size": 12,
        "text-offset": [0, 1.5],
        "text-anchor": "top",
        "text-optional": true,
      },
      paint: {
        "text-color": ["case", ["get", "stale"], "#777777", "#101010"],
        "text-halo-color": "#ffffff",
        "text-halo-width": 1.5,
        "icon-opacity": ["case", ["get", "stale"], 0.7, 1],
      },
    });
    m.on("click", (event: MapMouseEvent) => this.clicked(event));
    m.on("render", () => this.onRender());
    for (const layer of CONTACT_LAYERS) {
      m.on("mouseenter", layer, () => (m.getCanvas().style.cursor = "pointer"));
      m.on("mouseleave", layer, () => (m.getCanvas().style.cursor = ""));
    }
  }

  private clicked(event: MapMouseEvent): void {
    if (this.onPick !== null) {
      this.onPick([event.lngLat.lng, event.lngLat.lat]);
      return;
    }
    const box: [[number, number], [number, number]] = [
      [event.point.x - 6, event.point.y - 6],
      [event.point.x + 6, event.point.y + 6],
    ];
    const hit = this.map.queryRenderedFeatures(box, { layers: ["contacts"] })[0];
    if (hit !== undefined) {
      this.onContactClick(String(hit.properties.uid));
      return;
    }
    const drawn = this.map.queryRenderedFeatures(box, { layers: SHAPE_LAYERS })[0];
    if (drawn !== undefined) this.onShapeClick(String(drawn.properties.uid));
  }
}
