// Tasks on a real DEA (dea.<id>.task.start): run once in a container with the app's droplet and
// environment, logged as APP/TASK/<name>/0, ended SUCCEEDED or FAILED with Cloud Foundry's reason
// (task.exited), cancelled on dea.task.cancel, remembered for dea.find.task, and never in the
// heartbeats the health manager judges.
import assert from 'node:assert/strict';
import path from 'node:path';
import { publish, requestMany } from '../../../src/runtime/common/bus.js';
import { deaFindTask, deaTaskCancel, type FindTaskReply } from '../../../src/runtime/common/bus-messages.js';
import { waitFor } from '../../../src/runtime/common/poll.js';
import { FIXTURES, newGuid, packageOf, quietLog, stageApp, startHarness, startTask, type Harness } from './helpers.js';

describe('dea tasks', function () {
  this.timeout(60_000);
  let h: Harness;
  let droplet: string;

  before(async () => {
    h = await startHarness();
    const staged = await stageApp(h, 'task-app', await packageOf(path.join(FIXTURES, 'node-hello')));
    assert.equal(staged.reply.error, undefined, JSON.stringify(staged.reply));
    droplet = staged.dropletGuid;
  });
  after(async () => h?.close());

  const exited = (taskGuid: string) => h.rec.wait('task.exited', (d) => d.task_guid === taskGuid, 30_000);
  const findTask = async (taskGuid: string): Promise<FindTaskReply[]> => {
    const replies: FindTaskReply[] = [];
    for await (const reply of requestMany(h.nc, deaFindTask, { task_guids: [taskGuid] }, { log: quietLog, maxWait: 500 })) replies.push(reply);
    return replies;
  };

  it("runs a task once with the app's droplet and environment: its lines are APP/TASK/<name>/0, it ends SUCCEEDED", async () => {
    const app = newGuid();
    const task = { guid: newGuid('task'), name: 'migrate', command: 'echo "migrating with $GREETING in $(pwd)"; node -e "console.log(require(\'./package.json\').name)"' };
    startTask(h, app, droplet, task);
    const done = await exited(task.guid);
    assert.deepEqual(done.data, { task_guid: task.guid, app_guid: app, dea: h.dea.id, state: 'SUCCEEDED', exit_status: 0, failure_reason: null });
    const lines = h.rec.logs(app, 'APP/TASK/migrate');
    assert.ok(lines.includes('APP/TASK/migrate/0 OUT migrating with from the app in /home/vcap/app'), lines.join('\n'));
    assert.ok(lines.includes('APP/TASK/migrate/0 OUT node-hello'), lines.join('\n'));
    assert.ok(!h.rec.find('droplet.exited', (d) => d.droplet === task.guid).length, 'a task is not an instance that exited');
    assert.ok(!h.rec.find('dea.heartbeat', (d) => d.droplets.some((e: { droplet: string }) => e.droplet === task.guid)).length, 'never in a heartbeat');
    const found = await findTask(task.guid);
    assert.deepEqual(found.map((f) => [f.state, f.exited?.state]), [['SUCCEEDED', 'SUCCEEDED']], 'remembered after it ended');
  });

  it('ends FAILED with "APP/TASK/<name>: Exited with status N" when the command fails', async () => {
    const app = newGuid();
    const task = { guid: newGuid('task'), name: 'broken', command: 'echo about to fail >&2; exit 3' };
    startTask(h, app, droplet, task);
    const done = await exited(task.guid);
    assert.equal(done.data.state, 'FAILED');
    assert.equal(done.data.exit_status, 3);
    assert.equal(done.data.failure_reason, 'APP/TASK/broken: Exited with status 3');
    assert.ok(h.rec.logs(app, 'APP/TASK/broken').includes('APP/TASK/broken/0 ERR about to fail'));
  });

  it('is RUNNING for dea.find.task while it runs; dea.task.cancel ends it FAILED, "task was cancelled"', async () => {
    const app = newGuid();
    const task = { guid: newGuid('task'), name: 'long', command: 'echo started; exec sleep 600' };
    startTask(h, app, droplet, task);
    await waitFor('the task to start', () => h.rec.logs(app, 'APP/TASK/long').includes('APP/TASK/long/0 OUT started'), { timeoutMs: 20_000, intervalMs: 20 });
    assert.deepEqual((await findTask(task.guid)).map((f) => f.state), ['RUNNING']);
    publish(h.nc, deaTaskCancel, { task_guid: task.guid });
    const done = await exited(task.guid);
    assert.equal(done.data.state, 'FAILED');
    assert.equal(done.data.failure_reason, 'task was cancelled');
    assert.equal(h.dea.list().filter((i) => i.task?.guid === task.guid).length, 0, 'nothing of it is left on the DEA');
  });

  it('starts a task only once, however often its start message comes', async () => {
    const app = newGuid();
    const task = { guid: newGuid('task'), name: 'once', command: 'echo ran' };
    startTask(h, app, droplet, task);
    startTask(h, app, droplet, task);
    await exited(task.guid);
    startTask(h, app, droplet, task);
    await waitFor('the start messages to be handled', async () => (await findTask(task.guid)).length === 1, { timeoutMs: 5_000, intervalMs: 50 });
    assert.equal(h.rec.logs(app, 'APP/TASK/once').filter((l) => l.endsWith('OUT ran')).length, 1);
    assert.equal(h.rec.find('task.exited', (d) => d.task_guid === task.guid).length, 1);
  });
});
