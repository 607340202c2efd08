// What makes an emergency impossible to miss when the command post is not being looked at: a
// beep (WebAudio) repeated while any emergency is unacknowledged, a browser notification for
// each new one (when the user allowed them), and a blinking window title. A lost-contact alert
// notifies and beeps once; it does not keep sounding.
//
// Browsers start audio only after the user has interacted with the page, so the first click or
// key press unlocks it and asks for the notification permission. That is usually the login,
// before the command post (and its Alarm) exists: main.ts calls unlockOnFirstGesture at once.

import type { Alert } from "../types";

/** The alarm repeats this often while an emergency is pending. */
const ALARM_REPEAT_MS = 2500;
/** The title alternates this often. */
const BLINK_MS = 1000;
const BEEP_HZ = 880;
const BEEP_S = 0.18;
const BEEP_GAIN = 0.25;
/** Beeps of one alarm burst, and the gap between them. */
const BURST = 3;
const BURST_GAP_S = 0.28;

export interface AlarmState {
  /** Beeps started on a running audio context. */
  beeps: number;
  notifications: number;
  /** The audio context's state ("none" before the page was interacted with). */
  audio: string;
  sounding: boolean;
  silenced: boolean;
}

/** The page's one audio context, created on the first user gesture. */
let audio: AudioContext | null = null;

/** Create (or resume) the audio context and ask for notifications on the page's first gestures. */
export function unlockOnFirstGesture(): void {
  const unlock = (): void => {
    try {
      audio ??= new AudioContext();
      if (audio.state === "suspended") void audio.resume();
    } catch {
      audio = null; // no audio output: the title and notifications still work
    }
    if (typeof Notification !== "undefined" && Notification.permission === "default") {
      void Notification.requestPermission();
    }
  };
  window.addEventListener("pointerdown", unlock, { capture: true });
  window.addEventListener("keydown", unlock, { capture: true });
}

export class Alarm {
  private readonly notified = new Set<string>();
  private soundTimer: number | undefined;
  private blinkTimer: number | undefined;
  private blinkOn = false;
  private silenced = false;
  private beeps = 0;
  private notifications = 0;
  private baseTitle = document.title;
  private headline = "";
  /** A notification was clicked: show its alert. */
  onOpen: (alert: Alert) => void = () => undefined;

  state(): AlarmState {
    return {
      beeps: this.beeps,
      notifications: this.notifications,
      audio: audio?.state ?? "none",
      sounding: this.soundTimer !== undefined,
      silenced: this.silenced,
    };
  }

  /** The alerts pending now (newest first): notify the new ones, sound and blink while any are emergencies. */
  update(pending: Alert[]): void {
    let fresh = false;
    for (const alert of pending) {
      const key = `${alert.uid}@${alert.time}`;
      if (this.notified.has(key)) continue;
      this.notified.add(key);
      fresh = true;
      this.notify(alert);
    }
    const emergencies = pending.filter((a) => a.lost !== true);
    if (fresh) {
      this.silenced = false;
      this.burst(pending.some((a) => a.lost !== true) ? BURST : 1);
    }
    const first = emergencies[0];
    this.headline = first === undefined ? "" : `⚠ EMERGENCY ${first.callsign}`;
    if (first === undefined) this.stop();
    else this.start();
  }

  /** Stop the sound until the next new emergency (the title keeps blinking). */
  silence(): void {
    this.silenced = true;
    window.clearInterval(this.soundTimer);
    this.soundTimer = undefined;
  }

  private start(): void {
    if (this.soundTimer === undefined && !this.silenced) {
      this.soundTimer = window.setInterval(() => this.burst(BURST), ALARM_REPEAT_MS);
    }
    if (this.blinkTimer === undefined) {
      if (!this.blinkOn) this.baseTitle = document.title;
      this.blinkTimer = window.setInterval(() => this.blink(), BLINK_MS);
      this.blink();
    }
  }

  private stop(): void {
    window.clearInterval(this.soundTimer);
    window.clearInterval(this.blinkTimer);
    this.soundTimer = this.blinkTimer = undefined;
    if (this.blinkOn) document.title = this.baseTitle;
    this.blinkOn = false;
  }

  private blink(): void {
    this.blinkOn = !this.blinkOn;
    document.title = this.blinkOn ? this.headline : this.baseTitle;
  }

  private burst(count: number): void {
    if (audio === null || audio.state !== "running") return;
    for (let i = 0; i < count; i += 1) {
      const at = audio.currentTime + i * BURST_GAP_S;
      const tone = audio.createOscillator();
      const gain = audio.createGain();
      tone.type = "square";
      tone.frequency.value = BEEP_HZ;
      gain.gain.setValueAtTime(BEEP_GAIN, at);
      gain.gain.exponentialRampToValueAtTime(0.001, at + BEEP_S);
      tone.connect(gain).connect(audio.destination);
      tone.start(at);
      tone.stop(at + BEEP_S);
      this.beeps += 1;
    }
  }

  private notify(alert: Alert): void {
    if (typeof Notification === "undefined" || Notification.permission !== "granted") return;
    const title = alert.lost === true ? `Lost contact: ${alert.callsign}` : `EMERGENCY ${alert.kind}: ${alert.callsign}`;
    const body = `${alert.lat.toFixed(5)}, ${alert.lon.toFixed(5)}`;
    try {
      const shown = new Notification(title, { body, tag: alert.uid, requireInteraction: alert.lost !== true });
      shown.onclick = () => {
        window.focus();
        this.onOpen(alert);
        shown.close();
      };
      this.notifications += 1;
    } catch {
      // A browser that refuses page notifications (some mobile ones): the banner remains.
    }
  }
}
