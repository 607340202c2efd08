// The map's basemaps and the choice between them. Always there: the built-in one, Natural
// Earth 1:50m countries (the world-atlas package) shipped as a hashed asset next to the page
// and drawn as land, borders and coastlines, which needs no network at all. When configured:
// the server's offline MBTiles (raster images, or OpenMapTiles vector tiles drawn with the
// bundled style in a light or a dark palette) and an online tile URL. Every basemap's layers
// are in the style from the start and switching only toggles their visibility, so the
// overlays (contacts, tracks, objectives) are never rebuilt. The choice is kept in
// localStorage.
//
// Until the built-in outlines are converted (see MapView), the background is a neutral grey,
// not water: units are never shown on an empty blue "sea".

import type { GeoJSONSource, LayerSpecification, Map as MapLibre, SourceSpecification, StyleSpecification } from "maplibre-gl";
import { feature, mesh } from "topojson-client";
import type { GeometryCollection, Topology } from "topojson-specification";
import countriesUrl from "world-atlas/countries-50m.json?url";

import type { LocalTiles, WebConfig } from "../types";
import { planarFeatures, planarLines } from "./antimeridian";
import { gridLines } from "./grid";
import { DARK, LIGHT, type Palette, vectorLayers } from "./vectorstyle";

/**
 * 1:50m outlines hold no detail past this zoom; deeper views overscale these tiles instead of
 * cutting the world's polygons again (which took a second in software WebGL at street zoom).
 */
export const BASEMAP_MAX_ZOOM = 6;
export const WATER = LIGHT.water;
export const LAND = LIGHT.land;
/** The grid is drawn from this zoom on (below it the outlines are detail enough). */
const GRID_MIN_ZOOM = 5;
/** The background while the basemap is not drawn yet: neither sea nor land. */
export const NEUTRAL = "#d9d9d6";
export const STORAGE_KEY = "rallypoint.basemap";
const CHOICE = "rallypoint:basemap";

export type BasemapId = "builtin" | "local" | "local-dark" | "online";

export interface BasemapOption {
  id: BasemapId;
  label: string;
}

export interface Basemap {
  land: GeoJSON.FeatureCollection;
  borders: GeoJSON.MultiLineString;
  coast: GeoJSON.MultiLineString;
}

type Countries = Topology<{ countries: GeometryCollection; land: GeometryCollection }>;

/** Fetch and convert the shipped countries; land, internal borders and coastlines, planar. */
export async function loadBasemap(): Promise<Basemap> {
  const response = await fetch(countriesUrl);
  const topology = (await response.json()) as Countries;
  const countries = topology.objects.countries;
  return {
    land: planarFeatures(feature(topology, countries)),
    borders: planarLines(mesh(topology, countries, (a, b) => a !== b)),
    coast: planarLines(mesh(topology, countries, (a, b) => a === b)),
  };
}

/** The basemaps this configuration offers, the built-in one first. */
export function basemapOptions(config: WebConfig | null): BasemapOption[] {
  const options: BasemapOption[] = [{ id: "builtin", label: "Built-in (world outlines)" }];
  const local = config?.tiles.local ?? null;
  if (local !== null) {
    options.push({ id: "local", label: "Offline area" });
    if (local.kind === "vector") options.push({ id: "local-dark", label: "Offline area, dark" });
  }
  if (config?.tiles.url) options.push({ id: "online", label: "Online map" });
  return options;
}

/** The stored choice if still offered, else the most detailed basemap there is. */
export function initialBasemap(options: BasemapOption[], stored: string | null): BasemapId {
  const offered = options.find((o) => o.id === stored);
  if (offered !== undefined) return offered.id;
  return (options.find((o) => o.id === "local") ?? options.find((o) => o.id === "online"))?.id ?? "builtin";
}

/** A template relative to the page made absolute (MapLibre's workers fetch tiles). */
function absolute(template: string): string {
  const url = template.includes("{z}") ? template : `${template.replace(/\/$/, "")}/{z}/{x}/{y}`;
  return new URL(url, location.href).href.replace(/%7B/g, "{").replace(/%7D/g, "}");
}

function localSource(local: LocalTiles, attribution: string): SourceSpecification {
  const common = { tiles: [absolute(local.url)], minzoom: local.minzoom, maxzoom: local.maxzoom, attribution };
  const bounds = local.bounds ?? undefined;
  if (local.kind === "vector") return { type: "vector", ...common, ...(bounds ? { bounds } : {}) };
  return { type: "raster", tileSize: 256, ...common, ...(bounds ? { bounds } : {}) };
}

/** The rectangle an area package covers (its land colour, under the vector water). */
function areaPolygon(bounds: [number, number, number, number]): GeoJSON.Feature {
  const [w, s, e, n] = bounds;
  return {
    type: "Feature",
    properties: {},
    geometry: { type: "Polygon", coordinates: [[[w, s], [e, s], [e, n], [w, n], [w, s]]] },
  };
}

const emptyCollection = (): GeoJSON.FeatureCollection => ({ type: "FeatureCollection", features: [] });

/** The basemaps, one MapLibre style for all of them, and the switch between them. */
export class Basemaps {
  readonly options: BasemapOption[];
  readonly style: StyleSpecification;
  private readonly shownBy = new Map<string, BasemapId[]>();
  private readonly local: LocalTiles | null;
  private current: BasemapId;
  private drawn = false;
  private map: MapLibre | null = null;

  constructor(
    config: WebConfig | null,
    private readonly storage: Storage | null,
  ) {
    this.options = basemapOptions(config);
    this.local = config?.tiles.local ?? null;
    this.current = initialBasemap(this.options, this.read());
    this.style = this.build(config);
  }

  get chosen(): BasemapId {
    return this.current;
  }

  /** Use ``map`` (its style loaded from :attr:`style`). */
  attach(map: MapLibre): void {
    this.map = map;
    this.apply();
    map.on("moveend", () => this.drawGrid());
    this.drawGrid();
  }

  /** The built-in basemap's grid for the current view. */
  private drawGrid(): void {
    const map = this.map;
    if (map === null || this.current !== "builtin" || map.getZoom() < GRID_MIN_ZOOM) return;
    const b = map.getBounds();
    (map.getSource("grid") as GeoJSONSource).setData(gridLines(b.getWest(), b.getSouth(), b.getEast(), b.getNorth()));
  }

  /** Show ``id`` and remember it for the next visit. */
  choose(id: BasemapId): void {
    if (!this.options.some((o) => o.id === id)) return;
    this.current = id;
    try {
      this.storage?.setItem(STORAGE_KEY, id);
    } catch {
      // storage full or refused: the choice holds for this page only
    }
    this.apply();
    this.drawGrid();
  }

  /** The built-in outlines are converted: draw them and show the sea. */
  fill(basemap: Basemap): void {
    const map = this.map;
    if (map === null) return;
    for (const [id, data] of Object.entries(basemap)) (map.getSource(id) as GeoJSONSource).setData(data);
    this.drawn = true;
    this.apply();
  }

  private read(): string | null {
    try {
      return this.storage?.getItem(STORAGE_KEY) ?? null;
    } catch {
      return null;
    }
  }

  private palette(): Palette {
    return this.current === "local-dark" ? DARK : LIGHT;
  }

  private apply(): void {
    const map = this.map;
    if (map === null) return;
    for (const [layer, shownBy] of this.shownBy) {
      map.setLayoutProperty(layer, "visibility", shownBy.includes(this.current) ? "visible" : "none");
    }
    const palette = this.palette();
    map.setPaintProperty("water", "background-color", this.drawn ? palette.water : NEUTRAL);
    map.setPaintProperty("land", "fill-color", palette.land);
    if (map.getLayer("area-land")) map.setPaintProperty("area-land", "fill-color", palette.land);
    // over an offline area the 1:50m lines are wrong by hundreds of metres: only zoomed out
    const outlinesTo = this.current === "builtin" || this.local === null ? 24 : this.local.minzoom;
    for (const id of ["borders", "coast"]) map.setLayerZoomRange(id, 0, outlinesTo);
  }

  /** A layer shown only by the given basemaps (starting visible if the chosen one is among them). */
  private only(layer: LayerSpecification, shownBy: BasemapId[]): LayerSpecification {
    this.shownBy.set(layer.id, shownBy);
    const visibility = shownBy.includes(this.current) ? "visible" : "none";
    return { ...layer, layout: { ...(layer.layout ?? {}), visibility } } as LayerSpecification;
  }

  private build(config: WebConfig | null): StyleSpecification {
    const attribution = config?.tiles.attribution ?? "";
    const empty = emptyCollection();
    const sources: StyleSpecification["sources"] = {
      land: { type: "geojson", data: empty, maxzoom: BASEMAP_MAX_ZOOM },
      borders: { type: "geojson", data: empty, maxzoom: BASEMAP_MAX_ZOOM },
      coast: { type: "geojson", data: empty, maxzoom: BASEMAP_MAX_ZOOM },
      grid: { type: "geojson", data: empty },
    };
    const layers: LayerSpecification[] = [
      { id: "water", type: "background", paint: { "background-color": NEUTRAL } },
      { id: "land", type: "fill", source: "land", paint: { "fill-color": LAND } },
    ];
    const url = config?.tiles.url ?? null;
    if (url) {
      sources.online = { type: "raster", tiles: [absolute(url)], tileSize: 256, maxzoom: 19, attribution };
      layers.push(this.only({ id: "online-raster", type: "raster", source: "online" }, ["online"]));
    }
    const local = this.local;
    if (local !== null) {
      sources.local = localSource(local, attribution);
      if (local.kind === "raster") {
        layers.push(this.only({ id: "local-raster", type: "raster", source: "local" }, ["local"]));
      } else {
        if (local.bounds) {
          sources.area = { type: "geojson", data: areaPolygon(local.bounds) };
          const area: LayerSpecification = {
            id: "area-land",
            type: "fill",
            source: "area",
            minzoom: local.minzoom,
            paint: { "fill-color": LAND },
          };
          layers.push(this.only(area, ["local", "local-dark"]));
        }
        for (const layer of vectorLayers("local", LIGHT, "omt-", {})) layers.push(this.only(layer, ["local"]));
        for (const layer of vectorLayers("local", DARK, "omt-dark-", {})) layers.push(this.only(layer, ["local-dark"]));
      }
    }
    const lines = ["builtin", "local", "local-dark"] as BasemapId[];
    layers.push(
      this.only(
        { id: "borders", type: "line", source: "borders", paint: { "line-color": "#9a8f7a", "line-width": 0.8 } },
        lines,
      ),
      this.only({ id: "coast", type: "line", source: "coast", paint: { "line-color": "#5b7fa3", "line-width": 1 } }, lines),
    );
    const grid = { source: "grid", minzoom: GRID_MIN_ZOOM };
    layers.push(
      this.only({ ...grid, id: "grid-line", type: "line", paint: { "line-color": "#b9ae98", "line-width": 0.7 } }, [
        "builtin",
      ]),
      this.only(
        {
          ...grid,
          id: "grid-label",
          type: "symbol",
          layout: { "symbol-placement": "line", "text-field": ["get", "label"], "text-size": 11 },
          paint: { "text-color": "#6f6552", "text-halo-color": LAND, "text-halo-width": 1.5 },
        },
        ["builtin"],
      ),
    );
    return { version: 8, sources, layers };
  }
}
