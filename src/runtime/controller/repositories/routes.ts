// Routes and their destinations: the only SQL that reads or writes them.
import type { Database } from '../db/schema.js';
import type { ListMessage } from '../messages/list.js';
import { getDomain, type DomainRow } from './domains.js';
import { filtered, found, page, type Db } from './query.js';

export type RouteRow = Database['routes'];
export type DestinationRow = Database['route_destinations'];

/** The app port of a destination that names none (port null): devbox's apps listen on one, Cloud Foundry's default. */
export const DEFAULT_APP_PORT = 8080;

/** A route with what its v3 resource shows: its domain (for the url) and its destinations. */
export interface RouteWithDestinations {
  route: RouteRow;
  domain: DomainRow;
  destinations: DestinationRow[];
}

/** `host.domain[/path]` of every route mapped to the app (to one of its process types, when given), oldest first. */
export async function appUris(db: Db, appGuid: string, processType?: string): Promise<string[]> {
  let query = db
    .selectFrom('route_destinations')
    .innerJoin('routes', 'routes.guid', 'route_destinations.route_guid')
    .innerJoin('domains', 'domains.guid', 'routes.domain_guid')
    .select(['routes.host', 'routes.path', 'domains.name as domain'])
    .where('route_destinations.app_guid', '=', appGuid);
  if (processType) query = query.where('route_destinations.process_type', '=', processType);
  const rows = await query.orderBy('routes.created_at').execute();
  return [...new Set(rows.map((r) => `${r.host ? `${r.host}.` : ''}${r.domain}${r.path}`))];
}

export const findRoute = (db: Db, guid: string) => db.selectFrom('routes').selectAll().where('guid', '=', guid).executeTakeFirst();

export const getRoute = async (db: Db, guid: string): Promise<RouteRow> => found(await findRoute(db, guid), 'Route');

export const ROUTE_FILTERS = ['hosts', 'paths', 'domain_guids', 'space_guids', 'app_guids'] as const;

export const listRoutes = (db: Db, message: ListMessage<(typeof ROUTE_FILTERS)[number]>) =>
  page(
    filtered(db.selectFrom('routes').selectAll(), message.filters, {
      hosts: 'host',
      paths: 'path',
      domain_guids: 'domain_guid',
      space_guids: 'space_guid',
      app_guids: (q, apps) => q.where('guid', 'in', db.selectFrom('route_destinations').select('route_guid').where('app_guid', 'in', apps)),
    }),
    message,
  );

/** The routes mapped to the app (to any of its processes). */
export const listAppRoutes = (db: Db, appGuid: string, message: ListMessage) =>
  page(db.selectFrom('routes').selectAll().where('guid', 'in', db.selectFrom('route_destinations').select('route_guid').where('app_guid', '=', appGuid)), message);

export const insertRoute = (db: Db, row: RouteRow) => db.insertInto('routes').values(row).execute();

/** The route and its destinations. */
export async function deleteRoute(db: Db, guid: string): Promise<void> {
  await db.deleteFrom('route_destinations').where('route_guid', '=', guid).execute();
  await db.deleteFrom('routes').where('guid', '=', guid).execute();
}

/** The route's destinations, oldest first. */
export const listRouteDestinations = (db: Db, routeGuid: string) => db.selectFrom('route_destinations').selectAll().where('route_guid', '=', routeGuid).orderBy('created_at').execute();

/** Each route with its domain and destinations, in the order given. */
export const withDestinations = (db: Db, routes: RouteRow[]): Promise<RouteWithDestinations[]> =>
  Promise.all(routes.map(async (route) => ({ route, domain: await getDomain(db, route.domain_guid), destinations: await listRouteDestinations(db, route.guid) })));

export const findRouteDestination = (db: Db, routeGuid: string, guid: string) =>
  db.selectFrom('route_destinations').selectAll().where('route_guid', '=', routeGuid).where('guid', '=', guid).executeTakeFirst();

/** Whether the route already sends traffic to that process of the app. */
export const isMapped = async (db: Db, routeGuid: string, appGuid: string, processType: string) =>
  !!(await db.selectFrom('route_destinations').select('guid').where('route_guid', '=', routeGuid).where('app_guid', '=', appGuid).where('process_type', '=', processType).executeTakeFirst());

export const insertRouteDestination = (db: Db, row: DestinationRow) => db.insertInto('route_destinations').values(row).execute();

export const deleteRouteDestination = (db: Db, guid: string) => db.deleteFrom('route_destinations').where('guid', '=', guid).execute();

/** The apps the route sends traffic to (once per destination). */
export const routeAppGuids = async (db: Db, routeGuid: string) => (await db.selectFrom('route_destinations').select('app_guid').where('route_guid', '=', routeGuid).execute()).map((r) => r.app_guid);

/** The space's routes that send traffic nowhere (no destination), oldest first. */
export const unmappedSpaceRoutes = (db: Db, spaceGuid: string) =>
  db
    .selectFrom('routes')
    .selectAll()
    .where('space_guid', '=', spaceGuid)
    .where('guid', 'not in', db.selectFrom('route_destinations').select('route_guid'))
    .orderBy('created_at')
    .orderBy('guid')
    .execute();

/** Deletes the route if it still has no destination (one mapped meanwhile stays); whether it was deleted. */
export async function deleteRouteIfUnmapped(db: Db, guid: string): Promise<boolean> {
  const result = await db
    .deleteFrom('routes')
    .where('guid', '=', guid)
    .where('guid', 'not in', db.selectFrom('route_destinations').select('route_guid').where('route_guid', '=', guid))
    .executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}
