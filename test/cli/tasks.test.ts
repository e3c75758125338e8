// Tasks without a box: run-task's flags turned into the API's request (cf 8's `task` process when
// neither --command nor --process), the client's requests and its rewording of the API's refusals,
// the bounded wait for a task to end, and what run-task, tasks and terminate-task print, worded as
// cf 8's commands, against an in-memory stand-in for the v3 task endpoints.
import assert from 'node:assert/strict';
import path from 'node:path';
import { Config } from '@oclif/core';
import type { ApiClient } from '../../src/cli/api/client.js';
import type { App, Process, Task, TaskState } from '../../src/cli/api/resources.js';
import type { Target } from '../../src/cli/api/target.js';
import { Tasks, taskTimeoutMs } from '../../src/cli/api/tasks.js';
import { ApiRequestError } from '../../src/cli/api/transport.js';
import { CliError } from '../../src/cli/base-command.js';
import { parseTaskId, renderTasks, submittedTask, taskFailure, taskRequest, tasksJson, taskStartTime } from '../../src/cli/task-view.js';
import { sizeFlag } from '../../src/cli/units.js';
import RunTask from '../../src/commands/run-task.js';
import TasksCommand from '../../src/commands/tasks.js';
import TerminateTask from '../../src/commands/terminate-task.js';

const ui = { bin: 'devbox', logs: true };
const web = { guid: 'p-web', type: 'web' } as Process;
const worker = { guid: 'p-worker', type: 'worker' } as Process;
const taskProcess = { guid: 'p-task', type: 'task' } as Process;

function task(sequence_id: number, state: TaskState, extra: Partial<Task> = {}): Task {
  return {
    guid: `t${sequence_id}`,
    created_at: `2026-11-21T10:00:0${sequence_id % 10}Z`,
    updated_at: '',
    sequence_id,
    name: `task-${sequence_id}`,
    command: 'rake db:migrate',
    state,
    memory_in_mb: 256,
    disk_in_mb: 1024,
    result: { failure_reason: null },
    droplet_guid: 'd',
    relationships: { app: { data: { guid: 'a' } } },
    ...extra,
  };
}

const unprocessable = (detail: string) => new ApiRequestError(detail, 422, 'CF-UnprocessableEntity', detail);

/**
 * The v3 task endpoints in memory, behind the transport's `call` and `list`: tasks are created
 * PENDING, each GET of a task moves it along `script` (its last state repeats), cancel refuses a
 * task that ended with CC's words. Every request is recorded.
 */
class FakeTaskApi {
  readonly requests: { method: string; path: string; body?: unknown; query?: Record<string, unknown> }[] = [];
  readonly tasks: Task[] = [];
  script: TaskState[] = ['RUNNING', 'SUCCEEDED'];
  failureReason: string | null = null;
  createError?: Error;
  ignoreFilters = false;
  private gets = new Map<string, number>();

  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    this.requests.push({ method, path, body });
    let match: RegExpExecArray | null;
    if (method === 'POST' && (match = /^\/v3\/apps\/([^/]+)\/tasks$/.exec(path))) {
      if (this.createError) throw this.createError;
      const request = body as { command?: string; name?: string };
      const created = task(this.tasks.length + 1, 'PENDING', { guid: `g${this.tasks.length + 1}`, name: request.name ?? 'a1b2c3d4', command: request.command ?? 'from the process' });
      this.tasks.push(created);
      return structuredClone(created) as T;
    }
    if (method === 'GET' && (match = /^\/v3\/tasks\/([^/]+)$/.exec(path))) {
      const found = this.find(match[1]);
      const n = this.gets.get(found.guid) ?? 0;
      this.gets.set(found.guid, n + 1);
      found.state = this.script[Math.min(n, this.script.length - 1)];
      if (found.state === 'FAILED') found.result = { failure_reason: this.failureReason };
      return structuredClone(found) as T;
    }
    if (method === 'POST' && (match = /^\/v3\/tasks\/([^/]+)\/actions\/cancel$/.exec(path))) {
      const found = this.find(match[1]);
      if (found.state === 'SUCCEEDED' || found.state === 'FAILED') throw unprocessable(`Task state is ${found.state} and therefore cannot be canceled`);
      found.state = 'CANCELING';
      return structuredClone(found) as T;
    }
    throw new Error(`unexpected ${method} ${path}`);
  }

  async list<T>(path: string, query: Record<string, string | string[] | undefined> = {}): Promise<T[]> {
    this.requests.push({ method: 'GET', path, query });
    assert.match(path, /^\/v3\/apps\/a\/tasks$/);
    const ids = typeof query.sequence_ids === 'string' ? query.sequence_ids.split(',') : query.sequence_ids;
    const out = this.ignoreFilters || !ids ? this.tasks : this.tasks.filter((t) => ids.includes(String(t.sequence_id)));
    return structuredClone(out) as T[];
  }

  private find(guid: string): Task {
    const found = this.tasks.find((t) => t.guid === guid);
    if (!found) throw new ApiRequestError('Task not found', 404, 'CF-ResourceNotFound', 'Task not found');
    return found;
  }
}

const tasksOf = (api: FakeTaskApi) => new Tasks(api as unknown as ApiClient);

describe('tasks', () => {
  describe("run-task's request", () => {
    it('sends the command, name, memory and disk given, and no template with --command', () => {
      assert.deepEqual(taskRequest('shop', { command: 'rake db:migrate', name: 'migrate', memory_in_mb: 512, disk_in_mb: 1024 }), {
        command: 'rake db:migrate',
        name: 'migrate',
        memory_in_mb: 512,
        disk_in_mb: 1024,
      });
    });

    it('takes the defaults from --process through template.process.guid, the command still winning when given', () => {
      assert.deepEqual(taskRequest('shop', { process: 'worker' }, [web, worker]), { template: { process: { guid: 'p-worker' } } });
      assert.deepEqual(taskRequest('shop', { process: 'worker', command: 'echo hi', memory_in_mb: 64 }, [web, worker]), {
        command: 'echo hi',
        memory_in_mb: 64,
        template: { process: { guid: 'p-worker' } },
      });
    });

    it("uses the app's task process without --command and --process, as cf 8", () => {
      assert.deepEqual(taskRequest('shop', {}, [web, taskProcess]), { template: { process: { guid: 'p-task' } } });
      assert.deepEqual(taskRequest('shop', { command: '' }, [web, taskProcess]), { template: { process: { guid: 'p-task' } } }, 'an empty --command is none');
    });

    it('asks for --command (a usage error) when there is neither and the app has no task process', () => {
      assert.throws(
        () => taskRequest('shop', {}, [web, worker]),
        (error: CliError) => {
          assert.equal(error.exitCode, 2);
          assert.match(error.message, /^Incorrect Usage: give the task's command with --command CMD/);
          assert.match(error.message, /app shop has none; --process TYPE takes it from another process \(app shop has: web, worker\)\.$/);
          return true;
        },
      );
    });

    it('names the processes there are when --process names none of them (exit 1)', () => {
      assert.throws(
        () => taskRequest('shop', { process: 'clock', command: 'x' }, [web, worker]),
        (error: CliError) => error.exitCode === 1 && /^App shop has no process of type 'clock': its processes are web, worker\./.test(error.message),
      );
    });

    it('reads sizes as scale does, and task ids as integers only', () => {
      assert.equal(sizeFlag('-m', '512M'), 512);
      assert.equal(sizeFlag('-k', '1G'), 1024);
      assert.equal(sizeFlag('-k', undefined), undefined);
      assert.throws(() => sizeFlag('-m', '512'), (error: CliError) => error.exitCode === 2 && /^Incorrect Usage: invalid argument for flag '-m': expected an integer with a unit/.test(error.message));
      assert.equal(parseTaskId('3'), 3);
      for (const bad of ['x', '-1', '1.5', '', '99999999999999999999']) {
        assert.throws(() => parseTaskId(bad), (error: CliError) => error.exitCode === 2 && /^Incorrect Usage: Value for TASK_ID must be integer/.test(error.message), bad);
      }
    });
  });

  describe('what it prints', () => {
    it("prints cf's task name / task id block", () => {
      assert.equal(submittedTask({ name: 'migrate', sequence_id: 3 }), 'task name:   migrate\ntask id:     3');
    });

    it("shows the start time as cf's RFC1123 in UTC", () => {
      assert.equal(taskStartTime('2026-11-21T10:00:05Z'), 'Sat, 21 Nov 2026 10:00:05 UTC');
      assert.equal(taskStartTime('2026-01-04T23:59:59.999Z'), 'Sun, 04 Jan 2026 23:59:59 UTC');
      assert.equal(taskStartTime('not a time'), 'not a time');
    });

    it("lists tasks as cf's table, newest first, a hidden command as [hidden]", () => {
      const text = renderTasks([task(1, 'SUCCEEDED'), task(3, 'RUNNING', { command: undefined }), task(2, 'FAILED', { name: 'seed', command: 'node seed.js' })]);
      assert.equal(
        text,
        [
          'id   name     state       start time                      command',
          '3    task-3   RUNNING     Sat, 21 Nov 2026 10:00:03 UTC   [hidden]',
          '2    seed     FAILED      Sat, 21 Nov 2026 10:00:02 UTC   node seed.js',
          '1    task-1   SUCCEEDED   Sat, 21 Nov 2026 10:00:01 UTC   rake db:migrate',
        ].join('\n'),
      );
      assert.equal(renderTasks([]), 'No tasks found for application.');
    });

    it('gives --json the columns and the rest of each task', () => {
      assert.deepEqual(tasksJson([task(1, 'SUCCEEDED'), task(2, 'FAILED', { command: '', result: { failure_reason: 'Exited with status 1' } })]), [
        { guid: 't2', id: 2, name: 'task-2', state: 'FAILED', start_time: '2026-11-21T10:00:02Z', command: null, memory_in_mb: 256, disk_in_mb: 1024, failure_reason: 'Exited with status 1' },
        { guid: 't1', id: 1, name: 'task-1', state: 'SUCCEEDED', start_time: '2026-11-21T10:00:01Z', command: 'rake db:migrate', memory_in_mb: 256, disk_in_mb: 1024, failure_reason: null },
      ]);
    });

    it("words a failed task as cf, with the API's reason and where its output is", () => {
      assert.equal(
        taskFailure(task(1, 'FAILED', { result: { failure_reason: 'Exited with status 3' } }), 'shop', ui).message,
        "Task failed to complete successfully: Exited with status 3\n\nTIP: Use 'devbox logs shop --recent' for more information",
      );
      assert.match(taskFailure(task(1, 'FAILED'), 'shop', ui).message, /^Task failed to complete successfully\n\n/);
    });
  });

  describe('the client', () => {
    it('posts the request to the app and lists every task newest first, filters as lists', async () => {
      const api = new FakeTaskApi();
      const tasks = tasksOf(api);
      await tasks.run('a', { command: 'echo 1' });
      await tasks.run('a', { command: 'echo 2', name: 'two' });
      assert.deepEqual(api.requests.map((r) => `${r.method} ${r.path}`), ['POST /v3/apps/a/tasks', 'POST /v3/apps/a/tasks']);
      assert.deepEqual(api.requests[1].body, { command: 'echo 2', name: 'two' });
      assert.deepEqual((await tasks.ofApp('a')).map((t) => t.sequence_id), [2, 1]);
      await tasks.ofApp('a', { states: ['RUNNING', 'PENDING'], sequence_ids: [1, 2] });
      assert.deepEqual(api.requests.at(-1)?.query, { names: undefined, states: ['RUNNING', 'PENDING'], sequence_ids: ['1', '2'], guids: undefined });
    });

    it('finds a task by sequence id through the filter, and not some other task when the API ignores it', async () => {
      const api = new FakeTaskApi();
      const tasks = tasksOf(api);
      await tasks.run('a', { command: 'one' });
      await tasks.run('a', { command: 'two' });
      assert.equal((await tasks.getBySequenceId('a', 2, 'shop')).guid, 'g2');
      assert.deepEqual(api.requests.at(-1)?.query?.sequence_ids, ['2']);
      api.ignoreFilters = true;
      assert.equal((await tasks.getBySequenceId('a', 1, 'shop')).guid, 'g1');
      await assert.rejects(tasks.getBySequenceId('a', 7, 'shop'), (error: CliError) => error.message === "Task sequence ID 7 not found. 'devbox tasks shop' lists the app's tasks.");
    });

    it("rewords the API's refusals as cf does: no droplet, no task workers; others keep CC's detail", async () => {
      const api = new FakeTaskApi();
      const tasks = tasksOf(api);
      api.createError = unprocessable('Task must have a droplet. Specify droplet or assign current droplet to app.');
      await assert.rejects(tasks.run('a', { command: 'x' }), /: Error running task: App is not staged\. Push the app/);
      api.createError = new ApiRequestError('Task workers are unavailable', 503, 'CF-TaskWorkersUnavailable', 'Task workers are unavailable');
      await assert.rejects(tasks.run('a', { command: 'x' }), /: Error running task: Task workers are unavailable\./);
      api.createError = unprocessable('The request is semantically invalid: command No command or template provided');
      await assert.rejects(tasks.run('a', {}), (error: Error) => error instanceof ApiRequestError && error.message === 'The request is semantically invalid: command No command or template provided');
    });

    it('waits until the task succeeded or failed, and returns it as it ended', async () => {
      const api = new FakeTaskApi();
      const tasks = tasksOf(api);
      api.script = ['PENDING', 'RUNNING', 'RUNNING', 'SUCCEEDED'];
      const done = await tasks.waitUntilDone(await tasks.run('a', { command: 'x' }), 'shop', { timeoutMs: 5_000, backoff: { initialMs: 1, maxMs: 5 } });
      assert.equal(done.state, 'SUCCEEDED');
      assert.equal(api.requests.filter((r) => r.method === 'GET').length, 4, 'one GET per state until it ended');

      api.script = ['RUNNING', 'CANCELING', 'FAILED'];
      api.failureReason = 'task was cancelled';
      const failed = await tasks.waitUntilDone(await tasks.run('a', { command: 'y' }), 'shop', { timeoutMs: 5_000, backoff: { initialMs: 1, maxMs: 5 } });
      assert.deepEqual([failed.state, failed.result.failure_reason], ['FAILED', 'task was cancelled']);

      const before = api.requests.length;
      assert.equal((await tasks.waitUntilDone(task(9, 'SUCCEEDED'), 'shop')).state, 'SUCCEEDED');
      assert.equal(api.requests.length, before, 'a task that already ended is not asked for');
    });

    it('gives up when time runs out, saying where the task stands and how to stop it', async () => {
      const api = new FakeTaskApi();
      const tasks = tasksOf(api);
      api.script = ['RUNNING'];
      const begun = Date.now();
      await assert.rejects(tasks.waitUntilDone(await tasks.run('a', { command: 'sleep 999', name: 'slow' }), 'shop', { timeoutMs: 200, backoff: { initialMs: 10, maxMs: 50 } }), (error: CliError) => {
        assert.equal(
          error.message,
          "Task 1 (slow) of app shop is still RUNNING after 0.2 s (DEVBOX_TASK_TIMEOUT sets the wait in minutes); it goes on running. 'devbox tasks shop' shows its state, 'devbox terminate-task shop 1' stops it.",
        );
        return true;
      });
      assert.ok(Date.now() - begun < 2_000, 'bounded by the timeout');
    });

    it('reads DEVBOX_TASK_TIMEOUT in minutes, else an hour', () => {
      assert.equal(taskTimeoutMs({}), 3_600_000);
      assert.equal(taskTimeoutMs({ DEVBOX_TASK_TIMEOUT: '5' }), 300_000);
      assert.equal(taskTimeoutMs({ DEVBOX_TASK_TIMEOUT: 'soon' }), 3_600_000);
    });
  });

  describe('the commands', () => {
    let config: Config;
    const target: Target = { api: 'http://api.localhost:8080', user: 'admin', org: { guid: 'o', name: 'devbox' }, space: { guid: 's', name: 'dev' } };
    const app = { guid: 'a', name: 'shop' } as App;

    before(async () => {
      config = await Config.load({ root: path.resolve(import.meta.dirname, '../..') });
    });

    /** Runs a command against the fake API with `processes` as the app's; what it printed, or the error it ended with. */
    async function run(Command: typeof RunTask | typeof TasksCommand | typeof TerminateTask, argv: string[], api: FakeTaskApi, processes: Process[] = [web]) {
      const out: string[] = [];
      const err: string[] = [];
      const client = { apps: { get: async (name: string) => (name === 'shop' ? app : Promise.reject(new CliError(`App '${name}' not found.`))) }, processes: { ofApp: async () => processes }, tasks: tasksOf(api) };
      // The command under test, its client the fake one (each command is an ApiCommand; the cast only names one of them).
      class Under extends (Command as typeof RunTask) {
        protected override async targeted() {
          return { client: client as unknown as ApiClient, target };
        }
        override log(text = '') {
          out.push(text);
        }
        override logToStderr(text = '') {
          err.push(text);
        }
      }
      const command = new Under(argv, config);
      const exitCode = process.exitCode;
      try {
        await command.run();
        return { out: out.join('\n'), err: err.join('\n'), exitCode: process.exitCode };
      } catch (error) {
        return { out: out.join('\n'), err: err.join('\n'), error: error as CliError };
      } finally {
        process.exitCode = exitCode;
      }
    }

    it("run-task prints cf's lines; --wait waits and says the task completed", async () => {
      const api = new FakeTaskApi();
      api.script = ['RUNNING', 'SUCCEEDED'];
      const { out, error } = await run(RunTask, ['shop', '--command', 'rake db:migrate', '--name', 'migrate', '-m', '512M', '--wait'], api);
      assert.equal(error, undefined);
      assert.equal(
        out,
        [
          'Creating task for app shop in org devbox / space dev as admin...',
          'Task has been submitted successfully for execution.',
          'OK',
          '',
          'task name:   migrate',
          'task id:     1',
          '\nWaiting for task to complete execution...',
          '\nTask has completed successfully.',
          'OK',
        ].join('\n'),
      );
      assert.deepEqual(api.requests[0].body, { command: 'rake db:migrate', name: 'migrate', memory_in_mb: 512 });
    });

    it('run-task --wait on a task that fails ends with the reason (exit 1); without --wait it does not wait', async () => {
      const api = new FakeTaskApi();
      api.script = ['FAILED'];
      api.failureReason = 'Exited with status 1';
      const failed = await run(RunTask, ['shop', '-c', 'false', '-w'], api);
      assert.equal(failed.error?.exitCode, 1);
      assert.equal(failed.error?.message, "Task failed to complete successfully: Exited with status 1\n\nTIP: Use 'devbox logs shop --recent' for more information");
      assert.match(failed.out, /Waiting for task to complete execution\.\.\.$/);

      const quick = await run(RunTask, ['shop', '-c', 'false'], api);
      assert.ok(quick.out.endsWith('task id:     2'), quick.out);
      assert.equal(api.requests.filter((r) => r.method === 'GET' && r.path === '/v3/tasks/g2').length, 0);
    });

    it('run-task --json prints only the task; a failure goes to stderr with exit 1', async () => {
      const api = new FakeTaskApi();
      api.script = ['FAILED'];
      api.failureReason = 'Exited with status 2';
      const { out, err, exitCode } = await run(RunTask, ['shop', '-c', 'false', '--wait', '--json'], api);
      const printed = JSON.parse(out) as Task;
      assert.deepEqual([printed.sequence_id, printed.state, printed.result.failure_reason], [1, 'FAILED', 'Exited with status 2']);
      assert.match(err, /^Task failed to complete successfully: Exited with status 2/);
      assert.equal(exitCode, 1);
    });

    it('run-task --process and the task process default go through the template; neither and no task process is a usage error before anything runs', async () => {
      const api = new FakeTaskApi();
      await run(RunTask, ['shop', '--process', 'worker'], api, [web, worker]);
      assert.deepEqual(api.requests[0].body, { template: { process: { guid: 'p-worker' } } });
      await run(RunTask, ['shop'], api, [web, taskProcess]);
      assert.deepEqual(api.requests[1].body, { template: { process: { guid: 'p-task' } } });
      const { error, out } = await run(RunTask, ['shop'], api, [web]);
      assert.equal(error?.exitCode, 2);
      assert.match(error?.message ?? '', /--command CMD/);
      assert.equal(out, '', 'nothing printed, nothing created');
      assert.equal(api.tasks.length, 2);
      const bad = await run(RunTask, ['shop', '-c', 'x', '-m', '1.5G'], api);
      assert.equal(bad.error?.exitCode, 2);
    });

    it("tasks prints cf's heading and table, or No tasks found", async () => {
      const api = new FakeTaskApi();
      assert.equal((await run(TasksCommand, ['shop'], api)).out, 'Getting tasks for app shop in org devbox / space dev as admin...\n\nNo tasks found for application.');
      api.tasks.push(task(1, 'SUCCEEDED'), task(2, 'RUNNING'));
      const { out } = await run(TasksCommand, ['shop'], api);
      assert.equal(out.split('\n').slice(1, 4).join('\n'), '\nid   name     state       start time                      command\n2    task-2   RUNNING     Sat, 21 Nov 2026 10:00:02 UTC   rake db:migrate');
      const json = JSON.parse((await run(TasksCommand, ['shop', '--json'], api)).out) as { id: number }[];
      assert.deepEqual(json.map((t) => t.id), [2, 1]);
    });

    it("terminate-task finds the task by id and cancels it, in cf's words; ended and unknown tasks fail", async () => {
      const api = new FakeTaskApi();
      api.tasks.push(task(1, 'SUCCEEDED'), task(2, 'RUNNING'));
      const { out, error } = await run(TerminateTask, ['shop', '2'], api);
      assert.equal(error, undefined);
      assert.equal(out, 'Terminating task 2 of app shop in org devbox / space dev as admin...\nOK');
      assert.equal(api.tasks[1].state, 'CANCELING');
      assert.deepEqual(api.requests.at(-1), { method: 'POST', path: '/v3/tasks/t2/actions/cancel', body: undefined });

      const ended = await run(TerminateTask, ['shop', '1'], api);
      assert.equal(ended.error?.message, 'Task state is SUCCEEDED and therefore cannot be canceled');
      const unknown = await run(TerminateTask, ['shop', '3'], api);
      assert.equal(unknown.error?.message, "Task sequence ID 3 not found. 'devbox tasks shop' lists the app's tasks.");
      assert.equal(unknown.out, '', 'nothing said about terminating a task that is not there');
      const notANumber = await run(TerminateTask, ['shop', 'three'], api);
      assert.equal(notANumber.error?.exitCode, 2);
    });
  });
});
