// GeoChat conversations as the page shows them: one room for All Chat Rooms and one per
// correspondent for direct messages, in time order, deduplicated by message id (a message the
// page sent may come back on the live feed), each bounded, with unread counts.

import type { ChatMessage } from "../types";

export const ALL_CHAT_ROOMS = "All Chat Rooms";
/** Messages kept per conversation; older ones are dropped first. */
export const MAX_MESSAGES_PER_ROOM = 500;

export interface Conversation {
  /** ``All Chat Rooms`` or the correspondent's uid. */
  key: string;
  title: string;
  messages: ChatMessage[];
  unread: number;
}

export class ChatStore {
  private readonly conversations = new Map<string, Conversation>();
  private readonly seen = new Set<string>();
  private readonly seenOrder: string[] = [];
  active: string = ALL_CHAT_ROOMS;
  version = 0;

  constructor(
    private readonly myUid: string,
    private readonly maxPerRoom = MAX_MESSAGES_PER_ROOM,
  ) {
    this.ensure(ALL_CHAT_ROOMS, ALL_CHAT_ROOMS);
  }

  /** The conversation a message belongs to: the room, or the other party of a direct message. */
  conversationKey(message: ChatMessage): string {
    if (message.to === ALL_CHAT_ROOMS || message.room === ALL_CHAT_ROOMS) return ALL_CHAT_ROOMS;
    return message.from_uid === this.myUid ? message.to : message.from_uid;
  }

  /** Add a message once (by id); true if it was new. */
  add(message: ChatMessage, correspondentName?: string): boolean {
    if (this.seen.has(message.id)) return false;
    this.remember(message.id);
    const key = this.conversationKey(message);
    const mine = message.from_uid === this.myUid;
    const title = mine ? (correspondentName ?? key) : message.from_callsign || key;
    const conversation = this.ensure(key, key === ALL_CHAT_ROOMS ? ALL_CHAT_ROOMS : title);
    const messages = conversation.messages;
    let at = messages.length;
    while (at > 0 && (messages[at - 1]?.time ?? 0) > message.time) at -= 1;
    messages.splice(at, 0, message);
    if (messages.length > this.maxPerRoom) messages.splice(0, messages.length - this.maxPerRoom);
    if (!mine && key !== this.active) conversation.unread += 1;
    this.version += 1;
    return true;
  }

  /** Add the recent chat a snapshot replays (after a reload or a reconnect): messages already
   *  shown are skipped, and none adds to a conversation's unread count (it is history). */
  addHistory(messages: readonly ChatMessage[]): void {
    for (const message of messages) {
      const before = this.conversations.get(this.conversationKey(message))?.unread ?? 0;
      if (!this.add(message)) continue;
      const conversation = this.conversations.get(this.conversationKey(message));
      if (conversation !== undefined) conversation.unread = before;
    }
  }

  /** Start (or reopen) a direct conversation with ``uid`` and make it the active one. */
  open(key: string, title: string): Conversation {
    const conversation = this.ensure(key, title);
    this.active = key;
    conversation.unread = 0;
    this.version += 1;
    return conversation;
  }

  get(key: string): Conversation | undefined {
    return this.conversations.get(key);
  }

  /** All Chat Rooms first, then direct conversations by latest message. */
  list(): Conversation[] {
    const latest = (c: Conversation): number => c.messages[c.messages.length - 1]?.time ?? 0;
    return [...this.conversations.values()].sort((a, b) => {
      if (a.key === ALL_CHAT_ROOMS) return -1;
      if (b.key === ALL_CHAT_ROOMS) return 1;
      return latest(b) - latest(a);
    });
  }

  totalUnread(): number {
    let total = 0;
    for (const c of this.conversations.values()) total += c.unread;
    return total;
  }

  private ensure(key: string, title: string): Conversation {
    let conversation = this.conversations.get(key);
    if (conversation === undefined) {
      conversation = { key, title, messages: [], unread: 0 };
      this.conversations.set(key, conversation);
    } else if (conversation.title === key && title !== key) {
      conversation.title = title;
    }
    return conversation;
  }

  /** Ids are remembered for deduplication within a bound, oldest forgotten first. */
  private remember(id: string): void {
    this.seen.add(id);
    this.seenOrder.push(id);
    const limit = this.maxPerRoom * 8;
    if (this.seenOrder.length > limit) {
      for (const old of this.seenOrder.splice(0, this.seenOrder.length - limit)) this.seen.delete(old);
    }
  }
}
