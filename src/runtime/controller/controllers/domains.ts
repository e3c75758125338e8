// /v3/domains: the shared domain (`localhost` by default) that app routes hang from. Read only.
import type { RequestContext } from '../context.js';
import type { Routes } from '../http/routes.js';
import { listMessage } from '../messages/list.js';
import { presentDomain } from '../presenters/domains.js';
import { paginated } from '../presenters/paginated.js';
import { DOMAIN_FILTERS, getDomain, listDomains } from '../repositories/domains.js';

export function domainRoutes(routes: Routes<RequestContext>): void {
  routes.get('/v3/domains', async (req, ctx) => {
    const message = listMessage(req.query, DOMAIN_FILTERS);
    const { total, rows } = await listDomains(ctx.db, message);
    return { body: paginated(ctx.urls.api, '/v3/domains', req.query, message, total, rows.map((r) => presentDomain(r, ctx))) };
  });

  routes.get('/v3/domains/:guid', async (req, ctx) => ({ body: presentDomain(await getDomain(ctx.db, req.params.guid), ctx) }));
}
