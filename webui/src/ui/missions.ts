// The missions panel: list, create and subscribe; the open mission's objectives (state,
// assignee, the moves a commander can make) kept live by `objective` messages; its change
// log; and designation of new objectives on the map.

import type { Api } from "../api";
import type { MapView } from "../map/view";
import { type ObjectiveStore, stateView } from "../state/objectives";
import type { Mission, MissionChange, Objective } from "../types";
import { Designator, type ObjectiveDraft } from "./designate";
import { errorText, formatTime, h, replace, toast } from "./dom";

/** Change-log entries shown for the open mission (newest first). */
const MAX_LOG_ROWS = 200;
/** A burst of `mission` messages reloads the open mission once. */
const RELOAD_DEBOUNCE_MS = 300;

interface MissionDetail {
  mission: Mission;
  objectives: Objective[];
  changes: MissionChange[];
}

/** The detail answer, whether the mission is at the top level or under `mission`. */
export function readDetail(answer: Record<string, unknown>): MissionDetail {
  const mission = (typeof answer.mission === "object" && answer.mission !== null ? answer.mission : answer) as Mission;
  const pick = <T>(...values: unknown[]): T[] => (values.find((v) => Array.isArray(v)) as T[] | undefined) ?? [];
  return {
    mission,
    objectives: pick<Objective>(answer.objectives, mission.objectives),
    changes: pick<MissionChange>(answer.changes, answer.changeLog, mission.changes),
  };
}

export class MissionsPanel {
  readonly element: HTMLElement;
  private readonly list: HTMLElement;
  private readonly detail: HTMLElement;
  private readonly designator: Designator;
  private missions: Mission[] = [];
  private open: MissionDetail | null = null;
  private reloadTimer: number | undefined;
  onObjectivesChanged: () => void = () => undefined;

  constructor(
    private readonly api: Api,
    private readonly objectives: ObjectiveStore,
    private readonly map: MapView,
    private readonly me: { uid: string },
    assignees: () => string[],
  ) {
    this.designator = new Designator(map, assignees);
    this.designator.onSubmit = (draft) => this.designate(draft);
    this.list = h("ul", { className: "mission-list", id: "mission-list" });
    this.detail = h("div", { className: "mission-detail", id: "mission-detail" });
    const name = h("input", { name: "name", id: "mission-name", placeholder: "New mission name", required: true, maxlength: 100 });
    const description = h("input", { name: "description", id: "mission-description", placeholder: "Description" });
    const create = h("form", { className: "mission-create", id: "mission-create" }, name, description, h("button", { type: "submit" }, "Create"));
    create.addEventListener("submit", (event) => {
      event.preventDefault();
      this.api
        .post("/api/missions", { name: name.value.trim(), description: description.value.trim() })
        .then(() => {
          const created = name.value.trim();
          name.value = "";
          description.value = "";
          this.refresh();
          this.select(created);
        })
        .catch((error: unknown) => toast(`Mission not created: ${errorText(error)}`));
    });
    this.element = h("section", { className: "panel missions-panel" }, create, this.list, this.detail);
  }

  refresh(): void {
    this.api
      .get<Mission[] | { missions?: Mission[]; data?: Mission[] }>("/api/missions")
      .then((answer) => {
        this.missions = Array.isArray(answer) ? answer : (answer.missions ?? answer.data ?? []);
        this.renderList();
      })
      .catch((error: unknown) => toast(`Missions: ${errorText(error)}`));
  }

  select(name: string): void {
    this.api
      .get<Record<string, unknown>>(`/api/missions/${encodeURIComponent(name)}`)
      .then((answer) => {
        this.open = readDetail(answer);
        for (const objective of this.open.objectives) this.objectives.upsert(objective);
        this.onObjectivesChanged();
        this.renderList();
        this.renderDetail();
      })
      .catch((error: unknown) => toast(`Mission ${name}: ${errorText(error)}`));
  }

  /** A live `objective` message. */
  objectiveChanged(objective: Objective): void {
    if (!this.objectives.upsert(objective)) return;
    this.onObjectivesChanged();
    if (this.open?.mission.name === objective.mission) this.scheduleReload();
  }

  /** A live `mission` message: refresh the list, and the open mission if it is this one. */
  missionChanged(mission: Mission): void {
    const at = this.missions.findIndex((m) => m.name === mission.name);
    if (at >= 0) this.missions[at] = { ...this.missions[at], ...mission };
    else this.missions.push(mission);
    this.renderList();
    if (this.open?.mission.name === mission.name) this.scheduleReload();
  }

  private scheduleReload(): void {
    this.renderDetail();
    window.clearTimeout(this.reloadTimer);
    const name = this.open?.mission.name;
    if (name === undefined) return;
    this.reloadTimer = window.setTimeout(() => this.select(name), RELOAD_DEBOUNCE_MS);
  }

  private renderList(): void {
    if (this.missions.length === 0) {
      replace(this.list, h("li", { className: "muted" }, "No missions"));
      return;
    }
    replace(
      this.list,
      ...[...this.missions]
        .sort((a, b) => a.name.localeCompare(b.name))
        .map((m) =>
          h(
            "li",
            { className: m.name === this.open?.mission.name ? "active" : "", "data-mission": m.name, onclick: () => this.select(m.name) },
            m.name,
            m.description ? h("small", {}, ` ${m.description}`) : null,
          ),
        ),
    );
  }

  private renderDetail(): void {
    if (this.open === null) {
      replace(this.detail);
      return;
    }
    const mission = this.open.mission;
    const objectives = this.objectives.ofMission(mission.name);
    const changes = [...this.open.changes].sort((a, b) => b.time - a.time).slice(0, MAX_LOG_ROWS);
    replace(
      this.detail,
      h("h2", {}, mission.name),
      mission.description ? h("p", { className: "muted" }, mission.description) : null,
      h(
        "div",
        { className: "actions" },
        h("button", { id: "mission-subscribe", onclick: () => this.subscribe(mission.name) }, "Subscribe"),
        h("button", { id: "designate-point", onclick: () => this.designator.startPoint() }, "Designate point"),
        h("button", { id: "designate-area", onclick: () => this.designator.startArea() }, "Draw area"),
      ),
      this.designator.element,
      h("h3", {}, `Objectives (${objectives.length})`),
      h("ul", { className: "objectives", id: "objective-list" }, ...objectives.map((o) => this.objectiveRow(o))),
      h("h3", {}, "Change log"),
      h(
        "ol",
        { className: "change-log", id: "change-log" },
        ...changes.map((c) => h("li", {}, h("time", {}, formatTime(c.time)), ` ${c.author ?? ""}: ${c.summary || c.type}`)),
      ),
    );
  }

  private objectiveRow(o: Objective): HTMLElement {
    const view = stateView(o.state);
    const badge = h("span", { className: "state", "data-state": o.state }, view.label);
    badge.style.background = view.colour;
    const assignee = h("input", { className: "assignee", placeholder: "team or callsign", list: "assignee-options", value: o.assignee ?? "" });
    const assign = h("button", { className: "assign", disabled: view.final, onclick: () => this.move(o, "assign", { assignee: assignee.value.trim() }) }, "Assign");
    return h(
      "li",
      { className: "objective", "data-objective": o.id },
      h("div", {}, badge, " ", h("strong", {}, o.title), o.shortId ? h("small", {}, ` ${o.shortId}`) : null, ` · ${o.priority ?? ""}`),
      o.description ? h("p", { className: "muted" }, o.description) : null,
      h("div", { className: "muted" }, `Assignee: ${o.assignee ?? "none"}`, o.due ? ` · due ${formatTime(o.due)}` : "", o.escalated ? " · escalated" : ""),
      view.final
        ? null
        : h(
            "div",
            { className: "actions" },
            assignee,
            assign,
            ...view.actions.map((state) =>
              h("button", { className: `to-${state}`, onclick: () => this.move(o, "status", { state }) }, stateView(state).label),
            ),
          ),
      h("button", { className: "link", onclick: () => this.show(o) }, "Show on map"),
    );
  }

  private show(o: Objective): void {
    const g = o.geometry;
    if (g === null) return;
    const [lon, lat] = (g.type === "Point" ? g.coordinates : g.coordinates[0]?.[0]) ?? [0, 0];
    if (lon !== undefined && lat !== undefined) this.map.flyTo(lon, lat);
  }

  private move(o: Objective, action: "assign" | "status", body: Record<string, string>): void {
    if (action === "assign" && body.assignee === "") {
      toast("Name a team or callsign to assign to.");
      return;
    }
    this.api
      .post<Objective>(`/api/objectives/${encodeURIComponent(o.id)}/${action}`, body)
      .then((updated) => {
        if (updated && typeof updated === "object" && "id" in updated) this.objectiveChanged(updated);
      })
      .catch((error: unknown) => toast(`${o.title}: ${errorText(error)}`));
  }

  private subscribe(name: string): void {
    this.api
      .post(`/api/missions/${encodeURIComponent(name)}/subscribe`, { uid: this.me.uid })
      .then(() => toast(`Subscribed to ${name}`))
      .catch((error: unknown) => toast(`Subscribe failed: ${errorText(error)}`));
  }

  private async designate(draft: ObjectiveDraft): Promise<void> {
    const name = this.open?.mission.name;
    if (name === undefined) return;
    try {
      const created = await this.api.post<Objective>(`/api/missions/${encodeURIComponent(name)}/objectives`, draft);
      if (created && typeof created === "object" && "id" in created) this.objectiveChanged(created);
      this.select(name);
    } catch (error) {
      toast(`Objective not designated: ${errorText(error)}`);
      throw error;
    }
  }
}
