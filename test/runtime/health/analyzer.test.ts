// The analyzer: a pure function from desired + actual + crash records + pending starts + now to
// decisions. Every rule of docs/health.md, one case at a time.
import assert from 'node:assert/strict';
import type { ActualInstance, ActualSnapshot } from '../../../src/runtime/health/actual-state.js';
import { analyze, formatDelay, type AnalyzerInput, type Decision, type PendingStart } from '../../../src/runtime/health/analyzer.js';
import { crashKey, type CrashRecord } from '../../../src/runtime/health/crash-policy.js';
import type { DesiredSnapshot } from '../../../src/runtime/health/desired-state.js';
import type { DesiredProcess } from '../../../src/runtime/health/messages.js';

const CRASH = { immediateRestarts: 3, baseMs: 30_000, capMs: 960_000 };
const SETTINGS = { graceMs: 3_000, staleAfterMs: 10_000, crash: CRASH };
/** The analyses below run at NOW; the desired state was fetched at FETCHED; instances were first seen at 0. */
const NOW = 100_000;
const FETCHED = 99_000;

function proc(app: string, over: Partial<DesiredProcess> = {}): DesiredProcess {
  return { app_guid: app, process_guid: app, version: 'v1', instances: 1, state: 'STARTED', droplet_guid: `${app}-droplet`, updated_at: '2026-11-21T10:00:00Z', deploying: false, ...over };
}

function desired(processes: DesiredProcess[], fetchedAt = FETCHED): DesiredSnapshot {
  return { processes: new Map(processes.map((p) => [p.app_guid, p])), fetchedAt };
}

function inst(app: string, index: number, over: Partial<ActualInstance> = {}): ActualInstance {
  return { instance: `${app}-${index}`, app, version: 'v1', index, state: 'RUNNING', dea: 'dea-0', firstSeenAt: 0, lastSeenAt: NOW, ...over };
}

function actual(instances: ActualInstance[], over: Partial<ActualSnapshot> = {}): ActualSnapshot {
  const lastActiveAt = new Map<string, number>();
  for (const i of instances) if (i.state === 'RUNNING' || i.state === 'STARTING') lastActiveAt.set(crashKey(i.app, i.index), NOW);
  return { instances, lastActiveAt, complete: true, deas: ['dea-0'], ...over };
}

function run(over: Partial<AnalyzerInput>) {
  return analyze({ now: NOW, desired: desired([proc('A')]), actual: actual([inst('A', 0)]), crashes: new Map(), pending: [], missingSince: new Map(), settings: SETTINGS, ...over });
}

/** Decisions in a compact form: "start A/1 MISSING", "stop A-2 EXTRA", "schedule A/0 #4 in 30000". */
function summary(decisions: Decision[]): string[] {
  return decisions.map((d) => {
    if (d.kind === 'start') return `start ${d.app}/${d.index} ${d.reason}${d.crashCount ? ` #${d.crashCount}` : ''}`;
    if (d.kind === 'stop') return `stop ${d.instance} ${d.reason}`;
    return `schedule ${d.app}/${d.index} #${d.crashCount} in ${d.delayMs}`;
  });
}

const crashRecord = (app: string, index: number, count: number, lastCrashAt: number, version = 'v1'): [string, CrashRecord] => [
  crashKey(app, index),
  { app, index, version, count, lastCrashAt },
];
const pendingStart = (app: string, index: number, over: Partial<PendingStart> = {}): PendingStart => ({ app, version: 'v1', index, reason: 'MISSING', sentAt: NOW - 500, ...over });

describe('health: analyzer', () => {
  describe('when not to act at all', () => {
    it("leaves a process that a rolling deployment replaces alone: its old and missing instances are the deployment's", () => {
      const deploying = run({ desired: desired([proc('A', { instances: 2, version: 'v2', deploying: true })]), actual: actual([inst('A', 0, { version: 'v1' })]) });
      assert.deepEqual(summary(deploying.decisions), []);
      assert.equal(deploying.missingSince.size, 0, 'no index is missing for it');
      const after = run({ desired: desired([proc('A', { instances: 2, version: 'v2' })]), actual: actual([inst('A', 0, { version: 'v1' })]) });
      assert.equal(after.missingSince.size, 2, 'the same state without the deployment: both indices of v2 are missing');
    });

  it('without a desired snapshot', () => {
      const a = run({ desired: undefined, actual: actual([]) });
      assert.equal(a.idle, 'no desired state yet');
      assert.deepEqual(a.decisions, []);
    });

    it('on a stale snapshot: no starts, no stops', () => {
      const stale = desired([proc('A', { instances: 2 })], NOW - SETTINGS.staleAfterMs - 1);
      const a = run({ desired: stale, actual: actual([inst('A', 0), inst('B', 0)]), missingSince: new Map([['A:1', 0]]) });
      assert.equal(a.idle, 'desired state is stale');
      assert.deepEqual(a.decisions, []);
      assert.equal(a.missingSince.size, 0, 'grace clocks start again once the state is fresh');
      assert.equal(run({ desired: desired([proc('A')], NOW - SETTINGS.staleAfterMs) }).idle, undefined, 'exactly at the limit is still fresh');
    });

    it('on an empty snapshot: never a mass stop', () => {
      const a = run({ desired: desired([]), actual: actual([inst('A', 0), inst('A', 1), inst('B', 0)]) });
      assert.equal(a.idle, 'desired state is empty');
      assert.deepEqual(a.decisions, []);
    });

    it('while the actual view is incomplete', () => {
      const a = run({ desired: desired([proc('A', { instances: 3 })]), actual: actual([], { complete: false }), missingSince: new Map([['A:0', 0]]) });
      assert.equal(a.idle, 'actual state is incomplete');
      assert.deepEqual(a.decisions, []);
    });
  });

  it('does nothing when everything runs as desired', () => {
    const a = run({ desired: desired([proc('A', { instances: 2 }), proc('B')]), actual: actual([inst('A', 0), inst('A', 1), inst('B', 0)]) });
    assert.deepEqual(a.decisions, []);
    assert.deepEqual(a.pendingApps, []);
    assert.equal(a.idle, undefined);
  });

  describe('missing instances', () => {
    const twoWanted = desired([proc('A', { instances: 2 })]);

    it('starts a missing index only after the grace period', () => {
      const first = run({ desired: twoWanted });
      assert.deepEqual(first.decisions, []);
      assert.deepEqual([...first.missingSince], [['A:1', NOW]]);
      assert.deepEqual(first.pendingApps, ['A']);

      const before = run({ desired: twoWanted, now: NOW + 2_999, missingSince: first.missingSince });
      assert.deepEqual(before.decisions, []);
      assert.deepEqual([...before.missingSince], [['A:1', NOW]], 'the clock keeps its start');

      const after = run({ desired: twoWanted, now: NOW + 3_000, missingSince: first.missingSince });
      assert.deepEqual(summary(after.decisions), ['start A/1 MISSING']);
      const [start] = after.decisions;
      assert.equal(start.kind === 'start' && start.message, 'Starting missing instance 1');
      assert.equal(start.version, 'v1');
    });

    it('starts every missing index of a started app with no instance at all', () => {
      const a = run({ desired: desired([proc('A', { instances: 3 })]), actual: actual([inst('B', 0)]), missingSince: new Map([['A:0', 0], ['A:1', 0], ['A:2', NOW]]) });
      assert.deepEqual(summary(a.decisions.filter((d) => d.kind === 'start')), ['start A/0 MISSING', 'start A/1 MISSING']);
    });

    it('forgets the clock of an index that came back', () => {
      const a = run({ desired: twoWanted, actual: actual([inst('A', 0), inst('A', 1)]), missingSince: new Map([['A:1', 0]]) });
      assert.deepEqual(a.decisions, []);
      assert.equal(a.missingSince.size, 0);
    });

    it('counts a STARTING instance as present', () => {
      const a = run({ desired: twoWanted, actual: actual([inst('A', 0), inst('A', 1, { state: 'STARTING' })]), missingSince: new Map([['A:1', 0]]) });
      assert.deepEqual(a.decisions, []);
      assert.deepEqual(a.pendingApps, ['A'], 'but the app is not settled yet');
    });

    it('does not count CRASHED or STOPPING instances, nor another version', () => {
      const instances = [inst('A', 0, { state: 'CRASHED' }), inst('A', 1, { state: 'STOPPING' }), inst('A', 2, { version: 'v0' })];
      const a = run({ desired: desired([proc('A', { instances: 3 })]), actual: actual(instances), missingSince: new Map([['A:0', 0], ['A:1', 0], ['A:2', 0]]) });
      assert.deepEqual(summary(a.decisions), ['start A/0 MISSING', 'start A/1 MISSING', 'start A/2 MISSING']);
    });

    it('does not start again while a start is pending for that index', () => {
      const a = run({ desired: twoWanted, missingSince: new Map([['A:1', 0]]), pending: [pendingStart('A', 1)] });
      assert.deepEqual(a.decisions, []);
      assert.deepEqual(a.pendingApps, ['A']);
    });

    it('ignores a pending start of another version', () => {
      const a = run({ desired: twoWanted, missingSince: new Map([['A:1', 0]]), pending: [pendingStart('A', 1, { version: 'v0' })] });
      assert.deepEqual(summary(a.decisions), ['start A/1 MISSING']);
    });

    it('asks nothing for a process without a droplet', () => {
      const a = run({ desired: desired([proc('A', { droplet_guid: null })]), actual: actual([]), missingSince: new Map([['A:0', 0]]) });
      assert.deepEqual(a.decisions, []);
    });

    it('asks nothing for a started app with 0 instances', () => {
      assert.deepEqual(run({ desired: desired([proc('A', { instances: 0 })]), actual: actual([]) }).decisions, []);
    });
  });

  describe('crashes', () => {
    const crashedAt = NOW - 100;
    const crashedView = actual([inst('A', 0, { state: 'CRASHED' })], { lastActiveAt: new Map([['A:0', crashedAt - 1_000]]) });

    it('restarts the first three crashes at once, with the count', () => {
      for (const count of [1, 2, 3]) {
        const a = run({ actual: crashedView, crashes: new Map([crashRecord('A', 0, count, crashedAt)]) });
        assert.deepEqual(summary(a.decisions), [`start A/0 CRASHED #${count}`]);
        assert.equal(a.decisions[0].message, `Instance 0 crashed ${count} ${count === 1 ? 'time' : 'times'}; restarting it now`);
      }
    });

    it('schedules the fourth crash 30 s later, and says so', () => {
      const a = run({ actual: crashedView, crashes: new Map([crashRecord('A', 0, 4, crashedAt)]) });
      assert.deepEqual(summary(a.decisions), ['schedule A/0 #4 in 30000']);
      const [d] = a.decisions;
      assert.equal(d.message, 'Instance 0 crashed 4 times; restart scheduled in 30 s');
      assert.equal(d.kind === 'schedule' && d.dueAt, crashedAt + 30_000);
      const again = run({ now: NOW + 5_000, actual: crashedView, crashes: new Map([crashRecord('A', 0, 4, crashedAt)]) }).decisions[0];
      assert.equal(d.kind === 'schedule' && d.key, `A:0:4:${crashedAt}`);
      assert.equal(again.kind === 'schedule' && again.key, `A:0:4:${crashedAt}`, 'the same key while it waits');
      assert.deepEqual(a.pendingApps, ['A']);
    });

    it('restarts once the delay has passed', () => {
      const later = desired([proc('A')], crashedAt + 59_000);
      const a = run({ now: crashedAt + 60_000, desired: later, actual: crashedView, crashes: new Map([crashRecord('A', 0, 5, crashedAt)]) });
      assert.deepEqual(summary(a.decisions), ['start A/0 CRASHED #5']);
      assert.equal(a.decisions[0].message, 'Restarting instance 0 (crashed 5 times; waited 60 s)');
      const early = run({ now: crashedAt + 59_999, desired: later, actual: crashedView, crashes: new Map([crashRecord('A', 0, 5, crashedAt)]) });
      assert.deepEqual(summary(early.decisions), ['schedule A/0 #5 in 60000']);
    });

    it('waits for the cap at most', () => {
      const a = run({ actual: crashedView, crashes: new Map([crashRecord('A', 0, 40, crashedAt)]) });
      assert.deepEqual(summary(a.decisions), ['schedule A/0 #40 in 960000']);
      assert.match(a.decisions[0].message, /restart scheduled in 960 s$/);
    });

    it('treats a crash answered by a later active instance as history: the index is then just missing', () => {
      const view = actual([], { lastActiveAt: new Map([['A:0', crashedAt + 50]]) });
      const a = run({ actual: view, crashes: new Map([crashRecord('A', 0, 5, crashedAt)]) });
      assert.deepEqual(a.decisions, [], 'grace first');
      assert.deepEqual([...a.missingSince], [['A:0', NOW]]);
    });

    it('counts an active report in the same millisecond as the crash as older than it', () => {
      const view = actual([inst('A', 0, { state: 'CRASHED' })], { lastActiveAt: new Map([['A:0', crashedAt]]) });
      assert.deepEqual(summary(run({ actual: view, crashes: new Map([crashRecord('A', 0, 2, crashedAt)]) }).decisions), ['start A/0 CRASHED #2']);
    });

    it('uses the missing rule for a forgotten crash count or another version', () => {
      const longAgo = NOW - 2 * CRASH.capMs - 1;
      const forgotten = run({ actual: crashedView, crashes: new Map([crashRecord('A', 0, 9, longAgo)]), missingSince: new Map([['A:0', 0]]) });
      assert.deepEqual(summary(forgotten.decisions), ['start A/0 MISSING']);
      const otherVersion = run({ actual: crashedView, crashes: new Map([crashRecord('A', 0, 9, crashedAt, 'v0')]), missingSince: new Map([['A:0', 0]]) });
      assert.deepEqual(summary(otherVersion.decisions), ['start A/0 MISSING']);
    });

    it('does not restart a crashed index that another instance serves', () => {
      const view = actual([inst('A', 0, { state: 'CRASHED', instance: 'old' }), inst('A', 0, { instance: 'new' })]);
      assert.deepEqual(run({ actual: view, crashes: new Map([crashRecord('A', 0, 2, crashedAt)]) }).decisions, []);
    });

    it('does not restart while the restart already asked for is pending', () => {
      const a = run({ actual: crashedView, crashes: new Map([crashRecord('A', 0, 2, crashedAt)]), pending: [pendingStart('A', 0, { reason: 'CRASHED' })] });
      assert.deepEqual(a.decisions, []);
    });

    it('restarts crashed indices of an app one by one, each with its own count', () => {
      const view = actual([inst('A', 0, { state: 'CRASHED' }), inst('A', 1, { state: 'CRASHED' })], { lastActiveAt: new Map() });
      const crashes = new Map([crashRecord('A', 0, 1, crashedAt), crashRecord('A', 1, 6, crashedAt)]);
      assert.deepEqual(summary(run({ desired: desired([proc('A', { instances: 2 })]), actual: view, crashes }).decisions), ['start A/0 CRASHED #1', 'schedule A/1 #6 in 120000']);
    });
  });

  describe('extra and duplicate instances', () => {
    it('stops an instance at an index beyond the instance count', () => {
      const a = run({ actual: actual([inst('A', 0), inst('A', 1), inst('A', 2)]) });
      assert.deepEqual(summary(a.decisions), ['stop A-1 EXTRA', 'stop A-2 EXTRA']);
      assert.equal(a.decisions[0].message, 'Stopping extra instance A-1 (index 1; the app has 1 instance)');
    });

    it('stops instances of another version once the desired version runs everywhere', () => {
      const a = run({ desired: desired([proc('A', { version: 'v2' })]), actual: actual([inst('A', 0, { instance: 'old' }), inst('A', 0, { instance: 'new', version: 'v2' })]) });
      assert.deepEqual(summary(a.decisions), ['stop old EXTRA']);
      assert.equal(a.decisions[0].message, 'Stopping extra instance old (index 0, version v1; the app runs version v2)');
    });

    it('keeps other versions while the desired one is missing or only STARTING (nothing stopped while something is pending)', () => {
      const wants2 = desired([proc('A', { version: 'v2', instances: 2 })]);
      const missing = run({ desired: wants2, actual: actual([inst('A', 0), inst('A', 1), inst('A', 0, { instance: 'n0', version: 'v2' })]) });
      assert.deepEqual(summary(missing.decisions), [], 'index 1 of v2 is within its grace period');
      const starting = run({
        desired: wants2,
        actual: actual([inst('A', 0), inst('A', 1), inst('A', 0, { instance: 'n0', version: 'v2' }), inst('A', 1, { instance: 'n1', version: 'v2', state: 'STARTING' })]),
      });
      assert.deepEqual(starting.decisions, []);
    });

    it('keeps extras while a start is pending for the app', () => {
      const a = run({ desired: desired([proc('A', { instances: 2 })]), actual: actual([inst('A', 0), inst('A', 1), inst('A', 5)]), pending: [pendingStart('A', 1)] });
      assert.deepEqual(a.decisions, []);
    });

    it('keeps extras while a crash restart is scheduled', () => {
      const view = actual([inst('A', 0, { state: 'CRASHED' }), inst('A', 1)], { lastActiveAt: new Map() });
      const a = run({ actual: view, crashes: new Map([crashRecord('A', 0, 4, NOW)]) });
      assert.deepEqual(summary(a.decisions), ['schedule A/0 #4 in 30000']);
    });

    it('stops duplicates at an index, keeping the RUNNING instance with the oldest state', () => {
      const instances = [
        inst('A', 0, { instance: 'young', stateTimestamp: 2_000 }),
        inst('A', 0, { instance: 'old', stateTimestamp: 1_000 }),
        inst('A', 0, { instance: 'starting', state: 'STARTING', stateTimestamp: 500 }),
      ];
      const a = run({ actual: actual(instances) });
      assert.deepEqual(summary(a.decisions), ['stop starting DUPLICATE', 'stop young DUPLICATE']);
      assert.equal(a.decisions[1].message, 'Stopping duplicate instance young (index 0; keeping old)');
    });

    it('stops no duplicate on the strength of a snapshot older than it', () => {
      const a = run({ actual: actual([inst('A', 0, { instance: 'a' }), inst('A', 0, { instance: 'b', firstSeenAt: FETCHED + 1 })]) });
      assert.deepEqual(a.decisions, []);
    });
  });

  describe('stopped and unknown apps', () => {
    it('stops every RUNNING or STARTING instance of a stopped app, and leaves CRASHED ones alone', () => {
      const instances = [inst('A', 0), inst('A', 1, { state: 'STARTING' }), inst('A', 2, { state: 'CRASHED' }), inst('A', 3, { state: 'STOPPING' })];
      const a = run({ desired: desired([proc('A', { state: 'STOPPED', instances: 4 })]), actual: actual(instances) });
      assert.deepEqual(summary(a.decisions), ['stop A-0 EXTRA', 'stop A-1 EXTRA']);
      assert.equal(a.decisions[0].message, 'Stopping extra instance A-0 (index 0; the app is stopped)');
    });

    it('stops instances of an app the controller does not know', () => {
      const a = run({ actual: actual([inst('A', 0), inst('GONE', 0)]) });
      assert.deepEqual(summary(a.decisions), ['stop GONE-0 EXTRA']);
      assert.equal(a.decisions[0].message, 'Stopping extra instance GONE-0 (index 0; the app does not exist)');
    });

    it('ignores pending starts of a stopped app', () => {
      const a = run({ desired: desired([proc('A', { state: 'STOPPED' })]), pending: [pendingStart('A', 0)] });
      assert.deepEqual(summary(a.decisions), ['stop A-0 EXTRA']);
    });

    it('never stops an instance first seen after the snapshot was fetched (the app may be newer than it)', () => {
      const fresh = { firstSeenAt: FETCHED + 1 };
      const a = run({
        desired: desired([proc('A'), proc('S', { state: 'STOPPED' })]),
        actual: actual([inst('A', 0), inst('A', 1, fresh), inst('A', 0, { ...fresh, instance: 'v2', version: 'v2' }), inst('S', 0, fresh), inst('NEW', 0, fresh)]),
      });
      assert.deepEqual(a.decisions, []);
      const later = run({
        desired: desired([proc('A'), proc('S', { state: 'STOPPED' })], FETCHED + 1),
        actual: actual([inst('A', 0), inst('A', 1, fresh), inst('S', 0, fresh), inst('NEW', 0, fresh)]),
      });
      assert.deepEqual(summary(later.decisions), ['stop A-1 EXTRA', 'stop NEW-0 EXTRA', 'stop S-0 EXTRA']);
    });
  });

  it('orders decisions by app and index, whatever the input order', () => {
    const instances = [inst('Z', 0), inst('B', 1), inst('B', 0), inst('A', 0)];
    const a = run({ desired: desired([proc('A'), proc('B', { state: 'STOPPED' }), proc('C', { instances: 2 })]), actual: actual(instances), missingSince: new Map([['C:1', 0], ['C:0', 0]]) });
    assert.deepEqual(summary(a.decisions), ['stop B-0 EXTRA', 'stop B-1 EXTRA', 'start C/0 MISSING', 'start C/1 MISSING', 'stop Z-0 EXTRA']);
  });

  it('does not change its inputs', () => {
    const missing = new Map([['A:1', 5]]);
    const view = actual([inst('A', 0)]);
    const before = JSON.stringify([...missing, view.instances]);
    run({ desired: desired([proc('A', { instances: 2 })]), actual: view, missingSince: missing });
    assert.equal(JSON.stringify([...missing, view.instances]), before);
  });

  it('formats delays as the log lines show them', () => {
    assert.deepEqual([200, 400, 1_500, 9_999, 30_000, 960_000].map(formatDelay), ['0.2 s', '0.4 s', '1.5 s', '10 s', '30 s', '960 s']);
  });
});
