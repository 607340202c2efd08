// What the end-to-end tests and the browser benchmark read from the running page: which
// contacts MapLibre really drew, where a coordinate is on screen, and when N contacts were
// first rendered. Read-only views; nothing here changes the page's behaviour.
//
// The hook is installed only when the page was asked for it before it loaded (the tests and
// the benchmark set `window.rallypointTestHook = true` in an init script); a production page
// has no `window.rallypoint`. It sees the page through the narrow `HookSource` below, so it
// knows nothing of the app that feeds it.

import type { AlarmState } from "./ui/alarm";

/** What the hook reads from the page. */
export interface HookSource {
  renderedContactUids(): string[];
  contactCount(): number;
  project(lon: number, lat: number): { x: number; y: number };
  mapReady(): Promise<void>;
  basemapReady(): Promise<void>;
  objectiveState(id: string): string | null;
  /** Calls `listener` after every frame the map renders until the returned function is called. */
  onRender(listener: () => void): () => void;
  /** Asks the map for one more frame. */
  repaint(): void;
  alarm(): AlarmState;
  /** The uid of the selected contact, or null. */
  selected(): string | null;
  /** Points of the selected contact's drawn track. */
  trackPoints(): number;
  /** Uids of the markers and shapes the map drew in the current frame. */
  renderedShapeUids(): string[];
}

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
  /** What the emergency alarm has done (beeps, notifications) and whether it sounds now. */
  alarm(): AlarmState;
  selected(): string | null;
  /** Points of the selected contact's track as drawn (history plus live positions). */
  trackPoints(): number;
  /** Uids of the markers and shapes in the current frame (drawn as shapes, not symbols). */
  renderedShapeUids(): string[];
}

declare global {
  interface Window {
    rallypoint?: TestHook;
    /** Set by a test before the page loads to ask for the hook. */
    rallypointTestHook?: boolean;
  }
}

export function testHook(source: HookSource): TestHook {
  return {
    renderedUids: () => source.renderedContactUids(),
    contactCount: () => source.contactCount(),
    project: (lon, lat) => source.project(lon, lat),
    mapReady: () => source.mapReady(),
    basemapReady: () => source.basemapReady(),
    objectiveState: (id) => source.objectiveState(id),
    alarm: () => source.alarm(),
    selected: () => source.selected(),
    trackPoints: () => source.trackPoints(),
    renderedShapeUids: () => source.renderedShapeUids(),
    waitForRendered: (count) =>
      new Promise((resolve) => {
        const stop = source.onRender(() => {
          if (source.renderedContactUids().length >= count) {
            stop();
            resolve(performance.now());
          }
        });
        source.repaint();
      }),
  };
}

/** Install `window.rallypoint` if the page was asked for it; otherwise do nothing. */
export function installTestHookIfAsked(source: HookSource): void {
  if (window.rallypointTestHook === true) {
    window.rallypoint = testHook(source);
  }
}
