// Jobs: v3 answers deletes with 202 and a job. devbox does the work before answering, so the job is
// COMPLETE at once; it is kept so that clients polling `Location` see what Cloud Foundry shows.
import { notFound } from '../api/errors.js';
import type { Routes } from '../api/http.js';
import type { Database } from '../db/schema.js';
import { newGuid, now, parseJson, type RequestContext } from '../context.js';

type JobRow = Database['jobs'];

export async function createJob(ctx: RequestContext, operation: string, resource?: { guid: string; type: string }): Promise<JobRow> {
  const at = now();
  const row: JobRow = { guid: newGuid(), operation, state: 'COMPLETE', resource_guid: resource?.guid ?? null, resource_type: resource?.type ?? null, errors: '[]', created_at: at, updated_at: at };
  await ctx.db.insertInto('jobs').values(row).execute();
  return row;
}

export function jobRoutes(routes: Routes<RequestContext>): void {
  routes.get('/v3/jobs/:guid', async (req, ctx) => {
    const row = await ctx.db.selectFrom('jobs').selectAll().where('guid', '=', req.params.guid).executeTakeFirst();
    if (!row) throw notFound('Job');
    return {
      body: {
        guid: row.guid,
        created_at: row.created_at,
        updated_at: row.updated_at,
        operation: row.operation,
        state: row.state,
        errors: parseJson(row.errors, []),
        warnings: [],
        links: { self: { href: `${ctx.urls.api}/v3/jobs/${row.guid}` } },
      },
    };
  });
}
