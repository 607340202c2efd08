// The basemap switcher: a select in the map's corner listing the basemaps this server offers
// (absent when there is only the built-in one). An online map whose tiles fail to load is
// marked unreachable in the list rather than silently drawing nothing.

import type { IControl, Map as MapLibre } from "maplibre-gl";

import type { BasemapId, Basemaps } from "./basemap";

export class BasemapSwitcher implements IControl {
  private container: HTMLElement | null = null;

  constructor(private readonly basemaps: Basemaps) {}

  onAdd(map: MapLibre): HTMLElement {
    const container = document.createElement("div");
    container.className = "maplibregl-ctrl maplibregl-ctrl-group basemap-switcher";
    const select = document.createElement("select");
    select.id = "basemap-select";
    select.title = "Basemap";
    select.setAttribute("aria-label", "Basemap");
    Object.assign(select.style, { border: "0", padding: "4px", font: "inherit", background: "transparent" });
    for (const option of this.basemaps.options) {
      const element = document.createElement("option");
      element.value = option.id;
      element.textContent = option.label;
      select.append(element);
    }
    select.value = this.basemaps.chosen;
    select.addEventListener("change", () => this.basemaps.choose(select.value as BasemapId));
    map.on("error", (event: { sourceId?: string }) => {
      const online = select.querySelector<HTMLOptionElement>("option[value=online]");
      if (event.sourceId === "online" && online !== null) online.textContent = "Online map (unreachable)";
    });
    if (this.basemaps.options.length < 2) container.hidden = true;
    container.append(select);
    this.container = container;
    return container;
  }

  onRemove(): void {
    this.container?.remove();
    this.container = null;
  }
}
