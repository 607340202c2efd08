// Symbol codes and colours by affiliation. The server sends each contact's SIDC; this module
// derives it again for items that lack one (markers, older servers) so every contact gets a
// 2525 frame, and names the colours the list and the map share.

export const AFFILIATIONS = ["f", "h", "n", "u", "a", "s", "p", "o", "x"] as const;
export type Affiliation = (typeof AFFILIATIONS)[number];

const SIDC_LENGTH = 15;
const FUNCTION_LENGTH = 6;
const DIMENSIONS = new Set(["P", "A", "G", "S", "U", "F", "X"]);
/** CoT "none"/"other" have no 2525C identity letter of their own: drawn as unknown. */
const SIDC_IDENTITY: Record<string, string> = { o: "U", x: "U" };
/** The symbol used for a contact that is not an `a-` atom (a marker, a drawing, a sensor). */
export const FALLBACK_SIDC = "SUGP-----------";

/** Affiliation letter from a CoT type's second atom (`a-h-G` → `h`), else null. */
export function affiliationOf(cotType: string): Affiliation | null {
  const atoms = cotType.split("-");
  const letter = atoms[1];
  if (atoms[0] !== "a" || letter === undefined) return null;
  return (AFFILIATIONS as readonly string[]).includes(letter) ? (letter as Affiliation) : null;
}

/** MIL-STD-2525C SIDC of an `a-` CoT type (`a-f-G-U-C` → `SFGPUC---------`), else null. */
export function sidcOf(cotType: string): string | null {
  const letter = affiliationOf(cotType);
  const atoms = cotType.split("-");
  const dimensionAtom = atoms[2];
  if (letter === null || dimensionAtom === undefined) return null;
  let dimension = dimensionAtom.charAt(0).toUpperCase();
  if (!DIMENSIONS.has(dimension)) return null;
  if (dimension === "X") dimension = "Z";
  const fn = atoms
    .slice(3)
    .map((atom) => atom.charAt(0).toUpperCase())
    .join("")
    .slice(0, FUNCTION_LENGTH);
  const code = "S" + (SIDC_IDENTITY[letter] ?? letter.toUpperCase()) + dimension + "P" + fn;
  return code.padEnd(SIDC_LENGTH, "-");
}

/** The SIDC to draw: the server's, else one derived from the type, else the fallback. */
export function symbolCode(cotType: string, serverSidc: string | null): string {
  if (serverSidc !== null && serverSidc.length === SIDC_LENGTH) return serverSidc;
  return sidcOf(cotType) ?? FALLBACK_SIDC;
}

/** 2525 fill colours (light palette): friend blue, hostile red, neutral green, unknown yellow. */
const COLOURS: Record<string, string> = {
  f: "#80e0ff",
  a: "#80e0ff",
  h: "#ff8080",
  s: "#ff8080",
  j: "#ff8080",
  k: "#ff8080",
  n: "#aaffaa",
  u: "#ffff80",
  p: "#ffff80",
  o: "#ffff80",
  x: "#ffff80",
};
export const STALE_COLOUR = "#9a9a9a";
export const UNKNOWN_COLOUR = "#ffff80";

/** The colour of an affiliation, grey once the contact is stale. */
export function affiliationColour(affiliation: string | null, stale: boolean): string {
  if (stale) return STALE_COLOUR;
  return (affiliation !== null && COLOURS[affiliation]) || UNKNOWN_COLOUR;
}

/** Human name of an affiliation letter, for the details panel. */
export function affiliationName(affiliation: string | null): string {
  const names: Record<string, string> = {
    f: "friend",
    a: "assumed friend",
    h: "hostile",
    s: "suspect",
    n: "neutral",
    u: "unknown",
    p: "pending",
    o: "none",
    x: "other",
  };
  return (affiliation !== null && names[affiliation]) || "not an affiliation";
}
