// Domains: the only SQL that reads or writes them.
import type { Database } from '../db/schema.js';
import type { ListMessage } from '../messages/list.js';
import { sql } from 'kysely';
import { filtered, found, page, type Db } from './query.js';

export type DomainRow = Database['domains'];

export const findDomain = (db: Db, guid: string) => db.selectFrom('domains').selectAll().where('guid', '=', guid).executeTakeFirst();

export const getDomain = async (db: Db, guid: string): Promise<DomainRow> => found(await findDomain(db, guid), 'Domain');

export const DOMAIN_FILTERS = ['names'] as const;

export const listDomains = (db: Db, message: ListMessage<(typeof DOMAIN_FILTERS)[number]>) => page(filtered(db.selectFrom('domains').selectAll(), message.filters, { names: 'name' }), message);

export const insertDomain = (db: Db, row: DomainRow) => db.insertInto('domains').values(row).execute();

/** The domains an organization can use: the shared ones (no organization) and its own. */
export const listOrganizationDomains = (db: Db, organizationGuid: string, message: ListMessage<(typeof DOMAIN_FILTERS)[number]>) =>
  page(
    filtered(
      db.selectFrom('domains').selectAll().where((eb) => eb.or([eb('organization_guid', 'is', null), eb('organization_guid', '=', organizationGuid)])),
      message.filters,
      { names: 'name' },
    ),
    message,
  );

/** The organization's default domain: the oldest shared domain (Cloud Controller's rule), else its own oldest. */
export const findDefaultDomain = (db: Db, organizationGuid: string) =>
  db
    .selectFrom('domains')
    .selectAll()
    .where((eb) => eb.or([eb('organization_guid', 'is', null), eb('organization_guid', '=', organizationGuid)]))
    .where('internal', '=', 0)
    .orderBy(sql`case when organization_guid is null then 0 else 1 end`)
    .orderBy('created_at')
    .orderBy('guid')
    .limit(1)
    .executeTakeFirst();
