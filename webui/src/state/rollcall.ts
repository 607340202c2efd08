// Roll calls as the page knows them: the server's JSON by id, updated by live messages, and the
// overdue alarms not yet acknowledged. A member's status is recomputed from the clock between
// server updates, so "overdue" shows the moment the deadline passes even if no message comes.

import type { RollCall, RollCallMember } from "../types";

export type MemberStatus = RollCallMember["status"];

export interface Alarm {
  id: string;
  code: string;
  overdue: string[];
}

export class RollCallStore {
  private readonly byId = new Map<string, RollCall>();
  private readonly alarms = new Map<string, Alarm>();
  private readonly acknowledged = new Set<string>();
  /** Bumped on every change, so a panel redraws only when something changed. */
  version = 0;

  /** Take the server's list whole; an open roll call with overdue members raises its alarm
   * unless it was acknowledged here (the page may have missed the alarm while reconnecting). */
  replaceAll(rollcalls: RollCall[]): void {
    this.byId.clear();
    for (const rollcall of rollcalls) {
      this.byId.set(rollcall.id, rollcall);
      const overdue = rollcall.members.filter((m) => m.status === "overdue");
      if (rollcall.state === "open" && overdue.length > 0 && !this.acknowledged.has(rollcall.id)) {
        this.alarms.set(rollcall.id, { id: rollcall.id, code: rollcall.code, overdue: overdue.map((m) => m.callsign ?? m.uid) });
      }
    }
    this.version++;
  }

  apply(rollcall: RollCall): void {
    this.byId.set(rollcall.id, rollcall);
    if (rollcall.state !== "open" || rollcall.complete) this.alarms.delete(rollcall.id);
    this.version++;
  }

  get(id: string): RollCall | undefined {
    return this.byId.get(id);
  }

  /** Newest first. */
  list(): RollCall[] {
    return [...this.byId.values()].sort((a, b) => b.started - a.started);
  }

  raise(alarm: Alarm): void {
    this.alarms.set(alarm.id, alarm);
    this.version++;
  }

  acknowledge(id: string): void {
    this.acknowledged.add(id);
    if (this.alarms.delete(id)) this.version++;
  }

  pendingAlarms(): Alarm[] {
    return [...this.alarms.values()];
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
