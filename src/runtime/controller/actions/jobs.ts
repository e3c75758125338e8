// Jobs: v3 answers deletes with 202 and a job. devbox does the work before answering, so the job is
// COMPLETE at once; it is kept so that clients polling `Location` see what Cloud Foundry shows.
import { newGuid, now } from '../context.js';
import { insertJob, type JobRow } from '../repositories/jobs.js';
import type { Db } from '../repositories/query.js';

export async function completedJob(db: Db, operation: string, resource?: { guid: string; type: string }): Promise<JobRow> {
  const at = now();
  const row: JobRow = { guid: newGuid(), operation, state: 'COMPLETE', resource_guid: resource?.guid ?? null, resource_type: resource?.type ?? null, errors: '[]', created_at: at, updated_at: at };
  await insertJob(db, row);
  return row;
}
