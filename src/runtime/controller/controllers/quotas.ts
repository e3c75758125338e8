// Quotas and isolation segments, read only. Every organization has one quota, `default`, with every
// limit unlimited: devbox enforces no quotas (an app's memory is the DEA's business). There are no
// space quotas and no isolation segments (every app runs on the host): their lists are empty. cf
// reads them for `cf org`, `cf quotas`, `cf quota`, `cf space-quotas`.
import type { RequestContext } from '../context.js';
import { notFound } from '../errors.js';
import type { Routes } from '../http/routes.js';
import { listMessage, ORDER_BY_NAME } from '../messages/list.js';
import { paginated } from '../presenters/paginated.js';
import { presentOrganizationQuota } from '../presenters/platform.js';
import { allOrganizationGuids, organizationQuotaRows, pageOfRows, platformCreatedAt } from '../repositories/platform.js';

const ORGANIZATION_QUOTA_FILTERS = ['names', 'guids', 'organization_guids'] as const;
const SPACE_QUOTA_FILTERS = ['names', 'guids', 'organization_guids', 'space_guids'] as const;
const ISOLATION_SEGMENT_FILTERS = ['names', 'guids', 'organization_guids'] as const;

export function quotaRoutes(routes: Routes<RequestContext>): void {
  routes.get('/v3/organization_quotas', async (req, ctx) => {
    const message = listMessage(req.query, ORGANIZATION_QUOTA_FILTERS, ORDER_BY_NAME);
    const organizations = await allOrganizationGuids(ctx.db);
    const { organization_guids: asked, ...filters } = message.filters;
    // The default quota applies to every organization: it matches when any asked for exists.
    const applies = !asked || asked.some((guid) => organizations.includes(guid));
    const rows = applies ? organizationQuotaRows(await platformCreatedAt(ctx.db)) : [];
    const { total, rows: page } = pageOfRows(rows, { ...message, filters }, { names: 'name', guids: 'guid' });
    return { body: paginated(ctx.urls.api, '/v3/organization_quotas', req.query, message, total, page.map((r) => presentOrganizationQuota(r, organizations, ctx))) };
  });

  routes.get('/v3/organization_quotas/:guid', async (req, ctx) => {
    const quota = organizationQuotaRows(await platformCreatedAt(ctx.db)).find((q) => q.guid === req.params.guid);
    if (!quota) throw notFound('Organization quota');
    return { body: presentOrganizationQuota(quota, await allOrganizationGuids(ctx.db), ctx) };
  });

  routes.get('/v3/space_quotas', (req, ctx) => {
    const message = listMessage(req.query, SPACE_QUOTA_FILTERS, ORDER_BY_NAME);
    return { body: paginated(ctx.urls.api, '/v3/space_quotas', req.query, message, 0, []) };
  });

  routes.get('/v3/space_quotas/:guid', () => {
    throw notFound('Space quota');
  });

  routes.get('/v3/isolation_segments', (req, ctx) => {
    const message = listMessage(req.query, ISOLATION_SEGMENT_FILTERS, ORDER_BY_NAME);
    return { body: paginated(ctx.urls.api, '/v3/isolation_segments', req.query, message, 0, []) };
  });

  routes.get('/v3/isolation_segments/:guid', () => {
    throw notFound('Isolation segment');
  });
}
