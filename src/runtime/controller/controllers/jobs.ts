// /v3/jobs/:guid: where a 202's `Location` points (actions/jobs.ts makes them, COMPLETE at once).
import type { RequestContext } from '../context.js';
import type { Routes } from '../http/routes.js';
import { presentJob } from '../presenters/jobs.js';
import { getJob } from '../repositories/jobs.js';

export function jobRoutes(routes: Routes<RequestContext>): void {
  routes.get('/v3/jobs/:guid', async (req, ctx) => ({ body: presentJob(await getJob(ctx.db, req.params.guid), ctx) }));
}
