// What exists after the first `up`: org `devbox`, space `dev`, and the shared domain. Safe to run at
// every start and from several controllers at once (an insert that lost the race is fine).
import type { Kysely } from 'kysely';
import type { Database } from './db/schema.js';
import { newGuid, now } from './context.js';
import { isUniqueViolation } from './resources/query.js';

export const DEFAULT_ORG = 'devbox';
export const DEFAULT_SPACE = 'dev';

async function insertIgnoringDuplicate(run: () => Promise<unknown>): Promise<void> {
  try {
    await run();
  } catch (error) {
    if (!isUniqueViolation(error)) throw error;
  }
}

export async function seed(db: Kysely<Database>, domain: string): Promise<void> {
  const at = now();
  const metadata = JSON.stringify({ labels: {}, annotations: {} });
  await insertIgnoringDuplicate(() => db.insertInto('organizations').values({ guid: newGuid(), name: DEFAULT_ORG, suspended: 0, metadata, created_at: at, updated_at: at }).execute());
  const org = await db.selectFrom('organizations').select('guid').where('name', '=', DEFAULT_ORG).executeTakeFirstOrThrow();
  const space = await db.selectFrom('spaces').select('guid').where('organization_guid', '=', org.guid).where('name', '=', DEFAULT_SPACE).executeTakeFirst();
  if (!space) {
    await insertIgnoringDuplicate(() => db.insertInto('spaces').values({ guid: newGuid(), name: DEFAULT_SPACE, organization_guid: org.guid, metadata, created_at: at, updated_at: at }).execute());
  }
  await insertIgnoringDuplicate(() => db.insertInto('domains').values({ guid: newGuid(), name: domain, internal: 0, organization_guid: null, metadata, created_at: at, updated_at: at }).execute());
}
