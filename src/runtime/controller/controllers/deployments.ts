// /v3/deployments: thin routes over actions/deployments.ts (rolling deployments). cf asks
// `GET /v3/deployments?app_guids=…&status_values=ACTIVE` for `cf app` and at the end of
// start/restart/scale, and creates one for `--strategy rolling`.
import type { RequestContext } from '../context.js';
import type { Routes } from '../http/routes.js';
import { cancelDeployment, createDeployment } from '../actions/deployments.js';
import { deploymentCreateMessage } from '../messages/deployments.js';
import { listMessage, ORDER_BY_TIME } from '../messages/list.js';
import { paginated } from '../presenters/paginated.js';
import { presentDeployment } from '../presenters/deployments.js';
import { DEPLOYMENT_FILTERS, getDeployment, listDeployments } from '../repositories/deployments.js';

export function deploymentRoutes(routes: Routes<RequestContext>): void {
  routes.get('/v3/deployments', async (req, ctx) => {
    const message = listMessage(req.query, DEPLOYMENT_FILTERS, ORDER_BY_TIME);
    const { total, rows } = await listDeployments(ctx.db, message);
    return { body: paginated(ctx.urls.api, '/v3/deployments', req.query, message, total, rows.map((r) => presentDeployment(r, ctx))) };
  });
  routes.post('/v3/deployments', async (req, ctx) => ({ status: 201, body: presentDeployment(await createDeployment(ctx, deploymentCreateMessage(req.body)), ctx) }));
  routes.get('/v3/deployments/:guid', async (req, ctx) => ({ body: presentDeployment(await getDeployment(ctx.db, req.params.guid), ctx) }));
  routes.post('/v3/deployments/:guid/actions/cancel', async (req, ctx) => {
    await cancelDeployment(ctx, await getDeployment(ctx.db, req.params.guid));
    return { status: 200 };
  });
}
