// The onboarding section of the admin tab: for one user, the connection package a TAK client
// imports (a fresh certificate; its password shown once), or the QR code ATAK and iTAK scan to
// enroll with the user's name and password (the server checks the password first). Both are
// made by the server from the same code as `rallypoint package NAME [--qr]`, and audited.

import type { Api } from "../api";
import { base64Bytes } from "../state/admin";
import { errorText, h, replace, toast } from "./dom";

interface Package {
  filename: string;
  zip: string;
  password: string;
  serial: string;
  connect: string;
  warnings: string[];
}

interface EnrollmentQr {
  png: string;
  host: string;
  warnings: string[];
}

export class OnboardingSection {
  readonly element: HTMLElement;
  private readonly user = h("select", { id: "admin-onboard-user", name: "user" });
  private readonly host = h("input", { id: "admin-onboard-host", name: "host", placeholder: "address devices use (default: the server's name)", maxlength: 253 });
  private readonly secret = h("input", { id: "admin-onboard-password", type: "password", name: "password", placeholder: "the user's password (for the QR code)", autocomplete: "off" });
  private readonly result = h("div", { className: "issued onboarding-result", id: "admin-onboarding-result" });
  private url: string | null = null;

  constructor(private readonly api: Api) {
    const form = h(
      "form",
      { className: "admin-onboard", id: "admin-onboard" },
      this.user,
      this.host,
      h("button", { type: "button", id: "admin-package", onclick: () => this.makePackage() }, "Connection package"),
      this.secret,
      h("button", { type: "submit", id: "admin-qr" }, "Show QR code"),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.showQr();
    });
    this.element = h("section", { className: "admin-section", id: "admin-onboarding-section" }, h("h3", {}, "Onboard a device"), form, this.result);
  }

  setUsers(names: string[]): void {
    const current = this.user.value;
    replace(this.user, ...names.map((name) => h("option", { value: name }, name)));
    if (names.includes(current)) this.user.value = current;
  }

  private makePackage(): void {
    const name = this.user.value;
    if (name === "") return;
    this.api
      .post<Package>(`/api/users/${encodeURIComponent(name)}/package`, { host: this.host.value.trim() })
      .then((made) => {
        const link = h("a", { href: this.objectUrl(made.zip, "application/zip"), download: made.filename, id: "admin-package-link" }, made.filename);
        replace(
          this.result,
          h("p", {}, `Package for ${name} (certificate ${made.serial}, connects to ${made.connect}): `, link),
          h("p", {}, "Package password (shown once): ", h("code", { id: "admin-package-password" }, made.password)),
          ...this.warnings(made.warnings),
        );
      })
      .catch((error: unknown) => toast(`No package: ${errorText(error)}`));
  }

  private showQr(): void {
    const name = this.user.value;
    if (name === "") return;
    this.api
      .post<EnrollmentQr>(`/api/users/${encodeURIComponent(name)}/enrollment-qr`, { password: this.secret.value, host: this.host.value.trim() })
      .then((qr) => {
        this.secret.value = "";
        replace(
          this.result,
          h("p", {}, `Scan with ATAK or iTAK to enroll as ${name} on ${qr.host} (the code holds the password: close it after use).`),
          h("img", { src: `data:image/png;base64,${qr.png}`, alt: `Enrollment QR code for ${name}`, id: "admin-qr-image", className: "qr" }),
          ...this.warnings(qr.warnings),
        );
      })
      .catch((error: unknown) => toast(`No QR code: ${errorText(error)}`));
  }

  private warnings(warnings: string[]): HTMLElement[] {
    return warnings.map((text) => h("p", { className: "warning" }, `Note: ${text}`));
  }

  /** A download link for the package; the previous one is released (it held a secret). */
  private objectUrl(base64: string, type: string): string {
    if (this.url !== null) URL.revokeObjectURL(this.url);
    this.url = URL.createObjectURL(new Blob([base64Bytes(base64)], { type }));
    return this.url;
  }
}
