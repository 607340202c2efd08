// Drawings on the map, without the map: what each tool needs before it can be sent, the body
// `/api/drawings` takes, and the GeoJSON the map draws for a marker or shape, whoever drew it
// (a circle becomes a ring of points, since GeoJSON has no circles).

import type { Contact, ContactShape } from "../types";

export type DrawKind = "marker" | "polygon" | "polyline" | "rectangle" | "circle" | "rangebearing";
export type LngLat = [number, number];

export const DRAW_KINDS: { kind: DrawKind; title: string }[] = [
  { kind: "marker", title: "Marker" },
  { kind: "polygon", title: "Polygon" },
  { kind: "rectangle", title: "Rectangle" },
  { kind: "polyline", title: "Line" },
  { kind: "circle", title: "Circle" },
  { kind: "rangebearing", title: "R&B" },
];

/** ATAK's spot-map palette, by the names its users know. */
export const COLOURS: { name: string; value: string }[] = [
  { name: "Red", value: "#ff0000" },
  { name: "Orange", value: "#ff8000" },
  { name: "Yellow", value: "#ffff00" },
  { name: "Green", value: "#00ff00" },
  { name: "Cyan", value: "#00ffff" },
  { name: "Blue", value: "#0000ff" },
  { name: "Magenta", value: "#ff00ff" },
  { name: "White", value: "#ffffff" },
  { name: "Black", value: "#000000" },
];

/** The server's limit on vertices (cot/drawing.py MAX_POINTS). */
export const MAX_POINTS = 500;
const EARTH_RADIUS_M = 6_371_008.8;
/** Points of the ring a circle is drawn as: smooth at any zoom a circle fits the screen. */
const CIRCLE_SEGMENTS = 72;

/** Clicks each tool takes before it is done by itself; null: until "Finish". */
export function clicksNeeded(kind: DrawKind): number | null {
  if (kind === "marker") return 1;
  if (kind === "rectangle" || kind === "circle" || kind === "rangebearing") return 2;
  return null;
}

/** Clicks a tool must have before "Finish" may send it. */
export function minimumClicks(kind: DrawKind): number {
  return kind === "polygon" ? 3 : kind === "marker" ? 1 : 2;
}

export interface DrawingBody {
  kind: DrawKind;
  points: LngLat[];
  label: string;
  colour: string;
  radius?: number;
}

/** The request body for the clicked points (a circle's second click sets its radius). */
export function drawingBody(kind: DrawKind, clicks: LngLat[], label: string, colour: string): DrawingBody {
  const first = clicks[0];
  if (kind === "circle" && first !== undefined && clicks[1] !== undefined) {
    return { kind, points: [first], label, colour, radius: Math.max(1, Math.round(distanceM(first, clicks[1]))) };
  }
  return { kind, points: clicks.slice(0, MAX_POINTS), label, colour };
}

/** The page's own body for a shape it shows, so it can be sent again under a new label or colour. */
export function bodyOf(contact: Contact, label: string, colour: string): DrawingBody | null {
  const shape = contact.shape;
  if (shape === null || shape === undefined) return null;
  const points = shape.coordinates as LngLat[];
  switch (shape.kind) {
    case "point":
      return { kind: "marker", points, label, colour };
    case "circle":
      return { kind: "circle", points, label, colour, radius: shape.radius ?? 1 };
    case "line":
      return { kind: contact.type === "u-rb-a" ? "rangebearing" : "polyline", points, label, colour };
    case "polygon":
      return { kind: contact.type === "u-d-r" ? "rectangle" : "polygon", points: open(points, contact.type), label, colour };
    default:
      return null;
  }
}

/** A polygon's ring without its closing point; a rectangle's four corners as they are. */
function open(points: LngLat[], type: string): LngLat[] {
  const ring = points.length > 1 && same(points[0], points[points.length - 1]) ? points.slice(0, -1) : points;
  return type === "u-d-r" && ring.length !== 4 ? [ring[0] as LngLat, ring[2] ?? (ring[0] as LngLat)] : ring;
}

function same(a: LngLat | undefined, b: LngLat | undefined): boolean {
  return a !== undefined && b !== undefined && a[0] === b[0] && a[1] === b[1];
}

/** Great-circle metres between two [lon, lat] points (haversine). */
export function distanceM(a: LngLat, b: LngLat): number {
  const rad = Math.PI / 180;
  const dLat = (b[1] - a[1]) * rad;
  const dLon = (b[0] - a[0]) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a[1] * rad) * Math.cos(b[1] * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(h)));
}

/** The closed ring of a circle of ``radius`` metres around ``centre`` ([lon, lat]). */
export function circleRing(centre: LngLat, radius: number, segments = CIRCLE_SEGMENTS): LngLat[] {
  const rad = Math.PI / 180;
  const lat1 = centre[1] * rad;
  const lon1 = centre[0] * rad;
  const angle = radius / EARTH_RADIUS_M;
  const ring: LngLat[] = [];
  for (let i = 0; i <= segments; i += 1) {
    const theta = ((i % segments) / segments) * 2 * Math.PI;
    const lat2 = Math.asin(Math.sin(lat1) * Math.cos(angle) + Math.cos(lat1) * Math.sin(angle) * Math.cos(theta));
    const lon2 = lon1 + Math.atan2(Math.sin(theta) * Math.sin(angle) * Math.cos(lat1), Math.cos(angle) - Math.sin(lat1) * Math.sin(lat2));
    ring.push([lon2 / rad, lat2 / rad]);
  }
  return ring;
}

/** The corners of the rectangle two opposite clicks span, closed. */
export function rectangleRing(a: LngLat, b: LngLat): LngLat[] {
  return [a, [b[0], a[1]], b, [a[0], b[1]], a];
}

/** The map's feature for one drawn item, or null for a contact that is no drawing. */
export function shapeFeature(contact: Contact, stale: boolean): GeoJSON.Feature | null {
  const shape = contact.shape;
  if (shape === null || shape === undefined) return null;
  const geometry = geometryOf(shape);
  if (geometry === null) return null;
  const properties: Record<string, string | number | boolean> = {
    uid: contact.uid,
    label: shape.labels || shape.kind === "point" ? contact.callsign : "",
    stroke: shape.stroke,
    fill: shape.fill ?? "rgba(0,0,0,0)",
    weight: Math.min(8, Math.max(1, shape.weight ?? 3)),
    stale,
  };
  return { type: "Feature", id: contact.uid, properties, geometry };
}

function geometryOf(shape: ContactShape): GeoJSON.Geometry | null {
  const points = shape.coordinates as LngLat[];
  const first = points[0];
  if (first === undefined) return null;
  if (shape.kind === "point") return { type: "Point", coordinates: first };
  if (shape.kind === "circle") return { type: "Polygon", coordinates: [circleRing(first, shape.radius ?? 1)] };
  if (shape.kind === "polygon" && points.length >= 4) return { type: "Polygon", coordinates: [points] };
  if (points.length >= 2) return { type: "LineString", coordinates: points };
  return null;
}

/** What the draft of the shape being drawn looks like after ``clicks`` (and where the cursor is). */
export function draftRing(kind: DrawKind, clicks: LngLat[]): LngLat[] {
  const [a, b] = clicks;
  if (a !== undefined && b !== undefined && kind === "rectangle") return rectangleRing(a, b);
  if (a !== undefined && b !== undefined && kind === "circle") return circleRing(a, distanceM(a, b));
  if (kind === "polygon" && clicks.length >= 3 && a !== undefined) return [...clicks, a];
  return clicks;
}
