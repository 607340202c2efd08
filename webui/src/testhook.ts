// What the end-to-end tests and the browser benchmark read from the running page: which
// contacts MapLibre really drew, where a coordinate is on screen, and when N contacts were
// first rendered. Read-only views; nothing here changes the page's behaviour.

import type { App } from "./app";

export interface TestHook {
  /** Uids of the contacts in the current frame (MapLibre's queryRenderedFeatures). */
  renderedUids(): string[];
  /** Contacts held by the page's store. */
  contactCount(): number;
  /** Screen position (CSS pixels, relative to the map) of a coordinate. */
  project(lon: number, lat: number): { x: number; y: number };
  /** Resolves with performance.now() at the first rendered frame that shows ``count`` contacts. */
  waitForRendered(count: number): Promise<number>;
  /** Resolves once the map's style and layers are loaded. */
  mapReady(): Promise<void>;
  /** Resolves once the offline basemap is drawn. */
  basemapReady(): Promise<void>;
  /** The map's state of the given objective id, as drawn. */
  objectiveState(id: string): string | null;
}

declare global {
  interface Window {
    rallypoint?: TestHook;
  }
}

export function exposeTestHook(app: App): void {
  const map = app.map.map;
  window.rallypoint = {
    renderedUids: () => app.map.renderedContactUids(),
    contactCount: () => app.contacts.size,
    project: (lon, lat) => app.map.project(lon, lat),
    mapReady: () => app.map.ready,
    basemapReady: () => app.map.basemapReady,
    objectiveState: (id) => app.objectives.get(id)?.state ?? null,
    waitForRendered: (count) =>
      new Promise((resolve) => {
        const check = (): void => {
          if (app.map.renderedContactUids().length >= count) {
            map.off("render", check);
            resolve(performance.now());
          }
        };
        map.on("render", check);
        map.triggerRepaint();
      }),
  };
}
