import { describe, expect, it } from "vitest";

import { AlertStore } from "../src/state/alerts";
import type { Alert } from "../src/types";

function alert(uid: string, fields: Partial<Alert> = {}): Alert {
  return { uid, callsign: uid, kind: "911 Alert", lat: 1, lon: 2, time: 1_000, active: true, ...fields };
}

describe("AlertStore", () => {
  it("shows an alert until it is acknowledged", () => {
    const store = new AlertStore();
    store.apply(alert("a"));
    store.apply(alert("b", { time: 2_000 }));
    expect(store.pending().map((a) => a.uid)).toEqual(["b", "a"]);
    store.acknowledge("a");
    expect(store.pending().map((a) => a.uid)).toEqual(["b"]);
  });

  it("shows an acknowledged alert again when it is raised anew", () => {
    const store = new AlertStore();
    store.apply(alert("a"));
    store.acknowledge("a");
    store.apply(alert("a", { time: 5_000 }));
    expect(store.pending()).toHaveLength(1);
  });

  it("clears an alert the sender cancelled, and takes snapshots whole", () => {
    const store = new AlertStore();
    store.apply(alert("a"));
    store.apply(alert("a", { active: false }));
    expect(store.pending()).toHaveLength(0);
    store.replaceAll([alert("x"), alert("y", { active: false })]);
    expect(store.pending().map((a) => a.uid)).toEqual(["x"]);
  });
});

describe("AlertStore and lost contact", () => {
  it("separates emergencies (which sound the alarm) from lost-contact alerts", () => {
    const store = new AlertStore();
    store.apply(alert("a-9-1-1", { device: "a" }));
    store.apply(alert("b", { lost: true, kind: "Lost contact", time: 2_000 }));
    expect(store.pending().map((a) => a.uid)).toEqual(["b", "a-9-1-1"]);
    expect(store.emergencies().map((a) => a.uid)).toEqual(["a-9-1-1"]);
  });

  it("takes an alert already acknowledged by this user (on another page) as acknowledged", () => {
    const store = new AlertStore();
    store.apply(alert("a", { acknowledged: true }));
    expect(store.pending()).toHaveLength(0);
    store.apply(alert("a", { time: 9_000 }));
    expect(store.pending()).toHaveLength(1);
  });
});
