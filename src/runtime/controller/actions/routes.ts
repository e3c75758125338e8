// Route actions: create and delete routes, map and unmap their destinations. Each does its writes
// in one transaction with its audit events; after the commit the DEAs are told the mapped apps'
// routes changed (and a mapping is announced on the app's log).
import { isReservedRouteHost } from '../../common/config.js';
import { notFound, notUnique, unprocessable } from '../errors.js';
import { newGuid, now, type RequestContext } from '../context.js';
import type { DestinationMessage, RouteCreateMessage } from '../messages/routes.js';
import { findApp, getApp, type AppRow } from '../repositories/apps.js';
import { findDomain } from '../repositories/domains.js';
import type { JobRow } from '../repositories/jobs.js';
import { isUniqueViolation } from '../repositories/query.js';
import { DEFAULT_APP_PORT, deleteRoute, deleteRouteDestination, deleteRouteIfUnmapped, unmappedSpaceRoutes, findRouteDestination, insertRoute, insertRouteDestination, isMapped, routeAppGuids, type RouteRow } from '../repositories/routes.js';
import { findSpace, type SpaceRow } from '../repositories/spaces.js';
import { apiLog } from './apps.js';
import { recordAppEvent, recordEvent } from './audit.js';
import { routesChanged } from './instances.js';
import { completedJob } from './jobs.js';

export async function createRoute(ctx: RequestContext, message: RouteCreateMessage): Promise<RouteRow> {
  const domain = await findDomain(ctx.db, message.domainGuid);
  if (!domain) throw unprocessable('Invalid domain. Ensure that the domain exists and you have access to it.');
  const space = await findSpace(ctx.db, message.spaceGuid);
  if (!space) throw unprocessable('Invalid space. Ensure that the space exists and you have access to it.');
  const { host, path } = message;
  assertRouteHostAllowed(host, domain);
  const at = now();
  const row: RouteRow = { guid: newGuid(), host, path, domain_guid: domain.guid, space_guid: space.guid, metadata: JSON.stringify(message.metadata), created_at: at, updated_at: at };
  const url = `${host ? `${host}.` : ''}${domain.name}${path}`;
  try {
    await ctx.db.transaction().execute(async (trx) => {
      await insertRoute(trx, row);
      await recordEvent(trx, { type: 'audit.route.create', actor: ctx.actor, target: { guid: row.guid, type: 'route', name: url }, spaceGuid: space.guid, data: { request: { host, path, domain_guid: domain.guid } } });
    });
  } catch (error) {
    if (isUniqueViolation(error)) throw notUnique(`Route already exists with host '${host}'${path ? ` and path '${path}'` : ''} for domain '${domain.name}'.`);
    throw error;
  }
  return row;
}

/**
 * What a route's host may be in its domain: a shared domain wants a host, and not one of the
 * platform's (api, uaa, logs…: RESERVED_HOSTNAMES; docs/security.md). Every way a route is created
 * (POST /v3/routes, apply_manifest) checks it before writing anything.
 */
export function assertRouteHostAllowed(host: string, domain: { name: string; organization_guid: string | null }): void {
  if (domain.organization_guid !== null) return;
  if (host === '') throw unprocessable('Missing host. Routes in shared domains must have a host defined.');
  if (isReservedRouteHost(`${host}.${domain.name}`, domain.name)) {
    throw unprocessable(`Route conflicts with a reserved system route: the hostname '${host}' is reserved for the platform in domain '${domain.name}'.`);
  }
}

/** Deletes the route and its destinations; the apps it was mapped to lose it. The job is complete. */
export async function deleteRouteAction(ctx: RequestContext, route: RouteRow): Promise<JobRow> {
  const mapped = await routeAppGuids(ctx.db, route.guid);
  const job = await ctx.db.transaction().execute(async (trx) => {
    await deleteRoute(trx, route.guid);
    await recordEvent(trx, { type: 'audit.route.delete-request', actor: ctx.actor, target: { guid: route.guid, type: 'route', name: route.host }, spaceGuid: route.space_guid, data: {} });
    return completedJob(trx, 'route.delete', { guid: route.guid, type: 'route' });
  });
  for (const appGuid of mapped) await routesChanged(ctx, appGuid);
  return job;
}

/**
 * Deletes the space's routes that are mapped to no app (cf delete-orphaned-routes), each with its
 * audit event, in one transaction; a route mapped meanwhile stays. No app loses a route, so no DEA
 * is told anything. The job is complete.
 */
export async function deleteUnmappedRoutes(ctx: RequestContext, space: SpaceRow): Promise<JobRow> {
  return ctx.db.transaction().execute(async (trx) => {
    for (const route of await unmappedSpaceRoutes(trx, space.guid)) {
      if (!(await deleteRouteIfUnmapped(trx, route.guid))) continue;
      await recordEvent(trx, { type: 'audit.route.delete-request', actor: ctx.actor, target: { guid: route.guid, type: 'route', name: route.host }, spaceGuid: space.guid, organizationGuid: space.organization_guid, data: { request: { unmapped: true } } });
    }
    return completedJob(trx, 'space.delete_unmapped_routes', { guid: space.guid, type: 'space' });
  });
}

/**
 * Maps the route to each destination's app process. Every app must exist and be in the route's
 * space, or nothing is mapped; a destination already mapped is left as it is (not an error, as in CF).
 */
export async function mapDestinations(ctx: RequestContext, route: RouteRow, destinations: DestinationMessage[]): Promise<void> {
  const targets: { app: AppRow; processType: string }[] = [];
  for (const { appGuid, processType } of destinations) {
    const app = await findApp(ctx.db, appGuid);
    if (!app) throw unprocessable(`App with guid '${appGuid}' does not exist or you do not have access to it.`);
    if (app.space_guid !== route.space_guid) throw unprocessable('Route and app must be in the same space.');
    targets.push({ app, processType });
  }
  const at = now();
  const mapped = await ctx.db.transaction().execute(async (trx) => {
    const added: AppRow[] = [];
    for (const { app, processType } of targets) {
      if (await isMapped(trx, route.guid, app.guid, processType)) continue;
      await insertRouteDestination(trx, { guid: newGuid(), route_guid: route.guid, app_guid: app.guid, process_type: processType, port: null, created_at: at, updated_at: at });
      await recordAppEvent(trx, ctx.actor, app, 'audit.app.map-route', { route_guid: route.guid, app_port: DEFAULT_APP_PORT, process_type: processType });
      added.push(app);
    }
    return added;
  });
  for (const app of mapped) {
    apiLog(ctx, app.guid, `Added route ${route.host} to app with guid ${app.guid}`);
    await routesChanged(ctx, app.guid);
  }
}

export async function unmapDestination(ctx: RequestContext, route: RouteRow, destinationGuid: string): Promise<void> {
  const destination = await findRouteDestination(ctx.db, route.guid, destinationGuid);
  if (!destination) throw notFound('Destination');
  const app = await getApp(ctx.db, destination.app_guid);
  await ctx.db.transaction().execute(async (trx) => {
    await deleteRouteDestination(trx, destination.guid);
    await recordAppEvent(trx, ctx.actor, app, 'audit.app.unmap-route', { route_guid: route.guid, process_type: destination.process_type });
  });
  await routesChanged(ctx, app.guid);
}
