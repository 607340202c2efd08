// Designating an objective on the map: one click for a point, or clicks for the corners of an
// area closed with "Finish area"; then a small form (title, description, priority, due,
// assignee) that creates it in the open mission.

import type { LngLat, MapView } from "../map/view";
import { h, replace } from "./dom";

export const PRIORITIES = ["low", "normal", "high", "critical"] as const;
/** The smallest area: a triangle. */
const MIN_AREA_POINTS = 3;

export interface ObjectiveDraft {
  title: string;
  description: string;
  priority: string;
  due?: number;
  assignee?: string;
  geometry: GeoJSON.Point | GeoJSON.Polygon;
}

export class Designator {
  readonly element: HTMLElement;
  private points: LngLat[] = [];
  private mode: "idle" | "point" | "area" | "form" = "idle";
  onSubmit: (draft: ObjectiveDraft) => Promise<void> = async () => undefined;

  constructor(
    private readonly map: MapView,
    private readonly assignees: () => string[],
  ) {
    this.element = h("div", { className: "designate", id: "designate" });
    this.render();
  }

  startPoint(): void {
    this.begin("point");
  }

  startArea(): void {
    this.begin("area");
  }

  cancel(): void {
    this.mode = "idle";
    this.points = [];
    this.map.onPick = null;
    this.map.setDraft([]);
    this.render();
  }

  private begin(mode: "point" | "area"): void {
    this.mode = mode;
    this.points = [];
    this.map.setDraft([]);
    this.map.onPick = (at) => this.picked(at);
    this.render();
  }

  private picked(at: LngLat): void {
    this.points.push(at);
    this.map.setDraft(this.mode === "area" ? this.points : [at]);
    if (this.mode === "point") this.showForm();
    else this.render();
  }

  private finishArea(): void {
    if (this.points.length < MIN_AREA_POINTS) return;
    this.map.setDraft([...this.points, this.points[0] as LngLat]);
    this.showForm();
  }

  private showForm(): void {
    this.mode = "form";
    this.map.onPick = null;
    this.render();
  }

  private geometry(): GeoJSON.Point | GeoJSON.Polygon {
    const first = this.points[0] as LngLat;
    if (this.points.length === 1) return { type: "Point", coordinates: first };
    return { type: "Polygon", coordinates: [[...this.points, first]] };
  }

  private render(): void {
    if (this.mode === "idle") {
      replace(this.element);
      return;
    }
    if (this.mode === "point" || this.mode === "area") {
      const text = this.mode === "point" ? "Click the map where the objective is." : `Click the corners of the area (${this.points.length} so far).`;
      replace(
        this.element,
        h("p", { className: "hint" }, text),
        this.mode === "area"
          ? h("button", { id: "finish-area", disabled: this.points.length < MIN_AREA_POINTS, onclick: () => this.finishArea() }, "Finish area")
          : null,
        h("button", { onclick: () => this.cancel() }, "Cancel"),
      );
      return;
    }
    const form = this.form();
    replace(this.element, form);
    // At once, not on a timer: a focus that lands later would pull the caret out of whatever
    // field the commander has moved on to.
    if (form.isConnected) form.querySelector<HTMLInputElement>("#objective-title")?.focus();
  }

  private form(): HTMLFormElement {
    const title = h("input", { name: "title", id: "objective-title", required: true, maxlength: 200 });
    const description = h("textarea", { name: "description", id: "objective-description", maxlength: 4000, rows: 2 });
    const priority = h("select", { name: "priority", id: "objective-priority" }, ...PRIORITIES.map((p) => h("option", { value: p, selected: p === "normal" }, p)));
    const due = h("input", { name: "due", type: "datetime-local", id: "objective-due" });
    const listId = "assignee-options";
    const assignee = h("input", { name: "assignee", id: "objective-assignee", list: listId, placeholder: "team or callsign (optional)" });
    const options = h("datalist", { id: listId }, ...this.assignees().map((a) => h("option", { value: a })));
    const submit = h("button", { type: "submit" }, "Designate");
    const form = h(
      "form",
      { className: "objective-form", id: "objective-form" },
      h("label", {}, "Title", title),
      h("label", {}, "Description", description),
      h("label", {}, "Priority", priority),
      h("label", {}, "Due", due),
      h("label", {}, "Assign to", assignee, options),
      submit,
      h("button", { type: "button", onclick: () => this.cancel() }, "Cancel"),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      submit.disabled = true;
      const draft: ObjectiveDraft = {
        title: title.value.trim(),
        description: description.value.trim(),
        priority: priority.value,
        geometry: this.geometry(),
      };
      if (due.value !== "") draft.due = new Date(due.value).getTime();
      if (assignee.value.trim() !== "") draft.assignee = assignee.value.trim();
      // On failure the panel has said why; the form stays open to correct and resend.
      this.onSubmit(draft)
        .then(
          () => this.cancel(),
          () => undefined,
        )
        .finally(() => (submit.disabled = false));
    });
    return form;
  }
}
