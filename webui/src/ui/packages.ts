// Data packages: the list the server holds for this user's groups, an upload form (the server
// validates zips before keeping anything) and a download link per package.

import type { Api } from "../api";
import type { PackageInfo } from "../types";
import { errorText, formatTime, h, replace, toast } from "./dom";

function sizeText(bytes: number | undefined): string {
  if (bytes === undefined) return "";
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

export class PackagesPanel {
  readonly element: HTMLElement;
  private readonly list: HTMLElement;
  private readonly file: HTMLInputElement;

  constructor(private readonly api: Api) {
    this.list = h("ul", { className: "package-list", id: "package-list" });
    this.file = h("input", { type: "file", id: "package-file" });
    const form = h("form", { className: "upload", id: "package-form" }, this.file, h("button", { type: "submit" }, "Upload"));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.upload();
    });
    this.element = h(
      "section",
      { className: "panel packages-panel" },
      form,
      h("button", { className: "link", onclick: () => this.refresh() }, "Refresh"),
      this.list,
    );
  }

  refresh(): void {
    this.api
      .packages()
      .then((packages) => this.render(packages))
      .catch((error: unknown) => toast(`Packages: ${errorText(error)}`));
  }

  private render(packages: PackageInfo[]): void {
    if (packages.length === 0) {
      replace(this.list, h("li", { className: "muted" }, "No data packages"));
      return;
    }
    replace(
      this.list,
      ...packages.map((p) =>
        h(
          "li",
          { "data-hash": p.hash },
          h("a", { href: `/api/packages/${encodeURIComponent(p.hash)}`, download: p.name }, p.name || p.hash.slice(0, 12)),
          h("span", { className: "muted" }, sizeText(p.size)),
          p.time === undefined ? null : h("small", {}, formatTime(typeof p.time === "number" ? p.time : Date.parse(p.time))),
        ),
      ),
    );
  }

  private upload(): void {
    const file = this.file.files?.[0];
    if (file === undefined) return;
    this.api
      .uploadPackage(file)
      .then(() => {
        this.file.value = "";
        toast(`Uploaded ${file.name}`);
        this.refresh();
      })
      .catch((error: unknown) => toast(`Upload refused: ${errorText(error)}`));
  }
}
