// The roll call (PAR) panel: start a roll call for a team or the whole incident, follow who
// answered, who is overdue and who has sent no position lately, and hear the alarm when the
// deadline passes with devices unaccounted for or a member goes N minutes without a position.
// The server sends every change on the live feed; the panel also redraws each second so the
// countdown and the overdue column move on their own.

import type { Api } from "../api";
import { membersInOrder, RollCallStore, statusAt, summary } from "../state/rollcall";
import type { LiveMessage, RollCall } from "../types";
import { errorText, formatTime, h, replace, toast } from "./dom";
import "./rollcall.css";

const REDRAW_MS = 1000;
const ALARM_TONE_HZ = 880;
const ALARM_TONE_S = 0.6;
const MINUTE_MS = 60_000;
/** The shortest deadline the form offers (the server takes 10 s and more): a quarter minute. */
const DEADLINE_STEP_MIN = "0.25";

type RollCallLive = Extract<LiveMessage, { type: "rollcall" } | { type: "rollcall-overdue" } | { type: "rollcall-no-position" }>;

export class RollCallPanel {
  readonly element: HTMLElement;
  readonly store = new RollCallStore();
  /** Told when an alarm is raised or cleared (the tab shows it while another tab is open). */
  onAlarm: (active: boolean) => void = () => undefined;
  private readonly alarm = h("div", { className: "rollcall-alarm", id: "rollcall-alarm", role: "alert", hidden: true });
  private readonly team = h("select", { name: "team", id: "rollcall-team" });
  private readonly deadline = h("input", { type: "number", name: "deadline", min: DEADLINE_STEP_MIN, step: DEADLINE_STEP_MIN, max: "1440", value: "5" });
  private readonly noPosition = h("input", { type: "number", name: "noPosition", min: "1", max: "1440", value: "10" });
  private readonly list = h("ul", { className: "rollcall-list", id: "rollcall-list" });
  private readonly detail = h("div", { className: "rollcall-detail", id: "rollcall-detail" });
  private selected: string | null = null;
  private shownTeams = "";
  private renderedVersion = -1;
  private audio: AudioContext | null = null;

  constructor(
    private readonly api: Api,
    private readonly teams: () => string[],
  ) {
    const form = h(
      "form",
      { className: "rollcall-form", id: "rollcall-form" },
      h("label", {}, "Who ", this.team),
      h("label", {}, "Answer within (min) ", this.deadline),
      h("label", {}, "No position after (min) ", this.noPosition),
      h("button", { type: "submit", id: "rollcall-start" }, "Start roll call"),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.start();
    });
    this.element = h("section", { className: "panel rollcall-panel", id: "rollcall-panel" }, this.alarm, form, this.list, this.detail);
    window.setInterval(() => this.render(true), REDRAW_MS);
  }

  refresh(): void {
    this.api
      .get<RollCall[]>("/api/rollcalls")
      .then((rollcalls) => {
        this.store.replaceAll(rollcalls);
        this.render();
      })
      .catch((error: unknown) => toast(`Roll calls: ${errorText(error)}`));
  }

  receive(message: RollCallLive): void {
    if (message.type === "rollcall") {
      this.store.apply(message.rollcall);
    } else {
      if (message.type === "rollcall-overdue") this.store.raise({ id: message.id, code: message.code, kind: "overdue", names: message.overdue });
      else this.store.raise({ id: message.id, code: message.code, kind: "no-position", names: message.members, minutes: message.minutes });
      this.selected = message.id;
      this.sound();
    }
    this.render();
  }

  render(tick = false): void {
    if (!tick && this.renderedVersion === this.store.version) return;
    this.fillTeams();
    this.renderedVersion = this.store.version;
    const now = Date.now();
    this.renderAlarm();
    const rollcalls = this.store.list();
    if (this.selected === null && rollcalls[0] !== undefined) this.selected = rollcalls[0].id;
    replace(
      this.list,
      ...rollcalls.map((r) =>
        h(
          "li",
          { "data-id": r.id, className: r.id === this.selected ? "selected" : "" },
          h("button", { className: "link", onclick: () => this.select(r.id) }, r.code),
          ` ${r.team ?? "all units"} · ${r.state === "open" ? summary(r, now) : r.state}`,
        ),
      ),
    );
    const shown = this.selected === null ? undefined : this.store.get(this.selected);
    if (shown === undefined) replace(this.detail, h("p", { className: "muted" }, "No roll call yet"));
    else this.renderDetail(shown, now);
  }

  private renderAlarm(): void {
    const alarms = this.store.pendingAlarms();
    this.alarm.hidden = alarms.length === 0;
    this.onAlarm(alarms.length > 0);
    replace(
      this.alarm,
      ...alarms.map((a) =>
        h(
          "div",
          { "data-id": a.id, "data-kind": a.kind },
          h("strong", {}, a.kind === "overdue" ? `OVERDUE ${a.code}: ` : `NO POSITION FOR ${a.minutes ?? "?"} MIN ${a.code}: `),
          `${a.names.join(", ")} `,
          h("button", { onclick: () => this.store.acknowledge(a) }, "Acknowledge"),
        ),
      ),
    );
  }

  private renderDetail(rollcall: RollCall, now: number): void {
    const left = rollcall.deadline - now;
    const due = rollcall.state !== "open" ? rollcall.state : left > 0 ? `due in ${Math.ceil(left / 1000)} s` : "deadline passed";
    const rows = membersInOrder(rollcall, now).map((member) => {
      const status = statusAt(rollcall, member, now);
      const position =
        member.lastPosition === null ? "never" : `${Math.floor((now - member.lastPosition) / MINUTE_MS)} min ago`;
      return h(
        "tr",
        { "data-uid": member.uid, "data-status": status, "data-no-position": member.noPosition },
        h("td", {}, member.callsign ?? member.uid),
        h("td", {}, member.team ?? ""),
        h("td", { className: `status ${status}` }, status),
        h("td", {}, member.answered === null ? "" : formatTime(member.answered)),
        h("td", { className: member.noPosition ? "no-position" : "" }, member.noPosition ? `no position (${position})` : position),
        h(
          "td",
          {},
          rollcall.state === "open" &&
            member.answered === null &&
            h("button", { className: "link rollcall-account", title: "Seen in person or checked in by radio", onclick: () => this.account(rollcall.id, member.uid) }, "Accounted"),
        ),
      );
    });
    replace(
      this.detail,
      h(
        "div",
        { className: "rollcall-head" },
        h("strong", { id: "rollcall-code" }, rollcall.code),
        ` ${rollcall.team ?? "all units"} · started ${formatTime(rollcall.started)} by ${rollcall.author} · ${due} · `,
        h("span", { id: "rollcall-summary" }, summary(rollcall, now)),
        rollcall.state === "open" &&
          h("button", { id: "rollcall-cancel", onclick: () => this.cancel(rollcall.id) }, "Cancel"),
      ),
      h(
        "table",
        { className: "rollcall-table", id: "rollcall-table" },
        h("thead", {}, h("tr", {}, ...["Unit", "Team", "Status", "Answered", "Position", ""].map((t) => h("th", {}, t)))),
        h("tbody", {}, ...rows),
      ),
    );
  }

  private select(id: string): void {
    this.selected = id;
    this.render(true);
  }

  /** The teams of the picture as options, redrawn only when they changed (a choice stays made). */
  private fillTeams(): void {
    const teams = this.teams();
    if (teams.join("\n") === this.shownTeams) return;
    this.shownTeams = teams.join("\n");
    const current = this.team.value;
    replace(
      this.team,
      h("option", { value: "" }, "Whole incident"),
      ...teams.map((team) => h("option", { value: team }, `Team ${team}`)),
    );
    this.team.value = current;
  }

  private start(): void {
    const body: Record<string, unknown> = {
      deadlineSeconds: Math.round(Number(this.deadline.value) * 60),
      noPositionMinutes: Math.round(Number(this.noPosition.value)),
    };
    if (this.team.value !== "") body.team = this.team.value;
    this.api
      .post<RollCall>("/api/rollcalls", body)
      .then((rollcall) => {
        this.store.apply(rollcall);
        this.selected = rollcall.id;
        this.render();
        toast(`Roll call ${rollcall.code} sent to ${rollcall.members.length} devices`);
      })
      .catch((error: unknown) => toast(`Roll call refused: ${errorText(error)}`));
  }

  private account(id: string, uid: string): void {
    this.api
      .post<RollCall>(`/api/rollcalls/${encodeURIComponent(id)}/members/${encodeURIComponent(uid)}/account`, {})
      .then((rollcall) => {
        this.store.apply(rollcall);
        this.render();
      })
      .catch((error: unknown) => toast(`Not recorded: ${errorText(error)}`));
  }

  private cancel(id: string): void {
    this.api
      .post<RollCall>(`/api/rollcalls/${encodeURIComponent(id)}/cancel`, {})
      .then((rollcall) => {
        this.store.apply(rollcall);
        this.render();
      })
      .catch((error: unknown) => toast(`Cancel failed: ${errorText(error)}`));
  }

  /** A short tone: the commander may be looking at the map, not this panel. */
  private sound(): void {
    try {
      this.audio ??= new AudioContext();
      const oscillator = this.audio.createOscillator();
      oscillator.frequency.value = ALARM_TONE_HZ;
      oscillator.connect(this.audio.destination);
      oscillator.start();
      oscillator.stop(this.audio.currentTime + ALARM_TONE_S);
    } catch {
      // no audio output (or not allowed before a click): the banner and the tab still show it
    }
  }
}
