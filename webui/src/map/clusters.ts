// Clustering of the contacts when zoomed out: MapLibre's GeoJSON source groups units closer
// than CLUSTER_RADIUS pixels into one disc with a count; clicking the disc zooms in until it
// splits. Each cluster carries the uids of its members, so "which units are on the map" still
// has an answer (the test hook and the benchmark count units drawn inside a cluster too).

import type {
  ExpressionSpecification,
  GeoJSONSource,
  GeoJSONSourceSpecification,
  Map as MapLibre,
  MapGeoJSONFeature,
} from "maplibre-gl";

/**
 * Clusters form up to this zoom and dissolve above it: at incident zoom (a town, a valley)
 * every unit stands alone, and zoomed out to a region a thousand units become a few dozen
 * discs whose labels and symbols no longer pile up.
 */
export const CLUSTER_MAX_ZOOM = 10;
/** Units closer than this (CSS pixels) share a disc: a symbol and its callsign fit in it. */
export const CLUSTER_RADIUS = 44;
/** Between the uids of a cluster's members (a TAK uid holds no line break). */
const SEPARATOR = "\n";

export const CLUSTER_LAYERS = ["contacts-cluster", "contacts-cluster-count"];

/** Features that are single units, not clusters (the filter of every per-unit layer). */
export const UNCLUSTERED: ExpressionSpecification = ["!", ["has", "point_count"]];

/** The contacts source: clustered, each cluster accumulating its members' uids. */
export function clusteredSource(data: GeoJSON.FeatureCollection): GeoJSONSourceSpecification {
  const uids: ExpressionSpecification = ["concat", ["accumulated"], SEPARATOR, ["get", "uids"]];
  return {
    type: "geojson",
    data,
    cluster: true,
    clusterMaxZoom: CLUSTER_MAX_ZOOM,
    clusterRadius: CLUSTER_RADIUS,
    clusterProperties: { uids: [uids, ["get", "uid"]] },
  };
}

/** The uids drawn by a rendered feature of the contacts source: a unit's own, or a cluster's members. */
export function drawnUids(properties: Record<string, unknown>): string[] {
  if (typeof properties.uids === "string" && properties.point_count !== undefined) {
    return properties.uids.split(SEPARATOR).filter((uid) => uid !== "");
  }
  return properties.uid === undefined ? [] : [String(properties.uid)];
}

/** Disc radius (px) by member count: a glance tells a crew from a division. */
export function clusterRadius(): ExpressionSpecification {
  return ["step", ["get", "point_count"], 16, 10, 20, 50, 25, 200, 30];
}

/** The disc and its count, drawn under the highlight rings (added by the caller afterwards). */
export function addClusterLayers(map: MapLibre, source: string): void {
  map.addLayer({
    id: "contacts-cluster",
    type: "circle",
    source,
    filter: ["has", "point_count"],
    paint: {
      "circle-radius": clusterRadius(),
      "circle-color": "#1f3f6a",
      "circle-opacity": 0.85,
      "circle-stroke-color": "#ffffff",
      "circle-stroke-width": 2,
    },
  });
  map.addLayer({
    id: "contacts-cluster-count",
    type: "symbol",
    source,
    filter: ["has", "point_count"],
    layout: {
      "text-field": ["get", "point_count_abbreviated"],
      "text-size": 13,
      "text-allow-overlap": true,
      "text-ignore-placement": true,
    },
    paint: { "text-color": "#ffffff" },
  });
}

/** The cluster under a click, if any: the camera eases in to the zoom at which it splits. */
export function zoomIntoCluster(map: MapLibre, source: string, features: MapGeoJSONFeature[]): boolean {
  const cluster = features.find((f) => f.properties.cluster_id !== undefined);
  if (cluster === undefined || cluster.geometry.type !== "Point") return false;
  const center = cluster.geometry.coordinates as [number, number];
  void (map.getSource(source) as GeoJSONSource)
    .getClusterExpansionZoom(Number(cluster.properties.cluster_id))
    .then((zoom) => map.easeTo({ center, zoom: Math.max(zoom, map.getZoom() + 1), duration: 400 }));
  return true;
}
