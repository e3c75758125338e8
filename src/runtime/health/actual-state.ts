// The actual state: what the DEAs say runs, from `dea.heartbeat` and `droplet.exited`. An instance
// absent from every heartbeat for 3 heartbeat intervals is gone, and so is every instance of a DEA
// silent for 3 intervals. Crashes are reported once per instance (from its exit, or from a CRASHED
// entry in a heartbeat when the exit was missed, e.g. while the health manager was restarting).
// Messages arrive here checked against their contracts (common/bus-messages.ts).
import type { DropletExited, Heartbeat, InstanceState } from '../common/bus-messages.js';
import { crashKey, type Crash } from './crash-policy.js';
import { isActiveState } from './messages.js';

export interface ActualInstance {
  instance: string;
  app: string;
  version: string;
  index: number;
  state: InstanceState;
  /** The DEA that reported it ('' when only its exit was seen). */
  dea: string;
  /** The DEA's `state_timestamp` (seconds since the epoch), when given. */
  stateTimestamp?: number;
  /** When the health manager first heard of it (ms): desired state fetched before this cannot judge it. */
  firstSeenAt: number;
  lastSeenAt: number;
}

export interface ActualSnapshot {
  instances: ActualInstance[];
  /** The last time (ms) an instance at app+index (crashKey) was RUNNING or STARTING. */
  lastActiveAt: ReadonlyMap<string, number>;
  /**
   * True when the view can be trusted: the health manager has listened for at least 1.5 heartbeat
   * intervals (since it connected) and some DEA spoke within 3 intervals. Without that (health's own
   * bus connection down, or no DEA at all) nothing missing could be placed anyway.
   */
  complete: boolean;
  deas: string[];
}

export interface ActualStats {
  heartbeats_received: number;
  exits_received: number;
  crashes_seen: number;
}

const MAX_ALIVE_INTERVALS = 3;

export class ActualState {
  private readonly instances = new Map<string, ActualInstance>();
  /** DEA id → when its last heartbeat arrived. */
  private readonly deas = new Map<string, number>();
  private readonly lastActive = new Map<string, number>();
  /** Instances whose crash was counted (guid → when), so a crash counts once. */
  private readonly counted = new Map<string, number>();
  /** Instances that exited for good (guid → when): a late heartbeat must not bring them back. */
  private readonly exited = new Map<string, number>();
  private listeningSince: number;
  private lastHeartbeatAt: number | undefined;
  readonly stats: ActualStats = { heartbeats_received: 0, exits_received: 0, crashes_seen: 0 };

  constructor(
    private readonly heartbeatMs: number,
    now: number,
  ) {
    this.listeningSince = now;
  }

  /** After the health manager's bus connection came back: heartbeats may have been missed. */
  listenFrom(now: number): void {
    this.listeningSince = now;
  }

  private get aliveMs(): number {
    return MAX_ALIVE_INTERVALS * this.heartbeatMs;
  }

  onHeartbeat(hb: Heartbeat, now: number): Crash[] {
    this.stats.heartbeats_received++;
    this.deas.set(hb.dea, now);
    this.lastHeartbeatAt = now;
    const crashes: Crash[] = [];
    for (const d of hb.droplets) {
      if (this.exited.has(d.instance)) continue;
      const known = this.instances.get(d.instance);
      // A crashed instance never runs again (a restart is a new instance): ignore a stale report.
      const state = known?.state === 'CRASHED' ? 'CRASHED' : d.state;
      const instance: ActualInstance = {
        instance: d.instance,
        app: d.droplet,
        version: d.version,
        index: d.index,
        state,
        dea: hb.dea,
        stateTimestamp: d.state_timestamp,
        firstSeenAt: known?.firstSeenAt ?? now,
        lastSeenAt: now,
      };
      this.instances.set(d.instance, instance);
      if (isActiveState(state)) this.lastActive.set(crashKey(instance.app, instance.index), now);
      if (state === 'CRASHED') crashes.push(...this.countCrash(instance, now));
    }
    return crashes;
  }

  onExited(ex: DropletExited, now: number): Crash[] {
    this.stats.exits_received++;
    const known = this.instances.get(ex.instance);
    if (ex.reason !== 'CRASHED') {
      this.instances.delete(ex.instance);
      this.exited.set(ex.instance, now);
      return [];
    }
    const instance: ActualInstance = {
      instance: ex.instance,
      app: ex.droplet,
      version: ex.version,
      index: ex.index,
      state: 'CRASHED',
      dea: known?.dea ?? '',
      stateTimestamp: ex.crash_timestamp ?? known?.stateTimestamp,
      firstSeenAt: known?.firstSeenAt ?? now,
      lastSeenAt: now,
    };
    this.instances.set(ex.instance, instance);
    return this.countCrash(instance, now);
  }

  private countCrash(instance: ActualInstance, now: number): Crash[] {
    if (this.counted.has(instance.instance)) return [];
    this.counted.set(instance.instance, now);
    this.stats.crashes_seen++;
    return [{ app: instance.app, index: instance.index, version: instance.version, at: now }];
  }

  /** Drops silent DEAs and instances no heartbeat mentioned for 3 intervals; returns what went. */
  prune(now: number): { deas: string[]; instances: ActualInstance[] } {
    const goneDeas: string[] = [];
    for (const [dea, at] of this.deas) {
      if (now - at > this.aliveMs) {
        this.deas.delete(dea);
        goneDeas.push(dea);
      }
    }
    const goneInstances: ActualInstance[] = [];
    for (const [guid, instance] of this.instances) {
      if (now - instance.lastSeenAt > this.aliveMs || goneDeas.includes(instance.dea)) {
        this.instances.delete(guid);
        goneInstances.push(instance);
      }
    }
    for (const [guid, at] of this.exited) if (now - at > this.aliveMs) this.exited.delete(guid);
    const keepCounted = Math.max(60_000, this.aliveMs);
    for (const [guid, at] of this.counted) if (!this.instances.has(guid) && now - at > keepCounted) this.counted.delete(guid);
    for (const [key, at] of this.lastActive) if (now - at > 3_600_000) this.lastActive.delete(key);
    return { deas: goneDeas, instances: goneInstances };
  }

  snapshot(now: number): ActualSnapshot {
    const complete =
      now - this.listeningSince >= 1.5 * this.heartbeatMs && this.lastHeartbeatAt !== undefined && now - this.lastHeartbeatAt <= this.aliveMs;
    return { instances: [...this.instances.values()].map((i) => ({ ...i })), lastActiveAt: new Map(this.lastActive), complete, deas: [...this.deas.keys()] };
  }
}
