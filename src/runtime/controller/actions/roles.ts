// Users and roles. A user is recorded the first time a token shows it (as Cloud Controller does),
// and the box's uaa users at seeding. A role is created for a user named by guid or by username
// (and origin): the users devbox knows are uaa's, so a username is looked up among them. A space
// role needs a role in the space's organization first (cf adds organization_user itself). Each
// write and its audit event (audit.user.<role>_add / _remove) are one transaction.
import { emptyMetadata, newGuid, now, type RequestContext } from '../context.js';
import { unprocessable } from '../errors.js';
import { isSpaceRole, type RoleCreateMessage, type RoleUser } from '../messages/roles.js';
import type { JobRow } from '../repositories/jobs.js';
import { isUniqueViolation, type Db } from '../repositories/query.js';
import { deleteRole, findUser, findUsersByName, hasOrganizationRole, insertRole, insertUser, nameUser, spaceRolesInOrganization, type RoleRow, type UserRow } from '../repositories/roles.js';
import { findOrganization, findSpace, getOrganization, getSpace } from '../repositories/spaces.js';
import { recordEvent } from './audit.js';
import { completedJob } from './jobs.js';

export interface KnownUser {
  guid: string;
  username: string | null;
  origin: string | null;
}

/**
 * Records the user if it is new (a concurrent insert of the same user is fine); a user first known
 * by guid only gets its name and origin. Answers whether the row was inserted now.
 */
export async function recordUser(db: Db, user: KnownUser): Promise<boolean> {
  const existing = await findUser(db, user.guid);
  const at = now();
  if (existing) {
    if (existing.username === null && user.username !== null) await nameUser(db, user.guid, { username: user.username, origin: user.origin, updated_at: at });
    return false;
  }
  try {
    await insertUser(db, { guid: user.guid, username: user.username, origin: user.origin, metadata: JSON.stringify(emptyMetadata()), created_at: at, updated_at: at });
    return true;
  } catch (error) {
    if (isUniqueViolation(error)) return false;
    throw error;
  }
}

const NOT_IN_ORGANIZATION = "Users cannot be assigned roles in a space if they do not have a role in that space's organization.";

/** The user a username (and origin) names, as Cloud Controller asks uaa; `spaceRole` words the miss as CC does for space roles. */
async function userByName(db: Db, username: string, origin: string | undefined, spaceRole: boolean): Promise<UserRow> {
  const users = await findUsersByName(db, username, origin);
  const origins = [...new Set(users.map((u) => u.origin ?? ''))].sort();
  if (origin === undefined && origins.length > 1) {
    throw unprocessable(`Ambiguous user. User with username '${username}' exists in the following origins: ${origins.join(', ')}. Specify an origin to disambiguate.`);
  }
  if (users.length) return users[0];
  if (spaceRole) throw unprocessable(NOT_IN_ORGANIZATION);
  throw unprocessable(origin !== undefined ? `No user exists with the username '${username}' and origin '${origin}'.` : `No user exists with the username '${username}'.`);
}

/** An organization role's user: one named by guid that devbox has not seen yet is recorded (Cloud Controller creates it). */
async function organizationRoleUser(db: Db, user: RoleUser): Promise<UserRow> {
  if ('username' in user) return userByName(db, user.username, user.origin, false);
  await recordUser(db, { guid: user.guid, username: null, origin: null });
  const row = await findUser(db, user.guid);
  if (!row) throw new Error(`user ${user.guid} is missing right after it was recorded`);
  return row;
}

async function spaceRoleUser(db: Db, user: RoleUser): Promise<UserRow> {
  if ('username' in user) return userByName(db, user.username, user.origin, true);
  const row = await findUser(db, user.guid);
  if (!row) throw unprocessable(NOT_IN_ORGANIZATION);
  return row;
}

const userTarget = (user: UserRow) => ({ guid: user.guid, type: 'user', name: user.username ?? user.guid });
const presentationName = (user: UserRow) => user.username ?? user.guid;

export async function createRole(ctx: RequestContext, message: RoleCreateMessage): Promise<RoleRow> {
  const at = now();
  const row: RoleRow = { guid: newGuid(), type: message.type, user_guid: '', organization_guid: null, space_guid: null, scope_guid: '', created_at: at, updated_at: at };
  let user: UserRow;
  let where: { kind: 'organization' | 'space'; name: string; spaceGuid?: string; organizationGuid: string };
  if ('spaceGuid' in message) {
    const space = await findSpace(ctx.db, message.spaceGuid);
    if (!space) throw unprocessable('Invalid space. Ensure that the space exists and you have access to it.');
    user = await spaceRoleUser(ctx.db, message.user);
    if (!(await hasOrganizationRole(ctx.db, user.guid, space.organization_guid))) throw unprocessable(NOT_IN_ORGANIZATION);
    row.space_guid = row.scope_guid = space.guid;
    where = { kind: 'space', name: space.name, spaceGuid: space.guid, organizationGuid: space.organization_guid };
  } else {
    const org = await findOrganization(ctx.db, message.organizationGuid);
    if (!org) throw unprocessable('Invalid organization. Ensure that the organization exists and you have access to it.');
    user = await organizationRoleUser(ctx.db, message.user);
    row.organization_guid = row.scope_guid = org.guid;
    where = { kind: 'organization', name: org.name, organizationGuid: org.guid };
  }
  row.user_guid = user.guid;
  try {
    await ctx.db.transaction().execute(async (trx) => {
      await insertRole(trx, row);
      await recordEvent(trx, {
        type: `audit.user.${row.type}_add`,
        actor: ctx.actor,
        target: userTarget(user),
        spaceGuid: where.spaceGuid ?? null,
        organizationGuid: where.organizationGuid,
        data: { request: { type: row.type, relationships: { user: { data: { guid: user.guid } }, [where.kind]: { data: { guid: row.scope_guid } } } } },
      });
    });
  } catch (error) {
    if (isUniqueViolation(error)) throw unprocessable(`User '${presentationName(user)}' already has '${row.type}' role in ${where.kind} '${where.name}'.`);
    throw error;
  }
  return row;
}

/**
 * Deletes the role (a job, COMPLETE at once, as v3 answers). A user's organization_user role stays
 * while the user has roles in the organization's spaces, as Cloud Controller refuses it.
 */
export async function deleteRoleAction(ctx: RequestContext, role: RoleRow): Promise<JobRow> {
  if (role.type === 'organization_user' && role.organization_guid && (await spaceRolesInOrganization(ctx.db, role.user_guid, role.organization_guid)).length) {
    throw unprocessable('Cannot delete organization_user role while user has roles in spaces in that organization.');
  }
  const user = (await findUser(ctx.db, role.user_guid)) ?? { guid: role.user_guid, username: null, origin: null, metadata: '{}', created_at: role.created_at, updated_at: role.updated_at };
  const space = isSpaceRole(role.type) && role.space_guid ? await getSpace(ctx.db, role.space_guid) : undefined;
  const organizationGuid = space ? space.organization_guid : (await getOrganization(ctx.db, role.organization_guid ?? '')).guid;
  return ctx.db.transaction().execute(async (trx) => {
    await deleteRole(trx, role.guid);
    await recordEvent(trx, { type: `audit.user.${role.type}_remove`, actor: ctx.actor, target: userTarget(user), spaceGuid: space?.guid ?? null, organizationGuid, data: { request: {} } });
    return completedJob(trx, 'role.delete', { guid: role.guid, type: 'role' });
  });
}
