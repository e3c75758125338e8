// Apps and their processes: the only SQL that reads or writes them.
import { sql } from 'kysely';
import type { Database } from '../db/schema.js';
import type { ListMessage } from '../messages/list.js';
import { filtered, found, page, type Db } from './query.js';

export type AppRow = Database['apps'];
export type ProcessRow = Database['processes'];

export const findApp = (db: Db, guid: string) => db.selectFrom('apps').selectAll().where('guid', '=', guid).executeTakeFirst();

export const getApp = async (db: Db, guid: string): Promise<AppRow> => found(await findApp(db, guid), 'App');

export const APP_FILTERS = ['names', 'space_guids', 'guids', 'organization_guids'] as const;

export const listApps = (db: Db, message: ListMessage<(typeof APP_FILTERS)[number]>) =>
  page(
    filtered(db.selectFrom('apps').selectAll(), message.filters, {
      names: 'name',
      space_guids: 'space_guid',
      guids: 'guid',
      organization_guids: (q, orgs) => q.where('space_guid', 'in', db.selectFrom('spaces').select('guid').where('organization_guid', 'in', orgs)),
    }),
    message,
  );

export const insertApp = (db: Db, row: AppRow) => db.insertInto('apps').values(row).execute();

/** The app features devbox has (Cloud Controller's AppFeatures) and the column each is kept in (1 on, 0 off). */
export const APP_FEATURE_COLUMNS = { ssh: 'enable_ssh', revisions: 'revisions_enabled' } as const satisfies Record<string, keyof AppRow>;

export type AppFeatureName = keyof typeof APP_FEATURE_COLUMNS;

export const isAppFeature = (name: string): name is AppFeatureName => Object.hasOwn(APP_FEATURE_COLUMNS, name);

/** The features of a new app, as Cloud Controller's defaults (ssh on, revisions off). */
export const NEW_APP_FEATURES = { enable_ssh: 1, revisions_enabled: 0 } as const satisfies Partial<AppRow>;

export const updateApp = (db: Db, guid: string, changes: Partial<Omit<AppRow, 'guid' | 'created_at'>>) => db.updateTable('apps').set(changes).where('guid', '=', guid).execute();

/** The app, its processes and its route mappings. */
export async function deleteApp(db: Db, guid: string): Promise<void> {
  await db.deleteFrom('route_destinations').where('app_guid', '=', guid).execute();
  await db.deleteFrom('processes').where('app_guid', '=', guid).execute();
  await db.deleteFrom('apps').where('guid', '=', guid).execute();
}

export const findProcess = (db: Db, guid: string) => db.selectFrom('processes').selectAll().where('guid', '=', guid).executeTakeFirst();

export const getProcess = async (db: Db, guid: string): Promise<ProcessRow> => found(await findProcess(db, guid), 'Process');

export const findAppProcess = (db: Db, appGuid: string, type: string) => db.selectFrom('processes').selectAll().where('app_guid', '=', appGuid).where('type', '=', type).executeTakeFirst();

export const getAppProcess = async (db: Db, appGuid: string, type: string): Promise<ProcessRow> => found(await findAppProcess(db, appGuid, type), 'Process');

export const PROCESS_FILTERS = ['types', 'app_guids', 'guids'] as const;

export const listProcesses = (db: Db, message: ListMessage<(typeof PROCESS_FILTERS)[number]>) =>
  page(filtered(db.selectFrom('processes').selectAll(), message.filters, { types: 'type', app_guids: 'app_guid', guids: 'guid' }), message);

export const listAppProcesses = (db: Db, appGuid: string, message: ListMessage) => page(db.selectFrom('processes').selectAll().where('app_guid', '=', appGuid), message);

/** Every process of the app, web first, then by type. */
export const listProcessesOfApp = (db: Db, appGuid: string) =>
  db.selectFrom('processes').selectAll().where('app_guid', '=', appGuid).orderBy(sql`case when type = 'web' then 0 else 1 end`).orderBy('type').execute();

export const insertProcess = (db: Db, row: ProcessRow) => db.insertInto('processes').values(row).execute();

export const updateProcess = (db: Db, guid: string, changes: Partial<Omit<ProcessRow, 'guid' | 'app_guid' | 'type' | 'created_at'>>) =>
  db.updateTable('processes').set(changes).where('guid', '=', guid).execute();

/** Writes a process's scale, command, health check and version as an action computed them. */
export const saveProcessSettings = (db: Db, p: ProcessRow) =>
  updateProcess(db, p.guid, {
    instances: p.instances,
    memory_in_mb: p.memory_in_mb,
    disk_in_mb: p.disk_in_mb,
    log_rate_limit_in_bytes_per_second: p.log_rate_limit_in_bytes_per_second,
    command: p.command,
    health_check_type: p.health_check_type,
    health_check_endpoint: p.health_check_endpoint,
    health_check_timeout: p.health_check_timeout,
    health_check_invocation_timeout: p.health_check_invocation_timeout,
    version: p.version,
    updated_at: p.updated_at,
  });

/** The app's processes get a new version: instances of the old one still reporting are extras. */
export const newProcessVersion = (db: Db, appGuid: string, version: string, at: string) =>
  db.updateTable('processes').set({ version, updated_at: at }).where('app_guid', '=', appGuid).execute();

/**
 * The desired state of every process, as the health manager reads it; `deploying` while a rolling
 * deployment replaces its instances (the deployment, not the health manager, starts and stops them).
 */
export const desiredProcesses = async (db: Db) =>
  (
    await db
      .selectFrom('processes')
      .innerJoin('apps', 'apps.guid', 'processes.app_guid')
      .select(['apps.guid as app_guid', 'processes.guid as process_guid', 'processes.type', 'processes.version', 'processes.instances', 'apps.state', 'apps.droplet_guid', 'processes.updated_at'])
      .select((eb) =>
        eb
          .exists(eb.selectFrom('deployments').select('deployments.guid').whereRef('deployments.process_guid', '=', 'processes.guid').where('deployments.status_value', '=', 'ACTIVE'))
          .as('deploying'),
      )
      .execute()
  ).map((p) => ({ ...p, deploying: Boolean(p.deploying) }));
