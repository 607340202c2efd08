// The objective lifecycle as the command post sees it: which states exist, in what order, which
// moves a commander may make from each, and the objectives of each mission kept current from
// REST answers and live `objective` messages (whichever is newer wins).

import type { Objective } from "../types";

export const STATES = ["designated", "assigned", "acknowledged", "in_progress", "done", "cancelled"] as const;
export type ObjectiveState = (typeof STATES)[number];

/**
 * The moves the server accepts from each state (the missions service's state machine): starting
 * implies acknowledging, finishing needs an acknowledgement first.
 */
const TRANSITIONS: Record<ObjectiveState, readonly ObjectiveState[]> = {
  designated: ["assigned", "cancelled"],
  assigned: ["assigned", "acknowledged", "in_progress", "cancelled"],
  acknowledged: ["assigned", "in_progress", "done", "cancelled"],
  in_progress: ["assigned", "done", "cancelled"],
  done: [],
  cancelled: [],
};

const LABELS: Record<ObjectiveState, string> = {
  designated: "Designated",
  assigned: "Assigned",
  acknowledged: "Acknowledged",
  in_progress: "In progress",
  done: "Done",
  cancelled: "Cancelled",
};

const COLOURS: Record<ObjectiveState, string> = {
  designated: "#c0c0c0",
  assigned: "#ffb000",
  acknowledged: "#40a0ff",
  in_progress: "#a060ff",
  done: "#30c060",
  cancelled: "#707070",
};

export function isState(value: string): value is ObjectiveState {
  return (STATES as readonly string[]).includes(value);
}

/** Whether the lifecycle allows ``from`` → ``to``. */
export function canMove(from: string, to: string): boolean {
  return isState(from) && isState(to) && TRANSITIONS[from].includes(to);
}

/** Finished objectives take no further moves. */
export function isFinal(state: string): boolean {
  return state === "done" || state === "cancelled";
}

export interface StateView {
  state: string;
  label: string;
  colour: string;
  /** 0..4 along designated → done; -1 for cancelled or a state this page does not know. */
  step: number;
  final: boolean;
  /** Status changes a commander can make from here (assigning is a separate action). */
  actions: ObjectiveState[];
}

/** Everything the panel needs to show one objective's state. */
export function stateView(state: string): StateView {
  if (!isState(state)) {
    return { state, label: state, colour: "#707070", step: -1, final: false, actions: [] };
  }
  const order: ObjectiveState[] = ["designated", "assigned", "acknowledged", "in_progress", "done"];
  return {
    state,
    label: LABELS[state],
    colour: COLOURS[state],
    step: order.indexOf(state),
    final: isFinal(state),
    actions: TRANSITIONS[state].filter((s) => s !== "assigned"),
  };
}

/** The time of an objective's latest recorded transition (0 if it has none). */
function lastChange(objective: Objective): number {
  return objective.history.reduce((latest, entry) => Math.max(latest, entry.time), 0);
}

export class ObjectiveStore {
  private readonly objectives = new Map<string, Objective>();
  version = 0;

  /** Keep ``objective`` unless the one held has a longer or later history; true if kept. */
  upsert(objective: Objective): boolean {
    const held = this.objectives.get(objective.id);
    if (held !== undefined) {
      const older =
        held.history.length > objective.history.length ||
        (held.history.length === objective.history.length && lastChange(held) > lastChange(objective));
      if (older) return false;
    }
    this.objectives.set(objective.id, objective);
    this.version += 1;
    return true;
  }

  get(id: string): Objective | undefined {
    return this.objectives.get(id);
  }

  /** A mission's objectives: open ones first, then by title. */
  ofMission(mission: string): Objective[] {
    return [...this.objectives.values()]
      .filter((o) => o.mission === mission)
      .sort((a, b) => Number(isFinal(a.state)) - Number(isFinal(b.state)) || a.title.localeCompare(b.title));
  }

  all(): Objective[] {
    return [...this.objectives.values()];
  }
}
