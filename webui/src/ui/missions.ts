// The missions panel: list, create and subscribe; the open mission's objectives (state,
// assignee, the moves a commander can make) kept live by `objective` messages; its change
// log; and designation of new objectives on the map.

import type { Api } from "../api";
import { itemAnchor } from "../map/missionitems";
import type { MapView } from "../map/view";
import { type ObjectiveStore, stateView } from "../state/objectives";
import type { Mission, MissionChange, MissionItem, Objective } from "../types";
import { Designator, type ObjectiveDraft } from "./designate";
import { errorText, formatTime, h, reconcile, replace, toast } from "./dom";

/** Change-log entries shown for the open mission (newest first). */
const MAX_LOG_ROWS = 200;
/** A burst of `mission` messages reloads the open mission once. */
const RELOAD_DEBOUNCE_MS = 300;

interface MissionDetail {
  mission: Mission;
  objectives: Objective[];
  changes: MissionChange[];
  /** Markers, routes and drawings units sent to the mission. */
  items: MissionItem[];
}

/** The detail answer, whether the mission is at the top level or under `mission`. */
export function readDetail(answer: Record<string, unknown>): MissionDetail {
  const mission = (typeof answer.mission === "object" && answer.mission !== null ? answer.mission : answer) as Mission;
  const pick = <T>(...values: unknown[]): T[] => (values.find((v) => Array.isArray(v)) as T[] | undefined) ?? [];
  return {
    mission,
    objectives: pick<Objective>(answer.objectives, mission.objectives),
    changes: pick<MissionChange>(answer.changes, answer.changeLog, mission.changes),
    items: pick<MissionItem>(answer.items),
  };
}

/** The open mission's parts, built once and updated in place (see renderDetail). */
interface DetailParts {
  shownMission: string | null;
  title: HTMLElement;
  description: HTMLElement;
  actions: HTMLElement;
  count: HTMLElement;
  list: HTMLElement;
  itemCount: HTMLElement;
  items: HTMLElement;
  log: HTMLElement;
  all: HTMLElement[];
}

function detailParts(designator: HTMLElement): DetailParts {
  const title = h("h2", {});
  const description = h("p", { className: "muted" });
  const actions = h("div", { className: "actions" });
  const count = h("h3", {});
  const list = h("ul", { className: "objectives", id: "objective-list" });
  const itemCount = h("h3", {});
  const items = h("ul", { className: "mission-items", id: "mission-items" });
  const log = h("ol", { className: "change-log", id: "change-log" });
  const all = [title, description, actions, designator, count, list, itemCount, items, h("h3", {}, "Change log"), log];
  return { shownMission: null, title, description, actions, count, list, itemCount, items, log, all };
}

export class MissionsPanel {
  readonly element: HTMLElement;
  private readonly list: HTMLElement;
  private readonly detail: HTMLElement;
  private readonly designator: Designator;
  private missions: Mission[] = [];
  private open: MissionDetail | null = null;
  private reloadTimer: number | undefined;
  private readonly parts: DetailParts;
  /** The drawn row of each objective of the open mission, with the objective it shows. */
  private rows = new Map<string, { key: string; element: HTMLElement }>();
  /** What the commander typed in an objective's assignee box and has not sent yet. */
  private readonly assigneeDrafts = new Map<string, string>();
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
    this.parts = detailParts(this.designator.element);
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

  /**
   * The missions list, and every objective the user may see: the objectives layer is the only
   * place the map draws them (their markers are not contacts), so it must not wait for the
   * commander to open each mission.
   */
  refresh(): void {
    this.api
      .get<Mission[] | { missions?: Mission[]; data?: Mission[] }>("/api/missions")
      .then((answer) => {
        this.missions = Array.isArray(answer) ? answer : (answer.missions ?? answer.data ?? []);
        this.renderList();
      })
      .catch((error: unknown) => toast(`Missions: ${errorText(error)}`));
    this.api
      .get<Objective[]>("/api/objectives")
      .then((objectives) => {
        let changed = false;
        for (const objective of objectives) changed = this.objectives.upsert(objective) || changed;
        if (changed) this.onObjectivesChanged();
      })
      .catch((error: unknown) => toast(`Objectives: ${errorText(error)}`));
  }

  select(name: string): void {
    this.api
      .get<Record<string, unknown>>(`/api/missions/${encodeURIComponent(name)}`)
      .then((answer) => {
        if (this.open !== null && this.open.mission.name !== name) this.designator.cancel();
        this.open = readDetail(answer);
        for (const objective of this.open.objectives) this.objectives.upsert(objective);
        this.onObjectivesChanged();
        this.map.setMissionItems(this.open.items);
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

  /**
   * Redraw the open mission in place. The detail's parts are built once and only their
   * contents change: the designation form is never detached, and an objective row is rebuilt
   * only when its objective changed, so a live update never takes the focus or the text out of
   * an input the commander is typing in.
   */
  private renderDetail(): void {
    if (this.open === null) {
      replace(this.detail);
      this.rows.clear();
      return;
    }
    const mission = this.open.mission;
    const objectives = this.objectives.ofMission(mission.name);
    const changes = [...this.open.changes].sort((a, b) => b.time - a.time).slice(0, MAX_LOG_ROWS);
    if (this.parts.shownMission !== mission.name) {
      this.parts.shownMission = mission.name;
      this.rows.clear();
      replace(
        this.parts.actions,
        h("button", { id: "mission-subscribe", onclick: () => this.subscribe(mission.name) }, "Subscribe"),
        h("button", { id: "designate-point", onclick: () => this.designator.startPoint() }, "Designate point"),
        h("button", { id: "designate-area", onclick: () => this.designator.startArea() }, "Draw area"),
      );
    }
    this.parts.title.textContent = mission.name;
    this.parts.description.textContent = mission.description ?? "";
    this.parts.description.hidden = !mission.description;
    this.parts.count.textContent = `Objectives (${objectives.length})`;
    reconcile(this.parts.list, this.objectiveRows(objectives));
    this.parts.itemCount.textContent = `Map items (${this.open.items.length})`;
    replace(this.parts.items, ...this.open.items.map((item) => this.itemRow(item)));
    replace(
      this.parts.log,
      ...changes.map((c) => h("li", {}, h("time", {}, formatTime(c.time)), ` ${c.authorName ?? c.author ?? ""}: ${c.summary || c.type}`)),
    );
    reconcile(this.detail, this.parts.all);
  }

  /** A row per objective, reusing the drawn row of every objective that has not changed. */
  private objectiveRows(objectives: Objective[]): HTMLElement[] {
    const kept = new Map<string, { key: string; element: HTMLElement }>();
    const rows = objectives.map((o) => {
      const key = JSON.stringify(o);
      let row = this.rows.get(o.id);
      if (row === undefined || row.key !== key) row = { key, element: this.objectiveRow(o) };
      kept.set(o.id, row);
      return row.element;
    });
    this.rows = kept;
    return rows;
  }

  private objectiveRow(o: Objective): HTMLElement {
    const view = stateView(o.state);
    const badge = h("span", { className: "state", "data-state": o.state }, view.label);
    badge.style.background = view.colour;
    const assignee = h("input", {
      className: "assignee",
      placeholder: "team or callsign",
      list: "assignee-options",
      value: this.assigneeDrafts.get(o.id) ?? o.assignee ?? "",
    });
    assignee.addEventListener("input", () => this.assigneeDrafts.set(o.id, assignee.value));
    const assign = h(
      "button",
      {
        className: "assign",
        disabled: view.final,
        onclick: () => {
          this.assigneeDrafts.delete(o.id);
          this.move(o, "assign", { assignee: assignee.value.trim() });
        },
      },
      "Assign",
    );
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

  private itemRow(item: MissionItem): HTMLElement {
    const at = itemAnchor(item);
    return h(
      "li",
      { className: "mission-item", "data-item": item.uid },
      h("strong", {}, item.callsign ?? item.uid),
      h("small", {}, ` ${item.type ?? ""} · ${formatTime(item.time)}`),
      at === null ? null : h("button", { className: "link", onclick: () => this.map.flyTo(at[0], at[1]) }, "Show on map"),
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
