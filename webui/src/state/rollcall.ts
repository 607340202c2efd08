// Roll calls as the page knows them: the server's JSON by id, updated by live messages, and the
// alarms not yet acknowledged: "overdue" (the deadline passed with members unaccounted for) and
// "no position" (members whose last position is older than the roll call's N minutes). A
// member's status is recomputed from the clock between server updates, so "overdue" shows the
// moment the deadline passes even if no message comes.

import type { RollCall, RollCallMember } from "../types";

export type MemberStatus = RollCallMember["status"];
export type AlarmKind = "overdue" | "no-position";

export interface Alarm {
  id: string;
  code: string;
  kind: AlarmKind;
  /** Who the alarm is about (callsigns, else uids). */
  names: string[];
  /** For "no-position": the roll call's N minutes. */
  minutes?: number;
}

const nameOf = (member: RollCallMember): string => member.callsign ?? member.uid;
const keyOf = (kind: AlarmKind, id: string): string => `${kind}:${id}`;

export class RollCallStore {
  private readonly byId = new Map<string, RollCall>();
  private readonly alarms = new Map<string, Alarm>();
  /** Per alarm key, the names acknowledged (a member newly without position alarms again). */
  private readonly acknowledged = new Map<string, Set<string>>();
  /** Bumped on every change, so a panel redraws only when something changed. */
  version = 0;

  /** Take the server's list whole; an open roll call with overdue members, or members without
   * a position, raises its alarm unless it was acknowledged here (the page may have missed the
   * alarm while reconnecting). */
  replaceAll(rollcalls: RollCall[]): void {
    this.byId.clear();
    for (const rollcall of rollcalls) {
      this.byId.set(rollcall.id, rollcall);
      if (rollcall.state !== "open") continue;
      const overdue = rollcall.members.filter((m) => m.status === "overdue").map(nameOf);
      this.raiseUnacknowledged({ id: rollcall.id, code: rollcall.code, kind: "overdue", names: overdue });
      const lost = rollcall.members.filter((m) => m.noPosition).map(nameOf);
      this.raiseUnacknowledged({ id: rollcall.id, code: rollcall.code, kind: "no-position", names: lost, minutes: rollcall.noPositionMinutes });
    }
    this.version++;
  }

  apply(rollcall: RollCall): void {
    this.byId.set(rollcall.id, rollcall);
    if (rollcall.state !== "open" || rollcall.complete) this.alarms.delete(keyOf("overdue", rollcall.id));
    const lost = this.alarms.get(keyOf("no-position", rollcall.id));
    if (lost !== undefined) {
      const still = new Set(rollcall.members.filter((m) => m.noPosition).map(nameOf));
      lost.names = rollcall.state === "open" ? lost.names.filter((name) => still.has(name)) : [];
      if (lost.names.length === 0) this.alarms.delete(keyOf("no-position", rollcall.id));
    }
    this.version++;
  }

  get(id: string): RollCall | undefined {
    return this.byId.get(id);
  }

  /** Newest first. */
  list(): RollCall[] {
    return [...this.byId.values()].sort((a, b) => b.started - a.started);
  }

  /** An alarm from the server: shown even if an earlier one of the roll call was acknowledged;
   * a no-position alarm adds its members to the one still showing. */
  raise(alarm: Alarm): void {
    const key = keyOf(alarm.kind, alarm.id);
    const shown = this.alarms.get(key);
    const names = alarm.kind === "no-position" && shown !== undefined ? [...new Set([...shown.names, ...alarm.names])] : alarm.names;
    this.alarms.set(key, { ...alarm, names });
    const acknowledged = this.acknowledged.get(key);
    for (const name of alarm.names) acknowledged?.delete(name);
    this.version++;
  }

  acknowledge(alarm: Alarm): void {
    const key = keyOf(alarm.kind, alarm.id);
    const seen = this.acknowledged.get(key) ?? new Set<string>();
    for (const name of alarm.names) seen.add(name);
    this.acknowledged.set(key, seen);
    if (this.alarms.delete(key)) this.version++;
  }

  pendingAlarms(): Alarm[] {
    return [...this.alarms.values()];
  }

  private raiseUnacknowledged(alarm: Alarm): void {
    const seen = this.acknowledged.get(keyOf(alarm.kind, alarm.id));
    const names = alarm.names.filter((name) => !seen?.has(name));
    if (names.length > 0) this.alarms.set(keyOf(alarm.kind, alarm.id), { ...alarm, names });
  }
}

/** The member's status at ``now``: a waiting member is overdue once the deadline has passed. */
export function statusAt(rollcall: RollCall, member: RollCallMember, now: number): MemberStatus {
  if (member.answered !== null) return "answered";
  return rollcall.state === "open" && now >= rollcall.deadline ? "overdue" : member.status;
}

/** Members in the order a commander reads them: overdue, then waiting, then answered; by name. */
export function membersInOrder(rollcall: RollCall, now: number): RollCallMember[] {
  const rank: Record<MemberStatus, number> = { overdue: 0, waiting: 1, answered: 2 };
  return [...rollcall.members].sort(
    (a, b) =>
      rank[statusAt(rollcall, a, now)] - rank[statusAt(rollcall, b, now)] ||
      (a.callsign ?? a.uid).localeCompare(b.callsign ?? b.uid),
  );
}

/** "3/5 answered, 1 overdue, 2 without position". */
export function summary(rollcall: RollCall, now: number): string {
  const counts = { answered: 0, waiting: 0, overdue: 0 };
  let lost = 0;
  for (const member of rollcall.members) {
    counts[statusAt(rollcall, member, now)]++;
    if (member.noPosition) lost++;
  }
  const parts = [`${counts.answered}/${rollcall.members.length} answered`];
  if (counts.overdue > 0) parts.push(`${counts.overdue} overdue`);
  if (lost > 0) parts.push(`${lost} without position`);
  return parts.join(", ");
}
