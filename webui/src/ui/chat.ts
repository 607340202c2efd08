// The chat panel: All Chat Rooms and direct conversations with TAK users, both directions.
// Sent messages go through POST /api/chat and are shown at once (the live feed's copy, if the
// server echoes it, is dropped by id).

import type { Api } from "../api";
import { ALL_CHAT_ROOMS, type ChatStore } from "../state/chat";
import { errorText, formatTime, h, replace, toast } from "./dom";

/** GeoChat text longer than this is refused by the page before sending. */
const MAX_TEXT = 4000;

export class ChatPanel {
  readonly element: HTMLElement;
  private readonly tabs: HTMLElement;
  private readonly log: HTMLElement;
  private readonly input: HTMLInputElement;
  private renderedVersion = -1;
  onUnread: (count: number) => void = () => undefined;

  constructor(
    private readonly store: ChatStore,
    private readonly api: Api,
    private readonly me: { uid: string; callsign: string },
  ) {
    this.tabs = h("div", { className: "chat-tabs" });
    this.log = h("ol", { className: "chat-log", id: "chat-log" });
    this.input = h("input", { id: "chat-input", placeholder: "Message", maxlength: MAX_TEXT, autocomplete: "off" });
    const form = h("form", { className: "chat-form", id: "chat-form" }, this.input, h("button", { type: "submit" }, "Send"));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.send();
    });
    this.element = h("section", { className: "panel chat-panel" }, this.tabs, this.log, form);
  }

  /** Open the direct conversation with ``uid`` (from a contact's details). */
  openDirect(uid: string, callsign: string): void {
    this.store.open(uid, callsign);
    this.render(true);
    this.input.focus();
  }

  render(force = false): void {
    if (!force && this.renderedVersion === this.store.version) return;
    const active = this.store.get(this.store.active);
    if (active !== undefined && active.unread > 0) active.unread = 0;
    this.renderedVersion = this.store.version;
    replace(
      this.tabs,
      ...this.store.list().map((c) =>
        h(
          "button",
          {
            className: c.key === this.store.active ? "tab active" : "tab",
            "data-room": c.key,
            onclick: () => {
              this.store.open(c.key, c.title);
              this.render(true);
            },
          },
          c.title,
          c.unread > 0 ? h("span", { className: "badge" }, String(c.unread)) : null,
        ),
      ),
    );
    const messages = active?.messages ?? [];
    replace(
      this.log,
      ...messages.map((m) =>
        h(
          "li",
          { className: m.from_uid === this.me.uid ? "mine" : "theirs" },
          h("span", { className: "who" }, m.from_callsign),
          h("time", {}, formatTime(m.time)),
          h("p", {}, m.text),
        ),
      ),
    );
    this.log.scrollTop = this.log.scrollHeight;
    this.onUnread(this.store.totalUnread());
  }

  private send(): void {
    const text = this.input.value.trim();
    if (text === "") return;
    const to = this.store.active;
    const title = this.store.get(to)?.title ?? to;
    this.input.value = "";
    this.api
      .post<{ id: string }>("/api/chat", { to, text })
      .then((answer) => {
        this.store.add(
          {
            id: answer.id,
            from_uid: this.me.uid,
            from_callsign: this.me.callsign,
            to,
            room: to === ALL_CHAT_ROOMS ? ALL_CHAT_ROOMS : title,
            text,
            time: Date.now(),
          },
          title,
        );
        this.render();
      })
      .catch((error: unknown) => {
        this.input.value = text;
        toast(`Message not sent: ${errorText(error)}`);
      });
  }
}
