// The login page: user name and password against /api/login. A rate-limited answer (429)
// says so plainly instead of "wrong password".

import { type Api, ApiError } from "../api";
import type { Session } from "../types";
import { errorText, h, replace } from "./dom";

export function showLogin(root: HTMLElement, api: Api, onLoggedIn: (session: Session) => void): void {
  const user = h("input", { name: "username", autocomplete: "username", required: true, autofocus: true });
  const password = h("input", { name: "password", type: "password", autocomplete: "current-password", required: true });
  const message = h("p", { className: "login-error", role: "alert" });
  const button = h("button", { type: "submit" }, "Log in");
  const form = h(
    "form",
    { className: "login", id: "login-form" },
    h("h1", {}, "Rallypoint command post"),
    h("label", {}, "User name", user),
    h("label", {}, "Password", password),
    button,
    message,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    button.disabled = true;
    message.textContent = "";
    api
      .login(user.value.trim(), password.value)
      .then(onLoggedIn)
      .catch((error: unknown) => {
        if (error instanceof ApiError && error.status === 401) message.textContent = "Wrong user name or password.";
        else if (error instanceof ApiError && error.status === 429) message.textContent = "Too many attempts: wait a minute.";
        else message.textContent = `Login failed: ${errorText(error)}`;
        password.value = "";
      })
      .finally(() => (button.disabled = false));
  });
  replace(root, h("div", { className: "login-page" }, form));
  user.focus();
}
