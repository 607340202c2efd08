// The devices section of the admin tab: every device the server knows, connected ones first,
// with its user, groups, address, when it connected and was last heard from, and a button to
// disconnect one (it usually reconnects: revoke its user's certificates to keep it out).

import type { Api } from "../api";
import { type AdminDevice, ago, devicesInOrder } from "../state/admin";
import { errorText, formatTime, h, replace, toast } from "./dom";

export class DevicesSection {
  readonly element: HTMLElement;
  private readonly list = h("ul", { className: "admin-devices", id: "admin-devices" });

  constructor(private readonly api: Api) {
    this.element = h(
      "section",
      { className: "admin-section", id: "admin-devices-section" },
      h("h3", {}, "Devices ", h("button", { className: "link", id: "admin-devices-refresh", onclick: () => this.refresh() }, "Refresh")),
      this.list,
    );
  }

  refresh(): void {
    this.api
      .get<AdminDevice[]>("/api/devices")
      .then((devices) => this.render(devices))
      .catch((error: unknown) => toast(`Devices: ${errorText(error)}`));
  }

  /** One row per device, two lines each: who it is, then where and since when (a side panel
   * and a phone have no room for eight columns). */
  private render(devices: AdminDevice[]): void {
    const now = Date.now();
    replace(
      this.list,
      ...devicesInOrder(devices).map((d) => {
        const where = d.node !== null ? `on node ${d.node}` : (d.address ?? "");
        const since = d.connectedSince === null ? "" : `connected ${formatTime(d.connectedSince)}`;
        const seen = d.connected ? `last seen ${ago(d.lastSeen, now)}` : `gone since ${formatTime(d.lastSeen)}`;
        return h(
          "li",
          { "data-uid": d.uid, "data-connected": String(d.connected), className: d.connected ? "" : "departed" },
          h("strong", {}, d.callsign ?? d.uid),
          h("span", { className: "muted uid" }, ` ${d.uid}`),
          ["", d.user ?? (d.connected ? "anonymous" : ""), d.groups.join(", ")].filter((part, i) => i === 0 || part !== "").join(" · "),
          d.connected && d.node === null && h("button", { className: "disconnect", onclick: () => this.disconnect(d) }, "Disconnect"),
          h("div", { className: "muted" }, [where, since, seen].filter((part) => part !== "").join(" · ")),
        );
      }),
    );
  }

  private disconnect(device: AdminDevice): void {
    const name = device.callsign ?? device.uid;
    this.api
      .post<{ closed: number }>(`/api/devices/${encodeURIComponent(device.uid)}/disconnect`, {})
      .then(() => {
        toast(`${name} disconnected (it may reconnect: revoke its certificates to keep it out)`);
        this.refresh();
      })
      .catch((error: unknown) => toast(`Not disconnected: ${errorText(error)}`));
  }
}
