// Sidecars: devbox runs none, so an app's and a process's lists are empty (an unknown app or
// process is its 404) and every sidecar is unknown. cf asks for them in `cf app`.
import type { RequestContext } from '../context.js';
import { notFound } from '../errors.js';
import type { Routes } from '../http/routes.js';
import { listMessage, ORDER_BY_TIME } from '../messages/list.js';
import { paginated } from '../presenters/paginated.js';
import { getApp, getProcess } from '../repositories/apps.js';

export function sidecarRoutes(routes: Routes<RequestContext>): void {
  routes.get('/v3/processes/:guid/sidecars', async (req, ctx) => {
    const process = await getProcess(ctx.db, req.params.guid);
    const message = listMessage(req.query, [], ORDER_BY_TIME);
    return { body: paginated(ctx.urls.api, `/v3/processes/${process.guid}/sidecars`, req.query, message, 0, []) };
  });

  routes.get('/v3/apps/:guid/sidecars', async (req, ctx) => {
    const app = await getApp(ctx.db, req.params.guid);
    const message = listMessage(req.query, [], ORDER_BY_TIME);
    return { body: paginated(ctx.urls.api, `/v3/apps/${app.guid}/sidecars`, req.query, message, 0, []) };
  });

  routes.get('/v3/sidecars/:guid', () => {
    throw notFound('Sidecar');
  });
}
