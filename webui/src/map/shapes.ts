// Markers and drawn shapes on the map, whoever drew them: filled polygons and circles, lines,
// spot markers as coloured dots, each in the colour its sender chose and labelled with its
// name. Drawn under the units, so a shape never hides who is in it.

import type { ExpressionSpecification, Map as MapLibre, SymbolLayerSpecification } from "maplibre-gl";

export const SHAPES_SOURCE = "shapes";
/** The layers a click on the map looks at to pick a drawing. */
export const SHAPE_LAYERS = ["shapes-fill", "shapes-line", "shapes-point"];

/** Add the shapes' source and layers (before the contacts' layers, which are added next). */
export function addShapeLayers(map: MapLibre): void {
  map.addSource(SHAPES_SOURCE, { type: "geojson", data: { type: "FeatureCollection", features: [] } });
  const opacity: ExpressionSpecification = ["case", ["get", "stale"], 0.4, 1];
  map.addLayer({
    id: "shapes-fill",
    type: "fill",
    source: SHAPES_SOURCE,
    filter: ["==", ["geometry-type"], "Polygon"],
    paint: { "fill-color": ["get", "fill"], "fill-opacity": opacity },
  });
  map.addLayer({
    id: "shapes-line",
    type: "line",
    source: SHAPES_SOURCE,
    filter: ["!=", ["geometry-type"], "Point"],
    paint: { "line-color": ["get", "stroke"], "line-width": ["get", "weight"], "line-opacity": opacity },
  });
  map.addLayer({
    id: "shapes-point",
    type: "circle",
    source: SHAPES_SOURCE,
    filter: ["==", ["geometry-type"], "Point"],
    paint: {
      "circle-radius": 8,
      "circle-color": ["get", "stroke"],
      "circle-stroke-color": "#202020",
      "circle-stroke-width": 2,
      "circle-opacity": opacity,
    },
  });
  const label: SymbolLayerSpecification["layout"] = { "text-field": ["get", "label"], "text-size": 12, "text-optional": true };
  const halo = { "text-color": "#101010", "text-halo-color": "#ffffff", "text-halo-width": 1.5 };
  map.addLayer({
    id: "shapes-label",
    type: "symbol",
    source: SHAPES_SOURCE,
    filter: ["!=", ["geometry-type"], "LineString"],
    layout: { ...label, "text-offset": [0, 1.2], "text-anchor": "top" },
    paint: halo,
  });
  map.addLayer({
    id: "shapes-line-label",
    type: "symbol",
    source: SHAPES_SOURCE,
    filter: ["==", ["geometry-type"], "LineString"],
    layout: { ...label, "symbol-placement": "line-center", "text-offset": [0, -0.8] },
    paint: halo,
  });
}

/** Uids of the drawings in the current frame. */
export function renderedShapes(map: MapLibre): string[] {
  if (!map.getLayer("shapes-line")) return [];
  return [...new Set(map.queryRenderedFeatures({ layers: SHAPE_LAYERS }).map((f) => String(f.properties.uid)))];
}
