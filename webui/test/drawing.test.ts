import { describe, expect, it } from "vitest";

import {
  type LngLat,
  bodyOf,
  circleRing,
  clicksNeeded,
  distanceM,
  draftRing,
  drawingBody,
  minimumClicks,
  rectangleRing,
  shapeFeature,
} from "../src/state/drawing";
import type { ContactShape } from "../src/types";
import { contact } from "./fixtures";

const SQUARE: LngLat[] = [
  [-77, 38],
  [-76.99, 38],
  [-76.99, 38.01],
  [-77, 38.01],
  [-77, 38],
];

function shape(fields: Partial<ContactShape>): ContactShape {
  return { kind: "polygon", coordinates: SQUARE, radius: null, stroke: "rgba(255,0,0,1)", fill: "rgba(255,0,0,0.376)", colour: "#ff0000", weight: 3, labels: true, ...fields };
}

describe("drawing tools", () => {
  it("know how many clicks each kind takes", () => {
    expect([clicksNeeded("marker"), clicksNeeded("rectangle"), clicksNeeded("circle"), clicksNeeded("rangebearing"), clicksNeeded("polygon")]).toEqual([1, 2, 2, 2, null]);
    expect([minimumClicks("polygon"), minimumClicks("polyline")]).toEqual([3, 2]);
  });

  it("send a circle as its centre and the radius to the second click", () => {
    const body = drawingBody("circle", [[-77, 38], [-77, 38.001]], "Hot zone", "#ff8000");
    expect(body.points).toEqual([[-77, 38]]);
    expect(body.radius).toBe(111); // 0.001 degree of latitude
    expect(drawingBody("polygon", SQUARE.slice(0, 3), "A", "#ff0000")).toEqual({ kind: "polygon", points: SQUARE.slice(0, 3), label: "A", colour: "#ff0000" });
  });

  it("draws a circle as a closed ring at its radius", () => {
    const ring = circleRing([11.5, 48.1], 500, 36);
    expect(ring).toHaveLength(37);
    expect(ring[0]).toEqual(ring[36]);
    for (const point of ring) expect(distanceM([11.5, 48.1], point)).toBeCloseTo(500, 3);
  });

  it("closes a rectangle from two opposite corners and a polygon draft on its first point", () => {
    expect(rectangleRing([0, 0], [1, 1])).toEqual([[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]);
    expect(draftRing("polygon", SQUARE.slice(0, 3))).toEqual([...SQUARE.slice(0, 3), SQUARE[0]]);
    expect(draftRing("polyline", SQUARE.slice(0, 3))).toEqual(SQUARE.slice(0, 3));
  });
});

describe("drawings on the map", () => {
  it("are features of their own geometry, colour and label", () => {
    const polygon = shapeFeature(contact("s1", { type: "u-d-f", callsign: "Sector A", shape: shape({}) }), false);
    expect(polygon?.geometry).toEqual({ type: "Polygon", coordinates: [SQUARE] });
    expect(polygon?.properties).toMatchObject({ uid: "s1", label: "Sector A", stroke: "rgba(255,0,0,1)", stale: false });
    const circle = shapeFeature(contact("c1", { shape: shape({ kind: "circle", coordinates: [[11.5, 48.1]], radius: 200 }) }), true);
    expect(circle?.geometry.type).toBe("Polygon");
    expect(circle?.properties?.stale).toBe(true);
    const marker = shapeFeature(contact("m1", { shape: shape({ kind: "point", coordinates: [[11.5, 48.1]], labels: false }) }), false);
    expect(marker?.geometry).toEqual({ type: "Point", coordinates: [11.5, 48.1] });
    expect(marker?.properties?.label).toBe("M1"); // a marker is always named
    const unlabelled = shapeFeature(contact("l1", { shape: shape({ kind: "line", coordinates: SQUARE.slice(0, 2), labels: false }) }), false);
    expect(unlabelled?.geometry.type).toBe("LineString");
    expect(unlabelled?.properties?.label).toBe("");
  });

  it("are none for units and for shapes without points", () => {
    expect(shapeFeature(contact("u1"), false)).toBeNull();
    expect(shapeFeature(contact("e1", { shape: shape({ coordinates: [] }) }), false)).toBeNull();
  });

  it("are sent again as the body that drew them", () => {
    const rectangle = contact("r1", { type: "u-d-r", shape: shape({}) });
    expect(bodyOf(rectangle, "Staging", "#00ff00")).toEqual({ kind: "rectangle", points: SQUARE.slice(0, 4), label: "Staging", colour: "#00ff00" });
    const polygon = contact("p1", { type: "u-d-f", shape: shape({}) });
    expect(bodyOf(polygon, "A", "#ff0000")?.points).toEqual(SQUARE.slice(0, 4));
    const circle = contact("c1", { type: "u-d-c-c", shape: shape({ kind: "circle", coordinates: [[1, 2]], radius: 250 }) });
    expect(bodyOf(circle, "Zone", "#ff0000")).toEqual({ kind: "circle", points: [[1, 2]], label: "Zone", colour: "#ff0000", radius: 250 });
    const line = contact("rb1", { type: "u-rb-a", shape: shape({ kind: "line", coordinates: [[1, 2], [1.01, 2.01]] }) });
    expect(bodyOf(line, "R&B 1", "#ff0000")).toEqual({ kind: "rangebearing", points: [[1, 2], [1.01, 2.01]], label: "R&B 1", colour: "#ff0000" });
    expect(bodyOf(contact("u1"), "x", "#ff0000")).toBeNull();
  });
});
