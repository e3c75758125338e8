// Jobs: v3 answers deletes and other long work with 202 and a job. Most work devbox does before
// answering, so that job is COMPLETE at once; it is kept so that clients polling `Location` see what
// Cloud Foundry shows. A broker's work (service instances and bindings) is a live job instead:
// PROCESSING, run in the background a step at a time by actions/service-jobs.ts, POLLING while an
// asynchronous broker works, then COMPLETE or FAILED.
import { newGuid, now, type Actor, type RequestContext } from '../context.js';
import type { BrokerState } from '../db/schema.js';
import { ApiError } from '../errors.js';
import { getJob, insertJob, type JobRow } from '../repositories/jobs.js';
import { jsonColumn, type Db } from '../repositories/query.js';

export async function completedJob(db: Db, operation: string, resource?: { guid: string; type: string }): Promise<JobRow> {
  const at = now();
  const row: JobRow = { guid: newGuid(), operation, state: 'COMPLETE', resource_guid: resource?.guid ?? null, resource_type: resource?.type ?? null, errors: '[]', payload: null, run_at: null, lease_owner: null, lease_until: null, created_at: at, updated_at: at };
  await insertJob(db, row);
  return row;
}

/** A job's `errors`, as v3 renders them. */
export const jobErrors = (errors: ApiError[]) => JSON.stringify(errors.map((e) => ({ detail: e.detail, title: e.title, code: e.code })));

/**
 * What a live service job carries between its steps (and across a controller's restart): who asked
 * (the broker's originating identity, the audit events), and what the broker work needs.
 */
export interface ServiceJobPayload {
  actor: Actor;
  /** The broker's `operation` from its 202, sent back with every last_operation poll. */
  operation?: string;
  /** last_operation polls so far: the wait between them grows. */
  polls?: number;
  /** When polling gives up (ISO): the plan's maximum_polling_duration, else devbox's limit. */
  poll_until?: string;
  /** The broker's parameters (dropped once the broker has the request). */
  parameters?: Record<string, unknown>;
  /** An update's target plan, and maintenance_info. */
  plan_guid?: string;
  maintenance_info?: { version: string };
  /** What the audit event of the operation records of the request (secrets hidden). */
  request?: Record<string, unknown>;
  /** A broker update's new name, url and credentials, kept once its catalog is fetched with them (the payload is cleared when the job ends). */
  broker_update?: BrokerUpdate;
}

export interface BrokerUpdate {
  name?: string;
  url?: string;
  username?: string;
  password?: string;
  /** The broker's state to go back to if the update fails. */
  previous_state: BrokerState;
}

/** A job whose broker work is still to be done; actions/service-jobs.ts runs it. */
export async function serviceJob(db: Db, operation: string, resource: { guid: string; type: string }, payload: ServiceJobPayload): Promise<JobRow> {
  const at = now();
  const row: JobRow = { guid: newGuid(), operation, state: 'PROCESSING', resource_guid: resource.guid, resource_type: resource.type, errors: '[]', payload: JSON.stringify(payload), run_at: null, lease_owner: null, lease_until: null, created_at: at, updated_at: at };
  await insertJob(db, row);
  return row;
}

/**
 * The outcome of one step of a service job: its next state, and the writes that go with it (made in
 * the same transaction as the job's, only if the job is still this step's). `after` runs once they
 * are committed (an app's log line).
 */
export type JobStep = (
  | { state: 'COMPLETE' }
  | { state: 'FAILED'; error: ApiError }
  | { state: 'POLLING'; payload: ServiceJobPayload; delayMs: number }
  // The broker's request to be sent again later (the broker was busy with the same resource).
  | { state: 'PROCESSING'; payload: ServiceJobPayload; delayMs: number }
) & { write?: (db: Db) => Promise<unknown>; after?: () => void };

/**
 * Runs a service job's first step now (the broker's request) and says where it stands: a FAILED job
 * throws its error (CF-UnableToPerform); otherwise the job, COMPLETE or still live (an asynchronous
 * broker works on). For work that must know before it answers (a manifest's bindings, a space's delete).
 */
export async function serviceJobOutcome(ctx: RequestContext, job: JobRow): Promise<JobRow> {
  await ctx.serviceJobs?.run(job.guid);
  const after = await getJob(ctx.db, job.guid);
  if (after.state === 'FAILED') {
    const [first] = jsonColumn('jobs', after, 'errors', [] as { detail?: string }[]);
    throw new ApiError('UnableToPerform', first?.detail ?? `${after.operation} could not be completed`);
  }
  return after;
}
