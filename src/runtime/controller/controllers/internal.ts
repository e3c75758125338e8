// Endpoints for devbox's own components, not for users: the health manager reads the desired state
// of every process here (as hm9000 read Cloud Controller's bulk API). Needs an admin token.
import { notAuthorized } from '../errors.js';
import type { RequestContext } from '../context.js';
import type { Routes } from '../http/routes.js';
import { desiredProcesses } from '../repositories/apps.js';

export function internalRoutes(routes: Routes<RequestContext>): void {
  routes.get('/internal/v3/desired_processes', async (_req, ctx) => {
    if (!ctx.actor.admin) throw notAuthorized();
    return { body: { processes: await desiredProcesses(ctx.db) } };
  });
}
