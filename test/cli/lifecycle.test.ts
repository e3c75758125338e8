// Staging and start waiting without a box: failures worded as cf's, timeouts from the env, and the
// rules that end the wait for instances (all running, all crashed, every index crashed, timeout).
import assert from 'node:assert/strict';
import type { ApiClient } from '../../src/cli/api/client.js';
import type { App, AuditEvent, Build, Deployment, Process, ProcessInstanceStats } from '../../src/cli/api/resources.js';
import { deployAndWait, moreInformationTip, StartFailure, stagingFailure, stagingTimeoutMs, startupTimeoutMs, waitForInstances } from '../../src/cli/lifecycle.js';
import { createSteps } from '../../src/cli/steps.js';

const app = { guid: 'a', name: 'shop' } as App;
const web = { guid: 'p', instances: 2 } as Process;
const ui = { bin: 'devbox', logs: true };
const stat = (index: number, state: string): ProcessInstanceStats => ({ type: 'web', index, state });
const crash = (index: number, description: string): AuditEvent =>
  ({ guid: `e${index}`, created_at: new Date().toISOString(), updated_at: '', type: 'audit.app.process.crash', actor: { guid: 'p', type: 'process', name: 'web' }, target: { guid: 'a', type: 'app', name: 'shop' }, data: { index, exit_status: 3, exit_description: description } }) as AuditEvent;

/** A client whose stats answers follow `polls` (the last one repeats) and whose crash events are `crashes`. */
function fakeClient(polls: ProcessInstanceStats[][], crashes: AuditEvent[] = []): ApiClient {
  let n = 0;
  return {
    processes: { instanceStats: async () => polls[Math.min(n++, polls.length - 1)] },
    apps: { crashEvents: async () => crashes },
  } as unknown as ApiClient;
}

describe('staging and starting', () => {
  it("words staging failures as cf, with TIPs", () => {
    const error = stagingFailure({ state: 'FAILED', error: 'NoAppDetectedError - An app was not successfully detected by any available buildpack' } as Build, 'shop', ui);
    assert.equal(
      error.message,
      "Error staging application: An app was not successfully detected by any available buildpack\n\nTIP: 'devbox buildpacks' lists devbox's buildpacks (java, ruby, nodejs, go, python, php, staticfile, binary): name one with -b (binary needs -c COMMAND), or give your own buildpack directory with -b PATH.\nTIP: Use 'devbox logs shop --recent' for more information",
    );
    assert.match(stagingFailure({ state: 'FAILED', error: 'BuildpackCompileFailed - exit 1' } as Build, 'shop', { bin: 'devbox', logs: false }).message, /^Error staging application: exit 1\n\nTIP: Use 'devbox events shop' for more information$/);
    assert.equal(moreInformationTip({ bin: 'devbox', logs: false }, 'x'), "TIP: Use 'devbox events x' for more information");
  });

  it('reads CF_STAGING_TIMEOUT and CF_STARTUP_TIMEOUT in minutes, else 15 minutes and the health check timeout + 30 s', () => {
    assert.equal(stagingTimeoutMs({}), 15 * 60_000);
    assert.equal(stagingTimeoutMs({ CF_STAGING_TIMEOUT: '2' }), 120_000);
    assert.equal(startupTimeoutMs(null, {}), 90_000);
    assert.equal(startupTimeoutMs(10, {}), 40_000);
    assert.equal(startupTimeoutMs(10, { CF_STARTUP_TIMEOUT: '1' }), 60_000);
    assert.equal(startupTimeoutMs(10, { CF_STARTUP_TIMEOUT: 'soon' }), 40_000);
  });

  it('waits until every instance runs', async () => {
    const updates: string[] = [];
    const { stats } = await waitForInstances(fakeClient([[stat(0, 'DOWN'), stat(1, 'DOWN')], [stat(0, 'RUNNING'), stat(1, 'STARTING')], [stat(0, 'RUNNING'), stat(1, 'RUNNING')]]), app, web, new Date(), {
      timeoutMs: 10_000,
      ui,
      update: (u) => updates.push(u),
    });
    assert.deepEqual(stats.map((s) => s.state), ['RUNNING', 'RUNNING']);
    assert.deepEqual(updates, ['0 of 2 running, 2 down', '1 of 2 running, 1 starting']);
  });

  it('fails with Start unsuccessful when all instances crashed, listing each crash', async () => {
    const client = fakeClient([[stat(0, 'CRASHED'), stat(1, 'CRASHED')]], [crash(1, 'out of memory'), crash(0, 'APP/PROC/WEB: Exited with status 3'), crash(0, 'older')]);
    await assert.rejects(waitForInstances(client, app, web, new Date(), { timeoutMs: 10_000, ui }), (error: Error) => {
      assert.ok(error instanceof StartFailure);
      assert.equal(error.message, "Start unsuccessful\n\n   #0 crashed: APP/PROC/WEB: Exited with status 3\n   #1 crashed: out of memory\n\nTIP: Use 'devbox logs shop --recent' for more information");
      return true;
    });
  });

  it('fails when every index crashed since the start even if the restarts hide it, not while one runs', async () => {
    const restarting = fakeClient([[stat(0, 'STARTING'), stat(1, 'STARTING')]], [crash(0, 'x'), crash(1, 'y')]);
    await assert.rejects(waitForInstances(restarting, app, web, new Date(), { timeoutMs: 10_000, ui }), /Start unsuccessful/);
    const oneRuns = fakeClient([[stat(0, 'RUNNING'), stat(1, 'STARTING')]]);
    const { stats } = await waitForInstances(oneRuns, app, web, new Date(), { timeoutMs: 300, ui });
    assert.deepEqual(stats.map((s) => s.state), ['RUNNING', 'STARTING'], 'at the deadline, what runs is enough');
  });

  it('stops waiting as cf 7 does once one runs and the others crashed since the start, naming the crashes', async () => {
    const client = fakeClient([[stat(0, 'RUNNING'), stat(1, 'STARTING')]], [crash(1, 'APP/PROC/WEB: Exited with status 3'), { ...crash(0, 'another process'), actor: { guid: 'other', type: 'process', name: 'worker' } }]);
    const begun = Date.now();
    const outcome = await waitForInstances(client, app, web, new Date(), { timeoutMs: 10_000, ui });
    assert.ok(Date.now() - begun < 5_000, 'it did not wait for the deadline');
    assert.deepEqual(outcome.stats.map((s) => s.state), ['RUNNING', 'STARTING']);
    assert.deepEqual(outcome.crashes.map((e) => e.data.index), [1], "only this process's crashes");
  });

  it('times out like cf when nothing runs', async () => {
    await assert.rejects(waitForInstances(fakeClient([[stat(0, 'STARTING'), stat(1, 'DOWN')]]), app, web, new Date(), { timeoutMs: 300, ui }), (error: Error) => {
      assert.ok(error instanceof StartFailure);
      assert.match(error.message, /^Start app timeout\n\nTIP: Application must be listening on the right port\. Instead of hard coding the port, use the \$PORT environment variable\.\nTIP: Use 'devbox logs shop --recent'/);
      return true;
    });
  });

  describe('rolling deployments (deployAndWait)', () => {
    const webOf = { guid: 'p', type: 'web', instances: 2, health_check: { type: 'port', data: { timeout: null } } } as unknown as Process;
    const deployment = (value: 'ACTIVE' | 'FINALIZED', reason: string, error?: string): Deployment =>
      ({ guid: 'd', created_at: new Date().toISOString(), updated_at: '', state: '', status: { value, reason, details: { error: error ?? null } }, strategy: 'rolling', droplet: { guid: 'x' }, new_processes: [] }) as Deployment;
    /** The deployment answers `states` in turn (the last repeats); the web process reports `running` instances. */
    function deployingClient(states: Deployment[], running = 0) {
      let n = 0;
      const calls: string[] = [];
      const client = {
        processes: {
          get: async () => webOf,
          ofApp: async () => [webOf],
          instanceStats: async () => [...Array(2).keys()].map((i) => stat(i, i < running ? 'RUNNING' : 'STARTING')),
        },
        apps: {
          deploy: async (_app: string, droplet?: string) => (calls.push(`deploy ${droplet ?? 'current'}`), deployment('ACTIVE', 'DEPLOYING')),
          deployment: async () => states[Math.min(n++, states.length - 1)],
          cancelDeployment: async () => void calls.push('cancel'),
          crashEvents: async () => [],
        },
      } as unknown as ApiClient;
      return { client, calls };
    }
    const quiet = { steps: createSteps(() => undefined, () => undefined, false), bin: 'devbox', logs: true };

    it('deploys the droplet given and waits until DEPLOYED', async () => {
      const { client, calls } = deployingClient([deployment('ACTIVE', 'DEPLOYING'), deployment('FINALIZED', 'DEPLOYED')], 2);
      await deployAndWait(client, app, 'new-droplet', {}, quiet);
      assert.deepEqual(calls, ['deploy new-droplet']);
    });

    it('fails with the reason when the deployment was canceled', async () => {
      const { client } = deployingClient([deployment('FINALIZED', 'CANCELED', 'new instances failed 3 times')]);
      await assert.rejects(deployAndWait(client, app, undefined, {}, quiet), (error: Error) => {
        assert.ok(error instanceof StartFailure);
        assert.match(error.message, /^Deployment of shop was canceled: new instances failed 3 times/);
        return true;
      });
    });

    it('--no-wait returns once a first new instance runs, without waiting for DEPLOYED', async () => {
      const { client } = deployingClient([deployment('ACTIVE', 'DEPLOYING')], 1);
      await deployAndWait(client, app, undefined, { noWait: true }, quiet);
    });
  });
});
