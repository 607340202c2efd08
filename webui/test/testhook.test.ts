// The test hook reads the page through its narrow source, and exists only when asked for.
import { afterEach, describe, expect, it, vi } from "vitest";
import { type HookSource, installTestHookIfAsked, testHook } from "../src/testhook";

function source(rendered: string[][]): HookSource & { listeners: Array<() => void> } {
  const listeners: Array<() => void> = [];
  let frame = 0;
  return {
    listeners,
    renderedContactUids: () => rendered[Math.min(frame, rendered.length - 1)] ?? [],
    contactCount: () => 3,
    project: (lon, lat) => ({ x: lon, y: lat }),
    mapReady: () => Promise.resolve(),
    basemapReady: () => Promise.resolve(),
    objectiveState: (id) => (id === "o-1" ? "done" : null),
    alarm: () => ({ beeps: 3, notifications: 1, audio: "running", sounding: true, silenced: false }),
    selected: () => "PYTAK-1",
    trackPoints: () => 4,
    renderedShapeUids: () => ["shape-1"],
    onRender: (listener) => {
      listeners.push(listener);
      return () => listeners.splice(listeners.indexOf(listener), 1);
    },
    repaint: () => {
      frame += 1;
      for (const listener of [...listeners]) listener();
    },
  };
}

describe("test hook", () => {
  afterEach(() => vi.unstubAllGlobals());

  it("is not installed unless the page was asked for it", () => {
    const page: Partial<Window> = {};
    vi.stubGlobal("window", page);
    installTestHookIfAsked(source([[]]));
    expect(page.rallypoint).toBeUndefined();
  });

  it("is installed when the page was asked for it", () => {
    const page: Partial<Window> = { rallypointTestHook: true };
    vi.stubGlobal("window", page);
    installTestHookIfAsked(source([["A"]]));
    expect(page.rallypoint?.renderedUids()).toEqual(["A"]);
    expect(page.rallypoint?.objectiveState("o-1")).toBe("done");
    expect(page.rallypoint?.alarm().beeps).toBe(3);
    expect(page.rallypoint?.selected()).toBe("PYTAK-1");
    expect(page.rallypoint?.trackPoints()).toBe(4);
    expect(page.rallypoint?.renderedShapeUids()).toEqual(["shape-1"]);
  });

  it("resolves waitForRendered at the first frame showing enough contacts, then stops listening", async () => {
    const fake = source([[], ["A", "B"]]);
    const at = await testHook(fake).waitForRendered(2);
    expect(typeof at).toBe("number");
    expect(fake.listeners).toEqual([]);
  });
});
