// Packages: the only SQL that reads or writes them. Their state changes only through
// actions/packages.ts, which owns the package state machine; each write here says which state it leaves.
import type { Database } from '../db/schema.js';
import type { ListMessage } from '../messages/list.js';
import { filtered, found, page, type Db } from './query.js';

export type PackageRow = Database['packages'];

export const findPackage = (db: Db, guid: string) => db.selectFrom('packages').selectAll().where('guid', '=', guid).executeTakeFirst();

export const getPackage = async (db: Db, guid: string): Promise<PackageRow> => found(await findPackage(db, guid), 'Package');

export const PACKAGE_FILTERS = ['app_guids', 'states'] as const;

export const listPackages = (db: Db, message: ListMessage<(typeof PACKAGE_FILTERS)[number]>) =>
  page(filtered(db.selectFrom('packages').selectAll(), message.filters, { app_guids: 'app_guid', states: 'state' }), message);

export const listAppPackages = (db: Db, appGuid: string, message: ListMessage) => page(db.selectFrom('packages').selectAll().where('app_guid', '=', appGuid), message);

export const insertPackage = (db: Db, row: PackageRow) => db.insertInto('packages').values(row).execute();

/** AWAITING_UPLOAD → READY, with its files. Whether the package was still awaiting its upload. */
export async function markPackageReady(db: Db, guid: string, bits: Pick<PackageRow, 'files' | 'bytes' | 'checksum'>, at: string): Promise<boolean> {
  const result = await db
    .updateTable('packages')
    .set({ state: 'READY', files: bits.files, bytes: bits.bytes, checksum: bits.checksum, error: null, updated_at: at })
    .where('guid', '=', guid)
    .where('state', '=', 'AWAITING_UPLOAD')
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}
