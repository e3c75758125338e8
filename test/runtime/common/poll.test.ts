import assert from 'node:assert/strict';
import { backoffDelay, retry, waitFor } from '../../../src/runtime/common/poll.js';

/** Counts calls; answers from `answers` in turn (the last one again once they run out). */
function scripted<T>(...answers: (T | Error)[]) {
  const calls: number[] = [];
  const fn = async () => {
    calls.push(Date.now());
    const answer = answers[Math.min(calls.length - 1, answers.length - 1)];
    if (answer instanceof Error) throw answer;
    return answer;
  };
  return Object.assign(fn, { calls });
}

describe('poll', () => {
  describe('waitFor', () => {
    it('returns the first value that is neither undefined nor false', async () => {
      const check = scripted<string | false | undefined>(undefined, false, 'ready');
      assert.equal(await waitFor('the value', check, { timeoutMs: 2_000, intervalMs: 1 }), 'ready');
      assert.equal(check.calls.length, 3);
    });

    it('counts thrown errors as "not yet" by default, and names the last one when time is up', async () => {
      const begun = Date.now();
      await assert.rejects(
        waitFor('the API on port 1', scripted<boolean>(new Error('ECONNREFUSED')), { timeoutMs: 60, intervalMs: 5 }),
        { message: 'timed out after 60 ms waiting for the API on port 1 (last error: ECONNREFUSED)' },
      );
      assert.ok(Date.now() - begun < 1_000);
    });

    it('ends at once on an error retryIf refuses', async () => {
      const check = scripted<boolean>(false, new Error('404 Not Found'), true);
      await assert.rejects(waitFor('the build', check, { timeoutMs: 2_000, intervalMs: 1, retryIf: () => false }), { message: '404 Not Found' });
      assert.equal(check.calls.length, 2);
    });

    it('returns what onTimeout gives when time is up, or throws what it throws', async () => {
      assert.equal(await waitFor('quiet', () => false, { timeoutMs: 20, intervalMs: 5, onTimeout: () => 'partial' as const }), 'partial');
      await assert.rejects(
        waitFor<never>('start', () => false, {
          timeoutMs: 20,
          intervalMs: 5,
          onTimeout: () => {
            throw new Error('Start app timeout');
          },
        }),
        { message: 'Start app timeout' },
      );
    });

    it('makes its last check at the deadline, not an interval later', async () => {
      const check = scripted(false);
      const begun = Date.now();
      await assert.rejects(waitFor('never', check, { timeoutMs: 50, intervalMs: 10_000 }), /timed out after 50 ms waiting for never/);
      assert.equal(check.calls.length, 2);
      assert.ok(check.calls[1] - begun >= 45, 'the second check waits for the deadline');
      assert.ok(Date.now() - begun < 2_000);
    });

    it('takes an absolute deadline shared by several waits', async () => {
      const deadline = Date.now() - 1;
      const check = scripted(false);
      await assert.rejects(waitFor('the router', check, { deadline }), { message: 'timed out waiting for the router' });
      assert.equal(check.calls.length, 1, 'checked once even when the deadline has passed');
    });

    it('waits one interval before the first check with delayFirst', async () => {
      const check = scripted('done');
      const begun = Date.now();
      assert.equal(await waitFor('the job', check, { timeoutMs: 2_000, intervalMs: 30, delayFirst: true }), 'done');
      assert.ok(check.calls[0] - begun >= 25, `first check after ${check.calls[0] - begun} ms`);
    });

    it('backs off between checks', async () => {
      const fixed = scripted(false);
      const backing = scripted(false);
      await Promise.all([
        assert.rejects(waitFor('fixed', fixed, { timeoutMs: 300, intervalMs: 20 })),
        assert.rejects(waitFor('backing off', backing, { timeoutMs: 300, backoff: { initialMs: 20, maxMs: 1_000 } })),
      ]);
      // Waits of 20, 40, 80, then 160 cut to the deadline: at most 5 checks (a busy machine's timers
      // only fire later, never sooner), where a fixed 20 ms makes many more.
      const gaps = backing.calls.slice(1).map((at, i) => at - backing.calls[i]);
      assert.ok(gaps[0] >= 15 && gaps[1] >= 35 && gaps[2] >= 75, `gaps between checks: ${gaps.join(', ')} ms`);
      assert.ok(backing.calls.length <= 5, `${backing.calls.length} checks`);
      assert.ok(fixed.calls.length > backing.calls.length + 2, `${fixed.calls.length} fixed checks`);
    });
  });

  describe('backoffDelay', () => {
    it('grows by the factor from the initial delay up to the maximum', () => {
      const doubling = { initialMs: 100, maxMs: 1_000 };
      assert.deepEqual([0, 1, 2, 3, 4, 5].map((n) => backoffDelay(doubling, n)), [100, 200, 400, 800, 1_000, 1_000]);
      const gentle = { initialMs: 50, maxMs: 500, factor: 1.5 };
      assert.deepEqual([0, 1, 2, 6].map((n) => backoffDelay(gentle, n)), [50, 75, 112.5, 500]);
    });
  });

  describe('retry', () => {
    const transient = (error: unknown) => error instanceof Error && error.message === 'transient';

    it('retries the errors retryIf accepts and returns the result', async () => {
      const op = scripted<string>(new Error('transient'), new Error('transient'), 'connected');
      assert.equal(await retry(op, { timeoutMs: 2_000, intervalMs: 1, retryIf: transient }), 'connected');
      assert.equal(op.calls.length, 3);
    });

    it('returns undefined results as they are (only errors are retried)', async () => {
      const op = scripted<undefined>(undefined);
      assert.equal(await retry(op, { timeoutMs: 2_000, intervalMs: 1, retryIf: () => true }), undefined);
      assert.equal(op.calls.length, 1);
    });

    it('throws an error retryIf refuses at once', async () => {
      const refused = new Error('token refused');
      const op = scripted<string>(new Error('transient'), refused, 'never');
      await assert.rejects(retry(op, { timeoutMs: 2_000, intervalMs: 1, retryIf: transient }), (error) => error === refused);
      assert.equal(op.calls.length, 2);
    });

    it('throws the last error when time is up', async () => {
      const errors = [new Error('transient'), new Error('transient')];
      const op = scripted<string>(...errors);
      const begun = Date.now();
      await assert.rejects(retry(op, { timeoutMs: 40, backoff: { initialMs: 5, maxMs: 10 }, retryIf: transient }), (error) => error === errors[1]);
      assert.ok(op.calls.length >= 2);
      assert.ok(Date.now() - begun < 1_000);
    });
  });
});
