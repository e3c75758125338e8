// The crash restart policy, as pure functions (DESIGN.md §7, docs/health.md).
import assert from 'node:assert/strict';
import {
  activeCrash,
  crashKey,
  forgetAfterMs,
  isForgotten,
  pruneCrashes,
  recordCrash,
  restartDelayMs,
  restartDueAt,
  type CrashPolicySettings,
  type CrashRecord,
} from '../../../src/runtime/health/crash-policy.js';
import { crashPolicySettings } from '../../../src/runtime/health/settings.js';

const CF: CrashPolicySettings = { immediateRestarts: 3, baseMs: 30_000, capMs: 960_000 };
const crash = (at: number, version = 'v1') => ({ app: 'app', index: 0, version, at });

function crashTimes(times: number[], s = CF, version = 'v1'): CrashRecord | undefined {
  let record: CrashRecord | undefined;
  for (const at of times) record = recordCrash(record, crash(at, version), s);
  return record;
}

describe('health: crash policy', () => {
  it('restarts the first three crashes at once', () => {
    assert.deepEqual([1, 2, 3].map((n) => restartDelayMs(n, CF)), [0, 0, 0]);
  });

  it('then waits 30 s, 60 s, 120 s … doubling', () => {
    assert.deepEqual([4, 5, 6, 7, 8].map((n) => restartDelayMs(n, CF) / 1000), [30, 60, 120, 240, 480]);
  });

  it('caps the delay at 960 s, however many crashes', () => {
    assert.equal(restartDelayMs(9, CF), 960_000);
    assert.equal(restartDelayMs(10, CF), 960_000);
    assert.equal(restartDelayMs(5_000, CF), 960_000);
  });

  it('follows the configured base and cap', () => {
    const fast = { immediateRestarts: 3, baseMs: 200, capMs: 700 };
    assert.deepEqual([3, 4, 5, 6, 7].map((n) => restartDelayMs(n, fast)), [0, 200, 400, 700, 700]);
  });

  it('counts crashes per record and remembers the last one', () => {
    const record = crashTimes([1_000, 2_000, 3_000, 4_000]);
    assert.deepEqual(record, { app: 'app', index: 0, version: 'v1', count: 4, lastCrashAt: 4_000 });
    assert.equal(restartDueAt(record!, CF), 4_000 + 30_000);
  });

  it('forgets the count after twice the cap without a crash', () => {
    assert.equal(forgetAfterMs(CF), 1_920_000);
    const record = crashTimes([0, 10, 20, 30, 40])!;
    assert.equal(isForgotten(record, 40 + 1_920_000, CF), false, 'exactly twice the cap: still kept');
    assert.equal(isForgotten(record, 40 + 1_920_001, CF), true);
    assert.equal(activeCrash(record, 40 + 1_920_001, CF), undefined);
    assert.equal(activeCrash(record, 1_000, CF), record);
    assert.equal(recordCrash(record, crash(40 + 1_920_001), CF).count, 1, 'a crash after the window starts again at 1');
    assert.equal(recordCrash(record, crash(40 + 1_919_000), CF).count, 6, 'a crash within the window counts on');
  });

  it('starts the count again for another version', () => {
    const record = crashTimes([0, 1, 2, 3, 4]);
    assert.equal(recordCrash(record, crash(5, 'v2'), CF).count, 1);
    assert.equal(recordCrash(record, crash(5, 'v2'), CF).version, 'v2');
  });

  it('never moves the last crash time backwards', () => {
    const record = recordCrash(crashTimes([1_000]), crash(500), CF);
    assert.equal(record.lastCrashAt, 1_000);
    assert.equal(record.count, 2);
  });

  it('prunes forgotten records into a new map', () => {
    const records = new Map<string, CrashRecord>([
      [crashKey('a', 0), { app: 'a', index: 0, version: 'v', count: 2, lastCrashAt: 0 }],
      [crashKey('a', 1), { app: 'a', index: 1, version: 'v', count: 5, lastCrashAt: 1_000_000 }],
    ]);
    const pruned = pruneCrashes(records, 2_000_000, CF);
    assert.deepEqual([...pruned.keys()], ['a:1']);
    assert.equal(records.size, 2, 'input left alone');
  });

  it('reads base and cap from the environment', () => {
    assert.deepEqual(crashPolicySettings({}), CF);
    assert.deepEqual(crashPolicySettings({ DEVBOX_HEALTH_CRASH_BASE_MS: '200', DEVBOX_HEALTH_CRASH_CAP_MS: '800' }), { immediateRestarts: 3, baseMs: 200, capMs: 800 });
    assert.throws(() => crashPolicySettings({ DEVBOX_HEALTH_CRASH_BASE_MS: 'soon' }), /DEVBOX_HEALTH_CRASH_BASE_MS must be a whole number of milliseconds/);
    assert.throws(() => crashPolicySettings({ DEVBOX_HEALTH_CRASH_BASE_MS: '0' }), /DEVBOX_HEALTH_CRASH_BASE_MS/);
    assert.throws(() => crashPolicySettings({ DEVBOX_HEALTH_CRASH_BASE_MS: '1000', DEVBOX_HEALTH_CRASH_CAP_MS: '500' }), /must not be below/);
  });
});
