import { describe, expect, it } from "vitest";

import { ALL_CHAT_ROOMS, ChatStore } from "../src/state/chat";
import { chat } from "./fixtures";

const ME = "web-alice";

describe("ChatStore", () => {
  it("puts room messages in All Chat Rooms and direct ones per correspondent", () => {
    const store = new ChatStore(ME);
    store.add(chat("1"));
    store.add(chat("2", { to: ME, room: "alice", from_uid: "ANDROID-1", from_callsign: "ALPHA" }));
    store.add(chat("3", { from_uid: ME, from_callsign: "alice", to: "ANDROID-1", room: "ALPHA" }), "ALPHA");
    expect(store.get(ALL_CHAT_ROOMS)?.messages.map((m) => m.id)).toEqual(["1"]);
    const direct = store.get("ANDROID-1");
    expect(direct?.title).toBe("ALPHA");
    expect(direct?.messages.map((m) => m.id)).toEqual(["2", "3"]);
  });

  it("adds a snapshot's history once, in order, without counting it unread", () => {
    const store = new ChatStore(ME);
    store.add(chat("2", { to: ME, room: "alice", from_uid: "ANDROID-2", from_callsign: "BRAVO", time: 2_000 }));
    store.addHistory([
      chat("1", { to: ME, room: "alice", from_uid: "ANDROID-2", from_callsign: "BRAVO", time: 1_000 }),
      chat("2", { to: ME, room: "alice", from_uid: "ANDROID-2", from_callsign: "BRAVO", time: 2_000 }),
      chat("r", { time: 500 }),
    ]);
    const direct = store.get("ANDROID-2");
    expect(direct?.messages.map((m) => m.id)).toEqual(["1", "2"]);
    expect(direct?.unread).toBe(1); // the live one before, not the history
    expect(store.get(ALL_CHAT_ROOMS)?.messages.map((m) => m.id)).toEqual(["r"]);
  });

  it("drops a message it has already seen (the echo of one it sent)", () => {
    const store = new ChatStore(ME);
    expect(store.add(chat("1"))).toBe(true);
    expect(store.add(chat("1"))).toBe(false);
    expect(store.get(ALL_CHAT_ROOMS)?.messages).toHaveLength(1);
  });

  it("keeps each conversation in time order and bounded", () => {
    const store = new ChatStore(ME, 3);
    store.add(chat("late", { time: 5_000 }));
    store.add(chat("early", { time: 1_000 }));
    store.add(chat("mid", { time: 3_000 }));
    expect(store.get(ALL_CHAT_ROOMS)?.messages.map((m) => m.id)).toEqual(["early", "mid", "late"]);
    store.add(chat("newest", { time: 9_000 }));
    expect(store.get(ALL_CHAT_ROOMS)?.messages.map((m) => m.id)).toEqual(["mid", "late", "newest"]);
  });

  it("counts unread messages outside the open conversation, not its own", () => {
    const store = new ChatStore(ME);
    store.add(chat("1")); // All Chat Rooms is open: read
    store.add(chat("2", { to: ME, room: "alice", from_uid: "ANDROID-2", from_callsign: "BRAVO" }));
    store.add(chat("3", { to: ME, room: "alice", from_uid: "ANDROID-2", from_callsign: "BRAVO" }));
    store.add(chat("4", { from_uid: ME, to: "ANDROID-3", room: "CHARLIE" }), "CHARLIE");
    expect(store.get("ANDROID-2")?.unread).toBe(2);
    expect(store.get("ANDROID-3")?.unread).toBe(0);
    expect(store.totalUnread()).toBe(2);
    store.open("ANDROID-2", "BRAVO");
    expect(store.totalUnread()).toBe(0);
    expect(store.active).toBe("ANDROID-2");
  });

  it("lists All Chat Rooms first, then conversations by latest message", () => {
    const store = new ChatStore(ME);
    store.add(chat("1", { to: ME, room: "alice", from_uid: "A", from_callsign: "A", time: 1_000 }));
    store.add(chat("2", { to: ME, room: "alice", from_uid: "B", from_callsign: "B", time: 2_000 }));
    store.open("C", "CHARLIE");
    expect(store.list().map((c) => c.key)).toEqual([ALL_CHAT_ROOMS, "B", "A", "C"]);
  });
});
