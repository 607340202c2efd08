// What the admin pages show, as plain data: the server's groups and devices, the order a
// person reads them in, and the bytes of a package the server answered in base64.

export interface AdminGroup {
  name: string;
  members: string[];
}

/** One row of ``/api/devices``: the device register joined with this node's connection. */
export interface AdminDevice {
  uid: string;
  callsign: string | null;
  team: string | null;
  groups: string[];
  connected: boolean;
  /** The cluster node it is connected to, when that is another one. */
  node: string | null;
  user: string | null;
  address: string | null;
  transport: string | null;
  connectedSince: number | null;
  lastSeen: number;
}

const MINUTE_MS = 60_000;
const HOUR_MIN = 60;

/** Connected devices first (by callsign), then the others by when they were last seen. */
export function devicesInOrder(devices: AdminDevice[]): AdminDevice[] {
  const name = (d: AdminDevice): string => d.callsign ?? d.uid;
  return [...devices].sort((a, b) =>
    a.connected !== b.connected ? (a.connected ? -1 : 1) : a.connected ? name(a).localeCompare(name(b)) : b.lastSeen - a.lastSeen,
  );
}

/** How long ago ``then`` was, in the words of a row: "just now", "12 min", "3 h 05 min". */
export function ago(then: number, now: number): string {
  const minutes = Math.max(0, Math.floor((now - then) / MINUTE_MS));
  if (minutes === 0) return "just now";
  if (minutes < HOUR_MIN) return `${minutes} min`;
  return `${Math.floor(minutes / HOUR_MIN)} h ${String(minutes % HOUR_MIN).padStart(2, "0")} min`;
}

/** The groups a user is not in yet, to offer in the "add to group" choice. */
export function groupsToAdd(groups: AdminGroup[], user: string): string[] {
  return groups.filter((g) => !g.members.includes(user)).map((g) => g.name);
}

/** Decode the base64 the server sends files in (a package, a keystore, a QR code). */
export function base64Bytes(text: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}
