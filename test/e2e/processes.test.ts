// Every process type of an app, end to end on a real box with both CLIs: a Procfile's web and worker
// (the worker writes a line a second), scaled, shown, logged and restarted on their own, through
// devbox's CLI and the real cf CLI; only web gets the route.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from '../../src/runtime/common/http.js';
import { waitFor } from '../../src/runtime/common/poll.js';
import { readBox, varz, waitForRestart } from '../helpers/box-probe.js';
import { startCfBox, table, type CfBox } from '../helpers/cf.js';
import { devbox } from '../helpers/devbox.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const webWorker = path.join(root, 'test/fixtures/apps/web-worker');

describe('every process type: web and worker, with devbox and cf', function () {
  this.timeout(180_000);
  let box: CfBox;
  const cli = (args: string[], timeoutMs = 120_000) => devbox(box.home, args, { timeoutMs });
  const ok = async (args: string[], timeoutMs?: number) => {
    const r = await cli(args, timeoutMs);
    assert.equal(r.exitCode, 0, `devbox ${args.join(' ')}: exit ${r.exitCode}\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  };
  const recentLogs = async (app: string) => ok(['logs', app, '--recent']);
  const appGuid = async (app: string) => (await box.cf.ok(['app', app, '--guid'])).trim();
  /** The TMPDIR, on the host, of the running instance that made `marker` in it (an instance's home/tmp). */
  const tmpWith = (marker: string): string | undefined => {
    const root = path.join(box.home, 'dea');
    for (const dea of fs.readdirSync(root)) {
      const instances = path.join(root, dea, 'instances');
      for (const guid of fs.existsSync(instances) ? fs.readdirSync(instances) : []) {
        const tmp = path.join(instances, guid, 'home', 'tmp');
        if (fs.existsSync(path.join(tmp, marker))) return tmp;
      }
    }
    return undefined;
  };

  before(async function () {
    this.timeout(240_000);
    box = await startCfBox({ prefix: 'devbox-processes-' });
    await box.cf.login();
  });
  after(async function () {
    this.timeout(60_000);
    await box?.close();
  });

  it("devbox push makes a process of each Procfile type: web runs with the route, the worker waits to be scaled (and push says so)", async () => {
    const out = await ok(['push', 'ww', '-p', webWorker]);
    assert.match(out, /type:\s+web\s*\n\s*instances:\s+1\/1/);
    assert.match(out, /type:\s+worker\s*\n\s*instances:\s+0\/0/);
    const res = await request({ url: `http://ww.localhost:${box.port}/`, timeoutMs: 5_000, routeWaitMs: 10_000 });
    assert.equal(res.status, 200, res.text);
    assert.match(res.text, /^web process web instance 0/);
  });

  it('devbox scale --process worker starts the worker: its lines are APP/PROC/WORKER/0 in the logs, devbox app shows it running', async () => {
    await ok(['scale', 'ww', '--process', 'worker', '-i', '1']);
    await waitFor('the worker to log', async () => /\[APP\/PROC\/WORKER\/0\] OUT worker tick \d+ \(process worker, instance 0\)/.test(await recentLogs('ww')), { timeoutMs: 30_000, intervalMs: 500 });
    const app = await waitFor('devbox app to show the worker running', async () => {
      const shown = await ok(['app', 'ww']);
      return /type:\s+worker\s*\n\s*instances:\s+1\/1/.test(shown) && shown;
    }, { timeoutMs: 20_000, intervalMs: 300 });
    assert.match(app, /start command:\s+node worker\.js/);
    // The worker has no route: the web process still answers every request.
    for (let i = 0; i < 5; i++) {
      const res = await request({ url: `http://ww.localhost:${box.port}/`, timeoutMs: 5_000 });
      assert.match(res.text, /^web process web/);
    }
  });

  it('scaling a process type the app does not have names it and the types it has', async () => {
    const r = await cli(['scale', 'ww', '--process', 'clock', '-i', '1']);
    assert.equal(r.exitCode, 1, r.stdout);
    assert.match(r.stderr, /App ww has no process of type 'clock': its processes are web, worker/);
  });

  it('cf app shows both processes; cf scale --process and cf restart-app-instance --process act on the worker alone', async () => {
    const shown = await box.cf.ok(['app', 'ww']);
    assert.match(shown, /type:\s+web[\s\S]*#0\s+running/);
    assert.match(shown, /type:\s+worker[\s\S]*instances:\s+1\/1/);
    await box.cf.ok(['scale', 'ww', '--process', 'worker', '-i', '2']);
    await waitFor('the second worker to log', async () => /\[APP\/PROC\/WORKER\/1\] OUT worker tick/.test(await recentLogs('ww')), { timeoutMs: 30_000, intervalMs: 500 });
    const before = await box.cf.ok(['app', 'ww']);
    assert.match(before, /type:\s+web\s*\n[\s\S]*instances:\s+1\/1/);

    const restartedAt = Date.now();
    await box.cf.ok(['restart-app-instance', 'ww', '1', '--process', 'worker']);
    // The health manager starts index 1 again: a new instance logs its first tick after the restart.
    const firstTicks = (logs: string, index: number) =>
      logs
        .split('\n')
        .filter((l) => l.includes(`[APP/PROC/WORKER/${index}] OUT worker tick 1 `))
        .map((l) => Date.parse(l.trim().split(' ')[0].replace(/(\.\d\d)\+0000$/, '$10Z')));
    await waitFor('the restarted worker to log its first tick again', async () => firstTicks(await recentLogs('ww'), 1).some((at) => at >= restartedAt - 1_000), { timeoutMs: 40_000, intervalMs: 500 });
    assert.ok(!firstTicks(await recentLogs('ww'), 0).some((at) => at >= restartedAt - 1_000), 'instance 0 of the worker was not restarted');
    const events = await box.cf.ok(['events', 'ww']);
    assert.match(events, /audit\.app\.process\.terminate_instance/);
  });

  it("cf run-task runs a command once with the app's droplet: SUCCEEDED, its lines as APP/TASK/<name>/0; a failing one FAILED with its exit status", async () => {
    const out = await box.cf.ok(['run-task', 'ww', '--command', 'echo "task sees $(node --version) and $VCAP_APPLICATION" | cut -c1-40; ls worker.js', '--name', 'hello']);
    assert.match(out, /Task has been submitted successfully for execution\./);
    assert.match(out, /task name:\s+hello/);
    await box.cf.ok(['run-task', 'ww', '--command', 'echo failing >&2; exit 4', '--name', 'broken']);
    const rows = await waitFor('both tasks to end', async () => {
      const t = table(await box.cf.ok(['tasks', 'ww']), 'id');
      return t.length >= 2 && t.every((r) => r.state === 'SUCCEEDED' || r.state === 'FAILED') && t;
    }, { timeoutMs: 30_000, intervalMs: 500 });
    assert.deepEqual(rows.map((r) => [r.name, r.state]), [['broken', 'FAILED'], ['hello', 'SUCCEEDED']], 'newest first, as cf lists them');
    const logs = await recentLogs('ww');
    assert.match(logs, /\[APP\/TASK\/hello\/0\] OUT task sees v\d+/);
    assert.match(logs, /\[APP\/TASK\/hello\/0\] OUT worker\.js/);
    assert.match(logs, /\[APP\/TASK\/broken\/0\] ERR failing/);
    const broken = JSON.parse(await box.cf.ok(['curl', `/v3/apps/${await appGuid('ww')}/tasks?names=broken`])).resources[0];
    assert.equal(broken.result.failure_reason, 'APP/TASK/broken: Exited with status 4');
  });

  it('devbox run-task --wait waits for the end: exit 0 when it succeeded, 1 with the reason when it failed; devbox tasks lists them', async () => {
    const good = await cli(['run-task', 'ww', '--command', 'echo from devbox', '--name', 'viadevbox', '--wait']);
    assert.equal(good.exitCode, 0, `${good.stdout}\n${good.stderr}`);
    const bad = await cli(['run-task', 'ww', '--command', 'exit 7', '--name', 'viadevbox-bad', '--wait']);
    assert.equal(bad.exitCode, 1, bad.stdout);
    assert.match(bad.stderr, /APP\/TASK\/viadevbox-bad: Exited with status 7/);
    const listed = await ok(['tasks', 'ww']);
    assert.match(listed, /viadevbox\s+SUCCEEDED/);
    assert.match(listed, /viadevbox-bad\s+FAILED/);
    assert.match(await recentLogs('ww'), /\[APP\/TASK\/viadevbox\/0\] OUT from devbox/);
  });

  it('cf terminate-task ends a running task: FAILED, "task was cancelled"', async () => {
    await box.cf.ok(['run-task', 'ww', '--command', 'echo long started; exec sleep 600', '--name', 'long']);
    await waitFor('the long task to start', async () => /\[APP\/TASK\/long\/0\] OUT long started/.test(await recentLogs('ww')), { timeoutMs: 30_000, intervalMs: 300 });
    const id = table(await box.cf.ok(['tasks', 'ww']), 'id').find((r) => r.name === 'long')!.id;
    await box.cf.ok(['terminate-task', 'ww', id]);
    const ended = await waitFor('the long task to end', async () => {
      const task = JSON.parse(await box.cf.ok(['curl', `/v3/apps/${await appGuid('ww')}/tasks?names=long`])).resources[0];
      return task.state === 'FAILED' && task;
    }, { timeoutMs: 30_000, intervalMs: 300 });
    assert.equal(ended.result.failure_reason, 'task was cancelled');
  });

  it('a task that ends while the controller is down is recorded once the controller is back (the DEA remembers it)', async () => {
    const probe = readBox(box.home);
    await box.cf.ok(['run-task', 'ww', '--command', 'touch "$TMPDIR/survivor"; echo waiting; while [ ! -e "$TMPDIR/go" ]; do sleep 0.1; done; echo done', '--name', 'survivor']);
    const taskTmp = await waitFor('the survivor to start', () => tmpWith('survivor'), { timeoutMs: 30_000, intervalMs: 100 });
    const controller = await varz(probe, 'controller');
    assert.ok(controller, 'the controller answers /varz');
    process.kill(controller.pid, 'SIGKILL');
    // The task ends while no controller hears its task.exited.
    fs.writeFileSync(path.join(taskTmp, 'go'), '');
    await waitForRestart(probe, 'controller', controller.pid, 60_000);
    const task = await waitFor('the survivor recorded as SUCCEEDED', async () => {
      const t = JSON.parse(await box.cf.ok(['curl', `/v3/apps/${await appGuid('ww')}/tasks?names=survivor`])).resources[0];
      return t?.state === 'SUCCEEDED' && t;
    }, { timeoutMs: 60_000, intervalMs: 500 });
    assert.equal(task.result.failure_reason, null);
  });

  it('a rolling restart keeps a one-instance app answering (0 failed requests), where a plain restart does not; cf restart --strategy rolling too', async () => {
    /** Requests through the router one after another until `until` settles: how many, and how many failed. */
    const underLoad = async (until: Promise<unknown>) => {
      let done = false;
      const settled = until.finally(() => (done = true));
      let sent = 0;
      const failures: string[] = [];
      while (!done) {
        sent++;
        const res = await request({ url: `http://ww.localhost:${box.port}/`, timeoutMs: 5_000 }).catch((error: Error) => ({ status: 0, text: error.message }));
        if (res.status !== 200) failures.push(`${res.status} ${res.text.slice(0, 80)}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      await settled;
      return { sent, failures };
    };
    const rolling = await underLoad(cli(['restart', 'ww', '--strategy', 'rolling']).then((r) => assert.equal(r.exitCode, 0, `${r.stdout}\n${r.stderr}`)));
    const plain = await underLoad(cli(['restart', 'ww']).then((r) => assert.equal(r.exitCode, 0, `${r.stdout}\n${r.stderr}`)));
    console.log(`      rolling restart: ${rolling.failures.length} of ${rolling.sent} requests failed; plain restart: ${plain.failures.length} of ${plain.sent}`);
    assert.ok(rolling.sent >= 10, `the loop ran during the rolling restart (${rolling.sent})`);
    assert.deepEqual(rolling.failures, [], 'no request fails during a rolling restart');
    assert.ok(plain.failures.length > 0, 'a plain restart of a one-instance app is down for a while (the reference)');

    const viaCf = await underLoad(box.cf.ok(['restart', 'ww', '--strategy', 'rolling']));
    assert.deepEqual(viaCf.failures, [], 'cf restart --strategy rolling: no request fails');
    // cf push --strategy rolling stages the new files, then deploys the new droplet.
    const pushed = await underLoad(box.cf.ok(['push', 'ww', '-p', webWorker, '--strategy', 'rolling']));
    assert.deepEqual(pushed.failures, [], 'cf push --strategy rolling: no request fails');
    const devboxPush = await underLoad(ok(['push', 'ww', '-p', webWorker, '--strategy', 'rolling']));
    assert.deepEqual(devboxPush.failures, [], 'devbox push --strategy rolling: no request fails');
    const restaged = await underLoad(box.cf.ok(['restage', 'ww', '--strategy', 'rolling']));
    assert.deepEqual(restaged.failures, [], 'cf restage --strategy rolling: no request fails');
    const devboxRestage = await underLoad(ok(['restage', 'ww', '--strategy', 'rolling']));
    assert.deepEqual(devboxRestage.failures, [], 'devbox restage --strategy rolling: no request fails');
    const deployments = JSON.parse(await box.cf.ok(['curl', `/v3/deployments?app_guids=${await appGuid('ww')}&order_by=-created_at`])).resources;
    assert.deepEqual([deployments[0].status.value, deployments[0].status.reason], ['FINALIZED', 'DEPLOYED']);
  });

  it('a rolling deployment whose new instances crash cancels itself: the previous droplet keeps answering, and restart says why', async () => {
    // A web command that crashes when the environment says so; the running instance started without it.
    const web = `/v3/processes/${await appGuid('ww')}`;
    await box.cf.ok(['curl', '-X', 'PATCH', web, '-d', JSON.stringify({ command: 'if [ -n "$CRASH_ON_START" ]; then exit 9; fi; exec node server.js' })]);
    await ok(['restart', 'ww']);
    await ok(['set-env', 'ww', 'CRASH_ON_START', 'yes']);
    const out = await cli(['restart', 'ww', '--strategy', 'rolling'], 180_000);
    assert.equal(out.exitCode, 1, out.stdout);
    assert.match(out.stderr, /Deployment of ww was canceled: new instances failed 3 times/);
    const res = await request({ url: `http://ww.localhost:${box.port}/`, timeoutMs: 5_000, routeWaitMs: 10_000 });
    assert.equal(res.status, 200, 'the old instance still answers');
    await ok(['unset-env', 'ww', 'CRASH_ON_START']);
    await box.cf.ok(['curl', '-X', 'PATCH', web, '-d', JSON.stringify({ command: null })]);
  });

  it('stop ends every process; start brings each back with its scale', async () => {
    await ok(['stop', 'ww']);
    await ok(['start', 'ww']);
    const shown = await waitFor('both processes running again', async () => {
      const s = await ok(['app', 'ww']);
      return /type:\s+web\s*\n\s*instances:\s+1\/1/.test(s) && /type:\s+worker\s*\n\s*instances:\s+2\/2/.test(s) && s;
    }, { timeoutMs: 30_000, intervalMs: 300 });
    assert.ok(shown);
  });
});
