// Rolling deployments (CC v3, strategy rolling): the app's web process gets the new droplet (and
// environment) as a new process version, and its instances are replaced a few at a time (at most
// `max_in_flight` starting): a new instance must be RUNNING (healthy) before the old one at its
// index is stopped, so the app's routes keep answering throughout.
//
// The controller drives it, one step at a time (advanceDeployment, every DEPLOYMENT_TICK_MS), from
// what the DEAs report: a step holds no state but the deployment's row, so a controller that
// restarts goes on where it was. The health manager leaves a process alone while it deploys.
//   ACTIVE/DEPLOYING → FINALIZED/DEPLOYED          every index runs the new version, no old one is left
//                    → FINALIZED/CANCELED          cancel (or new instances kept failing): the
//                                                  previous droplet and version are restored
//                    → FINALIZED/SUPERSEDED        a newer deployment of the app took over
import type { FindDropletReply } from '../../common/bus-messages.js';
import { newGuid, now, type ControllerContext, type RequestContext } from '../context.js';
import { unprocessable } from '../errors.js';
import type { DeploymentCreateMessage } from '../messages/deployments.js';
import { findApp, findProcess, getAppProcess, listProcessesOfApp, updateApp, updateProcess } from '../repositories/apps.js';
import { activeDeploymentOfApp, activeDeployments, insertDeployment, updateActiveDeployment, type DeploymentRow } from '../repositories/deployments.js';
import { findAppDroplet } from '../repositories/droplets.js';
import { jsonColumn } from '../repositories/query.js';
import { startAppAction } from './apps.js';
import { recordAppEvent } from './audit.js';
import { startInstances, stopProcess } from './instances.js';

/** How often the controller moves its deployments on. */
export const DEPLOYMENT_TICK_MS = 500;
/** New instances that may fail (crash, or never become healthy) before the deployment cancels itself. */
export const MAX_DEPLOYMENT_FAILURES = 3;
/** Beyond its health check timeout, how long a new instance may take to be reported (download, unpacking). */
const START_GRACE_MS = 30_000;

type Context = Pick<ControllerContext, 'db' | 'runner' | 'componentUrls' | 'appLog' | 'log'>;

const apiLog = (ctx: Pick<ControllerContext, 'appLog'>, appGuid: string, message: string, type: 'OUT' | 'ERR' = 'OUT') => ctx.appLog(appGuid, { source: 'API', message, type });

/** `POST /v3/deployments`: a rolling deployment of the given droplet (else the current one: a rolling restart). */
export async function createDeployment(ctx: RequestContext, message: DeploymentCreateMessage): Promise<DeploymentRow> {
  const app = await findApp(ctx.db, message.appGuid);
  if (!app) throw unprocessable('Unable to use app. Ensure that the app exists and you have access to it.');
  const dropletGuid = message.dropletGuid ?? app.droplet_guid;
  if (!dropletGuid) throw unprocessable('Invalid droplet. Please specify a droplet in the request or set a current droplet for the app.');
  const droplet = await findAppDroplet(ctx.db, app.guid, dropletGuid);
  if (!droplet || droplet.state !== 'STAGED') throw unprocessable('Unable to assign current droplet. Ensure the droplet exists and belongs to this app.');
  const web = await getAppProcess(ctx.db, app.guid, 'web');
  const at = now();
  const row: DeploymentRow = {
    guid: newGuid(),
    app_guid: app.guid,
    process_guid: web.guid,
    state: 'DEPLOYING',
    status_value: 'ACTIVE',
    status_reason: 'DEPLOYING',
    strategy: 'rolling',
    max_in_flight: message.maxInFlight,
    droplet_guid: droplet.guid,
    previous_droplet_guid: app.droplet_guid,
    version: newGuid(),
    previous_version: web.version,
    failures: 0,
    starts: '{}',
    cancel_reason: null,
    last_successful_healthcheck: at,
    last_status_change: at,
    metadata: JSON.stringify(message.metadata),
    created_at: at,
    updated_at: at,
  };
  // A stopped app has nothing to replace: it is started with the droplet, deployed at once (as CC does).
  const stopped = app.state !== 'STARTED';
  if (stopped) Object.assign(row, { state: 'DEPLOYED', status_value: 'FINALIZED', status_reason: 'DEPLOYED' });
  const others = (await listProcessesOfApp(ctx.db, app.guid)).filter((p) => p.type !== 'web');
  await ctx.db.transaction().execute(async (trx) => {
    const superseded = await activeDeploymentOfApp(trx, app.guid);
    if (superseded) await updateActiveDeployment(trx, superseded.guid, { state: 'DEPLOYED', status_value: 'FINALIZED', status_reason: 'SUPERSEDED', last_status_change: at, updated_at: at });
    await updateApp(trx, app.guid, { droplet_guid: droplet.guid, updated_at: at });
    // The new instances are a new version of the web process; the other processes restart in place.
    await updateProcess(trx, web.guid, { version: row.version, updated_at: at });
    for (const p of others) await updateProcess(trx, p.guid, { version: newGuid(), updated_at: at });
    await insertDeployment(trx, row);
    await recordAppEvent(trx, ctx.actor, app, 'audit.app.deployment.create', { deployment_guid: row.guid, droplet_guid: droplet.guid, type: 'rolling' });
  });
  apiLog(ctx, app.guid, `Creating deployment ${row.guid} (rolling, droplet ${droplet.guid}) for app with guid ${app.guid}`);
  if (stopped) {
    await startAppAction(ctx, { ...app, droplet_guid: droplet.guid });
    return row;
  }
  for (const p of others.filter((o) => o.instances > 0)) {
    stopProcess(ctx, p.guid);
    await startInstances(ctx, p.guid, [...Array(p.instances).keys()]);
  }
  await advanceDeployment(ctx, row);
  return (await activeDeploymentOfApp(ctx.db, app.guid)) ?? row;
}

/**
 * `POST /v3/deployments/:guid/actions/cancel` (or a deployment that kept failing): the previous
 * droplet and process version are the app's again, its missing old instances are started and the
 * new ones stopped.
 */
export async function cancelDeployment(ctx: Context & Partial<Pick<RequestContext, 'actor'>>, deployment: DeploymentRow, reason?: string): Promise<DeploymentRow> {
  if (deployment.status_value !== 'ACTIVE') throw unprocessable(`Cannot cancel a deployment with status: ${deployment.status_value} and reason: ${deployment.status_reason}`);
  const app = await findApp(ctx.db, deployment.app_guid);
  const web = await findProcess(ctx.db, deployment.process_guid);
  const at = now();
  const canceled = { state: 'CANCELED', status_value: 'FINALIZED', status_reason: 'CANCELED', cancel_reason: reason ?? null, last_status_change: at, updated_at: at };
  const done = await ctx.db.transaction().execute(async (trx) => {
    if (!(await updateActiveDeployment(trx, deployment.guid, canceled))) return false;
    if (app && deployment.previous_droplet_guid) await updateApp(trx, app.guid, { droplet_guid: deployment.previous_droplet_guid, updated_at: at });
    if (web) await updateProcess(trx, web.guid, { version: deployment.previous_version, updated_at: at });
    if (app && ctx.actor) await recordAppEvent(trx, ctx.actor, app, 'audit.app.deployment.cancel', { deployment_guid: deployment.guid, droplet_guid: deployment.droplet_guid });
    return true;
  });
  if (!done) throw unprocessable('Cannot cancel a deployment with status: FINALIZED');
  if (app) apiLog(ctx, app.guid, reason ? `Canceled deployment ${deployment.guid}: ${reason}` : `Canceled deployment ${deployment.guid}`, 'ERR');
  if (app && web && app.state === 'STARTED') {
    const reported = await ctx.runner.instances(web.guid, 500);
    const running = new Set(reported.filter((i) => i.version === deployment.previous_version && isActive(i)).map((i) => i.index));
    await startInstances(ctx, web.guid, [...Array(web.instances).keys()].filter((i) => !running.has(i)));
    stopProcess(ctx, web.guid, { version: deployment.version });
  }
  return { ...deployment, ...canceled };
}

const isActive = (i: FindDropletReply) => i.state === 'RUNNING' || i.state === 'STARTING';

/** One step of every active deployment (never two steps of one at once). */
export function deploymentDriver(ctx: Context): () => Promise<void> {
  let stepping = false;
  return async () => {
    if (stepping) return;
    stepping = true;
    try {
      for (const deployment of await activeDeployments(ctx.db)) {
        await advanceDeployment(ctx, deployment).catch((error: Error) => ctx.log.warn('deployment step failed', { deployment: deployment.guid, error: error.message }));
      }
    } finally {
      stepping = false;
    }
  };
}

/**
 * One step of a deployment, from what the DEAs report now: for each index in order, a RUNNING new
 * instance lets the old ones there stop; a missing one is started while fewer than max_in_flight
 * are on their way; one that crashed or took too long counts as a failure and is started again.
 * When every index runs the new version and no old instance is left, it is DEPLOYED.
 */
export async function advanceDeployment(ctx: Context, deployment: DeploymentRow, nowMs = Date.now()): Promise<void> {
  const app = await findApp(ctx.db, deployment.app_guid);
  const web = await findProcess(ctx.db, deployment.process_guid);
  const at = new Date(nowMs).toISOString();
  if (!app || !web || app.state !== 'STARTED' || web.version !== deployment.version) {
    // Stopped, deleted, or its process changed under it (a scale of memory, a restart): nothing left to roll.
    await updateActiveDeployment(ctx.db, deployment.guid, { state: 'CANCELED', status_value: 'FINALIZED', status_reason: 'CANCELED', cancel_reason: 'the app was stopped or changed meanwhile', last_status_change: at, updated_at: at });
    return;
  }
  const reported = await ctx.runner.instances(web.guid, 500);
  const fresh = (i: FindDropletReply) => i.version === deployment.version;
  const old = reported.filter((i) => !fresh(i) && isActive(i));
  const starts = jsonColumn('deployments', deployment, 'starts', {} as Record<string, string>);
  const startTimeoutMs = (web.health_check_timeout ?? 60) * 1000 + START_GRACE_MS;
  let inFlight = 0;
  let failures = deployment.failures;
  const toStart: number[] = [];
  let allRunning = true;
  let healthy = false;
  for (let index = 0; index < web.instances; index++) {
    const atIndex = reported.filter((i) => fresh(i) && i.index === index);
    if (atIndex.some((i) => i.state === 'RUNNING')) {
      healthy = true;
      delete starts[index];
      const replaced = old.filter((i) => i.index === index).map((i) => i.instance);
      if (replaced.length > 0) stopProcess(ctx, web.guid, { instances: replaced });
      continue;
    }
    allRunning = false;
    const asked = starts[index] ? Date.parse(starts[index]) : undefined;
    const crashed = atIndex.some((i) => i.state === 'CRASHED' && i.state_timestamp * 1000 >= (asked ?? 0) - 1_000);
    const starting = atIndex.some((i) => i.state === 'STARTING');
    if (asked !== undefined && !crashed && (starting || nowMs - asked < startTimeoutMs)) {
      inFlight++;
      continue;
    }
    if (asked !== undefined) failures++;
    toStart.push(index);
  }
  if (failures >= MAX_DEPLOYMENT_FAILURES) {
    await cancelDeployment(ctx, { ...deployment, failures }, `new instances failed ${failures} times (crashed, or never became healthy): the previous droplet runs again; the app's logs say why`);
    return;
  }
  for (const index of toStart) {
    if (inFlight >= deployment.max_in_flight) break;
    await startInstances(ctx, web.guid, [index]);
    starts[index] = at;
    inFlight++;
  }
  // Old instances beyond the process's instances (it was scaled down meanwhile) go at once.
  const extra = old.filter((i) => i.index >= web.instances).map((i) => i.instance);
  if (extra.length > 0) stopProcess(ctx, web.guid, { instances: extra });
  if (allRunning && old.length === 0) {
    await updateActiveDeployment(ctx.db, deployment.guid, { state: 'DEPLOYED', status_value: 'FINALIZED', status_reason: 'DEPLOYED', starts: '{}', failures, last_successful_healthcheck: at, last_status_change: at, updated_at: at });
    apiLog(ctx, app.guid, `Deployment ${deployment.guid} of app with guid ${app.guid} is deployed`);
    return;
  }
  await updateActiveDeployment(ctx.db, deployment.guid, { starts: JSON.stringify(starts), failures, ...(healthy ? { last_successful_healthcheck: at } : {}), updated_at: at });
}
