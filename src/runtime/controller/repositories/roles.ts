// Users and their roles in organizations and spaces: the only SQL that reads or writes them.
import { sql } from 'kysely';
import type { Database } from '../db/schema.js';
import type { ListMessage } from '../messages/list.js';
import { filtered, found, page, type Db } from './query.js';

export type UserRow = Database['users'];
export type RoleRow = Database['roles'];

// Users

export const findUser = (db: Db, guid: string) => db.selectFrom('users').selectAll().where('guid', '=', guid).executeTakeFirst();

export const getUser = async (db: Db, guid: string): Promise<UserRow> => found(await findUser(db, guid), 'User');

/** The users with that username (of any origin, or of `origin` when given). */
export const findUsersByName = (db: Db, username: string, origin?: string) => {
  let q = db.selectFrom('users').selectAll().where('username', '=', username);
  if (origin !== undefined) q = q.where('origin', '=', origin);
  return q.orderBy('created_at').orderBy('guid').execute();
};

export const insertUser = (db: Db, row: UserRow) => db.insertInto('users').values(row).execute();

/** A user first known by guid only gets the name and origin a token later shows. */
export const nameUser = (db: Db, guid: string, changes: Pick<UserRow, 'username' | 'origin' | 'updated_at'>) =>
  db.updateTable('users').set(changes).where('guid', '=', guid).where('username', 'is', null).execute();

export const USER_FILTERS = ['guids', 'usernames', 'partial_usernames', 'origins'] as const;

export const listUsers = (db: Db, message: ListMessage<(typeof USER_FILTERS)[number]>) =>
  page(
    filtered(db.selectFrom('users').selectAll(), message.filters, {
      guids: 'guid',
      usernames: 'username',
      origins: 'origin',
      // Any of the given parts anywhere in the name (INSTR: the same on SQLite and MySQL, no LIKE wildcards).
      partial_usernames: (q, parts) => q.where((eb) => eb.or(parts.map((part) => eb(sql<number>`instr(username, ${part})`, '>', 0)))),
    }),
    message,
  );

export const usersByGuids = async (db: Db, guids: string[]): Promise<UserRow[]> => {
  const unique = [...new Set(guids)];
  return unique.length ? db.selectFrom('users').selectAll().where('guid', 'in', unique).orderBy('created_at').orderBy('guid').execute() : [];
};

// Roles

export const findRole = (db: Db, guid: string) => db.selectFrom('roles').selectAll().where('guid', '=', guid).executeTakeFirst();

export const getRole = async (db: Db, guid: string): Promise<RoleRow> => found(await findRole(db, guid), 'Role');

export const ROLE_FILTERS = ['guids', 'types', 'user_guids', 'organization_guids', 'space_guids'] as const;

/**
 * Roles by the filters given. `organization_guids` matches organization roles only and
 * `space_guids` space roles only, as in Cloud Controller (whose space roles have no organization).
 */
export const listRoles = (db: Db, message: ListMessage<(typeof ROLE_FILTERS)[number]>) =>
  page(
    filtered(db.selectFrom('roles').selectAll(), message.filters, {
      guids: 'guid',
      types: 'type',
      user_guids: 'user_guid',
      organization_guids: 'organization_guid',
      space_guids: 'space_guid',
    }),
    message,
  );

export const insertRole = (db: Db, row: RoleRow) => db.insertInto('roles').values(row).execute();

export const deleteRole = (db: Db, guid: string) => db.deleteFrom('roles').where('guid', '=', guid).execute();

/** Whether the user has any role in the organization (what a space role asks of its user). */
export const hasOrganizationRole = async (db: Db, userGuid: string, organizationGuid: string) =>
  !!(await db.selectFrom('roles').select('guid').where('user_guid', '=', userGuid).where('organization_guid', '=', organizationGuid).executeTakeFirst());

/**
 * Whether the user has a role of one of `types` in one of `scopes` (space or organization guids:
 * a role's type says which kind its scope is).
 */
export const hasRoleIn = async (db: Db, userGuid: string, scopes: string[], types: readonly string[]) =>
  !!(await db.selectFrom('roles').select('guid').where('user_guid', '=', userGuid).where('scope_guid', 'in', scopes).where('type', 'in', types).executeTakeFirst());

/** The user's roles in the spaces of the organization. */
export const spaceRolesInOrganization = (db: Db, userGuid: string, organizationGuid: string) =>
  db
    .selectFrom('roles')
    .select(['guid', 'type'])
    .where('user_guid', '=', userGuid)
    .where('space_guid', 'in', db.selectFrom('spaces').select('guid').where('organization_guid', '=', organizationGuid))
    .execute();
