// Jobs: the only SQL that reads or writes them. A job still to be done (PROCESSING, POLLING) is run
// a step at a time by the controller holding its lease (actions/service-jobs.ts); every write of a
// step is conditional on that lease, so a job another controller took over (or one superseded) never
// gets a stale result.
import type { Database } from '../db/schema.js';
import { found, type Db } from './query.js';

export type JobRow = Database['jobs'];

/** A new job: what a job done at once has (the rest is null). */
export type NewJobRow = Omit<JobRow, 'payload' | 'run_at' | 'lease_owner' | 'lease_until'> & Partial<Pick<JobRow, 'payload' | 'run_at'>>;

/** The states of a job that still has work. */
export const LIVE_JOB_STATES = ['PROCESSING', 'POLLING'] as const;

export const insertJob = (db: Db, row: NewJobRow) => db.insertInto('jobs').values({ payload: null, run_at: null, ...row, lease_owner: null, lease_until: null }).execute();

export const findJob = (db: Db, guid: string) => db.selectFrom('jobs').selectAll().where('guid', '=', guid).executeTakeFirst();

export const getJob = async (db: Db, guid: string): Promise<JobRow> => found(await findJob(db, guid), 'Job');

/** The live jobs of a resource (an instance's create, a binding's delete, …). */
export const liveJobsOf = (db: Db, resourceGuid: string) =>
  db.selectFrom('jobs').selectAll().where('resource_guid', '=', resourceGuid).where('state', 'in', [...LIVE_JOB_STATES]).execute();

/** Live jobs whose next step is due and that nobody holds, soonest first. */
export const dueJobs = async (db: Db, at: string, limit: number): Promise<string[]> =>
  (
    await db
      .selectFrom('jobs')
      .select('guid')
      .where('state', 'in', [...LIVE_JOB_STATES])
      .where('payload', 'is not', null)
      .where((eb) => eb.or([eb('run_at', 'is', null), eb('run_at', '<=', at)]))
      .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', at)]))
      .orderBy('run_at')
      .limit(limit)
      .execute()
  ).map((r) => r.guid);

/**
 * Takes the lease of a job as it was read (same state and updated_at, so nobody stepped it since),
 * when nobody holds it. true when this controller now runs its next step.
 */
export async function leaseJob(db: Db, job: JobRow, owner: string, at: string, until: string): Promise<boolean> {
  const result = await db
    .updateTable('jobs')
    .set({ lease_owner: owner, lease_until: until })
    .where('guid', '=', job.guid)
    .where('state', '=', job.state)
    .where('updated_at', '=', job.updated_at)
    .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', at)]))
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Writes a step's outcome (and gives the lease back) if this controller still holds the live job; false if not. */
export async function settleJobStep(db: Db, guid: string, owner: string, changes: Partial<Pick<JobRow, 'state' | 'errors' | 'payload' | 'run_at' | 'updated_at'>>): Promise<boolean> {
  const result = await db
    .updateTable('jobs')
    .set({ ...changes, lease_owner: null, lease_until: null })
    .where('guid', '=', guid)
    .where('lease_owner', '=', owner)
    .where('state', 'in', [...LIVE_JOB_STATES])
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/**
 * Ends a live job from outside its steps (a delete that supersedes a create, a purge): FAILED with
 * `errors`, whoever holds it (its step's result is then dropped). `onlyIn` limits the states it may be in.
 */
export async function endJob(db: Db, guid: string, errors: string, at: string, onlyIn: readonly string[] = LIVE_JOB_STATES): Promise<boolean> {
  const result = await db
    .updateTable('jobs')
    .set({ state: 'FAILED', errors, payload: null, run_at: null, lease_owner: null, lease_until: null, updated_at: at })
    .where('guid', '=', guid)
    .where('state', 'in', [...onlyIn])
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Leases nobody can be holding any more (the only controller on this database has just started). */
export async function releaseJobLeases(db: Db): Promise<number> {
  const result = await db.updateTable('jobs').set({ lease_owner: null, lease_until: null }).where('state', 'in', [...LIVE_JOB_STATES]).where('lease_owner', 'is not', null).executeTakeFirst();
  return Number(result.numUpdatedRows);
}
