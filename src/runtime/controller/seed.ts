// What exists after the first `up`: org `devbox`, space `dev`, and the shared domain. Safe to run at
// every start and from several controllers at once (an insert that lost the race is fine).
import { newGuid, now } from './context.js';
import { insertDomain } from './repositories/domains.js';
import { isUniqueViolation, type Db } from './repositories/query.js';
import { findOrganizationByName, findSpaceByName, insertOrganization, insertSpace } from './repositories/spaces.js';

export const DEFAULT_ORG = 'devbox';
export const DEFAULT_SPACE = 'dev';

async function insertIgnoringDuplicate(run: () => Promise<unknown>): Promise<void> {
  try {
    await run();
  } catch (error) {
    if (!isUniqueViolation(error)) throw error;
  }
}

export async function seed(db: Db, domain: string): Promise<void> {
  const at = now();
  const metadata = JSON.stringify({ labels: {}, annotations: {} });
  await insertIgnoringDuplicate(() => insertOrganization(db, { guid: newGuid(), name: DEFAULT_ORG, suspended: 0, metadata, created_at: at, updated_at: at }));
  const org = await findOrganizationByName(db, DEFAULT_ORG);
  if (!org) throw new Error(`the organization '${DEFAULT_ORG}' is missing right after it was created`);
  if (!(await findSpaceByName(db, org.guid, DEFAULT_SPACE))) {
    await insertIgnoringDuplicate(() => insertSpace(db, { guid: newGuid(), name: DEFAULT_SPACE, organization_guid: org.guid, metadata, created_at: at, updated_at: at }));
  }
  await insertIgnoringDuplicate(() => insertDomain(db, { guid: newGuid(), name: domain, internal: 0, organization_guid: null, metadata, created_at: at, updated_at: at }));
}
