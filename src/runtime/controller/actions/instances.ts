// Instances of an app's web process: which to start and with what (the DEA start message with
// VCAP_APPLICATION and VCAP_SERVICES), which to stop, and their routes. The runner places and
// sends; this decides from the desired state in the database.
import type { Actor, ControllerContext } from '../context.js';
import { notFound } from '../errors.js';
import { loadVcapApplication } from '../environment/vcap-application.js';
import { serviceEntries } from '../environment/vcap-services.js';
import { findApp, findAppProcess, type ProcessRow } from '../repositories/apps.js';
import { findDroplet } from '../repositories/droplets.js';
import { jsonColumn } from '../repositories/query.js';
import { appUris } from '../repositories/routes.js';
import type { StopFilter } from '../runner/runner.js';
import { recordAppEvent } from './audit.js';

type Context = Pick<ControllerContext, 'db' | 'runner' | 'componentUrls' | 'appLog'>;

/** Starts the given indices of the app's web process, when the app is STARTED with a STAGED droplet. */
export async function startInstances(ctx: Context, appGuid: string, indices: number[]): Promise<void> {
  const app = await findApp(ctx.db, appGuid);
  if (!app || app.state !== 'STARTED' || !app.droplet_guid) return;
  const web = await findAppProcess(ctx.db, app.guid, 'web');
  const droplet = await findDroplet(ctx.db, app.droplet_guid);
  if (!web || !droplet || droplet.state !== 'STAGED') return;
  const vcap = await loadVcapApplication(ctx.db, app, web, ctx.componentUrls.api);
  const uris = vcap.uris;
  const command = web.command ?? jsonColumn('droplets', droplet, 'process_types', {} as Record<string, string>).web;
  const services = await serviceEntries(ctx.db, app.guid);
  for (const index of indices) {
    if (index >= web.instances) continue;
    const message = {
      droplet: app.guid,
      version: web.version,
      name: app.name,
      index,
      process_guid: web.guid,
      process_type: web.type,
      space_guid: app.space_guid,
      uris,
      limits: vcap.limits,
      env: jsonColumn('apps', app, 'environment_variables', {} as Record<string, string>),
      services,
      start_command: command,
      health_check_type: web.health_check_type as 'port' | 'http' | 'process',
      health_check_http_endpoint: web.health_check_endpoint,
      health_check_timeout: web.health_check_timeout ?? 60,
      vcap_application: { ...vcap },
      executableUri: `${ctx.componentUrls.api}/v3/droplets/${droplet.guid}/download`,
      sha1: droplet.sha1,
      droplet_guid: droplet.guid,
    };
    if (!ctx.runner.start(message, web.memory_in_mb, app.stack)) {
      ctx.appLog(app.guid, { source: 'API', message: `Cannot start instance ${index}: no DEA has ${web.memory_in_mb}M free (devbox status shows the DEAs)`, type: 'ERR' });
    }
  }
}

/** Starts every instance of a started app (after start, restart, or a new droplet). */
export async function startApp(ctx: Context, appGuid: string): Promise<void> {
  const web = await findAppProcess(ctx.db, appGuid, 'web');
  if (web) await startInstances(ctx, appGuid, [...Array(web.instances).keys()]);
}

export function stopApp(ctx: Pick<ControllerContext, 'runner'>, appGuid: string, filter: StopFilter = {}): void {
  ctx.runner.stop(appGuid, filter);
}

/** Tells the DEAs the app's routes changed, so running instances are registered under them. */
export async function routesChanged(ctx: Pick<ControllerContext, 'db' | 'runner'>, appGuid: string): Promise<void> {
  ctx.runner.routesChanged(appGuid, await appUris(ctx.db, appGuid));
}

/** Running instances follow a process change: a new version restarts them all, a new count adds or removes. */
export async function applyToInstances(ctx: Context, app: { guid: string; state: string }, before: ProcessRow, after: ProcessRow): Promise<void> {
  if (app.state !== 'STARTED' || before.type !== 'web') return;
  if (after.version !== before.version) {
    stopApp(ctx, app.guid);
    await startApp(ctx, app.guid);
  } else if (after.instances > before.instances) {
    await startInstances(ctx, app.guid, [...Array(after.instances - before.instances).keys()].map((i) => before.instances + i));
  } else if (after.instances < before.instances) {
    stopApp(ctx, app.guid, { indices: [...Array(before.instances - after.instances).keys()].map((i) => after.instances + i) });
  }
}

/**
 * `cf restart-app-instance`: stops one instance of the process; the health manager sees the index
 * missing and starts it again, as Diego would. The audit event is Cloud Controller's.
 */
export async function restartInstance(ctx: Context & { actor: Actor }, process: ProcessRow, index: number): Promise<void> {
  const app = await findApp(ctx.db, process.app_guid);
  if (!app) throw notFound('App');
  if (!Number.isInteger(index) || index < 0 || index >= process.instances) throw notFound('Instance');
  await recordAppEvent(ctx.db, ctx.actor, app, 'audit.app.process.terminate_instance', { process_guid: process.guid, process_type: process.type, process_index: index });
  ctx.appLog(app.guid, { source: 'API', message: `Terminating instance ${index} of process ${process.type} of app with guid ${app.guid}` });
  if (app.state === 'STARTED' && process.type === 'web') stopApp(ctx, app.guid, { indices: [index] });
}
