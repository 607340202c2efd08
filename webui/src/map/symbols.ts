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

/**
 * What milsymbol's asCanvas does after creating its canvas (its drawing step and the geometry
 * it uses). Calling it on our own canvas keeps the drawing on a CPU-backed 2D context: copying
 * milsymbol's GPU-backed canvas into one stalled on a GPU read-back per symbol (tens of
 * milliseconds each with software WebGL, on the page's first render).
 */
interface SymbolDrawing {
  width: number;
  height: number;
  bbox: { x1: number; y1: number };
  style: { size: number; strokeWidth: number; outlineWidth: number };
  drawInstructions: unknown;
  canvasDraw?: (context: CanvasRenderingContext2D, instructions: unknown) => void;
}

function drawSymbol(sidc: string, stale: boolean, ratio: number): ImageData | null {
  const options = stale ? { size: SYMBOL_SIZE, monoColor: STALE_COLOUR } : { size: SYMBOL_SIZE };
  const symbol = new ms.Symbol(sidc, options);
  const drawing = symbol as unknown as SymbolDrawing;
  const anchor = symbol.getAnchor();
  const ax = anchor.x * ratio;
  const ay = anchor.y * ratio;
  const halfWidth = Math.ceil(Math.max(ax, drawing.width * ratio - ax));
  const halfHeight = Math.ceil(Math.max(ay, drawing.height * ratio - ay));
  const canvas = document.createElement("canvas");
  canvas.width = Math.max(1, halfWidth * 2);
  canvas.height = Math.max(1, halfHeight * 2);
  const context = canvas.getContext("2d", { willReadFrequently: true });
  if (context === null) return null;
  context.translate(halfWidth - ax, halfHeight - ay);
  if (typeof drawing.canvasDraw === "function") {
    const scale = (ratio * drawing.style.size) / 100;
    const margin = drawing.style.strokeWidth + drawing.style.outlineWidth;
    context.scale(scale, scale);
    context.translate(margin - drawing.bbox.x1, margin - drawing.bbox.y1);
    drawing.canvasDraw.call(symbol, context, drawing.drawInstructions);
  } else {
    context.drawImage(symbol.asCanvas(ratio), 0, 0); // a milsymbol without that step: slower
  }
  return context.getImageData(0, 0, canvas.width, canvas.height);
}

/**
 * The heading arrow: a thin image whose bottom edge is the contact's position (the layer
 * anchors it there and rotates it about that point), the arrow in its upper part. Only the
 * arrow's own pixels are drawn: a square image centred on the contact made a thousand arrows
 * shade a thousand mostly transparent 64-pixel squares every frame.
 */
const HEADING_WIDTH = 10;
const HEADING_LENGTH = 32;
const HEADING_GAP = 12;

function drawHeading(ratio: number): ImageData | null {
  const width = Math.round(HEADING_WIDTH * ratio);
  const height = Math.round(HEADING_LENGTH * ratio);
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext("2d", { willReadFrequently: true });
  if (context === null) return null;
  const c = width / 2;
  context.strokeStyle = "#101010";
  context.fillStyle = "#101010";
  context.lineWidth = 2 * ratio;
  context.beginPath();
  context.moveTo(c, height - HEADING_GAP * ratio);
  context.lineTo(c, 2 * ratio);
  context.stroke();
  context.beginPath();
  context.moveTo(c, 0);
  context.lineTo(c - 4 * ratio, 6 * ratio);
  context.lineTo(c + 4 * ratio, 6 * ratio);
  context.closePath();
  context.fill();
  return context.getImageData(0, 0, width, height);
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
