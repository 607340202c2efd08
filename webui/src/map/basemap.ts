// The basemap that works with no network: Natural Earth 1:50m countries (the world-atlas
// package), shipped as a hashed asset next to the page and turned into three GeoJSON layers:
// land, country borders and coastlines. An online tile template or the server's MBTiles, when
// configured, is drawn underneath as raster tiles.

import type { StyleSpecification } from "maplibre-gl";
import { feature, mesh } from "topojson-client";
import type { GeometryCollection, Topology } from "topojson-specification";
import countriesUrl from "world-atlas/countries-50m.json?url";

import type { WebConfig } from "../types";

/**
 * 1:50m outlines hold no detail past this zoom; deeper views overscale these tiles instead of
 * cutting the world's polygons again (which took a second in software WebGL at street zoom).
 */
export const BASEMAP_MAX_ZOOM = 6;
export const WATER = "#a9c6de";
export const LAND = "#f2efe6";

export interface Basemap {
  land: GeoJSON.FeatureCollection;
  borders: GeoJSON.MultiLineString;
  coast: GeoJSON.MultiLineString;
}

type Countries = Topology<{ countries: GeometryCollection; land: GeometryCollection }>;

/** Fetch and convert the shipped countries; land, internal borders and coastlines. */
export async function loadBasemap(): Promise<Basemap> {
  const response = await fetch(countriesUrl);
  const topology = (await response.json()) as Countries;
  const countries = topology.objects.countries;
  return {
    land: feature(topology, countries),
    borders: mesh(topology, countries, (a, b) => a !== b),
    coast: mesh(topology, countries, (a, b) => a === b),
  };
}

/** An empty GeoJSON source, filled once the basemap has loaded. */
const emptyCollection: GeoJSON.FeatureCollection = { type: "FeatureCollection", features: [] };

/**
 * The style: water background, optional raster tiles, then the vector land/borders/coast.
 * No `glyphs` URL: MapLibre draws label glyphs locally with the browser's own fonts.
 */
export function baseStyle(config: WebConfig | null): StyleSpecification {
  const style: StyleSpecification = {
    version: 8,
    sources: {
      land: { type: "geojson", data: emptyCollection, maxzoom: BASEMAP_MAX_ZOOM },
      borders: { type: "geojson", data: emptyCollection, maxzoom: BASEMAP_MAX_ZOOM },
      coast: { type: "geojson", data: emptyCollection, maxzoom: BASEMAP_MAX_ZOOM },
    },
    layers: [{ id: "water", type: "background", paint: { "background-color": WATER } }],
  };
  const tiles = config?.tiles;
  const template = tiles?.pmtiles ?? tiles?.url ?? null;
  const hasRaster = template !== null && template !== "";
  if (hasRaster) {
    const url = template.includes("{z}") ? template : `${template.replace(/\/$/, "")}/{z}/{x}/{y}`;
    style.sources.raster = {
      type: "raster",
      tiles: [new URL(url, location.href).href.replace(/%7B/g, "{").replace(/%7D/g, "}")],
      tileSize: 256,
      attribution: tiles?.attribution ?? "",
      maxzoom: 19,
    };
  }
  style.layers.push({
    id: "land",
    type: "fill",
    source: "land",
    paint: { "fill-color": LAND, "fill-opacity": hasRaster ? 0 : 1 },
  });
  if (hasRaster) style.layers.push({ id: "raster", type: "raster", source: "raster" });
  style.layers.push(
    { id: "borders", type: "line", source: "borders", paint: { "line-color": "#9a8f7a", "line-width": 0.8 } },
    { id: "coast", type: "line", source: "coast", paint: { "line-color": "#5b7fa3", "line-width": 1 } },
  );
  return style;
}
