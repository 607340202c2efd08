// Unit symbols as map images: one milsymbol rendering per distinct SIDC (and a grey one for
// stale contacts), drawn to a canvas once and registered with the map, then shared by every
// contact that uses it. The image is padded so the symbol's anchor sits at its centre.

import { ms, std2525c } from "milsymbol-core";
import type { Map as MapLibre } from "maplibre-gl";

import { STALE_COLOUR } from "../state/sidc";

/** Symbol size in CSS pixels (milsymbol's `size`, the frame's nominal height). */
ms.addIcons(std2525c);

export const SYMBOL_SIZE = 22;
export const HEADING_IMAGE = "rp-heading";
/** Friendly, hostile and unknown ground units: what most pictures start with. */
const WARM_SIDCS = ["SFGPUC---------", "SFGP-----------", "SHGP-----------", "SUGP-----------"];

export function symbolImageId(sidc: string, stale: boolean): string {
  return `sym:${sidc}:${stale ? "s" : "l"}`;
}

function drawSymbol(sidc: string, stale: boolean, ratio: number): ImageData | null {
  const options = stale ? { size: SYMBOL_SIZE, monoColor: STALE_COLOUR } : { size: SYMBOL_SIZE };
  const symbol = new ms.Symbol(sidc, options);
  const source = symbol.asCanvas(ratio);
  const anchor = symbol.getAnchor();
  const ax = anchor.x * ratio;
  const ay = anchor.y * ratio;
  const halfWidth = Math.ceil(Math.max(ax, source.width - ax));
  const halfHeight = Math.ceil(Math.max(ay, source.height - ay));
  const canvas = document.createElement("canvas");
  canvas.width = Math.max(1, halfWidth * 2);
  canvas.height = Math.max(1, halfHeight * 2);
  const context = canvas.getContext("2d");
  if (context === null) return null;
  context.drawImage(source, halfWidth - ax, halfHeight - ay);
  return context.getImageData(0, 0, canvas.width, canvas.height);
}

function drawHeading(ratio: number): ImageData | null {
  const size = Math.round(64 * ratio);
  const canvas = document.createElement("canvas");
  canvas.width = size;
  canvas.height = size;
  const context = canvas.getContext("2d");
  if (context === null) return null;
  const c = size / 2;
  context.strokeStyle = "#101010";
  context.fillStyle = "#101010";
  context.lineWidth = 2 * ratio;
  context.beginPath();
  context.moveTo(c, c - 12 * ratio);
  context.lineTo(c, 2 * ratio);
  context.stroke();
  context.beginPath();
  context.moveTo(c, 0);
  context.lineTo(c - 4 * ratio, 6 * ratio);
  context.lineTo(c + 4 * ratio, 6 * ratio);
  context.closePath();
  context.fill();
  return context.getImageData(0, 0, size, size);
}

/** Registers symbol images on demand; remembers which ids the map already has. */
export class SymbolImages {
  private readonly ratio: number;

  constructor(private readonly map: MapLibre) {
    this.ratio = Math.min(2, Math.max(1, window.devicePixelRatio || 1));
  }

  /**
   * Register the heading arrow and the commonest symbols once the style is loaded, so the
   * first contact does not wait for milsymbol's first-use set-up.
   */
  addStatic(): void {
    if (this.map.hasImage(HEADING_IMAGE)) return;
    const heading = drawHeading(this.ratio);
    if (heading !== null) this.map.addImage(HEADING_IMAGE, heading, { pixelRatio: this.ratio });
    for (const sidc of WARM_SIDCS) this.ensure(sidc, false);
  }

  /** The image id for a contact's symbol, rendering and registering it the first time. */
  ensure(sidc: string, stale: boolean): string {
    const id = symbolImageId(sidc, stale);
    if (this.map.hasImage(id)) return id;
    const image = drawSymbol(sidc, stale, this.ratio);
    if (image !== null) this.map.addImage(id, image, { pixelRatio: this.ratio });
    return id;
  }
}
