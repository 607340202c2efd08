// The JSON the server sends (see the web contract): one definition per message shape, so the
// rest of the page never guesses at field names. Times are milliseconds since the epoch.

export interface FusionSource {
  name: string;
  kind: string | null;
  last_report: number | null;
}

export interface Contact {
  uid: string;
  type: string;
  how: string;
  callsign: string;
  lat: number;
  lon: number;
  hae: number | null;
  ce: number | null;
  course: number | null;
  speed: number | null;
  time: number;
  stale: number;
  team: string | null;
  role: string | null;
  battery: number | null;
  remarks: string | null;
  affiliation: string | null;
  sidc: string | null;
  provenance: { sources: FusionSource[] } | null;
  /** Set when the server lost contact with the unit: this is its last known position. */
  lost?: LostMark | null;
  /** Set for a marker or drawn shape: the map draws it as such, not as a unit symbol. */
  shape?: ContactShape | null;
}

/** How to draw a marker or shape (any sender's): coordinates are [lon, lat], colours CSS. */
export interface ContactShape {
  kind: "point" | "line" | "polygon" | "circle";
  coordinates: number[][];
  /** A circle's radius in metres. */
  radius: number | null;
  stroke: string;
  fill: string | null;
  /** The stroke as #rrggbb, for the edit form. */
  colour: string;
  weight: number | null;
  /** The sender asked for the label to be shown on the map. */
  labels: boolean;
}

export interface LostMark {
  /** When contact was lost. */
  since: number;
  /** "disconnected" (its connection closed) or "stale" (it stopped reporting). */
  reason: string;
}

export interface ChatMessage {
  id: string;
  from_uid: string;
  from_callsign: string;
  to: string;
  room: string;
  text: string;
  time: number;
}

export interface Alert {
  uid: string;
  callsign: string;
  kind: string;
  lat: number;
  lon: number;
  time: number;
  active: boolean;
  /** This user acknowledged it (on another page, or before this one loaded). */
  acknowledged?: boolean;
  /** The uid of the unit the alert is about (the device in distress, or the lost unit). */
  device?: string | null;
  /** A lost unit's last report went stale (not an emergency the unit raised). */
  lost?: boolean;
}

export interface ObjectiveHistoryEntry {
  state: string;
  author: string | null;
  time: number;
}

export interface Objective {
  id: string;
  /** The short form a TAK user types in a GeoChat answer (``OBJ-1A2B3C4D``). */
  shortId?: string;
  /** The mission's name. */
  mission: string;
  title: string;
  description: string;
  priority: string | number | null;
  due: number | null;
  state: string;
  assignee: string | null;
  geometry: GeoJSON.Point | GeoJSON.Polygon | null;
  history: ObjectiveHistoryEntry[];
  escalated?: boolean;
}

/** One entry of a mission's change log, as the web API shows it. */
export interface MissionChange {
  id?: number;
  type: string;
  author: string | null;
  /** The callsign of the author's device (or the author as recorded). */
  authorName?: string | null;
  time: number;
  summary: string;
}

export interface Mission {
  name: string;
  description?: string;
  groups?: string[];
  guid?: string;
  subscribed?: boolean;
  objectives?: Objective[];
  changes?: MissionChange[];
  [key: string]: unknown;
}

export interface Session {
  user: string;
  groups: string[];
  csrf: string;
}

/** The server's offline MBTiles, as ``/api/config`` describes it. */
export interface LocalTiles {
  url: string;
  kind: "raster" | "vector";
  minzoom: number;
  maxzoom: number;
  bounds: [number, number, number, number] | null;
}

export interface WebConfig {
  tiles: { url: string | null; local: LocalTiles | null; attribution: string | null };
  server: string;
  callsign: string;
  uid: string;
}

export interface PackageInfo {
  hash: string;
  name: string;
  size?: number;
  time?: number | string;
  [key: string]: unknown;
}

export type LiveMessage =
  | { type: "snapshot"; contacts: Contact[]; alerts: Alert[]; chat?: ChatMessage[] }
  | { type: "contact"; contact: Contact }
  | { type: "remove"; uid: string }
  | { type: "chat"; message: ChatMessage }
  | { type: "alert"; alert: Alert }
  | { type: "mission"; mission: Mission }
  | { type: "objective"; objective: Objective }
  | { type: "rollcall"; rollcall: RollCall }
  | { type: "rollcall-overdue"; id: string; code: string; overdue: string[] }
  | { type: "rollcall-no-position"; id: string; code: string; minutes: number; members: string[] }
  | { type: "pong" };

/** One device a roll call asks, with its status when the server last looked. */
export interface RollCallMember {
  uid: string;
  callsign: string | null;
  team: string | null;
  status: "answered" | "waiting" | "overdue";
  answered: number | null;
  answer: string | null;
  lastPosition: number | null;
  noPosition: boolean;
}

/** A personnel accountability roll call (``/api/rollcalls``). */
export interface RollCall {
  id: string;
  code: string;
  team: string | null;
  groups: string[];
  author: string;
  started: number;
  deadline: number;
  noPositionMinutes: number;
  state: "open" | "cancelled";
  ended: number | null;
  complete: boolean;
  counts: { answered: number; waiting: number; overdue: number; noPosition: number };
  members: RollCallMember[];
}

export interface ReplayPosition {
  uid: string;
  callsign: string;
  type: string;
  time: number;
  lat: number;
  lon: number;
}

export interface ReplayObjective {
  time: number;
  id: string;
  shortId: string;
  title: string;
  state: string;
  assignee: string | null;
  author: string | null;
  mission: string;
  lat: number;
  lon: number;
}

/** ``/api/replay``: what happened in a window, each list in time order. */
export interface ReplayWindow {
  start: number;
  end: number;
  truncated: boolean;
  positions: ReplayPosition[];
  chat: ChatMessage[];
  objectives: ReplayObjective[];
  alerts: Alert[];
  /** Roll call starts, check-ins, overdue alarms and cancellations. */
  rollcalls?: { time: number; id: string; code: string; text: string }[];
}
