// The command post once logged in: the map, the side panels (contacts, missions, chat,
// packages), the alert banner and the live feed that keeps them current. Live messages only
// update stores; one animation-frame loop redraws what changed, so a burst of reports costs
// one map update per flush interval, not one per report.

import type { Api } from "./api";
import { LiveFeed, type LiveState } from "./live";
import { MapView } from "./map/view";
import { AlertStore } from "./state/alerts";
import { ChatStore } from "./state/chat";
import { ContactStore } from "./state/contacts";
import { ObjectiveStore } from "./state/objectives";
import { installTestHookIfAsked } from "./testhook";
import type { LiveMessage, Session, WebConfig } from "./types";
import { AlertBanner } from "./ui/alerts";
import { ChatPanel } from "./ui/chat";
import { ContactDetails, ContactList } from "./ui/contacts";
import { h, replace } from "./ui/dom";
import { MissionsPanel } from "./ui/missions";
import { PackagesPanel } from "./ui/packages";
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

type Tab = "contacts" | "missions" | "chat" | "packages" | "rollcall" | "replay";

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
  private readonly chatPanel: ChatPanel;
  private readonly missions: MissionsPanel;
  private readonly packages: PackagesPanel;
  private readonly rollcalls: RollCallPanel;
  private readonly replay: ReplayPanel;
  private readonly tabs = new Map<Tab, { button: HTMLButtonElement; panel: HTMLElement }>();
  private readonly liveState = h("span", { className: "live-state", id: "live-state" }, "connecting");
  private lastPanelRender = 0;
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
    replace(
      root,
      this.header(side),
      this.banner.element,
      h("main", { className: "layout" }, mapElement, side),
      h("div", { className: "toast", id: "toast", role: "status" }),
    );
    this.map = new MapView(mapElement, config);
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
        this.rollcalls.refresh(); // after a reconnect: what changed while the feed was down
        break;
      case "contact":
        this.contacts.upsert(message.contact, now);
        break;
      case "remove":
        this.contacts.remove(message.uid, now);
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
    }
    this.banner.render();
    this.chatPanel.render();
    this.renderPanels(now, PANEL_WAIT_MS);
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
    this.map.onRender = () => this.renderPanels(Date.now(), 0);
    this.list.onSelect = (uid) => {
      this.select(uid);
      const entry = this.contacts.get(uid);
      if (entry !== undefined) this.map.flyTo(entry.contact.lon, entry.contact.lat);
    };
    this.details.onTrack = (track) => this.map.setTrack(track);
    this.details.onClose = () => this.details.select(null);
    this.details.onMessage = (uid, callsign) => {
      this.chatPanel.openDirect(uid, callsign);
      this.show("chat");
    };
    this.banner.onShow = (lon, lat) => this.map.flyTo(lon, lat);
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
    this.show("contacts");
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
      h("span", { className: "muted" }, ` command post · ${this.config.server}`),
      h("span", { className: "spacer" }),
      this.liveState,
      h("span", { className: "user", id: "user" }, `${this.session.user} (${this.session.groups.join(", ")})`),
      h("button", { id: "logout", onclick: () => this.logout() }, "Log out"),
    );
  }

  private addTab(side: HTMLElement, tab: Tab, title: string, panel: HTMLElement): void {
    const button = h("button", { className: "tab", "data-tab": tab, onclick: () => this.show(tab) }, title);
    side.querySelector("nav")?.appendChild(button);
    panel.classList.add("tab-panel");
    side.appendChild(panel);
    this.tabs.set(tab, { button, panel });
  }

  private show(tab: Tab): void {
    this.activeTab = tab;
    this.lastPanelRender = 0;
    for (const [name, { button, panel }] of this.tabs) {
      button.classList.toggle("active", name === tab);
      panel.hidden = name !== tab;
    }
    if (tab === "chat") this.chatPanel.render(true);
  }

  private showLiveState(state: LiveState, detail: string): void {
    this.liveState.textContent = detail === "" ? state : `${state}: ${detail}`;
    this.liveState.dataset.state = state;
  }

  private logout(): void {
    this.live.stop();
    this.api.logout().finally(() => location.reload());
  }
}
