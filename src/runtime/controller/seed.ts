// What exists after the first `up`: org `devbox`, space `dev`, the shared domain, and uaa's users
// with the roles Cloud Foundry gives the creator of an org and a space (organization_user and
// organization_manager in `devbox`, space_manager and space_developer in `dev`). Safe to run at
// every start and from several controllers at once (an insert that lost the race is fine).
import { recordUser, type KnownUser } from './actions/roles.js';
import { newGuid, now } from './context.js';
import { insertDomain } from './repositories/domains.js';
import { isUniqueViolation, type Db } from './repositories/query.js';
import { insertRole } from './repositories/roles.js';
import { findOrganizationByName, findSpaceByName, insertOrganization, insertSpace, NEW_SPACE_FEATURES } from './repositories/spaces.js';

export const DEFAULT_ORG = 'devbox';
export const DEFAULT_SPACE = 'dev';

async function insertIgnoringDuplicate(run: () => Promise<unknown>): Promise<void> {
  try {
    await run();
  } catch (error) {
    if (!isUniqueViolation(error)) throw error;
  }
}

/** The roles a seeded user gets in the seeded org and space (what `cf create-org` and `cf create-space` give their creator). */
export const SEEDED_ORGANIZATION_ROLES = ['organization_user', 'organization_manager'] as const;
export const SEEDED_SPACE_ROLES = ['space_manager', 'space_developer'] as const;

/**
 * `users`: uaa's users (the box's admin). Each is recorded once; a user recorded now (the first
 * start, or the first after the users table came) gets the seeded roles, so a role removed later
 * stays removed across restarts.
 */
export async function seed(db: Db, domain: string, users: KnownUser[] = []): Promise<void> {
  const at = now();
  const metadata = JSON.stringify({ labels: {}, annotations: {} });
  await insertIgnoringDuplicate(() => insertOrganization(db, { guid: newGuid(), name: DEFAULT_ORG, suspended: 0, metadata, created_at: at, updated_at: at }));
  const org = await findOrganizationByName(db, DEFAULT_ORG);
  if (!org) throw new Error(`the organization '${DEFAULT_ORG}' is missing right after it was created`);
  if (!(await findSpaceByName(db, org.guid, DEFAULT_SPACE))) {
    await insertIgnoringDuplicate(() => insertSpace(db, { guid: newGuid(), name: DEFAULT_SPACE, organization_guid: org.guid, metadata, ...NEW_SPACE_FEATURES, created_at: at, updated_at: at }));
  }
  await insertIgnoringDuplicate(() => insertDomain(db, { guid: newGuid(), name: domain, internal: 0, organization_guid: null, metadata, created_at: at, updated_at: at }));
  const space = await findSpaceByName(db, org.guid, DEFAULT_SPACE);
  for (const user of users) {
    if (!(await recordUser(db, user))) continue;
    const role = (type: string, scope: { organization_guid: string | null; space_guid: string | null; scope_guid: string }) =>
      insertIgnoringDuplicate(() => insertRole(db, { guid: newGuid(), type, user_guid: user.guid, ...scope, created_at: at, updated_at: at }));
    for (const type of SEEDED_ORGANIZATION_ROLES) await role(type, { organization_guid: org.guid, space_guid: null, scope_guid: org.guid });
    if (space) for (const type of SEEDED_SPACE_ROLES) await role(type, { organization_guid: null, space_guid: space.guid, scope_guid: space.guid });
  }
}
