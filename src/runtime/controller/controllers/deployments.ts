// /v3/deployments: devbox restarts an app in place (`cf restart`'s default strategy) and has no
// rolling deployments, so the list is empty and every deployment is unknown. cf asks
// `GET /v3/deployments?app_guids=…` for `cf app` and at the end of start/restart/scale.
import type { RequestContext } from '../context.js';
import { notFound } from '../errors.js';
import type { Routes } from '../http/routes.js';
import { listMessage, ORDER_BY_TIME } from '../messages/list.js';
import { paginated } from '../presenters/paginated.js';

const DEPLOYMENT_FILTERS = ['app_guids', 'states', 'status_reasons', 'status_values'] as const;

export function deploymentRoutes(routes: Routes<RequestContext>): void {
  routes.get('/v3/deployments', (req, ctx) => {
    const message = listMessage(req.query, DEPLOYMENT_FILTERS, ORDER_BY_TIME);
    return { body: paginated(ctx.urls.api, '/v3/deployments', req.query, message, 0, []) };
  });

  routes.get('/v3/deployments/:guid', () => {
    throw notFound('Deployment');
  });
}
