// App actions: create, update, delete, start, stop, restart and environment variables. Each does
// its writes in one transaction with its audit event, then tells the runner and the app's log.
import { notUnique, unprocessable } from '../errors.js';
import { newGuid, now, type RequestContext } from '../context.js';
import type { AppCreateMessage, AppUpdateMessage, EnvironmentUpdateMessage } from '../messages/apps.js';
import { metadataUpdate } from '../messages/validate.js';
import { deleteApp, insertApp, insertProcess, listProcessesOfApp, newProcessVersion, NEW_APP_FEATURES, updateApp, type AppRow, type ProcessRow } from '../repositories/apps.js';
import { isUniqueViolation, jsonColumn } from '../repositories/query.js';
import { deleteTasksOfApp } from '../repositories/tasks.js';
import { deleteDeploymentsOfApp } from '../repositories/deployments.js';
import { deleteSidecarsOfApp } from '../repositories/sidecars.js';
import { findSpace } from '../repositories/spaces.js';
import { recordAppEvent } from './audit.js';
import { startApp, stopApp, stopProcesses } from './instances.js';
import { cancelTasksOfApp } from './tasks.js';
import { completedJob } from './jobs.js';

const nameTaken = (name: string) => notUnique(`App with the name '${name}' already exists.`);

/** A log line on the app's stream as `[API/0]`, as Cloud Controller writes for every app change. */
export const apiLog = (ctx: RequestContext, appGuid: string, message: string) => ctx.appLog(appGuid, { source: 'API', message });

/**
 * A new process of the app with the controller's defaults: `web` gets one instance, a port check and
 * its app's guid (as in Cloud Controller); other types start with none and a process check.
 */
export function newProcess(ctx: Pick<RequestContext, 'defaults'>, appGuid: string, type: string, at: string): ProcessRow {
  return {
    guid: type === 'web' ? appGuid : newGuid(),
    app_guid: appGuid,
    type,
    command: null,
    instances: type === 'web' ? 1 : 0,
    memory_in_mb: ctx.defaults.memoryInMb,
    disk_in_mb: ctx.defaults.diskInMb,
    log_rate_limit_in_bytes_per_second: ctx.defaults.logRateLimit,
    health_check_type: type === 'web' ? 'port' : 'process',
    health_check_endpoint: null,
    health_check_timeout: null,
    health_check_invocation_timeout: null,
    version: newGuid(),
    metadata: JSON.stringify({ labels: {}, annotations: {} }),
    created_at: at,
    updated_at: at,
  };
}

export async function createApp(ctx: RequestContext, message: AppCreateMessage): Promise<AppRow> {
  const space = await findSpace(ctx.db, message.spaceGuid);
  if (!space) throw unprocessable('Invalid space. Ensure that the space exists and you have access to it.');
  const at = now();
  const row: AppRow = {
    guid: newGuid(),
    name: message.name,
    space_guid: space.guid,
    state: 'STOPPED',
    lifecycle_type: 'buildpack',
    buildpacks: JSON.stringify(message.lifecycle.buildpacks),
    stack: message.lifecycle.stack,
    environment_variables: JSON.stringify(message.environment),
    droplet_guid: null,
    metadata: JSON.stringify(message.metadata),
    ...NEW_APP_FEATURES,
    created_at: at,
    updated_at: at,
  };
  try {
    await ctx.db.transaction().execute(async (trx) => {
      await insertApp(trx, row);
      await insertProcess(trx, newProcess(ctx, row.guid, 'web', at));
      await recordAppEvent(trx, ctx.actor, row, 'audit.app.create', { request: { name: message.name, lifecycle: message.lifecycle } });
    });
  } catch (error) {
    if (isUniqueViolation(error)) throw nameTaken(message.name);
    throw error;
  }
  apiLog(ctx, row.guid, `Created app with guid ${row.guid}`);
  return row;
}

export async function updateAppAction(ctx: RequestContext, app: AppRow, message: AppUpdateMessage): Promise<AppRow> {
  const name = message.name ?? app.name;
  const metadata = metadataUpdate(message.body, jsonColumn('apps', app, 'metadata', { labels: {}, annotations: {} }));
  const updated: AppRow = {
    ...app,
    name,
    buildpacks: message.lifecycle ? JSON.stringify(message.lifecycle.buildpacks) : app.buildpacks,
    stack: message.lifecycle?.stack ?? app.stack,
    metadata: JSON.stringify(metadata),
    updated_at: now(),
  };
  try {
    await ctx.db.transaction().execute(async (trx) => {
      await updateApp(trx, app.guid, { name: updated.name, buildpacks: updated.buildpacks, stack: updated.stack, metadata: updated.metadata, updated_at: updated.updated_at });
      await recordAppEvent(trx, ctx.actor, updated, 'audit.app.update', { request: message.body });
    });
  } catch (error) {
    if (isUniqueViolation(error)) throw nameTaken(name);
    throw error;
  }
  apiLog(ctx, app.guid, `Updated app with guid ${app.guid} (${JSON.stringify(message.body)})`);
  return updated;
}

/** Deletes the app, its processes and route mappings; its instances are stopped. The job is complete. */
export async function deleteAppAction(ctx: RequestContext, app: AppRow) {
  const processes = await listProcessesOfApp(ctx.db, app.guid);
  // Its running tasks end with it (asked before their rows go: their ends are then not recorded).
  await cancelTasksOfApp(ctx, app.guid);
  const job = await ctx.db.transaction().execute(async (trx) => {
    await deleteTasksOfApp(trx, app.guid);
    await deleteDeploymentsOfApp(trx, app.guid);
    await deleteSidecarsOfApp(trx, app.guid);
    await deleteApp(trx, app.guid);
    await recordAppEvent(trx, ctx.actor, app, 'audit.app.delete-request', { request: { recursive: true } });
    return completedJob(trx, 'app.delete', { guid: app.guid, type: 'app' });
  });
  apiLog(ctx, app.guid, `Deleted app with guid ${app.guid}`);
  stopProcesses(ctx, processes);
  return job;
}

const needsDroplet = () => unprocessable('Assign a droplet before starting this app.');

/** The desired state: STARTED starts every instance of the current droplet, STOPPED stops them all. */
async function setState(ctx: RequestContext, app: AppRow, state: 'STARTED' | 'STOPPED'): Promise<AppRow> {
  if (state === 'STARTED' && !app.droplet_guid) throw needsDroplet();
  const at = now();
  await ctx.db.transaction().execute(async (trx) => {
    await updateApp(trx, app.guid, { state, updated_at: at });
    await recordAppEvent(trx, ctx.actor, app, state === 'STARTED' ? 'audit.app.start' : 'audit.app.stop');
  });
  apiLog(ctx, app.guid, `Updated app with guid ${app.guid} ({"state"=>"${state}"})`);
  if (state === 'STARTED') await startApp(ctx, app.guid);
  else await stopApp(ctx, app.guid);
  return { ...app, state, updated_at: at };
}

export const startAppAction = (ctx: RequestContext, app: AppRow) => setState(ctx, app, 'STARTED');
export const stopAppAction = (ctx: RequestContext, app: AppRow) => setState(ctx, app, 'STOPPED');

/** Stop, a new process version (instances of the old one still reporting are extras), start. */
export async function restartAppAction(ctx: RequestContext, app: AppRow): Promise<AppRow> {
  if (!app.droplet_guid) throw needsDroplet();
  const stopped = await setState(ctx, app, 'STOPPED');
  await newProcessVersion(ctx.db, app.guid, newGuid(), now());
  return setState(ctx, stopped, 'STARTED');
}

export async function updateEnvironment(ctx: RequestContext, app: AppRow, message: EnvironmentUpdateMessage): Promise<AppRow> {
  const next: Record<string, string> = { ...jsonColumn('apps', app, 'environment_variables', {} as Record<string, string>), ...message.set };
  for (const key of message.removed) delete next[key];
  const at = now();
  const environment = JSON.stringify(next);
  await ctx.db.transaction().execute(async (trx) => {
    await updateApp(trx, app.guid, { environment_variables: environment, updated_at: at });
    // Values may be secrets: the event says which keys changed, never their values.
    await recordAppEvent(trx, ctx.actor, app, 'audit.app.update', { request: { environment_variables: '[PRIVATE DATA HIDDEN]' }, keys: message.keys });
  });
  apiLog(ctx, app.guid, `Updated app with guid ${app.guid} ({"environment_variables"=>"[PRIVATE DATA HIDDEN]"})`);
  return { ...app, environment_variables: environment, updated_at: at };
}

