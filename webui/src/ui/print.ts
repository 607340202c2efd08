// Print / PDF of the map as it is on screen: the browser's print (the "Print" button, Ctrl+P or
// a headless print to PDF) lays out one landscape sheet with the current extent as a picture,
// north and a scale bar over it, and a legend: units by team, time with zone, extent. The
// sheet is rebuilt just before printing ("beforeprint"), so it shows the moment of printing.
//
// A WebGL canvas is not kept after it is shown, so the picture is taken straight after a
// synchronous redraw (map.redraw) and printed as an image; the rest of the page is hidden by
// the print style sheet.

import type { Map as MapLibre } from "maplibre-gl";

import { extentText, metresPerPixel, scaleBar, teamCounts, utcStamp } from "../map/printlegend";
import type { MapView } from "../map/view";
import type { ContactEntry } from "../state/contacts";
import { formatTime, h, replace } from "./dom";
import "./print.css";

export class PrintSheet {
  readonly element: HTMLElement;
  private readonly image = h("img", { className: "print-image", id: "print-image", alt: "The map" });
  private readonly north = h("div", { className: "print-north", id: "print-north", title: "North" }, "N");
  private readonly bar = h("div", { className: "print-bar" });
  private readonly barLabel = h("span", {});
  private readonly legend = h("div", { className: "print-legend", id: "print-legend" });

  constructor(
    private readonly view: MapView,
    private readonly units: () => ContactEntry[],
    private readonly title: string,
  ) {
    const scale = h("div", { className: "print-scale", id: "print-scale" }, this.bar, this.barLabel);
    const picture = h("div", { className: "print-map" }, this.image, this.north, scale);
    this.element = h("section", { className: "print-sheet", id: "print-sheet", "aria-hidden": "true" }, picture, this.legend);
    document.body.appendChild(this.element);
    window.addEventListener("beforeprint", () => this.prepare());
    window.addEventListener("afterprint", () => this.image.removeAttribute("src"));
    view.map.addControl(
      {
        onAdd: () =>
          h(
            "div",
            { className: "maplibregl-ctrl maplibregl-ctrl-group" },
            h("button", { type: "button", id: "print-map", title: "Print the map (or save as PDF)", onclick: () => this.print() }, "Print"),
          ),
        onRemove: () => undefined,
      },
      "top-right",
    );
  }

  /** Lay out the sheet, then open the browser's print dialog. */
  print(): void {
    this.prepare();
    window.print();
  }

  /** The sheet for the map as it is now. */
  prepare(now = Date.now()): void {
    const map = this.view.map;
    this.image.src = snapshot(map);
    const bearing = map.getBearing();
    this.north.style.transform = `rotate(${-bearing}deg)`;
    // The drawing buffer's size: the print style sheet has already hidden the canvas itself.
    const canvas = map.getCanvas();
    const width = canvas.width / map.getPixelRatio() || 1;
    this.image.style.setProperty("--aspect", String(canvas.width / (canvas.height || 1)));
    const centre = map.getCenter();
    const bar = scaleBar(metresPerPixel(centre.lat, map.getZoom()), width);
    this.bar.style.width = `${(bar.fraction * 100).toFixed(2)}%`;
    this.barLabel.textContent = bar.label;
    const bounds = map.getBounds();
    const teams = teamCounts(this.units());
    const total = teams.reduce((sum, t) => sum + t.live + t.grey, 0);
    replace(
      this.legend,
      h("h2", {}, this.title),
      h("p", { className: "print-stamp", id: "print-stamp" }, `Printed ${formatTime(now)} (${utcStamp(now)})`),
      h("p", {}, `Extent ${extentText(bounds.getWest(), bounds.getSouth(), bounds.getEast(), bounds.getNorth())}`),
      h("p", {}, `Scale bar ${bar.label} · north ${bearing === 0 ? "up" : `${Math.round(-bearing)}° from up`}`),
      h("h3", {}, `Units by team (${total})`),
      h(
        "ul",
        { className: "print-teams", id: "print-teams" },
        ...teams.map((t) => {
          const swatch = h("span", { className: "print-swatch" });
          if (t.colour !== null) swatch.style.borderColor = t.colour;
          return h("li", { "data-team": t.team }, swatch, `${t.team}: ${t.live}${t.grey > 0 ? ` (+${t.grey} grey: stale or lost)` : ""}`);
        }),
      ),
    );
  }
}

/** The map's picture as a data URL, taken right after drawing it (the WebGL buffer is whole). */
function snapshot(map: MapLibre): string {
  map.redraw();
  return map.getCanvas().toDataURL("image/png");
}
