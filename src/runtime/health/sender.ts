// Carries the analyzer's decisions out: `health.start` / `health.stop` to the controller and a
// HEALTH line on the app's logs for each. A start is not sent again while it is pending (until an
// instance shows up at that index, the instance crashes, or `pendingMs` passes, after which the
// analyzer may ask again); a stop is not sent again for `pendingMs` either; a scheduled crash
// restart is announced once.
import { publishAppLog } from '../common/app-log.js';
import { publish, type NatsConnection } from '../common/bus.js';
import { healthStart, healthStop, type HealthStart, type HealthStop } from '../common/bus-messages.js';
import type { Logger } from '../common/log.js';
import type { ActualSnapshot } from './actual-state.js';
import type { Decision, PendingStart, ScheduleDecision, StartDecision, StopDecision } from './analyzer.js';
import { crashKey } from './crash-policy.js';
import { isActiveState } from './messages.js';

export interface SenderStats {
  /** Instances asked for (one health.start may carry several indices). */
  starts_sent: number;
  stops_sent: number;
  start_messages: number;
  stop_messages: number;
  restarts_scheduled: number;
  pending_start_timeouts: number;
}

export interface SenderOptions {
  nc: NatsConnection;
  log: Logger;
  pendingMs: number;
}

export class Sender {
  private readonly pendingStarts = new Map<string, PendingStart>();
  /** Instance guid → when its stop was sent. */
  private readonly pendingStops = new Map<string, number>();
  /** Schedule key → due time, for crash restarts already announced. */
  private readonly announced = new Map<string, number>();
  readonly stats: SenderStats = { starts_sent: 0, stops_sent: 0, start_messages: 0, stop_messages: 0, restarts_scheduled: 0, pending_start_timeouts: 0 };

  constructor(private readonly options: SenderOptions) {}

  pending(): PendingStart[] {
    return [...this.pendingStarts.values()];
  }

  scheduledCount(now: number): number {
    return [...this.announced.values()].filter((due) => due > now).length;
  }

  /** Drops what the actual state answered, and what waited too long. */
  settle(actual: ActualSnapshot, now: number): void {
    for (const [key, p] of this.pendingStarts) {
      const answered = actual.instances.some((i) => i.app === p.app && i.version === p.version && i.index === p.index && isActiveState(i.state));
      if (answered) {
        this.pendingStarts.delete(key);
      } else if (now - p.sentAt >= this.options.pendingMs) {
        this.pendingStarts.delete(key);
        this.stats.pending_start_timeouts++;
        this.options.log.warn('a start asked for was not seen in time; it may be asked for again', { app: p.app, index: p.index, reason: p.reason });
      }
    }
    const active = new Set(actual.instances.filter((i) => isActiveState(i.state)).map((i) => i.instance));
    for (const [guid, sentAt] of this.pendingStops) if (!active.has(guid) || now - sentAt >= this.options.pendingMs) this.pendingStops.delete(guid);
    for (const [key, dueAt] of this.announced) if (now - dueAt > 60_000) this.announced.delete(key);
  }

  /** The instance started for this index crashed: the start was answered. */
  crashed(app: string, index: number): void {
    this.pendingStarts.delete(crashKey(app, index));
  }

  /** Forgets pending starts of apps that are no longer STARTED. */
  retain(isStarted: (app: string) => boolean): void {
    for (const [key, p] of this.pendingStarts) if (!isStarted(p.app)) this.pendingStarts.delete(key);
  }

  send(decisions: Decision[], now: number): void {
    const starts = decisions.filter((d): d is StartDecision => d.kind === 'start' && !this.pendingStarts.has(crashKey(d.app, d.index)));
    const stops = decisions.filter((d): d is StopDecision => d.kind === 'stop' && !this.pendingStops.has(d.instance));
    const schedules = decisions.filter((d): d is ScheduleDecision => d.kind === 'schedule' && !this.announced.has(d.key));

    // Missing indices of one app go in one message; each crash restart carries its own count.
    const groups = new Map<string, StartDecision[]>();
    for (const d of starts) {
      const group = d.reason === 'MISSING' ? `${d.app}\0${d.version}\0MISSING` : `${d.app}\0${d.version}\0CRASHED\0${d.index}`;
      groups.set(group, [...(groups.get(group) ?? []), d]);
    }
    for (const group of groups.values()) {
      const [first] = group;
      const message: HealthStart = { droplet: first.app, version: first.version, indices: group.map((d) => d.index), reason: first.reason };
      if (first.reason === 'CRASHED') message.crash_count = first.crashCount;
      for (const d of group) {
        this.pendingStarts.set(crashKey(d.app, d.index), { app: d.app, version: d.version, index: d.index, reason: d.reason, sentAt: now });
        this.appLog(d);
      }
      publish(this.options.nc, healthStart, message);
      this.options.log.info('asked for a start', { ...message });
      this.stats.start_messages++;
      this.stats.starts_sent += group.length;
    }

    const stopGroups = new Map<string, StopDecision[]>();
    for (const d of stops) {
      const group = `${d.app}\0${d.version}\0${d.reason}`;
      stopGroups.set(group, [...(stopGroups.get(group) ?? []), d]);
    }
    for (const group of stopGroups.values()) {
      const [first] = group;
      const message: HealthStop = { droplet: first.app, version: first.version, instances: group.map((d) => d.instance), reason: first.reason };
      for (const d of group) {
        this.pendingStops.set(d.instance, now);
        this.appLog(d);
      }
      publish(this.options.nc, healthStop, message);
      this.options.log.info('asked for a stop', { ...message });
      this.stats.stop_messages++;
      this.stats.stops_sent += group.length;
    }

    for (const d of schedules) {
      this.announced.set(d.key, d.dueAt);
      this.stats.restarts_scheduled++;
      this.appLog(d);
      this.options.log.info('crash restart scheduled', { app: d.app, index: d.index, crash_count: d.crashCount, delay_ms: d.delayMs });
    }
  }

  private appLog(d: Decision): void {
    publishAppLog(this.options.nc, { app_guid: d.appGuid, source_type: 'HEALTH', source_instance: String(d.index), message_type: 'OUT', message: d.message });
  }
}
