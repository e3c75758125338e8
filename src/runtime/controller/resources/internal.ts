// Endpoints for devbox's own components, not for users: the health manager reads the desired state
// of every web process here (as hm9000 read Cloud Controller's bulk API). Needs an admin token.
import { ApiError } from '../api/errors.js';
import type { Routes } from '../api/http.js';
import type { RequestContext } from '../context.js';

export function internalRoutes(routes: Routes<RequestContext>): void {
  routes.get('/internal/v3/desired_processes', async (_req, ctx) => {
    if (!ctx.actor.admin) throw new ApiError('NotAuthorized', 'You are not authorized to perform the requested action');
    const rows = await ctx.db
      .selectFrom('processes')
      .innerJoin('apps', 'apps.guid', 'processes.app_guid')
      .select(['apps.guid as app_guid', 'processes.guid as process_guid', 'processes.version', 'processes.instances', 'apps.state', 'apps.droplet_guid', 'processes.updated_at'])
      .where('processes.type', '=', 'web')
      .execute();
    return { body: { processes: rows } };
  });
}
