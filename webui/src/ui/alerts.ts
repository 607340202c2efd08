// The emergency banner: one line per unacknowledged alert, with "Show" and "Acknowledge".
// Acknowledging tells the server (so it is recorded for this user) and hides the line.

import type { Api } from "../api";
import type { AlertStore } from "../state/alerts";
import { errorText, formatTime, h, replace, toast } from "./dom";

export class AlertBanner {
  readonly element: HTMLElement;
  private renderedVersion = -1;
  onShow: (lon: number, lat: number) => void = () => undefined;

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
    replace(
      this.element,
      ...pending.map((alert) =>
        h(
          "div",
          { className: "alert", "data-uid": alert.uid },
          h("strong", {}, `EMERGENCY ${alert.kind}`),
          ` ${alert.callsign} at ${alert.lat.toFixed(4)}, ${alert.lon.toFixed(4)}, ${formatTime(alert.time)} `,
          h("button", { onclick: () => this.onShow(alert.lon, alert.lat) }, "Show"),
          h("button", { className: "ack", onclick: () => this.acknowledge(alert.uid) }, "Acknowledge"),
        ),
      ),
    );
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
