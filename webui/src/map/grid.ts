// A latitude/longitude grid for the built-in basemap. Natural Earth 1:50m has nothing to show
// inside a country at incident zoom (7 to 15 was a blank beige sheet); a labelled grid whose
// spacing follows the zoom gives the commander a reference to read and call out positions by,
// with no data and no network. Recomputed for the view on every camera stop (tens of lines).

/** Grid spacings in degrees, widest first: degrees, then minutes, then seconds. */
const STEPS = [10, 5, 2, 1, 0.5, 0.25, 10 / 60, 5 / 60, 2 / 60, 1 / 60, 0.5 / 60, 0.25 / 60, 10 / 3600];
/** At most this many lines each way across the view. */
const MAX_LINES = 8;

/** Degrees and decimal minutes, the way a position is read out over the radio. */
export function formatDegrees(value: number, positive: string, negative: string): string {
  const hemisphere = value < 0 ? negative : positive;
  const total = Math.round(Math.abs(value) * 60 * 100) / 100;
  const degrees = Math.floor(total / 60);
  const minutes = total - degrees * 60;
  const text = minutes === 0 ? `${degrees}°` : `${degrees}°${Number(minutes.toFixed(2))}′`;
  return `${text}${hemisphere}`;
}

/** The spacing that puts at most MAX_LINES lines across ``span`` degrees. */
export function gridStep(span: number): number {
  return [...STEPS].reverse().find((step) => span / step <= MAX_LINES) ?? 10;
}

/** Meridians and parallels across the view [west, south, east, north], labelled. */
export function gridLines(west: number, south: number, east: number, north: number): GeoJSON.FeatureCollection {
  const step = gridStep(Math.max(east - west, north - south));
  const features: GeoJSON.Feature[] = [];
  const lows = Math.max(south, -85);
  const highs = Math.min(north, 85);
  for (let lon = Math.ceil(west / step) * step; lon <= east; lon += step) {
    const shown = ((((lon + 180) % 360) + 360) % 360) - 180;
    features.push({
      type: "Feature",
      properties: { label: formatDegrees(shown, "E", "W") },
      geometry: { type: "LineString", coordinates: [[lon, lows], [lon, highs]] },
    });
  }
  for (let lat = Math.ceil(lows / step) * step; lat <= highs; lat += step) {
    features.push({
      type: "Feature",
      properties: { label: formatDegrees(lat, "N", "S") },
      geometry: { type: "LineString", coordinates: [[west, lat], [east, lat]] },
    });
  }
  return { type: "FeatureCollection", features };
}
