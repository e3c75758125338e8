// Domains: the only SQL that reads or writes them.
import type { Database } from '../db/schema.js';
import type { ListMessage } from '../messages/list.js';
import { filtered, found, page, type Db } from './query.js';

export type DomainRow = Database['domains'];

export const findDomain = (db: Db, guid: string) => db.selectFrom('domains').selectAll().where('guid', '=', guid).executeTakeFirst();

export const getDomain = async (db: Db, guid: string): Promise<DomainRow> => found(await findDomain(db, guid), 'Domain');

export const DOMAIN_FILTERS = ['names'] as const;

export const listDomains = (db: Db, message: ListMessage<(typeof DOMAIN_FILTERS)[number]>) => page(filtered(db.selectFrom('domains').selectAll(), message.filters, { names: 'name' }), message);

export const insertDomain = (db: Db, row: DomainRow) => db.insertInto('domains').values(row).execute();
