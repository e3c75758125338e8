// Builds and droplets: the only SQL that reads or writes them. Their states change only through
// actions/staging.ts, which owns both state machines; each write here says which state it leaves.
import type { Database } from '../db/schema.js';
import type { ListMessage } from '../messages/list.js';
import { filtered, found, page, type Db } from './query.js';

export type BuildRow = Database['builds'];
export type DropletRow = Database['droplets'];

export const findBuild = (db: Db, guid: string) => db.selectFrom('builds').selectAll().where('guid', '=', guid).executeTakeFirst();

export const getBuild = async (db: Db, guid: string): Promise<BuildRow> => found(await findBuild(db, guid), 'Build');

export const BUILD_FILTERS = ['app_guids', 'states'] as const;

export const listBuilds = (db: Db, message: ListMessage<(typeof BUILD_FILTERS)[number]>) =>
  page(filtered(db.selectFrom('builds').selectAll(), message.filters, { app_guids: 'app_guid', states: 'state' }), message);

export const insertBuild = (db: Db, row: BuildRow) => db.insertInto('builds').values(row).execute();

/** Whether any build other than `exceptGuid` has staged this package (then a build of it is a restage). */
export const packageStagedBefore = async (db: Db, packageGuid: string, exceptGuid: string) =>
  !!(await db.selectFrom('builds').select('guid').where('package_guid', '=', packageGuid).where('guid', '!=', exceptGuid).executeTakeFirst());

export const setBuildDroplet = (db: Db, guid: string, dropletGuid: string, at: string) => db.updateTable('builds').set({ droplet_guid: dropletGuid, updated_at: at }).where('guid', '=', guid).execute();

/** STAGING → STAGED. */
export const markBuildStaged = (db: Db, guid: string, dropletGuid: string, at: string) =>
  db.updateTable('builds').set({ droplet_guid: dropletGuid, state: 'STAGED', updated_at: at }).where('guid', '=', guid).where('state', '=', 'STAGING').execute();

/** STAGING → FAILED. */
export const markBuildFailed = (db: Db, guid: string, error: string, at: string) =>
  db.updateTable('builds').set({ state: 'FAILED', error, updated_at: at }).where('guid', '=', guid).where('state', '=', 'STAGING').execute();

/** Builds still STAGING that were created before `cutoff`. */
export const stagingBuildsBefore = (db: Db, cutoff: string) =>
  db.selectFrom('builds').select(['guid', 'app_guid', 'droplet_guid']).where('state', '=', 'STAGING').where('created_at', '<=', cutoff).execute();

export const findDroplet = (db: Db, guid: string) => db.selectFrom('droplets').selectAll().where('guid', '=', guid).executeTakeFirst();

export const getDroplet = async (db: Db, guid: string): Promise<DropletRow> => found(await findDroplet(db, guid), 'Droplet');

export const findAppDroplet = (db: Db, appGuid: string, guid: string) => db.selectFrom('droplets').selectAll().where('guid', '=', guid).where('app_guid', '=', appGuid).executeTakeFirst();

export const listAppDroplets = (db: Db, appGuid: string, message: ListMessage) => page(db.selectFrom('droplets').selectAll().where('app_guid', '=', appGuid), message);

export const insertDroplet = (db: Db, row: DropletRow) => db.insertInto('droplets').values(row).execute();

/** The newest STAGED droplet of the app staged from `stagingKey` (runner/staging-key.ts), with its bits. */
export const findDropletByStagingKey = (db: Db, appGuid: string, stagingKey: string) =>
  db
    .selectFrom('droplets')
    .selectAll()
    .where('app_guid', '=', appGuid)
    .where('staging_key', '=', stagingKey)
    .where('state', '=', 'STAGED')
    .where('sha1', 'is not', null)
    .orderBy('created_at', 'desc')
    .executeTakeFirst();

/** STAGING (or AWAITING_UPLOAD) → STAGED, with its bits. */
export const markDropletUploaded = (db: Db, guid: string, bits: { sha1: string; bytes: number }, at: string) =>
  db.updateTable('droplets').set({ state: 'STAGED', sha1: bits.sha1, bytes: bits.bytes, updated_at: at }).where('guid', '=', guid).where('state', 'in', ['STAGING', 'AWAITING_UPLOAD']).execute();

/** What staging said of a STAGED droplet: its process types, buildpacks and staging key. */
export const recordDropletStaging = (db: Db, guid: string, result: Pick<DropletRow, 'process_types' | 'buildpacks' | 'staging_key'>, at: string) =>
  db.updateTable('droplets').set({ ...result, updated_at: at }).where('guid', '=', guid).execute();

/** Any state but STAGED → FAILED. */
export const markDropletFailed = (db: Db, guid: string, error: string, at: string) =>
  db.updateTable('droplets').set({ state: 'FAILED', error, updated_at: at }).where('guid', '=', guid).where('state', '!=', 'STAGED').execute();

export const PACKAGE_DROPLET_FILTERS = ['states', 'guids'] as const;

/** The droplets staged from a package (`GET /v3/packages/:guid/droplets`). */
export const listPackageDroplets = (db: Db, packageGuid: string, message: ListMessage<(typeof PACKAGE_DROPLET_FILTERS)[number]>) =>
  page(filtered(db.selectFrom('droplets').selectAll().where('package_guid', '=', packageGuid), message.filters, { states: 'state', guids: 'guid' }), message);
