// Entry point: show the command post if the browser already has a session (cookie or client
// certificate), else the login page.

import { Api } from "./api";
import { App } from "./app";
import type { Session } from "./types";
import { unlockOnFirstGesture } from "./ui/alarm";
import { errorText, h, replace } from "./ui/dom";
import { showLogin } from "./ui/login";
import "./style.css";

const root = document.getElementById("app") as HTMLElement;
unlockOnFirstGesture();
const api = new Api();

async function enter(session: Session): Promise<void> {
  const config = await api.config();
  document.title = `Rallypoint · ${session.user}`;
  new App(root, api, session, config).start();
}

async function boot(): Promise<void> {
  const session = await api.session();
  if (session === null) {
    showLogin(root, api, (s) => void enter(s).catch(failed));
  } else {
    await enter(session);
  }
}

function failed(error: unknown): void {
  replace(root, h("p", { className: "fatal" }, `The command post could not start: ${errorText(error)}`));
}

boot().catch(failed);
