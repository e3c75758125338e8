// /v3/service_route_bindings: devbox's router has no route services, so no route is bound to a
// service instance; the list is empty (with an empty `included` when asked to include) and every
// binding is unknown. cf asks for them in `cf routes`.
import type { RequestContext } from '../context.js';
import { notFound } from '../errors.js';
import type { Routes } from '../http/routes.js';
import { listMessage, ORDER_BY_TIME } from '../messages/list.js';
import { includeParam } from '../messages/include.js';
import { paginated } from '../presenters/paginated.js';

const ROUTE_BINDING_FILTERS = ['route_guids', 'service_instance_guids', 'service_instance_names', 'label_selector'] as const;

export function serviceRouteBindingRoutes(routes: Routes<RequestContext>): void {
  routes.get('/v3/service_route_bindings', (req, ctx) => {
    const message = listMessage(req.query, ROUTE_BINDING_FILTERS, ORDER_BY_TIME);
    const include = includeParam(req.query, ['route', 'service_instance']);
    const list = paginated(ctx.urls.api, '/v3/service_route_bindings', req.query, message, 0, []);
    if (!include.length) return { body: list };
    return { body: { ...list, included: Object.fromEntries(include.map((name) => [`${name}s`, []])) } };
  });

  routes.get('/v3/service_route_bindings/:guid', () => {
    throw notFound('Service route binding');
  });
}
