// Contacts and messages for the state tests, with only the fields each test cares about set.
import type { ChatMessage, Contact, Objective } from "../src/types";

export function contact(uid: string, fields: Partial<Contact> = {}): Contact {
  return {
    uid,
    type: "a-f-G-U-C",
    how: "m-g",
    callsign: uid.toUpperCase(),
    lat: 48.1,
    lon: 11.5,
    hae: null,
    ce: null,
    course: null,
    speed: null,
    time: 1_000,
    stale: 60_000,
    team: "Cyan",
    role: "Team Member",
    battery: 80,
    remarks: null,
    affiliation: "f",
    sidc: "SFGPUC---------",
    provenance: null,
    ...fields,
  };
}

export function chat(id: string, fields: Partial<ChatMessage> = {}): ChatMessage {
  return {
    id,
    from_uid: "ANDROID-1",
    from_callsign: "ALPHA",
    to: "All Chat Rooms",
    room: "All Chat Rooms",
    text: `message ${id}`,
    time: 1_000,
    ...fields,
  };
}

export function objective(id: string, fields: Partial<Objective> = {}): Objective {
  return {
    id,
    mission: "op-north",
    title: `Objective ${id}`,
    description: "",
    priority: "normal",
    due: null,
    state: "designated",
    assignee: null,
    geometry: { type: "Point", coordinates: [11.5, 48.1] },
    history: [{ state: "designated", author: "cmd", time: 1_000 }],
    ...fields,
  };
}
