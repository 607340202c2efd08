// The admin tab (members of the "admin" group only): the users of this server, a form to add
// one, and per user a new client certificate (a PKCS#12 keystore to hand to the device, with
// its password shown once) or the revocation of all of theirs; then the groups, onboarding a
// device (package or QR code) and the connected devices. The server audits every action.

import type { Api } from "../api";
import { base64Bytes } from "../state/admin";
import { DevicesSection } from "./admin_devices";
import { GroupsSection } from "./admin_groups";
import { OnboardingSection } from "./admin_onboarding";
import { errorText, h, replace, toast } from "./dom";

export const ADMIN_GROUP = "admin";

interface UserCertificate {
  serial: string;
  notAfter: string;
  revoked: string | null;
}

interface AdminUser {
  name: string;
  groups: string[];
  role: string | null;
  disabled: boolean;
  certificates: UserCertificate[];
}

interface Issued {
  serial: string;
  p12: string;
  p12Password: string;
}

export class AdminPanel {
  readonly element: HTMLElement;
  private readonly list: HTMLElement;
  private readonly issued: HTMLElement;
  private readonly groups: GroupsSection;
  private readonly onboarding: OnboardingSection;
  private readonly devices: DevicesSection;

  constructor(private readonly api: Api) {
    const name = h("input", { id: "admin-name", placeholder: "user name", required: true, maxlength: 64, autocomplete: "off" });
    const secret = h("input", { id: "admin-password", type: "password", placeholder: "password", required: true, autocomplete: "new-password" });
    const groups = h("input", { id: "admin-groups", placeholder: "groups, comma separated", required: true });
    const role = h("input", { id: "admin-role", placeholder: "role (optional)" });
    const form = h("form", { className: "admin-create", id: "admin-create" }, name, secret, groups, role, h("button", { type: "submit" }, "Add user"));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const body = {
        name: name.value.trim(),
        password: secret.value,
        groups: groups.value.split(",").map((g) => g.trim()).filter((g) => g !== ""),
        role: role.value.trim() || null,
      };
      this.api
        .post("/api/users", body)
        .then(() => {
          form.reset();
          toast(`Added ${body.name}`);
          this.refresh();
        })
        .catch((error: unknown) => toast(`User not added: ${errorText(error)}`));
    });
    this.issued = h("div", { className: "issued", id: "admin-issued" });
    this.list = h("ul", { className: "admin-users", id: "admin-users" });
    this.groups = new GroupsSection(api);
    this.groups.onChanged = () => this.refreshUsers();
    this.onboarding = new OnboardingSection(api);
    this.devices = new DevicesSection(api);
    const users = h("h3", { id: "admin-users-section" }, "Add a user");
    const jump = (label: string, target: HTMLElement): HTMLElement =>
      h("button", { className: "link", onclick: () => target.scrollIntoView({ block: "start" }) }, label);
    this.element = h(
      "section",
      { className: "panel admin-panel" },
      h(
        "nav",
        { className: "admin-jump", "aria-label": "Admin sections" },
        jump("Users", users),
        jump("Groups", this.groups.element),
        jump("Onboarding", this.onboarding.element),
        jump("Devices", this.devices.element),
      ),
      users,
      form,
      this.issued,
      h("h3", {}, "Users"),
      this.list,
      this.groups.element,
      this.onboarding.element,
      this.devices.element,
    );
  }

  refresh(): void {
    this.refreshUsers();
    this.groups.refresh();
    this.devices.refresh();
  }

  private refreshUsers(): void {
    this.api
      .get<AdminUser[]>("/api/users")
      .then((users) => {
        this.render(users);
        const names = users.map((u) => u.name);
        this.groups.setUsers(names);
        this.onboarding.setUsers(names.filter((name) => !users.find((u) => u.name === name)?.disabled));
      })
      .catch((error: unknown) => toast(`Users: ${errorText(error)}`));
  }

  private render(users: AdminUser[]): void {
    replace(
      this.list,
      ...users.map((u) => {
        const valid = u.certificates.filter((c) => c.revoked === null).length;
        return h(
          "li",
          { "data-user": u.name },
          h("strong", {}, u.name),
          h("span", { className: "muted" }, ` ${u.groups.join(", ")}${u.role ? ` · ${u.role}` : ""}${u.disabled ? " · disabled" : ""}`),
          h("div", { className: "muted certs" }, `${valid} valid certificate(s), ${u.certificates.length - valid} revoked`),
          h(
            "div",
            { className: "actions" },
            h("button", { className: "issue", disabled: u.disabled, onclick: () => this.issue(u.name) }, "New certificate"),
            h("button", { className: "revoke", disabled: valid === 0, onclick: () => this.revoke(u.name) }, "Revoke certificates"),
          ),
        );
      }),
    );
  }

  private issue(name: string): void {
    this.api
      .post<Issued>(`/api/users/${encodeURIComponent(name)}/certificate`, {})
      .then((issued) => {
        const url = URL.createObjectURL(new Blob([base64Bytes(issued.p12)], { type: "application/x-pkcs12" }));
        replace(
          this.issued,
          h("p", {}, `Certificate ${issued.serial} for ${name}: `, h("a", { href: url, download: `${name}.p12`, id: "admin-p12" }, `${name}.p12`)),
          h("p", {}, "Keystore password (shown once): ", h("code", { id: "admin-p12-password" }, issued.p12Password)),
        );
        this.refreshUsers();
      })
      .catch((error: unknown) => toast(`Certificate not issued: ${errorText(error)}`));
  }

  private revoke(name: string): void {
    this.api
      .post<{ revoked: string[] }>(`/api/users/${encodeURIComponent(name)}/revoke`, {})
      .then((answer) => {
        toast(`Revoked ${answer.revoked.length} certificate(s) of ${name}`);
        this.refreshUsers();
      })
      .catch((error: unknown) => toast(`Not revoked: ${errorText(error)}`));
  }
}
