// The live feed: one WebSocket to /api/live, reconnected with capped backoff when it drops (the
// server sends a fresh snapshot on every connect, so nothing is lost by reconnecting), with a
// ping now and then so idle proxies keep it open.

import type { LiveMessage } from "./types";

const PING_INTERVAL_MS = 20_000;
const FIRST_RETRY_MS = 250;
/** Kept short: a restarted server is back within seconds and the page should be too. */
const MAX_RETRY_MS = 2_000;
/** Close codes after which reconnecting cannot help (policy violation: not logged in). */
const FINAL_CLOSE_CODES = new Set([1008, 4401, 4403]);

export type LiveState = "connecting" | "open" | "closed";

export class LiveFeed {
  private socket: WebSocket | null = null;
  private retryMs = FIRST_RETRY_MS;
  private pingTimer: number | undefined;
  private retryTimer: number | undefined;
  private stopped = false;

  constructor(
    private readonly onMessage: (message: LiveMessage) => void,
    private readonly onState: (state: LiveState, detail: string) => void,
    private readonly onDenied: () => void,
  ) {}

  start(): void {
    this.stopped = false;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    window.clearInterval(this.pingTimer);
    window.clearTimeout(this.retryTimer);
    this.socket?.close(1000, "logout");
    this.socket = null;
  }

  private connect(): void {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${scheme}//${location.host}/api/live`);
    this.socket = socket;
    this.onState("connecting", "");
    socket.onopen = () => {
      this.retryMs = FIRST_RETRY_MS;
      this.onState("open", "");
      this.pingTimer = window.setInterval(() => socket.send(JSON.stringify({ type: "ping" })), PING_INTERVAL_MS);
    };
    socket.onmessage = (event: MessageEvent<unknown>) => {
      if (typeof event.data !== "string") return;
      let message: LiveMessage;
      try {
        message = JSON.parse(event.data) as LiveMessage;
      } catch {
        return; // not JSON: not for us
      }
      this.onMessage(message);
    };
    socket.onclose = (event: CloseEvent) => {
      window.clearInterval(this.pingTimer);
      if (this.socket !== socket || this.stopped) return;
      this.socket = null;
      if (FINAL_CLOSE_CODES.has(event.code)) {
        this.onState("closed", event.reason || "not allowed");
        this.onDenied();
        return;
      }
      this.onState("closed", `reconnecting in ${Math.round(this.retryMs / 1000)} s`);
      this.retryTimer = window.setTimeout(() => this.connect(), this.retryMs);
      this.retryMs = Math.min(MAX_RETRY_MS, this.retryMs * 2);
    };
  }
}
