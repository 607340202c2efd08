import { describe, expect, it } from "vitest";

import {
  FALLBACK_SIDC,
  STALE_COLOUR,
  affiliationColour,
  affiliationName,
  affiliationOf,
  sidcOf,
  symbolCode,
} from "../src/state/sidc";

describe("SIDC from CoT type", () => {
  it.each([
    ["a-f-G-U-C", "SFGPUC---------"],
    ["a-h-G-U-C-I", "SHGPUCI--------"],
    ["a-n-A-C-F", "SNAPCF---------"],
    ["a-u-S", "SUSP-----------"],
    ["a-f-G-E-V-A-T-H-X", "SFGPEVATHX-----"],
    ["a-o-G", "SUGP-----------"],
    ["a-x-X", "SUZP-----------"],
    ["a-a-G", "SAGP-----------"],
  ])("%s → %s", (type, code) => {
    expect(sidcOf(type)).toBe(code);
    expect(code).toHaveLength(15);
  });

  it.each(["b-m-p-s-m", "a-f", "a-q-G", "a-f-Q", "t-x-c-t", ""])("%s has none", (type) => {
    expect(sidcOf(type)).toBeNull();
  });

  it("prefers the server's code, then the derived one, then the fallback", () => {
    expect(symbolCode("a-f-G", "SHGPUCI--------")).toBe("SHGPUCI--------");
    expect(symbolCode("a-f-G", "short")).toBe("SFGP-----------");
    expect(symbolCode("b-m-p-s-m", null)).toBe(FALLBACK_SIDC);
  });
});

describe("affiliation", () => {
  it("reads the second atom of a-types only", () => {
    expect(affiliationOf("a-h-G")).toBe("h");
    expect(affiliationOf("a-f-A")).toBe("f");
    expect(affiliationOf("b-f-G")).toBeNull();
    expect(affiliationOf("a-z-G")).toBeNull();
  });

  it("colours friend blue, hostile red, neutral green, unknown yellow, stale grey", () => {
    expect(affiliationColour("f", false)).toBe("#80e0ff");
    expect(affiliationColour("h", false)).toBe("#ff8080");
    expect(affiliationColour("n", false)).toBe("#aaffaa");
    expect(affiliationColour("u", false)).toBe("#ffff80");
    expect(affiliationColour(null, false)).toBe("#ffff80");
    expect(affiliationColour("f", true)).toBe(STALE_COLOUR);
  });

  it("names affiliations", () => {
    expect(affiliationName("s")).toBe("suspect");
    expect(affiliationName(null)).toBe("not an affiliation");
  });
});
