// The bundled style for an offline vector MBTiles of the OpenMapTiles schema (what OpenMapTiles,
// Planetiler and tilemaker produce): water, land cover and use, roads, buildings, boundaries
// and place names, in a light and a dark palette. Names are drawn with the browser's own fonts
// (the style has no glyphs URL), so labels need nothing from the network.

import type { ExpressionSpecification, LayerSpecification } from "maplibre-gl";

export interface Palette {
  land: string;
  water: string;
  wood: string;
  grass: string;
  built: string;
  building: string;
  major: string;
  minor: string;
  boundary: string;
  text: string;
  halo: string;
}

export const LIGHT: Palette = {
  land: "#f2efe6",
  water: "#a9c6de",
  wood: "#c9dfb8",
  grass: "#dfeacb",
  built: "#e6e1d8",
  building: "#d3cabd",
  major: "#e39b4c",
  minor: "#a8a091",
  boundary: "#8f7f9f",
  text: "#2a2a2a",
  halo: "#ffffff",
};

export const DARK: Palette = {
  land: "#1f2327",
  water: "#0f2b42",
  wood: "#213328",
  grass: "#29322a",
  built: "#2a2d31",
  building: "#3b3f45",
  major: "#b57b3c",
  minor: "#5f6670",
  boundary: "#8a7aa0",
  text: "#e4e4e4",
  halo: "#101214",
};

const MAJOR_ROADS = ["motorway", "trunk", "primary", "secondary"];

/** Road width by zoom, major roads wider. */
function roadWidth(): ExpressionSpecification {
  const major = (narrow: number, wide: number): ExpressionSpecification => [
    "match",
    ["get", "class"],
    MAJOR_ROADS,
    wide,
    narrow,
  ];
  return ["interpolate", ["exponential", 1.5], ["zoom"], 6, major(0.3, 0.8), 12, major(1, 2.5), 17, major(5, 12)];
}

/**
 * The layers drawing ``source`` with ``palette``; every id starts with ``prefix`` and every
 * layer carries ``metadata`` (which basemap choice shows it).
 */
export function vectorLayers(source: string, palette: Palette, prefix: string, metadata: object): LayerSpecification[] {
  const common = { source, metadata };
  return [
    {
      ...common,
      id: `${prefix}landcover`,
      type: "fill",
      "source-layer": "landcover",
      paint: {
        "fill-color": ["match", ["get", "class"], ["wood", "forest"], palette.wood, palette.grass],
        "fill-opacity": 0.9,
      },
    },
    {
      ...common,
      id: `${prefix}landuse`,
      type: "fill",
      "source-layer": "landuse",
      paint: { "fill-color": palette.built },
    },
    { ...common, id: `${prefix}park`, type: "fill", "source-layer": "park", paint: { "fill-color": palette.grass } },
    { ...common, id: `${prefix}water`, type: "fill", "source-layer": "water", paint: { "fill-color": palette.water } },
    {
      ...common,
      id: `${prefix}waterway`,
      type: "line",
      "source-layer": "waterway",
      paint: { "line-color": palette.water, "line-width": ["interpolate", ["linear"], ["zoom"], 8, 0.5, 16, 3] },
    },
    {
      ...common,
      id: `${prefix}building`,
      type: "fill",
      "source-layer": "building",
      paint: { "fill-color": palette.building, "fill-outline-color": palette.minor },
    },
    {
      ...common,
      id: `${prefix}road`,
      type: "line",
      "source-layer": "transportation",
      layout: { "line-cap": "round", "line-join": "round" },
      paint: {
        "line-color": ["match", ["get", "class"], MAJOR_ROADS, palette.major, palette.minor],
        "line-width": roadWidth(),
      },
    },
    {
      ...common,
      id: `${prefix}boundary`,
      type: "line",
      "source-layer": "boundary",
      paint: { "line-color": palette.boundary, "line-width": 1, "line-dasharray": [3, 2] },
    },
    {
      ...common,
      id: `${prefix}place`,
      type: "symbol",
      "source-layer": "place",
      layout: {
        "text-field": ["coalesce", ["get", "name:latin"], ["get", "name"]],
        "text-size": ["match", ["get", "class"], "city", 16, "town", 14, 12],
        "text-max-width": 8,
      },
      paint: { "text-color": palette.text, "text-halo-color": palette.halo, "text-halo-width": 1.5 },
    },
  ];
}
