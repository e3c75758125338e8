// Sidecars and their process types: the only SQL that reads or writes them. A sidecar is read
// with its process types (sorted, as Cloud Controller presents them).
import type { Database } from '../db/schema.js';
import type { ListParams } from '../messages/list.js';
import { found, page, type Db } from './query.js';

export type SidecarRow = Database['sidecars'];

/** A sidecar and the process types it runs with. */
export type Sidecar = SidecarRow & { process_types: string[] };

/** The process types of each of the sidecars, sorted. */
async function withTypes(db: Db, rows: SidecarRow[]): Promise<Sidecar[]> {
  if (rows.length === 0) return [];
  const types = await db.selectFrom('sidecar_process_types').select(['sidecar_guid', 'type']).where('sidecar_guid', 'in', rows.map((r) => r.guid)).execute();
  const bySidecar = new Map<string, string[]>();
  for (const { sidecar_guid, type } of types) bySidecar.set(sidecar_guid, [...(bySidecar.get(sidecar_guid) ?? []), type]);
  return rows.map((row) => ({ ...row, process_types: (bySidecar.get(row.guid) ?? []).sort() }));
}

export const findSidecar = async (db: Db, guid: string): Promise<Sidecar | undefined> => {
  const row = await db.selectFrom('sidecars').selectAll().where('guid', '=', guid).executeTakeFirst();
  return row && (await withTypes(db, [row]))[0];
};

export const getSidecar = async (db: Db, guid: string): Promise<Sidecar> => found(await findSidecar(db, guid), 'Sidecar');

/** A page of the app's sidecars, or only those that run with its processes of `processType`. */
export async function listSidecars(db: Db, params: ListParams, appGuid: string, processType?: string): Promise<{ total: number; rows: Sidecar[] }> {
  let query = db.selectFrom('sidecars').selectAll().where('app_guid', '=', appGuid);
  if (processType !== undefined) {
    query = query.where('guid', 'in', db.selectFrom('sidecar_process_types').select('sidecar_guid').where('app_guid', '=', appGuid).where('type', '=', processType));
  }
  const { total, rows } = await page(query, params);
  return { total, rows: await withTypes(db, rows) };
}

/** Every sidecar of the app, by name. */
export const sidecarsOfApp = async (db: Db, appGuid: string): Promise<Sidecar[]> =>
  withTypes(db, await db.selectFrom('sidecars').selectAll().where('app_guid', '=', appGuid).orderBy('name').execute());

/** The sidecars that run with the app's processes of `processType`, by name. */
export const sidecarsOfProcessType = async (db: Db, appGuid: string, processType: string): Promise<SidecarRow[]> =>
  db
    .selectFrom('sidecars')
    .selectAll()
    .where('guid', 'in', db.selectFrom('sidecar_process_types').select('sidecar_guid').where('app_guid', '=', appGuid).where('type', '=', processType))
    .orderBy('name')
    .execute();

export async function insertSidecar(db: Db, row: SidecarRow, processTypes: string[]): Promise<void> {
  await db.insertInto('sidecars').values(row).execute();
  await setSidecarProcessTypes(db, row, processTypes);
}

export const updateSidecar = (db: Db, guid: string, changes: Partial<Pick<SidecarRow, 'name' | 'command' | 'memory_in_mb' | 'updated_at'>>) =>
  db.updateTable('sidecars').set(changes).where('guid', '=', guid).execute();

/** The sidecar runs with these process types (and no others). */
export async function setSidecarProcessTypes(db: Db, sidecar: Pick<SidecarRow, 'guid' | 'app_guid'>, processTypes: string[]): Promise<void> {
  await db.deleteFrom('sidecar_process_types').where('sidecar_guid', '=', sidecar.guid).execute();
  if (processTypes.length === 0) return;
  await db
    .insertInto('sidecar_process_types')
    .values(processTypes.map((type) => ({ sidecar_guid: sidecar.guid, app_guid: sidecar.app_guid, type })))
    .execute();
}

export async function deleteSidecar(db: Db, guid: string): Promise<void> {
  await db.deleteFrom('sidecar_process_types').where('sidecar_guid', '=', guid).execute();
  await db.deleteFrom('sidecars').where('guid', '=', guid).execute();
}

/** Every sidecar of the app (its deletion). */
export async function deleteSidecarsOfApp(db: Db, appGuid: string): Promise<void> {
  await db.deleteFrom('sidecar_process_types').where('app_guid', '=', appGuid).execute();
  await db.deleteFrom('sidecars').where('app_guid', '=', appGuid).execute();
}
