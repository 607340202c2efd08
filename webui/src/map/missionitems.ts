// The open mission's map items drawn on the map: what units sent to the mission (markers,
// routes, drawn shapes) in the mission's own colour, each labelled with its callsign, so a
// crew's spot report is a place on the map and not only a line in the change log. Objectives
// are drawn apart (by state, see view.ts); this layer shows the rest of the mission's content.

import type { Map as MapLibre } from "maplibre-gl";

import type { MissionItem } from "../types";

export const MISSION_ITEMS_SOURCE = "mission-items";
/** Distinct from team colours and objective states: the mission's content reads as one set. */
export const MISSION_COLOUR = "#c0208a";

/** A feature per item with a location; its label is the callsign, or the uid without one. */
export function missionItemFeatures(items: MissionItem[]): GeoJSON.FeatureCollection {
  const features: GeoJSON.Feature[] = [];
  for (const item of items) {
    if (item.geometry === null) continue;
    features.push({
      type: "Feature",
      properties: { uid: item.uid, label: item.callsign ?? item.uid, type: item.type ?? "" },
      geometry: item.geometry,
    });
  }
  return { type: "FeatureCollection", features };
}

/** A point to centre on for an item: a marker's own, a line's first vertex, an area's first corner. */
export function itemAnchor(item: MissionItem): [number, number] | null {
  const g = item.geometry;
  if (g === null) return null;
  const first = g.type === "Point" ? g.coordinates : g.type === "LineString" ? g.coordinates[0] : g.coordinates[0]?.[0];
  return first === undefined ? null : [first[0] ?? 0, first[1] ?? 0];
}

/** The source and its layers: area fill, outline and route lines, point markers, labels. */
export function addMissionItemLayers(map: MapLibre): void {
  const source = MISSION_ITEMS_SOURCE;
  map.addSource(source, { type: "geojson", data: { type: "FeatureCollection", features: [] } });
  map.addLayer({
    id: "mission-items-fill",
    type: "fill",
    source,
    filter: ["==", ["geometry-type"], "Polygon"],
    paint: { "fill-color": MISSION_COLOUR, "fill-opacity": 0.15 },
  });
  map.addLayer({
    id: "mission-items-line",
    type: "line",
    source,
    filter: ["!=", ["geometry-type"], "Point"],
    paint: { "line-color": MISSION_COLOUR, "line-width": 3 },
  });
  map.addLayer({
    id: "mission-items-point",
    type: "circle",
    source,
    filter: ["==", ["geometry-type"], "Point"],
    paint: { "circle-radius": 7, "circle-color": MISSION_COLOUR, "circle-stroke-color": "#ffffff", "circle-stroke-width": 2 },
  });
  map.addLayer({
    id: "mission-items-label",
    type: "symbol",
    source,
    layout: { "text-field": ["get", "label"], "text-size": 12, "text-offset": [0, 1.2], "text-anchor": "top", "text-optional": true },
    paint: { "text-color": MISSION_COLOUR, "text-halo-color": "#ffffff", "text-halo-width": 1.5 },
  });
}
