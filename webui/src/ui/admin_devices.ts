// The devices section of the admin tab: every device the server knows, connected ones first,
// with its user, groups, address, when it connected and was last heard from, and a button to
// disconnect one (it usually reconnects: revoke its user's certificates to keep it out).

import type { Api } from "../api";
import { type AdminDevice, ago, devicesInOrder } from "../state/admin";
import { errorText, formatTime, h, replace, toast } from "./dom";

const COLUMNS = ["Callsign", "Uid", "User", "Groups", "Address", "Connected since", "Last seen", ""];

export class DevicesSection {
  readonly element: HTMLElement;
  private readonly body = h("tbody", {});

  constructor(private readonly api: Api) {
    const table = h("table", { className: "admin-devices", id: "admin-devices" }, h("thead", {}, h("tr", {}, ...COLUMNS.map((c) => h("th", {}, c)))), this.body);
    this.element = h(
      "section",
      { className: "admin-section", id: "admin-devices-section" },
      h("h3", {}, "Devices ", h("button", { className: "link", id: "admin-devices-refresh", onclick: () => this.refresh() }, "Refresh")),
      h("div", { className: "table-scroll" }, table),
    );
  }

  refresh(): void {
    this.api
      .get<AdminDevice[]>("/api/devices")
      .then((devices) => this.render(devices))
      .catch((error: unknown) => toast(`Devices: ${errorText(error)}`));
  }

  private render(devices: AdminDevice[]): void {
    const now = Date.now();
    replace(
      this.body,
      ...devicesInOrder(devices).map((d) =>
        h(
          "tr",
          { "data-uid": d.uid, "data-connected": String(d.connected), className: d.connected ? "" : "departed" },
          h("td", {}, d.callsign ?? ""),
          h("td", { className: "uid" }, d.uid),
          h("td", {}, d.user ?? (d.connected ? "anonymous" : "")),
          h("td", {}, d.groups.join(", ")),
          h("td", {}, d.node !== null ? `node ${d.node}` : (d.address ?? "")),
          h("td", { title: d.connectedSince === null ? "" : formatTime(d.connectedSince) }, d.connectedSince === null ? "" : formatTime(d.connectedSince)),
          h("td", { title: formatTime(d.lastSeen) }, d.connected ? ago(d.lastSeen, now) : formatTime(d.lastSeen)),
          h(
            "td",
            {},
            d.connected &&
              d.node === null &&
              h("button", { className: "disconnect", onclick: () => this.disconnect(d) }, "Disconnect"),
          ),
        ),
      ),
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
