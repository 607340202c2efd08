// The "reconnecting…" banner: shown as soon as the live feed drops after having been open (a
// server restart, a lost link), gone the moment it is back. Sessions outlive a server restart,
// so the page carries on without a login form; this banner is the one visible sign.

import type { LiveState } from "../live";
import { h } from "./dom";
import "./reconnect.css";

export class ReconnectBanner {
  readonly element = h("div", { className: "reconnect-banner", id: "reconnect-banner", role: "status" });
  private wasOpen = false;

  constructor() {
    this.element.hidden = true;
  }

  /** Follow the live feed's state; `detail` says when the next attempt is. */
  update(state: LiveState, detail: string): void {
    if (state === "open") {
      this.wasOpen = true;
      this.element.hidden = true;
      return;
    }
    if (!this.wasOpen) return; // the first connection: the header pill says "connecting"
    this.element.textContent = "Live feed lost: reconnecting…";
    this.element.title = detail;
    this.element.hidden = false;
  }
}
