// The analyzer: one pure function from (desired state, actual state, crash records, pending starts,
// now) to decisions, as hm9000's analyzer. No clock, no bus, no I/O: the component feeds it and the
// sender carries its decisions out.
//
// Rules (docs/health.md):
//  - Nothing is decided without a desired snapshot that is fresh (its last successful fetch at most
//    `staleAfterMs` old) and not empty, nor while the actual view is incomplete.
//  - STARTED app, index < instances with no RUNNING/STARTING instance of the desired version:
//      a start sent for it still pending → wait;
//      its last crash (this version, not forgotten) is not older than its last active report →
//      restart with the crash policy's delay: at once (CRASHED) or scheduled (logged once);
//      otherwise it is missing → started (MISSING) once it has been missing for `graceMs`.
//  - STARTED app with nothing pending (every index has a RUNNING instance of the desired version,
//    no start pending): instances of another version and at an index ≥ instances are EXTRA; a
//    second instance at an index is a DUPLICATE (the RUNNING one with the oldest state is kept).
//  - STOPPED app, or an app the controller does not know: every RUNNING/STARTING instance is EXTRA.
//  - An instance is only ever stopped on the strength of a snapshot fetched after it was first seen.
//  - A process a rolling deployment replaces (`deploying`) is left alone: no start, no stop.
//
// `app` here is what the DEAs call `droplet`: a process's guid (a web process's is its app's guid),
// so each process of an app is judged on its own. `appGuid` is whose log stream hears a decision.
import type { ActualInstance, ActualSnapshot } from './actual-state.js';
import { activeCrash, crashKey, restartDelayMs, restartDueAt, type CrashPolicySettings, type CrashRecord } from './crash-policy.js';
import type { DesiredSnapshot } from './desired-state.js';
import type { StartReason, StopReason } from '../common/bus-messages.js';
import { isActiveState, type DesiredProcess } from './messages.js';

export interface AnalyzerSettings {
  graceMs: number;
  staleAfterMs: number;
  crash: CrashPolicySettings;
}

/** A start sent and not yet answered by a STARTING/RUNNING instance (or a crash) at that index. */
export interface PendingStart {
  app: string;
  version: string;
  index: number;
  reason: StartReason;
  sentAt: number;
}

export interface AnalyzerInput {
  now: number;
  desired: DesiredSnapshot | undefined;
  actual: ActualSnapshot;
  crashes: ReadonlyMap<string, CrashRecord>;
  pending: readonly PendingStart[];
  /** When each app+index (crashKey) was first found missing; the previous analysis's output. */
  missingSince: ReadonlyMap<string, number>;
  settings: AnalyzerSettings;
}

export interface StartDecision {
  kind: 'start';
  app: string;
  appGuid: string;
  version: string;
  index: number;
  reason: StartReason;
  crashCount?: number;
  message: string;
}

export interface StopDecision {
  kind: 'stop';
  app: string;
  appGuid: string;
  version: string;
  instance: string;
  index: number;
  reason: StopReason;
  message: string;
}

/** A crash restart that waits for its delay; `key` is the same for every analysis of one crash. */
export interface ScheduleDecision {
  kind: 'schedule';
  app: string;
  appGuid: string;
  version: string;
  index: number;
  crashCount: number;
  delayMs: number;
  dueAt: number;
  key: string;
  message: string;
}

export type Decision = StartDecision | StopDecision | ScheduleDecision;

export type IdleReason = 'no desired state yet' | 'desired state is stale' | 'desired state is empty' | 'actual state is incomplete';

export interface Analysis {
  decisions: Decision[];
  /** To pass back as `missingSince` next time. */
  missingSince: Map<string, number>;
  /** Set when nothing was analysed, and why. */
  idle?: IdleReason;
  /** STARTED apps with something pending (no stops for them). */
  pendingApps: string[];
}

/** "30 s", "0.2 s", "1.5 s". */
export function formatDelay(ms: number): string {
  return ms >= 10_000 ? `${Math.round(ms / 1000)} s` : `${Number((ms / 1000).toFixed(1))} s`;
}

const times = (n: number) => `${n} ${n === 1 ? 'time' : 'times'}`;

/** Which of several instances at one index to keep: RUNNING first, then the oldest state, then the first seen. */
function keeperOrder(a: ActualInstance, b: ActualInstance): number {
  const running = Number(b.state === 'RUNNING') - Number(a.state === 'RUNNING');
  if (running !== 0) return running;
  const ts = (a.stateTimestamp ?? Infinity) - (b.stateTimestamp ?? Infinity);
  if (ts !== 0 && !Number.isNaN(ts)) return ts;
  if (a.firstSeenAt !== b.firstSeenAt) return a.firstSeenAt - b.firstSeenAt;
  return a.instance < b.instance ? -1 : a.instance > b.instance ? 1 : 0;
}

export function analyze(input: AnalyzerInput): Analysis {
  const { now, desired, actual, settings } = input;
  const idle = (reason: IdleReason): Analysis => ({ decisions: [], missingSince: new Map(), idle: reason, pendingApps: [] });
  if (!desired) return idle('no desired state yet');
  if (now - desired.fetchedAt > settings.staleAfterMs) return idle('desired state is stale');
  // An empty list may be a controller in trouble (or a database being restored): never a reason to
  // stop everything. With no app desired there is nothing to start either.
  if (desired.processes.size === 0) return idle('desired state is empty');
  if (!actual.complete) return idle('actual state is incomplete');

  const byApp = new Map<string, ActualInstance[]>();
  for (const instance of actual.instances) {
    const list = byApp.get(instance.app) ?? [];
    list.push(instance);
    byApp.set(instance.app, list);
  }
  const apps = [...new Set([...desired.processes.keys(), ...byApp.keys()])].sort();
  const decisions: Decision[] = [];
  const missingSince = new Map<string, number>();
  const pendingApps: string[] = [];
  const judgeable = (i: ActualInstance) => isActiveState(i.state) && i.firstSeenAt <= desired.fetchedAt;

  for (const app of apps) {
    const process = desired.processes.get(app);
    // A rolling deployment starts and stops this process's instances itself.
    if (process?.deploying) continue;
    const instances = byApp.get(app) ?? [];
    if (!process || process.state !== 'STARTED') {
      for (const i of instances.filter(judgeable).sort(byIndexThenGuid)) {
        const why = process ? 'the app is stopped' : 'the app does not exist';
        decisions.push(stop(i, process?.app_guid ?? i.app, 'EXTRA', `Stopping extra instance ${i.instance} (index ${i.index}; ${why})`));
      }
      continue;
    }
    const result = analyzeStartedApp(process, instances, input, missingSince);
    decisions.push(...result.decisions);
    if (result.pending) {
      pendingApps.push(app);
      continue;
    }
    for (const i of instances.filter(judgeable).sort(byIndexThenGuid)) {
      if (i.version !== process.version) {
        decisions.push(stop(i, process.app_guid, 'EXTRA', `Stopping extra instance ${i.instance} (index ${i.index}, version ${i.version}; the app runs version ${process.version})`));
      } else if (i.index >= process.instances) {
        decisions.push(stop(i, process.app_guid, 'EXTRA', `Stopping extra instance ${i.instance} (index ${i.index}; the app has ${process.instances} ${process.instances === 1 ? 'instance' : 'instances'})`));
      }
    }
    for (let index = 0; index < process.instances; index++) {
      const atIndex = instances.filter((i) => i.version === process.version && i.index === index && isActiveState(i.state)).sort(keeperOrder);
      const [keeper, ...others] = atIndex;
      for (const i of others.filter(judgeable).sort(byIndexThenGuid)) {
        decisions.push(stop(i, process.app_guid, 'DUPLICATE', `Stopping duplicate instance ${i.instance} (index ${index}; keeping ${keeper.instance})`));
      }
    }
  }
  return { decisions, missingSince, pendingApps };
}

function analyzeStartedApp(
  process: DesiredProcess,
  instances: ActualInstance[],
  { now, actual, crashes, pending, missingSince: previousMissing, settings }: AnalyzerInput,
  missingSince: Map<string, number>,
): { decisions: Decision[]; pending: boolean } {
  const app = process.process_guid;
  const appGuid = process.app_guid;
  const version = process.version;
  const decisions: Decision[] = [];
  let appPending = pending.some((p) => p.app === app && p.version === version && p.index < process.instances);
  for (let index = 0; index < process.instances; index++) {
    const atIndex = instances.filter((i) => i.version === version && i.index === index);
    if (atIndex.some((i) => isActiveState(i.state))) {
      if (!atIndex.some((i) => i.state === 'RUNNING')) appPending = true;
      continue;
    }
    appPending = true;
    // A process without a droplet cannot run anywhere: nothing to ask for.
    if (process.droplet_guid === null) continue;
    if (pending.some((p) => p.app === app && p.version === version && p.index === index)) continue;
    const key = crashKey(app, index);
    const crash = activeCrash(crashes.get(key), now, settings.crash);
    // The crash is the index's latest news unless an instance was active there after it (the same
    // millisecond counts as after the crash: the instance that crashed was the one last active).
    if (crash && crash.version === version && crash.lastCrashAt >= (actual.lastActiveAt.get(key) ?? -Infinity)) {
      const dueAt = restartDueAt(crash, settings.crash);
      const delayMs = restartDelayMs(crash.count, settings.crash);
      if (now >= dueAt) {
        const message =
          delayMs === 0
            ? `Instance ${index} crashed ${times(crash.count)}; restarting it now`
            : `Restarting instance ${index} (crashed ${times(crash.count)}; waited ${formatDelay(delayMs)})`;
        decisions.push({ kind: 'start', app, appGuid, version, index, reason: 'CRASHED', crashCount: crash.count, message });
      } else {
        decisions.push({
          kind: 'schedule',
          app,
          appGuid,
          version,
          index,
          crashCount: crash.count,
          delayMs,
          dueAt,
          key: `${key}:${crash.count}:${crash.lastCrashAt}`,
          message: `Instance ${index} crashed ${times(crash.count)}; restart scheduled in ${formatDelay(delayMs)}`,
        });
      }
      continue;
    }
    const since = previousMissing.get(key) ?? now;
    missingSince.set(key, since);
    if (now - since >= settings.graceMs) {
      decisions.push({ kind: 'start', app, appGuid, version, index, reason: 'MISSING', message: `Starting missing instance ${index}` });
    }
  }
  return { decisions, pending: appPending };
}

function stop(i: ActualInstance, appGuid: string, reason: StopReason, message: string): StopDecision {
  return { kind: 'stop', app: i.app, appGuid, version: i.version, instance: i.instance, index: i.index, reason, message };
}

function byIndexThenGuid(a: ActualInstance, b: ActualInstance): number {
  return a.index - b.index || (a.instance < b.instance ? -1 : a.instance > b.instance ? 1 : 0);
}
