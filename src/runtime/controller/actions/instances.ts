// Instances of an app's processes: which to start and with what (the DEA start message with
// VCAP_APPLICATION and VCAP_SERVICES), which to stop, and their routes. The runner places and
// sends; this decides from the desired state in the database. The DEAs know an instance by its
// process's guid (`droplet` on the bus; a web process's guid is its app's).
import type { Actor, ControllerContext } from '../context.js';
import { notFound } from '../errors.js';
import { loadVcapApplication } from '../environment/vcap-application.js';
import { serviceEntries } from '../environment/vcap-services.js';
import { findApp, findProcess, listProcessesOfApp, type AppRow, type ProcessRow } from '../repositories/apps.js';
import { findDroplet } from '../repositories/droplets.js';
import { jsonColumn } from '../repositories/query.js';
import { appUris } from '../repositories/routes.js';
import type { StopFilter } from '../runner/runner.js';
import { recordAppEvent } from './audit.js';
import { startSidecars } from './sidecars.js';

type Context = Pick<ControllerContext, 'db' | 'runner' | 'componentUrls' | 'appLog'>;

/**
 * Starts the given indices of a process, when its app is STARTED with a STAGED droplet. A process
 * whose type the droplet has no command for, and that has none of its own, cannot start: its app's
 * log says so.
 */
export async function startInstances(ctx: Context, processGuid: string, indices: number[]): Promise<void> {
  const process = await findProcess(ctx.db, processGuid);
  const app = process && (await findApp(ctx.db, process.app_guid));
  if (!process || !app || app.state !== 'STARTED' || !app.droplet_guid) return;
  const droplet = await findDroplet(ctx.db, app.droplet_guid);
  if (!droplet || droplet.state !== 'STAGED') return;
  const wanted = indices.filter((index) => index < process.instances);
  if (wanted.length === 0) return;
  const command = process.command ?? jsonColumn('droplets', droplet, 'process_types', {} as Record<string, string>)[process.type];
  if (!command) {
    ctx.appLog(app.guid, {
      source: 'API',
      message: `Cannot start process ${process.type}: the droplet has no command for it. Give one (a Procfile line, or command: under processes: in the manifest), or scale it to 0.`,
      type: 'ERR',
    });
    return;
  }
  const vcap = await loadVcapApplication(ctx.db, app, process, ctx.componentUrls.api);
  const services = await serviceEntries(ctx.db, app.guid);
  const sidecars = await startSidecars(ctx.db, app.guid, process.type);
  for (const index of wanted) {
    const message = {
      droplet: process.guid,
      app_guid: app.guid,
      version: process.version,
      name: app.name,
      index,
      process_guid: process.guid,
      process_type: process.type,
      space_guid: app.space_guid,
      uris: vcap.uris,
      limits: vcap.limits,
      env: jsonColumn('apps', app, 'environment_variables', {} as Record<string, string>),
      services,
      start_command: command,
      health_check_type: process.health_check_type as 'port' | 'http' | 'process',
      health_check_http_endpoint: process.health_check_endpoint,
      health_check_timeout: process.health_check_timeout ?? 60,
      vcap_application: { ...vcap },
      executableUri: `${ctx.componentUrls.api}/v3/droplets/${droplet.guid}/download`,
      sha1: droplet.sha1,
      droplet_guid: droplet.guid,
      sidecars,
    };
    if (!ctx.runner.start(message, process.memory_in_mb, app.stack)) {
      ctx.appLog(app.guid, { source: 'API', message: `Cannot start instance ${index} of process ${process.type}: no DEA has ${process.memory_in_mb}M free (devbox status shows the DEAs)`, type: 'ERR' });
    }
  }
}

/** Starts every instance of every process of a started app (after start, restart, or a new droplet). */
export async function startApp(ctx: Context, appGuid: string): Promise<void> {
  for (const process of await listProcessesOfApp(ctx.db, appGuid)) {
    if (process.instances > 0) await startInstances(ctx, process.guid, [...Array(process.instances).keys()]);
  }
}

/** Stops the instances of a process (those the filter names, else all of them). */
export function stopProcess(ctx: Pick<ControllerContext, 'runner'>, processGuid: string, filter: StopFilter = {}): void {
  ctx.runner.stop(processGuid, filter);
}

/** Stops every instance of the given processes of an app (read them before the app is deleted). */
export function stopProcesses(ctx: Pick<ControllerContext, 'runner'>, processes: Pick<ProcessRow, 'guid'>[]): void {
  for (const process of processes) stopProcess(ctx, process.guid);
}

/** Stops every instance of every process of the app that has instances (the health manager stops any stray one). */
export async function stopApp(ctx: Pick<ControllerContext, 'db' | 'runner'>, appGuid: string): Promise<void> {
  stopProcesses(ctx, (await listProcessesOfApp(ctx.db, appGuid)).filter((p) => p.instances > 0));
}

/** Tells the DEAs the app's routes changed, so running instances of each process are registered under its routes. */
export async function routesChanged(ctx: Pick<ControllerContext, 'db' | 'runner'>, appGuid: string): Promise<void> {
  for (const process of await listProcessesOfApp(ctx.db, appGuid)) {
    if (process.instances > 0) ctx.runner.routesChanged(process.guid, await appUris(ctx.db, appGuid, process.type));
  }
}

/** Running instances follow a process change: a new version restarts them all, a new count adds or removes. */
export async function applyToInstances(ctx: Context, app: Pick<AppRow, 'guid' | 'state'>, before: ProcessRow, after: ProcessRow): Promise<void> {
  if (app.state !== 'STARTED') return;
  if (after.version !== before.version) {
    stopProcess(ctx, before.guid);
    await startInstances(ctx, after.guid, [...Array(after.instances).keys()]);
  } else if (after.instances > before.instances) {
    await startInstances(ctx, after.guid, [...Array(after.instances - before.instances).keys()].map((i) => before.instances + i));
  } else if (after.instances < before.instances) {
    stopProcess(ctx, before.guid, { indices: [...Array(before.instances - after.instances).keys()].map((i) => after.instances + i) });
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
  if (app.state === 'STARTED') stopProcess(ctx, process.guid, { indices: [index] });
}
