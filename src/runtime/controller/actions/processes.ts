// Process actions: scale and update (running instances follow), and instance stats from the DEAs.
import { unprocessable } from '../errors.js';
import { newGuid, now, type RequestContext } from '../context.js';
import type { ProcessScaleMessage, ProcessUpdateMessage } from '../messages/processes.js';
import { getApp, saveProcessSettings, type AppRow, type ProcessRow } from '../repositories/apps.js';
import type { FindDropletReply } from '../runner/runner.js';
import { apiLog } from './apps.js';
import { recordAppEvent } from './audit.js';
import { applyToInstances } from './instances.js';
import { processMemoryProblem } from './sidecars.js';

export async function scaleProcess(ctx: RequestContext, process: ProcessRow, message: ProcessScaleMessage): Promise<{ process: ProcessRow; app: AppRow }> {
  const updated: ProcessRow = {
    ...process,
    instances: message.instances ?? process.instances,
    memory_in_mb: message.memoryInMb ?? process.memory_in_mb,
    disk_in_mb: message.diskInMb ?? process.disk_in_mb,
    log_rate_limit_in_bytes_per_second: message.logRateLimit ?? process.log_rate_limit_in_bytes_per_second,
    // New limits need new instances; a change of instance count alone does not.
    version: message.memoryInMb !== undefined || message.diskInMb !== undefined ? newGuid() : process.version,
    updated_at: now(),
  };
  const app = await getApp(ctx.db, process.app_guid);
  if (message.memoryInMb !== undefined) {
    // Its sidecars' memory is carved out of the process's, as in Cloud Controller.
    const problem = await processMemoryProblem(ctx.db, app.guid, [updated]);
    if (problem) throw unprocessable(problem);
  }
  await ctx.db.transaction().execute(async (trx) => {
    await saveProcessSettings(trx, updated);
    await recordAppEvent(trx, ctx.actor, app, 'audit.app.process.scale', { process_guid: process.guid, process_type: process.type, request: message.body });
  });
  apiLog(ctx, app.guid, `Scaling app with guid ${app.guid} (${JSON.stringify(message.body)})`);
  await applyToInstances(ctx, app, process, updated);
  return { process: updated, app };
}

export async function updateProcessAction(ctx: RequestContext, process: ProcessRow, message: ProcessUpdateMessage): Promise<{ process: ProcessRow; app: AppRow }> {
  const next: ProcessRow = { ...process, command: message.command === undefined ? process.command : message.command, updated_at: now() };
  const check = message.healthCheck;
  if (check) {
    const type = check.type ?? process.health_check_type;
    if (check.endpoint !== undefined && type !== 'http') throw unprocessable('Health check endpoint can only be set for the http health check type');
    if (check.endpoint !== undefined && !check.endpoint.startsWith('/')) throw unprocessable('Health check endpoint must be a path starting with /');
    next.health_check_type = type;
    next.health_check_endpoint = type === 'http' ? (check.endpoint ?? process.health_check_endpoint ?? '/') : null;
    next.health_check_timeout = check.timeout ?? process.health_check_timeout;
    next.health_check_invocation_timeout = check.invocationTimeout ?? process.health_check_invocation_timeout;
  }
  const changed = next.command !== process.command || next.health_check_type !== process.health_check_type || next.health_check_endpoint !== process.health_check_endpoint;
  if (changed) next.version = newGuid();
  const app = await getApp(ctx.db, process.app_guid);
  await ctx.db.transaction().execute(async (trx) => {
    await saveProcessSettings(trx, next);
    await recordAppEvent(trx, ctx.actor, app, 'audit.app.process.update', { process_guid: process.guid, process_type: process.type, request: message.body });
  });
  await applyToInstances(ctx, app, process, next);
  return { process: next, app };
}

/** One index of a process as the DEAs report it: the newest instance of the current version, or none. */
export interface IndexState {
  index: number;
  instance?: FindDropletReply;
}

/**
 * Every instance index of a started process with the instance that stands for it: of the current
 * version, RUNNING before STARTING before CRASHED, the newest among equals. An index nobody runs
 * has none.
 */
export async function processInstances(ctx: RequestContext, process: ProcessRow): Promise<{ app: AppRow; indices: IndexState[] }> {
  const app = await getApp(ctx.db, process.app_guid);
  const started = app.state === 'STARTED';
  const reported = started && process.instances > 0 ? await ctx.runner.instances(process.guid, undefined, { version: process.version, instances: process.instances }) : [];
  const rank = (state: string) => ({ RUNNING: 3, STARTING: 2, CRASHED: 1 })[state] ?? 0;
  const byIndex = new Map<number, FindDropletReply>();
  for (const instance of reported) {
    if (instance.version !== process.version) continue;
    const seen = byIndex.get(instance.index);
    if (!seen || rank(instance.state) > rank(seen.state) || (rank(instance.state) === rank(seen.state) && instance.state_timestamp > seen.state_timestamp)) byIndex.set(instance.index, instance);
  }
  const indices = [...Array(started ? process.instances : 0).keys()].map((index) => ({ index, instance: byIndex.get(index) }));
  return { app, indices };
}
