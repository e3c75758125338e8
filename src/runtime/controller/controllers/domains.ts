// /v3/domains: the shared domain (`localhost` by default) that app routes hang from. Read only.
// `route_reservations` answers whether a route exists (cf check-route).
import type { RequestContext } from '../context.js';
import type { Routes } from '../http/routes.js';
import { listMessage } from '../messages/list.js';
import { routeReservationMessage } from '../messages/route-reservations.js';
import { presentDomain } from '../presenters/domains.js';
import { paginated } from '../presenters/paginated.js';
import { DOMAIN_FILTERS, getDomain, listDomains } from '../repositories/domains.js';
import { listRoutes } from '../repositories/routes.js';

export function domainRoutes(routes: Routes<RequestContext>): void {
  routes.get('/v3/domains', async (req, ctx) => {
    const message = listMessage(req.query, DOMAIN_FILTERS);
    const { total, rows } = await listDomains(ctx.db, message);
    return { body: paginated(ctx.urls.api, '/v3/domains', req.query, message, total, rows.map((r) => presentDomain(r, ctx))) };
  });

  routes.get('/v3/domains/:guid', async (req, ctx) => ({ body: presentDomain(await getDomain(ctx.db, req.params.guid), ctx) }));

  routes.get('/v3/domains/:guid/route_reservations', async (req, ctx) => {
    const message = routeReservationMessage(req.query);
    const domain = await getDomain(ctx.db, req.params.guid);
    if (message.port !== undefined) return { body: { matching_route: false } };
    const { total } = await listRoutes(ctx.db, {
      page: 1,
      perPage: 1,
      orderBy: 'created_at',
      descending: false,
      filters: { domain_guids: [domain.guid], hosts: [message.host], paths: [message.path] },
    });
    return { body: { matching_route: total > 0 } };
  });
}
