import { describe, expect, it } from "vitest";

import { type AdminDevice, ago, base64Bytes, devicesInOrder, groupsToAdd } from "../src/state/admin";

function device(uid: string, fields: Partial<AdminDevice> = {}): AdminDevice {
  return {
    uid,
    callsign: uid,
    team: "Cyan",
    groups: ["blue"],
    connected: true,
    node: null,
    user: null,
    address: "127.0.0.1:5000",
    transport: "tcp",
    connectedSince: 1_000,
    lastSeen: 2_000,
    ...fields,
  };
}

describe("admin pages", () => {
  it("lists connected devices first by callsign, then the others newest first", () => {
    const rows = devicesInOrder([
      device("OLD", { connected: false, lastSeen: 10 }),
      device("BRAVO"),
      device("RECENT", { connected: false, lastSeen: 20 }),
      device("ALPHA"),
    ]);
    expect(rows.map((d) => d.uid)).toEqual(["ALPHA", "BRAVO", "RECENT", "OLD"]);
  });

  it("says how long ago in minutes and hours", () => {
    expect(ago(0, 59_999)).toBe("just now");
    expect(ago(0, 12 * 60_000)).toBe("12 min");
    expect(ago(0, (3 * 60 + 5) * 60_000)).toBe("3 h 05 min");
    expect(ago(10_000, 0)).toBe("just now");
  });

  it("offers only the groups a user is not in", () => {
    const groups = [
      { name: "blue", members: ["alice"] },
      { name: "red", members: ["eve"] },
    ];
    expect(groupsToAdd(groups, "alice")).toEqual(["red"]);
    expect(groupsToAdd(groups, "bob")).toEqual(["blue", "red"]);
  });

  it("decodes base64 to bytes", () => {
    expect([...base64Bytes("UEsDBA==")]).toEqual([0x50, 0x4b, 0x03, 0x04]);
  });
});
