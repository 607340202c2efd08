// The server's JSON API. Every state-changing request carries the session's CSRF token; the
// session itself is the HttpOnly cookie the browser sends on its own. Failures become ApiError
// with the server's message, so panels can show what went wrong.

import type { PackageInfo, Session, WebConfig } from "./types";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

/** Fired when a request finds the session gone (401), so the page can show the login again. */
export type OnUnauthorised = () => void;

export class Api {
  csrf = "";
  onUnauthorised: OnUnauthorised = () => undefined;

  async login(username: string, password: string): Promise<Session> {
    const session = await this.send<Session>("POST", "/api/login", { username, password }, false);
    this.csrf = session.csrf;
    return session;
  }

  /** The current session, or null when there is none (the login page is shown). */
  async session(): Promise<Session | null> {
    try {
      const session = await this.send<Session>("GET", "/api/session", undefined, false);
      this.csrf = session.csrf;
      return session;
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) return null;
      throw error;
    }
  }

  async logout(): Promise<void> {
    await this.send("POST", "/api/logout", {});
    this.csrf = "";
  }

  config(): Promise<WebConfig> {
    return this.get<WebConfig>("/api/config");
  }

  get<T>(path: string): Promise<T> {
    return this.send<T>("GET", path);
  }

  post<T>(path: string, body: unknown): Promise<T> {
    return this.send<T>("POST", path, body);
  }

  put<T>(path: string, body: unknown): Promise<T> {
    return this.send<T>("PUT", path, body);
  }

  delete<T>(path: string): Promise<T> {
    return this.send<T>("DELETE", path);
  }

  async packages(): Promise<PackageInfo[]> {
    const answer = await this.get<PackageInfo[] | { packages?: PackageInfo[]; data?: PackageInfo[] }>(
      "/api/packages",
    );
    if (Array.isArray(answer)) return answer;
    return answer.packages ?? answer.data ?? [];
  }

  async uploadPackage(file: File): Promise<unknown> {
    const form = new FormData();
    form.append("file", file, file.name);
    const response = await fetch("/api/packages", {
      method: "POST",
      body: form,
      credentials: "same-origin",
      headers: { "X-CSRF-Token": this.csrf },
    });
    return this.read(response);
  }

  private async send<T>(method: string, path: string, body?: unknown, authed = true): Promise<T> {
    const headers: Record<string, string> = { Accept: "application/json" };
    if (method !== "GET") headers["X-CSRF-Token"] = this.csrf;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(path, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? null : JSON.stringify(body),
    });
    if (response.status === 401 && authed) this.onUnauthorised();
    return (await this.read(response)) as T;
  }

  private async read(response: Response): Promise<unknown> {
    const text = await response.text();
    let data: unknown = null;
    if (text !== "") {
      try {
        data = JSON.parse(text);
      } catch {
        data = text;
      }
    }
    if (!response.ok) {
      const message =
        typeof data === "object" && data !== null && "error" in data
          ? String((data as { error: unknown }).error)
          : typeof data === "string" && data !== ""
            ? data
            : response.statusText;
      throw new ApiError(response.status, message || `HTTP ${response.status}`);
    }
    return data;
  }
}
