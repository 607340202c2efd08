// The groups section of the admin tab: every group with its members, a member's removal, and
// adding a user to a group (an existing one or a new name). The server refuses what nobody
// could undo from here (a user's last group, an admin's own "admin" membership) and audits
// every change; the user's open sessions and connections follow their new groups.

import type { Api } from "../api";
import type { AdminGroup } from "../state/admin";
import { errorText, h, replace, toast } from "./dom";

export class GroupsSection {
  readonly element: HTMLElement;
  private readonly list = h("ul", { className: "admin-groups", id: "admin-groups" });
  private readonly user = h("select", { id: "admin-group-user", name: "user" });
  private readonly group = h("input", { id: "admin-group-name", name: "group", placeholder: "group", required: true, maxlength: 100, list: "admin-group-names" });
  private readonly names = h("datalist", { id: "admin-group-names" });
  /** Told after a change, so the users list shows the new groups. */
  onChanged: () => void = () => undefined;

  constructor(private readonly api: Api) {
    const form = h("form", { className: "admin-group-add", id: "admin-group-add" }, this.user, this.group, this.names, h("button", { type: "submit" }, "Add to group"));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.add(this.user.value, this.group.value.trim());
    });
    this.element = h("section", { className: "admin-section", id: "admin-groups-section" }, h("h3", {}, "Groups"), form, this.list);
  }

  /** The users the "add" form offers. */
  setUsers(names: string[]): void {
    const current = this.user.value;
    replace(this.user, ...names.map((name) => h("option", { value: name }, name)));
    if (names.includes(current)) this.user.value = current;
  }

  refresh(): void {
    this.api
      .get<AdminGroup[]>("/api/groups")
      .then((groups) => this.render(groups))
      .catch((error: unknown) => toast(`Groups: ${errorText(error)}`));
  }

  private render(groups: AdminGroup[]): void {
    replace(this.names, ...groups.map((g) => h("option", { value: g.name })));
    replace(
      this.list,
      ...groups.map((g) =>
        h(
          "li",
          { "data-group": g.name },
          h("strong", {}, g.name),
          h("span", { className: "muted" }, ` ${g.members.length} member(s)`),
          h(
            "div",
            { className: "members" },
            ...g.members.map((member) =>
              h(
                "span",
                { className: "member", "data-member": member },
                member,
                h("button", { className: "link remove", title: `Remove ${member} from ${g.name}`, "aria-label": `Remove ${member} from ${g.name}`, onclick: () => this.remove(g.name, member) }, "×"),
              ),
            ),
          ),
        ),
      ),
    );
  }

  private add(user: string, group: string): void {
    if (user === "" || group === "") return;
    this.api
      .post(`/api/groups/${encodeURIComponent(group)}/members`, { user })
      .then(() => {
        this.group.value = "";
        toast(`${user} added to ${group}`);
        this.changed();
      })
      .catch((error: unknown) => toast(`Not added: ${errorText(error)}`));
  }

  private remove(group: string, user: string): void {
    this.api
      .post(`/api/groups/${encodeURIComponent(group)}/members/${encodeURIComponent(user)}/remove`, {})
      .then(() => {
        toast(`${user} removed from ${group}`);
        this.changed();
      })
      .catch((error: unknown) => toast(`Not removed: ${errorText(error)}`));
  }

  private changed(): void {
    this.refresh();
    this.onChanged();
  }
}
