// The alert banner: one line per unacknowledged alert (an emergency a unit raised, or a lost
// unit whose last report went stale), with "Show" (select the unit, fly to it) and
// "Acknowledge". Acknowledging tells the server, which records it for this user and, for an
// emergency, tells the device in distress who saw it; the line then hides.

import type { Api } from "../api";
import type { AlertStore } from "../state/alerts";
import type { Alert } from "../types";
import { errorText, formatTime, h, replace, toast } from "./dom";

export class AlertBanner {
  readonly element: HTMLElement;
  private renderedVersion = -1;
  onShow: (alert: Alert) => void = () => undefined;
  onSilence: () => void = () => undefined;
  /** Called after each redraw with the pending alerts (the alarm follows them). */
  onPending: (pending: Alert[]) => void = () => undefined;

  constructor(
    private readonly store: AlertStore,
    private readonly api: Api,
  ) {
    this.element = h("div", { className: "alert-banner", id: "alert-banner", role: "alert", hidden: true });
  }

  render(): void {
    if (this.renderedVersion === this.store.version) return;
    this.renderedVersion = this.store.version;
    const pending = this.store.pending();
    this.element.hidden = pending.length === 0;
    this.element.classList.toggle("only-lost", pending.every((a) => a.lost === true));
    const emergencies = pending.some((a) => a.lost !== true);
    replace(
      this.element,
      ...pending.map((alert) =>
        h(
          "div",
          { className: alert.lost === true ? "alert lost" : "alert", "data-uid": alert.uid },
          h("strong", {}, alert.lost === true ? "LOST CONTACT" : `EMERGENCY ${alert.kind}`),
          h("span", { className: "what" }, describe(alert)),
          h("button", { className: "show", onclick: () => this.onShow(alert) }, "Show"),
          h("button", { className: "ack", onclick: () => this.acknowledge(alert.uid) }, "Acknowledge"),
        ),
      ),
      emergencies ? h("button", { className: "silence", id: "alarm-silence", onclick: () => this.onSilence() }, "Silence alarm") : null,
    );
    this.onPending(pending);
  }

  private acknowledge(uid: string): void {
    this.api
      .post(`/api/alerts/${encodeURIComponent(uid)}/ack`, {})
      .then(() => {
        this.store.acknowledge(uid);
        this.render();
      })
      .catch((error: unknown) => toast(`Acknowledge failed: ${errorText(error)}`));
  }
}

function describe(alert: Alert): string {
  const at = `${alert.lat.toFixed(5)}, ${alert.lon.toFixed(5)}`;
  if (alert.lost === true) return ` ${alert.callsign}: no report since ${formatTime(alert.time)}, last known at ${at} `;
  return ` ${alert.callsign} at ${at}, ${formatTime(alert.time)} `;
}
