// The selected contact's track, kept live: the history fetched on selection, then each new
// position the live feed brings appended, so the line never falls behind the symbol.

/** Points kept in a live track (the server sends at most 10 000 of history). */
export const MAX_TRACK_POINTS = 10_000;

/**
 * ``track`` with ``[lon, lat]`` appended, or ``track`` itself when that is already its last
 * point. The oldest points go first past ``max``.
 */
export function extendTrack(track: GeoJSON.Feature, lon: number, lat: number, max = MAX_TRACK_POINTS): GeoJSON.Feature {
  if (track.geometry.type !== "LineString") return track;
  const points = track.geometry.coordinates;
  const last = points[points.length - 1];
  if (last !== undefined && last[0] === lon && last[1] === lat) return track;
  const coordinates = [...points, [lon, lat]].slice(-max);
  return { ...track, geometry: { type: "LineString", coordinates } };
}
