// Natural Earth as world-atlas ships it is spherical (d3-geo's convention): rings that cross the
// antimeridian run on across it (179.9° then -179.9°) and Antarctica's ring goes round the pole
// without ever closing across it. MapLibre draws GeoJSON on a plane, where such a ring spans
// the whole world: the wedge of Atlantic drawn as land and the horizontal lines at world view.
// Here every ring and line is made continuous (longitudes may run past ±180, which MapLibre's
// GeoJSON tiler wraps onto the neighbouring world copy), and a ring round a pole is closed
// along the map's edge at that pole.

type Position = GeoJSON.Position;

/** The Web Mercator map's top and bottom edge. */
export const MERCATOR_LIMIT = 85.051129;

/** ``line`` with each longitude shifted by whole turns to lie within 180° of the previous. */
export function unwrap(line: Position[]): Position[] {
  const out: Position[] = [];
  let previous: number | null = null;
  for (const point of line) {
    let lon = point[0] ?? 0;
    if (previous !== null) {
      while (lon - previous > 180) lon -= 360;
      while (lon - previous < -180) lon += 360;
    }
    out.push([lon, point[1] ?? 0]);
    previous = lon;
  }
  return out;
}

/** A continuous ring; one that circles a pole is closed along the map's edge at that pole. */
export function planarRing(ring: Position[]): Position[] {
  const out = unwrap(ring) as [number, number][];
  const first = out[0];
  const last = out[out.length - 1];
  if (first === undefined || last === undefined || Math.abs(last[0] - first[0]) < 180) return out;
  const meanLat = out.reduce((sum, p) => sum + p[1], 0) / out.length;
  const edge = meanLat < 0 ? -MERCATOR_LIMIT : MERCATOR_LIMIT;
  out.push([last[0], edge], [first[0], edge], [first[0], first[1]]);
  return out;
}

function planarGeometry(geometry: GeoJSON.Geometry): GeoJSON.Geometry {
  switch (geometry.type) {
    case "Polygon":
      return { type: "Polygon", coordinates: geometry.coordinates.map(planarRing) };
    case "MultiPolygon":
      return { type: "MultiPolygon", coordinates: geometry.coordinates.map((polygon) => polygon.map(planarRing)) };
    case "LineString":
      return { type: "LineString", coordinates: unwrap(geometry.coordinates) };
    case "MultiLineString":
      return { type: "MultiLineString", coordinates: geometry.coordinates.map(unwrap) };
    default:
      return geometry;
  }
}

/** Every feature's geometry made planar (see the module comment). */
export function planarFeatures(collection: GeoJSON.FeatureCollection): GeoJSON.FeatureCollection {
  return {
    type: "FeatureCollection",
    features: collection.features.map((f) => ({ ...f, geometry: planarGeometry(f.geometry) })),
  };
}

/** A multi-line made continuous, line by line. */
export function planarLines(lines: GeoJSON.MultiLineString): GeoJSON.MultiLineString {
  return { type: "MultiLineString", coordinates: lines.coordinates.map(unwrap) };
}
