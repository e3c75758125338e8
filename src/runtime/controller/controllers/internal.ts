// Endpoints for devbox's own components, not for users' clients: the health manager reads the
// desired state of every process here (as hm9000 read Cloud Controller's bulk API; an admin token),
// and the ssh proxy asks whether a user may ssh into an instance (the user's own token, as Diego's
// ssh proxy asks Cloud Controller).
import { notAuthorized } from '../errors.js';
import type { RequestContext } from '../context.js';
import type { Routes } from '../http/routes.js';
import { authorizeSsh } from '../actions/ssh.js';
import { desiredProcesses } from '../repositories/apps.js';

export function internalRoutes(routes: Routes<RequestContext>): void {
  routes.get('/internal/v3/desired_processes', async (_req, ctx) => {
    if (!ctx.actor.admin) throw notAuthorized();
    return { body: { processes: await desiredProcesses(ctx.db) } };
  });

  routes.get('/internal/apps/:guid/ssh_access/:index', async (req, ctx) => ({ body: await authorizeSsh(ctx, req.params.guid, req.params.index) }));
}
