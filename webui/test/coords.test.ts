import { describe, expect, it } from "vitest";

import { distanceBearing, formatDdm, formatDistance, parseCoordinate } from "../src/geo/coords";
import { fromMgrs, toMgrs, utmZone } from "../src/geo/mgrs";

// Expected grids from an independent implementation (GeoTrans, through Python's `mgrs`).
const KNOWN: [number, number, string][] = [
  [0, 0, "31NAA6602100000"],
  [38.8895, -77.0353, "18SUJ2347806483"],
  [51.4779, -0.0015, "30UYC0821307235"],
  [-33.8568, 151.2153, "56HLH3490052288"],
  [60.0, 5.5, "32VLM0483856575"], // Norway: zone 32 although 5.5° E is in 31
  [78.22, 15.65, "33XWG1481383004"], // Svalbard
  [-79.9, -170.0, "02CNS1957629407"],
  [83.9, 10.0, "33XVP4075419502"],
];

describe("MGRS", () => {
  it.each(KNOWN)("%f, %f is %s", (lat, lon, grid) => {
    expect(toMgrs(lat, lon)?.replace(/ /g, "")).toBe(grid);
  });

  it.each(KNOWN)("%f, %f comes back from its grid within a metre square", (lat, lon, grid) => {
    const back = fromMgrs(grid);
    expect(back).not.toBeNull();
    expect(Math.abs((back?.lat ?? 0) - lat)).toBeLessThan(2e-5);
    expect(Math.abs((back?.lon ?? 0) - lon) * Math.cos((lat * Math.PI) / 180)).toBeLessThan(2e-5);
  });

  it("reads spaced and lower-case grids and fewer digits, refuses nonsense and the poles", () => {
    expect(fromMgrs("18s uj 234 064")).not.toBeNull();
    expect(toMgrs(38.8895, -77.0353, 3)).toBe("18S UJ 234 064");
    expect(fromMgrs("18SUJ23470648")).not.toBeNull();
    expect(fromMgrs("18SUJ23470")).toBeNull(); // odd digit count
    expect(fromMgrs("18SIJ2347806483")).toBeNull(); // I is not a grid letter
    expect(toMgrs(85, 0)).toBeNull();
    expect(utmZone(60, 5.5)).toBe(32);
  });
});

describe("coordinates", () => {
  it("formats degrees and decimal minutes with hemispheres", () => {
    expect(formatDdm(38.8895, -77.0353)).toBe("38° 53.370′ N, 077° 02.118′ W");
    expect(formatDdm(-33.99999999, 0.5)).toBe("34° 00.000′ S, 000° 30.000′ E");
  });

  it("parses decimal, DDM and MGRS input", () => {
    expect(parseCoordinate("38.8895, -77.0353")).toEqual({ lat: 38.8895, lon: -77.0353 });
    const ddm = parseCoordinate("38°53.370'N 077°02.118'W");
    expect(ddm?.lat).toBeCloseTo(38.8895, 4);
    expect(ddm?.lon).toBeCloseTo(-77.0353, 4);
    expect(parseCoordinate("38 53.37 N, 77 2.118 W")?.lat).toBeCloseTo(38.8895, 4);
    expect(parseCoordinate("18SUJ2347806483")?.lat).toBeCloseTo(38.8895, 4);
    expect(parseCoordinate("95, 10")).toBeNull();
    expect(parseCoordinate("somewhere")).toBeNull();
  });

  it("measures great-circle distance and initial bearing", () => {
    // Greenwich to the Eiffel Tower, and Washington to Sydney (haversine on the mean sphere)
    const short = distanceBearing({ lat: 51.4779, lon: -0.0015 }, { lat: 48.8584, lon: 2.2945 });
    expect(short.metres).toBeCloseTo(334_001.7, 0);
    expect(short.bearing).toBeCloseTo(149.80, 1);
    const long = distanceBearing({ lat: 38.8895, lon: -77.0353 }, { lat: -33.8568, lon: 151.2153 });
    expect(long.metres / 1000).toBeCloseTo(15_709.26, 1);
    expect(long.bearing).toBeCloseTo(262.05, 1);
    expect(formatDistance(850.4)).toBe("850 m");
    expect(formatDistance(12_345)).toBe("12.35 km");
  });
});
