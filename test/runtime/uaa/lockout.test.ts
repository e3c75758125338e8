// src/runtime/uaa/lockout.ts with a clock of its own: UAA's counting (failures in a row, within the
// window, the period after the last one), and the bound on the user names it remembers.
import assert from 'node:assert/strict';
import { LoginLockout } from '../../../src/runtime/uaa/lockout.js';

describe('uaa login lockout (UAA\'s CommonLoginPolicy)', () => {
  let now: number;
  const clock = () => now;
  const policy = { lockoutAfterFailures: 3, countFailuresWithinSeconds: 60, lockoutPeriodSeconds: 30 };
  beforeEach(() => (now = 1_000_000));

  it('locks after N failures within the window, for the period after the last; attempts meanwhile do not extend it', () => {
    const lockout = new LoginLockout(policy, { users: ['admin'], now: clock });
    assert.equal(lockout.failed('admin'), false);
    now += 5_000;
    assert.equal(lockout.failed('admin'), false);
    assert.equal(lockout.isLocked('admin'), false);
    now += 5_000;
    assert.equal(lockout.failed('admin'), true, 'the third failure locks');
    const lockedAt = now;
    for (const after of [0, 10_000, 29_999]) {
      now = lockedAt + after;
      assert.equal(lockout.isLocked('admin'), true, `${after} ms after`);
    }
    now = lockedAt + 30_000;
    assert.equal(lockout.isLocked('admin'), false, '30 s after the last failure');
    assert.deepEqual(lockout.stats(), { locked: 0, refused: 3, lockouts: 1 });
  });

  it('does not count failures older than the window, nor those before a success', () => {
    const lockout = new LoginLockout(policy, { users: ['admin'], now: clock });
    lockout.failed('admin');
    lockout.failed('admin');
    now += 61_000;
    assert.equal(lockout.failed('admin'), false, 'the first two are out of the window');
    lockout.failed('admin');
    lockout.succeeded('admin');
    assert.equal(lockout.failed('admin'), false);
    assert.equal(lockout.failed('admin'), false);
    assert.equal(lockout.isLocked('admin'), false);
    assert.equal(lockout.failed('admin'), true);
  });

  it('keeps at most maxUnknown other names (the oldest go first), never forgetting the box\'s users', () => {
    const lockout = new LoginLockout(policy, { users: ['admin'], maxUnknown: 100, now: clock });
    lockout.failed('admin');
    lockout.failed('admin');
    for (let i = 0; i < 1_000; i++) lockout.failed(`guess-${i}`);
    assert.equal(lockout.failed('admin'), true, "the admin's failures were kept");
    // The last 100 names are remembered, the first ones were let go.
    assert.equal(lockout.failed('guess-999') || lockout.failed('guess-999'), true);
    assert.equal(lockout.failed('guess-0'), false);
    assert.equal((lockout as unknown as { failures: Map<string, number[]> }).failures.size, 101);
  });

  it('does nothing with lockoutAfterFailures 0', () => {
    const lockout = new LoginLockout({ ...policy, lockoutAfterFailures: 0 }, { users: ['admin'], now: clock });
    for (let i = 0; i < 10; i++) assert.equal(lockout.failed('admin'), false);
    assert.equal(lockout.isLocked('admin'), false);
  });
});
