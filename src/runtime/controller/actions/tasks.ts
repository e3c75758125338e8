// Tasks (CC v3): a command run once with an app's droplet, environment and bindings, on a DEA.
//   PENDING → RUNNING (placed on a DEA) → SUCCEEDED | FAILED (its `task.exited`)
//   RUNNING → CANCELING (cancel asked) → FAILED, "task was cancelled"
// A task is never forgotten: one whose DEA no longer knows it (gone, or restarted) is FAILED by
// reconcileTasks, which also takes the ends the controllers missed from the DEAs' memory of them.
import type { TaskExited, TaskStartMessage } from '../../common/bus-messages.js';
import { newGuid, now, type ControllerContext, type RequestContext } from '../context.js';
import { unprocessable } from '../errors.js';
import { loadVcapApplication } from '../environment/vcap-application.js';
import { serviceEntries } from '../environment/vcap-services.js';
import type { TaskCreateMessage } from '../messages/tasks.js';
import { findApp, findAppProcess, findProcess, type AppRow } from '../repositories/apps.js';
import { findAppDroplet } from '../repositories/droplets.js';
import { isUniqueViolation, jsonColumn } from '../repositories/query.js';
import { findTask, insertTask, liveTasks, liveTasksOfApp, nextSequenceId, updateLiveTask, type TaskRow } from '../repositories/tasks.js';
import { recordAppEvent } from './audit.js';

/** A task the DEAs do not know this long after it was placed has been lost with its DEA. */
export const LOST_TASK_GRACE_MS = 15_000;
/** How often a controller settles its live tasks with the DEAs. */
export const TASK_SWEEP_MS = 10_000;

type Context = Pick<ControllerContext, 'db' | 'runner' | 'componentUrls' | 'appLog' | 'defaults' | 'log'>;

/** `POST /v3/apps/:guid/tasks`: the task, placed on a DEA (RUNNING), or FAILED when no DEA has room. */
export async function createTask(ctx: RequestContext, app: AppRow, message: TaskCreateMessage): Promise<TaskRow> {
  const dropletGuid = message.dropletGuid ?? app.droplet_guid;
  if (!dropletGuid) throw unprocessable('Task must have a droplet. Assign current droplet to app.');
  const droplet = await findAppDroplet(ctx.db, app.guid, dropletGuid);
  if (!droplet || droplet.state !== 'STAGED') throw unprocessable('Task must have a droplet. Specify droplet or assign current droplet to app.');
  const template = message.templateProcessGuid ? await findProcess(ctx.db, message.templateProcessGuid) : undefined;
  if (message.templateProcessGuid && (!template || template.app_guid !== app.guid)) throw unprocessable('Template process must belong to the same app as the task');
  const command = message.command ?? template?.command ?? (template ? jsonColumn('droplets', droplet, 'process_types', {} as Record<string, string>)[template.type] : undefined);
  if (!command) throw unprocessable(`The process ${template?.type ?? ''} has no command to run as a task: give one with command`);

  const at = now();
  const guid = newGuid();
  const row: TaskRow = {
    guid,
    app_guid: app.guid,
    sequence_id: 0,
    // CC names an unnamed task with a random hex string.
    name: message.name ?? guid.replace(/-/g, '').slice(0, 8),
    command,
    state: 'PENDING',
    memory_in_mb: message.memoryInMb ?? template?.memory_in_mb ?? ctx.defaults.memoryInMb,
    disk_in_mb: message.diskInMb ?? template?.disk_in_mb ?? ctx.defaults.diskInMb,
    log_rate_limit_in_bytes_per_second: message.logRateLimit ?? template?.log_rate_limit_in_bytes_per_second ?? ctx.defaults.logRateLimit,
    droplet_guid: droplet.guid,
    failure_reason: null,
    dea_id: null,
    metadata: JSON.stringify(message.metadata),
    created_at: at,
    updated_at: at,
  };
  // Two tasks created at once may both read the same next sequence id: the unique key refuses one, which takes the next.
  for (let attempt = 0; ; attempt++) {
    try {
      await ctx.db.transaction().execute(async (trx) => {
        row.sequence_id = await nextSequenceId(trx, app.guid);
        await insertTask(trx, row);
        await recordAppEvent(trx, ctx.actor, app, 'audit.app.task.create', { task_guid: guid, request: { name: row.name, memory_in_mb: row.memory_in_mb } });
      });
      break;
    } catch (error) {
      if (!isUniqueViolation(error) || attempt >= 5) throw error;
    }
  }

  const placed = ctx.runner.startTask(await taskStartMessage(ctx, app, row, droplet.sha1), row.memory_in_mb, app.stack);
  if (!placed) {
    const reason = `insufficient resources: no DEA has ${row.memory_in_mb}M free (devbox status shows the DEAs)`;
    await updateLiveTask(ctx.db, guid, { state: 'FAILED', failure_reason: reason, updated_at: now() });
    ctx.appLog(app.guid, { source: 'API', message: `Cannot run task ${row.name}: ${reason}`, type: 'ERR' });
    return { ...row, state: 'FAILED', failure_reason: reason };
  }
  const running = { state: 'RUNNING', dea_id: placed, updated_at: now() };
  await updateLiveTask(ctx.db, guid, running);
  ctx.appLog(app.guid, { source: 'API', message: `Created task with guid ${guid} (${row.name})` });
  return { ...row, ...running };
}

/** What the DEA runs: the app's environment, bindings and VCAP_APPLICATION (of its web process), the task's command and limits. */
async function taskStartMessage(ctx: Context, app: AppRow, task: TaskRow, dropletSha1: string | null): Promise<TaskStartMessage> {
  const web = await findAppProcess(ctx.db, app.guid, 'web');
  const vcap = web ? await loadVcapApplication(ctx.db, app, { ...web, memory_in_mb: task.memory_in_mb, disk_in_mb: task.disk_in_mb }, ctx.componentUrls.api) : undefined;
  const limits = { mem: task.memory_in_mb, disk: task.disk_in_mb, fds: vcap?.limits.fds ?? 16384 };
  return {
    droplet: task.guid,
    app_guid: app.guid,
    task_guid: task.guid,
    task_name: task.name,
    version: task.guid,
    name: app.name,
    index: 0,
    space_guid: app.space_guid,
    uris: [],
    limits,
    env: jsonColumn('apps', app, 'environment_variables', {} as Record<string, string>),
    services: await serviceEntries(ctx.db, app.guid),
    start_command: task.command,
    health_check_type: 'none',
    vcap_application: vcap ? { ...vcap, application_uris: [], uris: [], limits } : null,
    executableUri: `${ctx.componentUrls.api}/v3/droplets/${task.droplet_guid}/download`,
    sha1: dropletSha1,
    droplet_guid: task.droplet_guid,
  };
}

/** `POST /v3/tasks/:guid/actions/cancel`: CANCELING, and every DEA is asked to end it. */
export async function cancelTask(ctx: RequestContext, task: TaskRow): Promise<TaskRow> {
  if (task.state === 'SUCCEEDED' || task.state === 'FAILED') throw unprocessable(`Task state is ${task.state} and therefore cannot be canceled`);
  const app = await findApp(ctx.db, task.app_guid);
  const at = now();
  await ctx.db.transaction().execute(async (trx) => {
    await updateLiveTask(trx, task.guid, { state: 'CANCELING', updated_at: at });
    if (app) await recordAppEvent(trx, ctx.actor, app, 'audit.app.task.cancel', { task_guid: task.guid, request: { name: task.name } });
  });
  ctx.runner.cancelTask(task.guid);
  return { ...task, state: 'CANCELING', updated_at: at };
}

/** A DEA says how a task ended (`task.exited`, or its memory of it): recorded once. */
export async function taskEnded(ctx: Pick<ControllerContext, 'db' | 'appLog' | 'log'>, exited: TaskExited): Promise<void> {
  const changed = await updateLiveTask(ctx.db, exited.task_guid, { state: exited.state, failure_reason: exited.failure_reason, dea_id: null, updated_at: now() });
  if (Number(changed.numUpdatedRows) === 0) return;
  const task = await findTask(ctx.db, exited.task_guid);
  if (!task) return;
  ctx.appLog(task.app_guid, {
    source: 'API',
    message: exited.state === 'SUCCEEDED' ? `Task ${task.name} (${task.sequence_id}) succeeded` : `Task ${task.name} (${task.sequence_id}) failed: ${exited.failure_reason}`,
    ...(exited.state === 'FAILED' ? { type: 'ERR' as const } : {}),
  });
}

/** Cancels an app's running tasks (its deletion: they must not outlive it). */
export async function cancelTasksOfApp(ctx: Pick<ControllerContext, 'db' | 'runner'>, appGuid: string): Promise<void> {
  for (const task of await liveTasksOfApp(ctx.db, appGuid)) ctx.runner.cancelTask(task.guid);
}

/**
 * Asks the DEAs about every task still live here: an end they remember is recorded (its
 * `task.exited` was missed), and a task no DEA knows, placed more than LOST_TASK_GRACE_MS ago, is
 * FAILED: its DEA is gone or was restarted.
 */
export async function reconcileTasks(ctx: Pick<ControllerContext, 'db' | 'runner' | 'appLog' | 'log'>, nowMs = Date.now()): Promise<void> {
  const live = await liveTasks(ctx.db);
  // Without a DEA heard from (a controller that has just started) nobody can say a task is gone.
  if (live.length === 0 || ctx.runner.deaCount() === 0) return;
  const known = new Map((await ctx.runner.findTasks(live.map((t) => t.guid))).map((r) => [r.task_guid, r]));
  for (const task of live) {
    const reply = known.get(task.guid);
    if (reply?.exited) await taskEnded(ctx, reply.exited);
    else if (!reply && nowMs - Date.parse(task.updated_at) > LOST_TASK_GRACE_MS) {
      const reason = task.dea_id ? `the DEA running the task (${task.dea_id}) is gone` : 'the task was never placed on a DEA';
      await taskEnded(ctx, { task_guid: task.guid, app_guid: task.app_guid, dea: task.dea_id ?? 'none', state: 'FAILED', exit_status: -1, failure_reason: reason });
      ctx.log.warn('failed a task no DEA knows', { task: task.guid, app: task.app_guid, dea: task.dea_id });
    }
  }
}
