// The command post once logged in: the map, the side panels (contacts, missions, chat,
// packages), the alert banner and the live feed that keeps them current. Live messages only
// update stores; one animation-frame loop redraws what changed, so a burst of reports costs
// one map update per flush interval, not one per report.

import type { Api } from "./api";
import { LiveFeed, type LiveState } from "./live";
import { DrawTools } from "./map/draw";
import { MapTools } from "./map/tools";
import { MapView } from "./map/view";
import { AlertStore } from "./state/alerts";
import { ChatStore } from "./state/chat";
import { ContactStore } from "./state/contacts";
import { ObjectiveStore } from "./state/objectives";
import { extendTrack } from "./state/track";
import { installTestHookIfAsked } from "./testhook";
import type { Alert, LiveMessage, Session, WebConfig } from "./types";
import { ADMIN_GROUP, AdminPanel } from "./ui/admin";
import { Alarm } from "./ui/alarm";
import { AlertBanner } from "./ui/alerts";
import { ChatPanel } from "./ui/chat";
import { ContactDetails, ContactList } from "./ui/contacts";
import { h, replace } from "./ui/dom";
import { MissionsPanel } from "./ui/missions";
import { PackagesPanel } from "./ui/packages";
import { ReconnectBanner } from "./ui/reconnect";
import { ReplayPanel } from "./ui/replay";
import { RollCallPanel } from "./ui/rollcall";

/**
 * The side list and details redraw at most this often (the map has its own interval), and
 * only while shown; a big picture's list redraws once a second. When due they redraw in the
 * frame the map draws its update in, so the page composites one changed frame, not two: with
 * software WebGL every changed frame costs a full-window composite. A quiet map does not hold
 * them back longer than PANEL_WAIT_MS past due.
 */
const PANEL_INTERVAL_MS = 250;
const BIG_PANEL_INTERVAL_MS = 1000;
const PANEL_WAIT_MS = 500;
const BIG_PICTURE = 200;
const SWEEP_INTERVAL_MS = 1000;
/** Where the side panel becomes a bottom sheet (keep in step with style.css). */
const PHONE_QUERY = "(max-width: 760px)";

type Tab = "contacts" | "missions" | "chat" | "packages" | "rollcall" | "replay" | "admin";

export class App {
  readonly contacts = new ContactStore();
  readonly alerts = new AlertStore();
  readonly objectives = new ObjectiveStore();
  readonly chat: ChatStore;
  readonly map: MapView;
  private readonly live: LiveFeed;
  private readonly list: ContactList;
  private readonly details: ContactDetails;
  private readonly banner: AlertBanner;
  private readonly reconnect = new ReconnectBanner();
  private readonly alarm = new Alarm();
  private readonly draw: DrawTools;
  /** The selected contact's track as drawn (history, then its live positions). */
  private track: GeoJSON.Feature | null = null;
  /** What the highlight rings were last drawn for (see drawHighlights). */
  private highlightKey = "";
  private readonly chatPanel: ChatPanel;
  private readonly missions: MissionsPanel;
  private readonly packages: PackagesPanel;
  private readonly rollcalls: RollCallPanel;
  private readonly replay: ReplayPanel;
  private readonly tabs = new Map<Tab, { button: HTMLButtonElement; panel: HTMLElement }>();
  private readonly liveState = h("span", { className: "live-state", id: "live-state" }, "connecting");
  private lastPanelRender = 0;
  private readonly layout: HTMLElement;
  private activeTab: Tab = "contacts";
  /** The first snapshot frames the map (see MapView.fitOnce). */
  private fitPending = false;

  constructor(
    root: HTMLElement,
    private readonly api: Api,
    readonly session: Session,
    readonly config: WebConfig,
  ) {
    const me = { uid: config.uid, callsign: config.callsign };
    this.chat = new ChatStore(me.uid);
    const mapElement = h("div", { className: "map", id: "map" });
    const side = h("aside", { className: "side" });
    this.banner = new AlertBanner(this.alerts, api);
    this.layout = h("main", { className: "layout" }, mapElement, side);
    if (window.matchMedia(PHONE_QUERY).matches) this.layout.classList.add("panel-collapsed");
    replace(
      root,
      this.header(side),
      this.reconnect.element,
      this.banner.element,
      this.layout,
      h("div", { className: "toast", id: "toast", role: "status" }),
    );
    this.map = new MapView(mapElement, config);
    const tools = new MapTools(this.map);
    this.draw = new DrawTools(this.map, api, (uid) => this.contacts.get(uid)?.contact);
    tools.panel.append(...this.draw.elements());
    this.list = new ContactList(this.contacts);
    this.details = new ContactDetails(this.contacts, api);
    this.chatPanel = new ChatPanel(this.chat, api, me);
    this.packages = new PackagesPanel(api);
    this.missions = new MissionsPanel(api, this.objectives, this.map, me, () => this.assignees());
    this.rollcalls = new RollCallPanel(api, () => this.teams());
    this.replay = new ReplayPanel(api, this.map);
    this.wire();
    this.addTab(side, "contacts", "Contacts", h("div", { className: "stack contacts-tab" }, this.details.element, this.list.element));
    this.addTab(side, "missions", "Missions", this.missions.element);
    this.addTab(side, "chat", "Chat", this.chatPanel.element);
    this.addTab(side, "packages", "Packages", this.packages.element);
    this.addTab(side, "rollcall", "Roll call", this.rollcalls.element);
    this.addTab(side, "replay", "Replay", this.replay.element);
    if (session.groups.includes(ADMIN_GROUP)) {
      const admin = new AdminPanel(api);
      this.addTab(side, "admin", "Admin", admin.element);
      admin.refresh();
    }
    this.show("contacts");
    this.live = new LiveFeed(
      (message) => this.receive(message),
      (state, detail) => this.showLiveState(state, detail),
      () => location.reload(),
    );
    const map = this.map;
    installTestHookIfAsked({
      renderedContactUids: () => map.renderedContactUids(),
      contactCount: () => this.contacts.size,
      project: (lon, lat) => map.project(lon, lat),
      mapReady: () => map.ready,
      basemapReady: () => map.basemapReady,
      objectiveState: (id) => this.objectives.get(id)?.state ?? null,
      onRender: (listener) => {
        map.map.on("render", listener);
        return () => void map.map.off("render", listener);
      },
      repaint: () => map.map.triggerRepaint(),
      alarm: () => this.alarm.state(),
      selected: () => this.details.selected,
      trackPoints: () => (this.track?.geometry.type === "LineString" ? this.track.geometry.coordinates.length : 0),
      renderedShapeUids: () => map.renderedShapeUids(),
    });
  }

  start(): void {
    this.live.start();
    this.missions.refresh();
    this.packages.refresh();
    window.setInterval(() => this.contacts.sweep(Date.now()), SWEEP_INTERVAL_MS);
    const frame = (): void => {
      this.redraw(Date.now());
      window.requestAnimationFrame(frame);
    };
    window.requestAnimationFrame(frame);
  }

  /** Apply one live message to the stores; drawing happens on the next frame. */
  receive(message: LiveMessage): void {
    const now = Date.now();
    switch (message.type) {
      case "snapshot":
        this.contacts.replaceAll(message.contacts, now);
        this.fitPending = true;
        this.alerts.replaceAll(message.alerts);
        this.chat.addHistory(message.chat ?? []);
        this.rollcalls.refresh(); // after a reconnect: what changed while the feed was down
        break;
      case "contact":
        this.contacts.upsert(message.contact, now);
        break;
      case "remove":
        this.contacts.remove(message.uid, now);
        this.draw.removed(message.uid);
        break;
      case "chat":
        this.chat.add(message.message);
        break;
      case "alert":
        this.alerts.apply(message.alert);
        break;
      case "objective":
        this.missions.objectiveChanged(message.objective);
        break;
      case "mission":
        this.missions.missionChanged(message.mission);
        break;
      case "rollcall":
      case "rollcall-overdue":
      case "rollcall-no-position":
        this.rollcalls.receive(message);
        break;
      default:
        break;
    }
  }

  private redraw(now: number): void {
    if (this.map.isReady && this.contacts.takeFlush(now)) {
      const entries = this.contacts.list();
      this.map.setContacts(entries);
      if (this.fitPending) this.map.fitOnce(entries);
      this.fitPending = false;
      this.followTrack();
    }
    this.banner.render();
    this.drawHighlights();
    this.chatPanel.render();
    this.renderPanels(now, PANEL_WAIT_MS);
  }

  /** The selected contact moved: its drawn track follows it. */
  private followTrack(): void {
    const selected = this.details.selected;
    const c = selected === null ? undefined : this.contacts.get(selected)?.contact;
    if (this.track === null || c === undefined) return;
    const extended = extendTrack(this.track, c.lon, c.lat);
    if (extended === this.track) return;
    this.track = extended;
    this.map.setTrack(extended);
  }

  /** Redraw the contacts tab if it is shown and its interval (plus ``grace``) has passed. */
  private renderPanels(now: number, grace: number): void {
    const interval = this.contacts.size > BIG_PICTURE ? BIG_PANEL_INTERVAL_MS : PANEL_INTERVAL_MS;
    if (this.activeTab !== "contacts" || now - this.lastPanelRender < interval + grace) return;
    this.lastPanelRender = now;
    this.list.render(now);
    this.details.render(now);
  }

  private wire(): void {
    this.map.onContactClick = (uid) => this.select(uid);
    this.map.coveredBelow = () => {
      if (!window.matchMedia(PHONE_QUERY).matches) return 0;
      return this.layout.querySelector("aside.side")?.getBoundingClientRect().height ?? 0;
    };
    this.map.onRender = () => this.renderPanels(Date.now(), 0);
    this.list.onSelect = (uid) => {
      this.select(uid);
      const entry = this.contacts.get(uid);
      if (entry !== undefined) this.map.flyTo(entry.contact.lon, entry.contact.lat);
    };
    this.list.onZoomTeam = (team) =>
      this.map.zoomTo(this.contacts.list().filter((e) => (e.contact.team ?? "No team") === team));
    this.details.onTrack = (track) => {
      this.track = track;
      this.map.setTrack(track);
    };
    this.details.onClose = () => {
      this.details.select(null);
      this.list.selected = null;
    };
    this.details.onMessage = (uid, callsign) => {
      this.chatPanel.openDirect(uid, callsign);
      this.show("chat");
    };
    this.banner.onShow = (alert) => this.showAlert(alert);
    this.banner.onSilence = () => this.alarm.silence();
    this.banner.onPending = (pending) => this.alarm.update(pending);
    this.alarm.onOpen = (alert) => this.showAlert(alert);
    this.missions.onObjectivesChanged = () => this.map.setObjectives(this.objectives.all());
    this.chatPanel.onUnread = (count) => {
      const button = this.tabs.get("chat")?.button;
      if (button !== undefined) button.dataset.unread = count > 0 ? String(count) : "";
    };
    this.api.onUnauthorised = () => location.reload();
    this.rollcalls.onAlarm = (active) => {
      const button = this.tabs.get("rollcall")?.button;
      if (button !== undefined) button.dataset.alarm = active ? "on" : "";
    };
  }

  private select(uid: string): void {
    this.details.select(uid);
    this.list.selected = uid;
    this.show("contacts", true);
  }

  /** "Show" on an alert: the unit it is about selected (and ringed), the map on it. */
  private showAlert(alert: Alert): void {
    const uid = alert.device ?? alert.uid;
    const entry = this.contacts.get(uid);
    if (entry !== undefined) {
      this.select(uid);
      this.map.flyTo(entry.contact.lon, entry.contact.lat);
    } else {
      this.map.flyTo(alert.lon, alert.lat);
    }
  }

  /**
   * Ring the selected contact and every unit in a pending emergency, where they are now;
   * redrawn only when one of them moved, or the selection or the alerts changed.
   */
  private drawHighlights(): void {
    const where = (uid: string | null | undefined): [number, number] | null => {
      const c = uid ? this.contacts.get(uid)?.contact : undefined;
      return c === undefined ? null : [c.lon, c.lat];
    };
    const selected = where(this.details.selected);
    const alerts = this.alerts.emergencies().map((a): [number, number] => where(a.device) ?? [a.lon, a.lat]);
    const key = JSON.stringify([selected, alerts]);
    if (key === this.highlightKey || !this.map.isReady) return;
    this.highlightKey = key;
    this.map.setHighlights(selected, alerts);
  }

  /** Teams and callsigns known from the picture, offered when assigning an objective. */
  private assignees(): string[] {
    const names = new Set<string>();
    for (const entry of this.contacts.list()) {
      if (entry.contact.team !== null) names.add(entry.contact.team);
      if (entry.contact.type.startsWith("a-f")) names.add(entry.contact.callsign);
    }
    return [...names].sort();
  }

  /** Teams seen in the picture, offered for a roll call. */
  private teams(): string[] {
    const teams = new Set<string>();
    for (const entry of this.contacts.list()) if (entry.contact.team !== null) teams.add(entry.contact.team);
    return [...teams].sort();
  }

  private header(side: HTMLElement): HTMLElement {
    const nav = h("nav", { className: "tabs" });
    side.appendChild(nav);
    return h(
      "header",
      { className: "top" },
      h("strong", {}, "Rallypoint"),
      h("span", { className: "muted server" }, ` command post · ${this.config.server}`),
      h("span", { className: "spacer" }),
      this.liveState,
      h("span", { className: "user", id: "user" }, `${this.session.user} (${this.session.groups.join(", ")})`),
      h("button", { id: "zoom-all", title: "Zoom to all units", onclick: () => this.map.zoomTo(this.contacts.list()) }, "Units"),
      h("button", { className: "panel-toggle", id: "panel-toggle", "aria-expanded": "true", onclick: () => this.togglePanel() }, "Panel"),
      h("button", { id: "logout", onclick: () => this.logout() }, "Log out"),
    );
  }

  private addTab(side: HTMLElement, tab: Tab, title: string, panel: HTMLElement): void {
    const button = h("button", { className: "tab", "data-tab": tab, onclick: () => this.show(tab, true) }, title);
    side.querySelector("nav")?.appendChild(button);
    panel.classList.add("tab-panel");
    side.appendChild(panel);
    this.tabs.set(tab, { button, panel });
  }

  /** Collapse or open the side panel (on a phone: the bottom sheet down to its tabs, or up). */
  private togglePanel(open = this.layout.classList.contains("panel-collapsed")): void {
    if (open !== this.layout.classList.contains("panel-collapsed")) return;
    this.layout.classList.toggle("panel-collapsed", !open);
    document.getElementById("panel-toggle")?.setAttribute("aria-expanded", String(open));
    this.map.map.resize();
  }

  private show(tab: Tab, reveal = false): void {
    if (reveal) this.togglePanel(true);
    this.activeTab = tab;
    this.lastPanelRender = 0;
    for (const [name, { button, panel }] of this.tabs) {
      button.classList.toggle("active", name === tab);
      panel.hidden = name !== tab;
    }
    if (tab === "chat") this.chatPanel.render(true);
  }

  private showLiveState(state: LiveState, detail: string): void {
    this.reconnect.update(state, detail);
    this.liveState.textContent = detail === "" ? state : `${state}: ${detail}`;
    this.liveState.dataset.state = state;
    this.liveState.title = this.liveState.textContent;
  }

  private logout(): void {
    this.live.stop();
    this.api.logout().finally(() => location.reload());
  }
}
