// /v3/jobs/:guid: where a 202's `Location` points (actions/jobs.ts makes them, COMPLETE at once).
import type { RequestContext } from '../context.js';
import type { Routes } from '../http/routes.js';
import { presentJob } from '../presenters/jobs.js';
import { getJob } from '../repositories/jobs.js';

export function jobRoutes(routes: Routes<RequestContext>): void {
  routes.get('/v3/jobs/:guid', async (req, ctx) => ({ body: presentJob(await getJob(ctx.db, req.params.guid), ctx) }));
}

/** 202 with the job's URL in `Location`, as v3 answers a delete and other work done as a job. */
export const jobAccepted = (ctx: RequestContext, jobGuid: string) => ({ status: 202, headers: { Location: `${ctx.urls.api}/v3/jobs/${jobGuid}` } });
