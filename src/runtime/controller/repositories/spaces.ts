// Organizations and spaces: the only SQL that reads or writes them.
import type { Database } from '../db/schema.js';
import { filtered, found, page, type Db } from './query.js';
import type { ListMessage } from '../messages/list.js';

export type OrganizationRow = Database['organizations'];
export type SpaceRow = Database['spaces'];

export const findOrganization = (db: Db, guid: string) => db.selectFrom('organizations').selectAll().where('guid', '=', guid).executeTakeFirst();

export const getOrganization = async (db: Db, guid: string): Promise<OrganizationRow> => found(await findOrganization(db, guid), 'Organization');

export const findOrganizationByName = (db: Db, name: string) => db.selectFrom('organizations').selectAll().where('name', '=', name).executeTakeFirst();

export const ORGANIZATION_FILTERS = ['names', 'guids'] as const;

export const listOrganizations = (db: Db, message: ListMessage<(typeof ORGANIZATION_FILTERS)[number]>) =>
  page(filtered(db.selectFrom('organizations').selectAll(), message.filters, { names: 'name', guids: 'guid' }), message);

export const insertOrganization = (db: Db, row: OrganizationRow) => db.insertInto('organizations').values(row).execute();

export const findSpace = (db: Db, guid: string) => db.selectFrom('spaces').selectAll().where('guid', '=', guid).executeTakeFirst();

export const getSpace = async (db: Db, guid: string): Promise<SpaceRow> => found(await findSpace(db, guid), 'Space');

export const findSpaceByName = (db: Db, organizationGuid: string, name: string) =>
  db.selectFrom('spaces').selectAll().where('organization_guid', '=', organizationGuid).where('name', '=', name).executeTakeFirst();

export const SPACE_FILTERS = ['names', 'organization_guids', 'guids'] as const;

export const listSpaces = (db: Db, message: ListMessage<(typeof SPACE_FILTERS)[number]>) =>
  page(filtered(db.selectFrom('spaces').selectAll(), message.filters, { names: 'name', organization_guids: 'organization_guid', guids: 'guid' }), message);

export const insertSpace = (db: Db, row: SpaceRow) => db.insertInto('spaces').values(row).execute();

/** A new space allows ssh, as Cloud Controller's do. */
export const NEW_SPACE_FEATURES = { allow_ssh: 1 } as const satisfies Partial<SpaceRow>;

export const updateSpace = (db: Db, guid: string, changes: Partial<Omit<SpaceRow, 'guid' | 'organization_guid' | 'created_at'>>) => db.updateTable('spaces').set(changes).where('guid', '=', guid).execute();

/** A space with its organization, as VCAP_APPLICATION and brokers' contexts name both. */
export async function getSpaceWithOrganization(db: Db, guid: string): Promise<{ space: SpaceRow; organization: OrganizationRow }> {
  const space = await getSpace(db, guid);
  return { space, organization: await getOrganization(db, space.organization_guid) };
}
