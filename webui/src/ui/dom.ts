// A tiny element builder: every text goes in through textContent (never innerHTML), so a
// callsign or chat message from the network cannot inject markup into the page.

type Child = Node | string | null | undefined | false;
type Attributes = Record<string, string | number | boolean | EventListener | undefined>;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Attributes = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    if (typeof value === "function") {
      element.addEventListener(name.replace(/^on/, "").toLowerCase(), value);
    } else if (name === "className") {
      element.className = String(value);
    } else if (value === true) {
      element.setAttribute(name, "");
    } else {
      element.setAttribute(name, String(value));
    }
  }
  append(element, children);
  return element;
}

export function append(parent: Node, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
  }
}

/** Replace all children of ``parent``. */
export function replace(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, children);
}

/**
 * Make ``parent``'s children exactly ``children`` (in order) by moving only what is out of
 * place. Unlike {@link replace}, a child that stays where it is is never detached, so an input
 * being typed in keeps its focus, caret and text while the rest of the panel is redrawn.
 */
export function reconcile(parent: Element, children: Node[]): void {
  children.forEach((child, index) => {
    const current = parent.childNodes[index];
    if (current !== child) parent.insertBefore(child, current ?? null);
  });
  while (parent.childNodes.length > children.length) parent.lastChild?.remove();
}

/**
 * One formatter for the page (toLocaleTimeString builds a new one on every call): date, time
 * and zone, since a log read the next morning or from another zone must not be ambiguous.
 */
const timeFormat = new Intl.DateTimeFormat([], {
  year: "numeric",
  month: "short",
  day: "numeric",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  hourCycle: "h23",
  timeZoneName: "short",
});
const clockFormat = new Intl.DateTimeFormat([], { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });

/** A moment in full: "Dec 2, 2026, 14:05:09 UTC". */
export function formatTime(ms: number): string {
  return timeFormat.format(ms);
}

/** Just the hour and minute ("14:05"), where a row has no room for more (its title has it all). */
export function formatClock(ms: number): string {
  return clockFormat.format(ms);
}

/** Show an error message for a few seconds in the page's status line. */
export function toast(message: string): void {
  const line = document.getElementById("toast");
  if (line === null) return;
  line.textContent = message;
  line.classList.add("visible");
  window.setTimeout(() => line.classList.remove("visible"), 5000);
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
