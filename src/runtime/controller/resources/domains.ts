// Domains: the shared domain (`localhost` by default) that app routes hang from.
import { notFound } from '../api/errors.js';
import type { Routes } from '../api/http.js';
import { filterList, listParams, paginated } from '../api/pagination.js';
import type { Database } from '../db/schema.js';
import { parseJson, type RequestContext } from '../context.js';
import { page } from './query.js';

type DomainRow = Database['domains'];

export function presentDomain(row: DomainRow, ctx: RequestContext) {
  return {
    guid: row.guid,
    created_at: row.created_at,
    updated_at: row.updated_at,
    name: row.name,
    internal: row.internal === 1,
    router_group: null,
    supported_protocols: ['http'],
    metadata: parseJson(row.metadata, { labels: {}, annotations: {} }),
    relationships: {
      organization: { data: row.organization_guid ? { guid: row.organization_guid } : null },
      shared_organizations: { data: [] },
    },
    links: {
      self: { href: `${ctx.urls.api}/v3/domains/${row.guid}` },
      route_reservations: { href: `${ctx.urls.api}/v3/domains/${row.guid}/route_reservations` },
    },
  };
}

export async function findDomain(ctx: RequestContext, guid: string): Promise<DomainRow> {
  const row = await ctx.db.selectFrom('domains').selectAll().where('guid', '=', guid).executeTakeFirst();
  if (!row) throw notFound('Domain');
  return row;
}

export function domainRoutes(routes: Routes<RequestContext>): void {
  routes.get('/v3/domains', async (req, ctx) => {
    const params = listParams(req.query);
    let q = ctx.db.selectFrom('domains').selectAll();
    const names = filterList(req.query, 'names');
    if (names) q = q.where('name', 'in', names.length ? names : ['']);
    const { total, rows } = await page(q, params);
    return { body: paginated(ctx.urls.api, '/v3/domains', req.query, params, total, rows.map((r) => presentDomain(r, ctx))) };
  });
  routes.get('/v3/domains/:guid', async (req, ctx) => ({ body: presentDomain(await findDomain(ctx, req.params.guid), ctx) }));
}
