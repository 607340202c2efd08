// Coordinates as a person at a command post reads and types them: decimal degrees, degrees and
// decimal minutes (DDM, what ATAK and most GPS units show), MGRS; and the great-circle distance
// and initial bearing between two points (the measure tool).

import { fromMgrs, toMgrs, type LatLon } from "./mgrs";

/** Mean Earth radius (IUGG), metres: the sphere the measure tool's distances are on. */
export const EARTH_RADIUS_M = 6_371_008.8;

const rad = (deg: number): number => (deg * Math.PI) / 180;
const deg = (r: number): number => (r * 180) / Math.PI;

export function formatDecimal(lat: number, lon: number): string {
  return `${lat.toFixed(5)}, ${lon.toFixed(5)}`;
}

function ddmPart(value: number, positive: string, negative: string, width: number): string {
  const abs = Math.abs(value);
  let degrees = Math.floor(abs);
  let minutes = Math.round((abs - degrees) * 60 * 1000) / 1000;
  if (minutes >= 60) {
    degrees += 1;
    minutes = 0;
  }
  const d = String(degrees).padStart(width, "0");
  const m = minutes.toFixed(3).padStart(6, "0");
  return `${d}° ${m}′ ${value < 0 ? negative : positive}`;
}

/** ``38° 53.370′ N, 077° 02.118′ W`` */
export function formatDdm(lat: number, lon: number): string {
  return `${ddmPart(lat, "N", "S", 2)}, ${ddmPart(lon, "E", "W", 3)}`;
}

const DECIMAL = /^\s*([-+]?\d{1,3}(?:\.\d+)?)\s*[,;\s]\s*([-+]?\d{1,3}(?:\.\d+)?)\s*$/;
const DDM =
  /^\s*(\d{1,3})[°\s]\s*(\d{1,2}(?:\.\d+)?)\s*['′]?\s*([NS])\s*[,;\s]\s*(\d{1,3})[°\s]\s*(\d{1,2}(?:\.\d+)?)\s*['′]?\s*([EW])\s*$/i;

/** A typed position: decimal ``lat, lon``, DDM with hemispheres, or MGRS; null if none of them. */
export function parseCoordinate(text: string): LatLon | null {
  const decimal = DECIMAL.exec(text);
  if (decimal !== null) return checked(Number(decimal[1]), Number(decimal[2]));
  const ddm = DDM.exec(text);
  if (ddm !== null) {
    const [, latD = "", latM = "", ns = "", lonD = "", lonM = "", ew = ""] = ddm;
    if (Number(latM) >= 60 || Number(lonM) >= 60) return null;
    const lat = (Number(latD) + Number(latM) / 60) * (ns.toUpperCase() === "S" ? -1 : 1);
    const lon = (Number(lonD) + Number(lonM) / 60) * (ew.toUpperCase() === "W" ? -1 : 1);
    return checked(lat, lon);
  }
  return fromMgrs(text);
}

function checked(lat: number, lon: number): LatLon | null {
  return Math.abs(lat) <= 90 && Math.abs(lon) <= 180 ? { lat, lon } : null;
}

/** Every notation of a point, for the cursor readout. */
export function describe(lat: number, lon: number): { decimal: string; ddm: string; mgrs: string } {
  return { decimal: formatDecimal(lat, lon), ddm: formatDdm(lat, lon), mgrs: toMgrs(lat, lon) ?? "(polar: no MGRS)" };
}

/** Great-circle distance (metres, haversine) and initial bearing (degrees true, 0–360). */
export function distanceBearing(from: LatLon, to: LatLon): { metres: number; bearing: number } {
  const p1 = rad(from.lat);
  const p2 = rad(to.lat);
  const dl = rad(to.lon - from.lon);
  const h = Math.sin((p2 - p1) / 2) ** 2 + Math.cos(p1) * Math.cos(p2) * Math.sin(dl / 2) ** 2;
  const metres = 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(h)));
  const y = Math.sin(dl) * Math.cos(p2);
  const x = Math.cos(p1) * Math.sin(p2) - Math.sin(p1) * Math.cos(p2) * Math.cos(dl);
  const bearing = (deg(Math.atan2(y, x)) + 360) % 360;
  return { metres, bearing };
}

/** ``334.0 km`` / ``850 m``. */
export function formatDistance(metres: number): string {
  return metres >= 1000 ? `${(metres / 1000).toFixed(metres >= 100_000 ? 0 : 2)} km` : `${Math.round(metres)} m`;
}
