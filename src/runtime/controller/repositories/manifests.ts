// What space manifests read (apply_manifest, manifest_diff, an app's manifest) and delete-space:
// apps by name in a space, an app's processes, routes and bound services, routes by address, the
// domains, and a space's contents.
import type { DomainRow } from './domains.js';
import type { AppRow, ProcessRow } from './apps.js';
import type { RouteRow } from './routes.js';
import type { Db } from './query.js';

export const findAppByName = (db: Db, spaceGuid: string, name: string): Promise<AppRow | undefined> =>
  db.selectFrom('apps').selectAll().where('space_guid', '=', spaceGuid).where('name', '=', name).executeTakeFirst();

export const appProcesses = (db: Db, appGuid: string): Promise<ProcessRow[]> => db.selectFrom('processes').selectAll().where('app_guid', '=', appGuid).orderBy('type').execute();

export const allDomains = (db: Db): Promise<DomainRow[]> => db.selectFrom('domains').selectAll().orderBy('created_at').execute();

export const findRouteByAddress = (db: Db, domainGuid: string, host: string, path: string): Promise<RouteRow | undefined> =>
  db.selectFrom('routes').selectAll().where('domain_guid', '=', domainGuid).where('host', '=', host).where('path', '=', path).executeTakeFirst();

/** The app's routes with their domain's name, oldest first. */
export const appRouteAddresses = (db: Db, appGuid: string) =>
  db
    .selectFrom('routes')
    .innerJoin('domains', 'domains.guid', 'routes.domain_guid')
    .select(['routes.guid', 'routes.host', 'routes.path', 'domains.name as domain'])
    .where('routes.guid', 'in', db.selectFrom('route_destinations').select('route_guid').where('app_guid', '=', appGuid))
    .orderBy('routes.created_at')
    .execute();

/** The names of the service instances bound to the app. */
export const appServiceNames = async (db: Db, appGuid: string): Promise<string[]> =>
  (
    await db
      .selectFrom('service_bindings')
      .innerJoin('service_instances', 'service_instances.guid', 'service_bindings.instance_guid')
      .select('service_instances.name')
      .where('service_bindings.app_guid', '=', appGuid)
      .where('service_bindings.type', '=', 'app')
      .execute()
  ).map((r) => r.name);

/** The app's destinations on the route (one a process type). */
export const appDestinationsOfRoute = (db: Db, routeGuid: string, appGuid: string) =>
  db.selectFrom('route_destinations').select(['guid', 'process_type']).where('route_guid', '=', routeGuid).where('app_guid', '=', appGuid).execute();

export const findInstanceInSpace = (db: Db, spaceGuid: string, name: string) =>
  db.selectFrom('service_instances').selectAll().where('space_guid', '=', spaceGuid).where('name', '=', name).executeTakeFirst();

/** How many apps, service instances and routes the space has. */
export async function spaceContents(db: Db, spaceGuid: string): Promise<{ apps: number; instances: number; routes: number }> {
  const count = async (table: 'apps' | 'service_instances' | 'routes') =>
    Number((await db.selectFrom(table).select((eb) => eb.fn.countAll().as('n')).where('space_guid', '=', spaceGuid).executeTakeFirstOrThrow()).n);
  return { apps: await count('apps'), instances: await count('service_instances'), routes: await count('routes') };
}

export const spaceApps = (db: Db, spaceGuid: string): Promise<AppRow[]> => db.selectFrom('apps').selectAll().where('space_guid', '=', spaceGuid).execute();
export const spaceRoutes = (db: Db, spaceGuid: string): Promise<RouteRow[]> => db.selectFrom('routes').selectAll().where('space_guid', '=', spaceGuid).execute();
export const spaceInstances = (db: Db, spaceGuid: string) => db.selectFrom('service_instances').selectAll().where('space_guid', '=', spaceGuid).execute();

export const deleteSpaceRow = (db: Db, guid: string) => db.deleteFrom('spaces').where('guid', '=', guid).execute();

/** Every credential binding of the space: its instances' (app bindings and keys) and its apps'. */
export const spaceBindings = (db: Db, spaceGuid: string) =>
  db
    .selectFrom('service_bindings')
    .selectAll()
    .where((eb) =>
      eb.or([
        eb('instance_guid', 'in', db.selectFrom('service_instances').select('guid').where('space_guid', '=', spaceGuid)),
        eb('app_guid', 'in', db.selectFrom('apps').select('guid').where('space_guid', '=', spaceGuid)),
      ]),
    )
    .execute();
