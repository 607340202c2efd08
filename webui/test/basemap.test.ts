import { describe, expect, it } from "vitest";

import { Basemaps, NEUTRAL, basemapOptions, initialBasemap } from "../src/map/basemap";
import type { WebConfig } from "../src/types";

const config = (local: "raster" | "vector" | null, url: string | null): WebConfig => ({
  tiles: {
    url,
    local: local === null ? null : { url: "/api/tiles/{z}/{x}/{y}", kind: local, minzoom: 8, maxzoom: 14, bounds: null },
    attribution: "",
  },
  server: "Rallypoint",
  callsign: "alice",
  uid: "web-alice",
});

describe("basemapOptions", () => {
  it("offers only the built-in map without tiles", () => {
    expect(basemapOptions(config(null, null)).map((o) => o.id)).toEqual(["builtin"]);
  });

  it("offers a dark palette only for vector tiles, and the online map when configured", () => {
    expect(basemapOptions(config("vector", "https://t/{z}/{x}/{y}.png")).map((o) => o.id)).toEqual([
      "builtin",
      "local",
      "local-dark",
      "online",
    ]);
    expect(basemapOptions(config("raster", null)).map((o) => o.id)).toEqual(["builtin", "local"]);
  });
});

describe("initialBasemap", () => {
  it("keeps a stored choice that is still offered", () => {
    expect(initialBasemap(basemapOptions(config("vector", "u")), "online")).toBe("online");
  });

  it("falls back to the offline area, then the online map, then the built-in one", () => {
    expect(initialBasemap(basemapOptions(config("raster", "u")), "local-dark")).toBe("local");
    expect(initialBasemap(basemapOptions(config(null, "u")), null)).toBe("online");
    expect(initialBasemap(basemapOptions(config(null, null)), "local")).toBe("builtin");
  });
});

describe("Basemaps", () => {
  it("starts on a neutral background, not water, and shows only the chosen basemap's layers", () => {
    const style = new Basemaps(config(null, null), null).style;
    expect(style.layers[0]).toMatchObject({ id: "water", paint: { "background-color": NEUTRAL } });
    const grid = style.layers.find((l) => l.id === "grid-line");
    expect(grid?.layout).toMatchObject({ visibility: "visible" });
  });
});
