// WGS 84 latitude/longitude to and from UTM and MGRS (USNG is the same grid), written here so
// the page needs no extra package. UTM by the usual Krüger series (Snyder, "Map Projections: A
// Working Manual", USGS PP 1395): millimetre-exact within a zone, ample for a 1 m grid.
// Covers 80°S–84°N (the UTM part of MGRS); the polar UPS caps are refused (null).

const A = 6378137;
const F = 1 / 298.257223563;
const E2 = F * (2 - F);
const EP2 = E2 / (1 - E2);
const K0 = 0.9996;
const FALSE_EASTING = 500_000;
const FALSE_NORTHING_SOUTH = 10_000_000;
const SQUARE_M = 100_000;
/** Row letters repeat every 20 squares: 2 000 km of northing. */
const ROW_CYCLE_M = 2_000_000;
const BANDS = "CDEFGHJKLMNPQRSTUVWX";
const ROW_LETTERS = "ABCDEFGHJKLMNPQRSTUV";
const COLUMN_SETS = ["STUVWXYZ", "ABCDEFGH", "JKLMNPQR"]; // by zone % 3
export const MIN_LAT = -80;
export const MAX_LAT = 84;

export interface Utm {
  zone: number;
  south: boolean;
  easting: number;
  northing: number;
}

export interface LatLon {
  lat: number;
  lon: number;
}

const rad = (deg: number): number => (deg * Math.PI) / 180;
const deg = (r: number): number => (r * 180) / Math.PI;

/** The UTM zone of a point, with the Norway and Svalbard exceptions. */
export function utmZone(lat: number, lon: number): number {
  const wrapped = ((((lon + 180) % 360) + 360) % 360) - 180;
  let zone = Math.floor((wrapped + 180) / 6) + 1;
  if (zone > 60) zone = 60;
  if (lat >= 56 && lat < 64 && wrapped >= 3 && wrapped < 12) return 32;
  if (lat >= 72) {
    if (wrapped >= 0 && wrapped < 9) return 31;
    if (wrapped >= 9 && wrapped < 21) return 33;
    if (wrapped >= 21 && wrapped < 33) return 35;
    if (wrapped >= 33 && wrapped < 42) return 37;
  }
  return zone;
}

function meridianArc(phi: number): number {
  const e4 = E2 * E2;
  const e6 = e4 * E2;
  return (
    A *
    ((1 - E2 / 4 - (3 * e4) / 64 - (5 * e6) / 256) * phi -
      ((3 * E2) / 8 + (3 * e4) / 32 + (45 * e6) / 1024) * Math.sin(2 * phi) +
      ((15 * e4) / 256 + (45 * e6) / 1024) * Math.sin(4 * phi) -
      ((35 * e6) / 3072) * Math.sin(6 * phi))
  );
}

const centralMeridian = (zone: number): number => (zone - 1) * 6 - 180 + 3;

/** UTM of a point in the zone it falls in (or in ``zone`` when given). */
export function toUtm(lat: number, lon: number, zone = utmZone(lat, lon)): Utm {
  const phi = rad(lat);
  let dLon = lon - centralMeridian(zone);
  dLon = ((((dLon + 180) % 360) + 360) % 360) - 180;
  const n = A / Math.sqrt(1 - E2 * Math.sin(phi) ** 2);
  const t = Math.tan(phi) ** 2;
  const c = EP2 * Math.cos(phi) ** 2;
  const a = Math.cos(phi) * rad(dLon);
  const easting =
    K0 * n * (a + ((1 - t + c) * a ** 3) / 6 + ((5 - 18 * t + t * t + 72 * c - 58 * EP2) * a ** 5) / 120) +
    FALSE_EASTING;
  let northing =
    K0 *
    (meridianArc(phi) +
      n *
        Math.tan(phi) *
        ((a * a) / 2 +
          ((5 - t + 9 * c + 4 * c * c) * a ** 4) / 24 +
          ((61 - 58 * t + t * t + 600 * c - 330 * EP2) * a ** 6) / 720));
  if (lat < 0) northing += FALSE_NORTHING_SOUTH;
  return { zone, south: lat < 0, easting, northing };
}

/** The latitude and longitude of a UTM position. */
export function fromUtm(utm: Utm): LatLon {
  const x = utm.easting - FALSE_EASTING;
  const y = utm.south ? utm.northing - FALSE_NORTHING_SOUTH : utm.northing;
  const e4 = E2 * E2;
  const mu = y / K0 / (A * (1 - E2 / 4 - (3 * e4) / 64 - (5 * e4 * E2) / 256));
  const e1 = (1 - Math.sqrt(1 - E2)) / (1 + Math.sqrt(1 - E2));
  const phi1 =
    mu +
    ((3 * e1) / 2 - (27 * e1 ** 3) / 32) * Math.sin(2 * mu) +
    ((21 * e1 * e1) / 16 - (55 * e1 ** 4) / 32) * Math.sin(4 * mu) +
    ((151 * e1 ** 3) / 96) * Math.sin(6 * mu) +
    ((1097 * e1 ** 4) / 512) * Math.sin(8 * mu);
  const sin1 = Math.sin(phi1);
  const n1 = A / Math.sqrt(1 - E2 * sin1 * sin1);
  const t1 = Math.tan(phi1) ** 2;
  const c1 = EP2 * Math.cos(phi1) ** 2;
  const r1 = (A * (1 - E2)) / (1 - E2 * sin1 * sin1) ** 1.5;
  const d = x / (n1 * K0);
  const lat =
    phi1 -
    ((n1 * Math.tan(phi1)) / r1) *
      ((d * d) / 2 -
        ((5 + 3 * t1 + 10 * c1 - 4 * c1 * c1 - 9 * EP2) * d ** 4) / 24 +
        ((61 + 90 * t1 + 298 * c1 + 45 * t1 * t1 - 252 * EP2 - 3 * c1 * c1) * d ** 6) / 720);
  const lon =
    (d - ((1 + 2 * t1 + c1) * d ** 3) / 6 + ((5 - 2 * c1 + 28 * t1 - 3 * c1 * c1 + 8 * EP2 + 24 * t1 * t1) * d ** 5) / 120) /
    Math.cos(phi1);
  return { lat: deg(lat), lon: centralMeridian(utm.zone) + deg(lon) };
}

function band(lat: number): string {
  const index = Math.min(BANDS.length - 1, Math.floor((lat - MIN_LAT) / 8));
  return BANDS.charAt(index);
}

/** ``18S UJ 23478 06483``: the MGRS of a point to ``digits`` per axis (5: 1 m), or null outside
 *  80°S–84°N. Digits are truncated, as MGRS names the square the point lies in. */
export function toMgrs(lat: number, lon: number, digits = 5): string | null {
  if (!(lat >= MIN_LAT && lat <= MAX_LAT) || !Number.isFinite(lon)) return null;
  const utm = toUtm(lat, lon);
  const columns = COLUMN_SETS[utm.zone % 3] ?? "";
  const column = columns.charAt(Math.floor(utm.easting / SQUARE_M) - 1);
  const rowIndex = (Math.floor(utm.northing / SQUARE_M) + (utm.zone % 2 === 0 ? 5 : 0)) % ROW_LETTERS.length;
  const scale = 10 ** (5 - digits);
  const east = String(Math.floor((utm.easting % SQUARE_M) / scale)).padStart(digits, "0");
  const north = String(Math.floor((utm.northing % SQUARE_M) / scale)).padStart(digits, "0");
  const zone = `${String(utm.zone).padStart(2, "0")}${band(lat)} ${column}${ROW_LETTERS.charAt(rowIndex)}`;
  return digits === 0 ? zone : `${zone} ${east} ${north}`;
}

const MGRS_PATTERN = /^(\d{1,2})([C-HJ-NP-X])\s*([A-HJ-NP-Z])([A-HJ-NP-V])\s*(\d*)\s*(\d*)$/i;

/** The south-west corner of the MGRS square named by ``text`` (spaces optional), or null. */
export function fromMgrs(text: string): LatLon | null {
  const match = MGRS_PATTERN.exec(text.trim().toUpperCase());
  if (match === null) return null;
  const [, zoneText = "", bandLetter = "", column = "", row = "", first = "", second = ""] = match;
  const zone = Number(zoneText);
  const digits = second === "" ? first : first + second;
  if (zone < 1 || zone > 60 || digits.length % 2 !== 0 || digits.length > 10) return null;
  const half = digits.length / 2;
  const scale = 10 ** (5 - half);
  const east = half === 0 ? 0 : Number(digits.slice(0, half)) * scale;
  const north = half === 0 ? 0 : Number(digits.slice(half)) * scale;
  const columnIndex = (COLUMN_SETS[zone % 3] ?? "").indexOf(column);
  const rowIndex = ROW_LETTERS.indexOf(row);
  if (columnIndex < 0 || rowIndex < 0) return null;
  const bandIndex = BANDS.indexOf(bandLetter);
  const bandSouth = MIN_LAT + bandIndex * 8;
  const south = bandSouth < 0;
  const easting = (columnIndex + 1) * SQUARE_M + east;
  const rowM = (((rowIndex - (zone % 2 === 0 ? 5 : 0)) % 20) + 20) % 20 * SQUARE_M;
  const bandMin = toUtm(bandSouth, centralMeridian(zone), zone).northing - SQUARE_M;
  let northing = rowM + north;
  while (northing < bandMin) northing += ROW_CYCLE_M;
  return fromUtm({ zone, south, easting, northing });
}
