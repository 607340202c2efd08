// Emergency alerts: every active alert stays on the banner until this page acknowledges it or
// the sender cancels it; an acknowledged alert that is raised again (a new time) shows again.

import type { Alert } from "../types";

export class AlertStore {
  private readonly alerts = new Map<string, Alert>();
  private readonly acknowledged = new Map<string, number>();
  version = 0;

  /** Apply an alert message (or a snapshot entry); an inactive one clears the alert. */
  apply(alert: Alert): void {
    if (!alert.active) {
      this.alerts.delete(alert.uid);
      this.acknowledged.delete(alert.uid);
    } else {
      this.alerts.set(alert.uid, alert);
      if (alert.acknowledged === true) this.acknowledged.set(alert.uid, alert.time);
    }
    this.version += 1;
  }

  replaceAll(alerts: Alert[]): void {
    this.alerts.clear();
    for (const alert of alerts) if (alert.active) this.alerts.set(alert.uid, alert);
    this.version += 1;
  }

  /** Hide the alert of ``uid`` until it is raised again. */
  acknowledge(uid: string): void {
    const alert = this.alerts.get(uid);
    if (alert !== undefined) this.acknowledged.set(uid, alert.time);
    this.version += 1;
  }

  /** Unacknowledged emergencies (not lost-contact alerts): what the alarm sounds for. */
  emergencies(): Alert[] {
    return this.pending().filter((a) => a.lost !== true);
  }

  /** Active alerts not yet acknowledged at their current time, newest first. */
  pending(): Alert[] {
    return [...this.alerts.values()]
      .filter((a) => {
        const ackedAt = this.acknowledged.get(a.uid);
        return ackedAt === undefined || a.time > ackedAt;
      })
      .sort((a, b) => b.time - a.time);
  }
}
