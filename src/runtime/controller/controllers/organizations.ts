// /v3/organizations and /v3/spaces: thin routes over actions/organizations.ts.
import type { RequestContext } from '../context.js';
import type { Routes } from '../http/routes.js';
import { createOrganization, createSpace, deleteSpaceAction } from '../actions/organizations.js';
import { listMessage } from '../messages/list.js';
import { organizationCreateMessage, spaceCreateMessage } from '../messages/organizations.js';
import { presentDomain } from '../presenters/domains.js';
import { presentOrganization, presentSpace } from '../presenters/organizations.js';
import { paginated } from '../presenters/paginated.js';
import { jobAccepted } from './jobs.js';
import { DOMAIN_FILTERS, findDefaultDomain, listOrganizationDomains } from '../repositories/domains.js';
import { found } from '../repositories/query.js';
import { getOrganization, getSpace, listOrganizations, listSpaces, ORGANIZATION_FILTERS, SPACE_FILTERS } from '../repositories/spaces.js';

export function organizationRoutes(routes: Routes<RequestContext>): void {
  routes.get('/v3/organizations', async (req, ctx) => {
    const message = listMessage(req.query, ORGANIZATION_FILTERS);
    const { total, rows } = await listOrganizations(ctx.db, message);
    return { body: paginated(ctx.urls.api, '/v3/organizations', req.query, message, total, rows.map((r) => presentOrganization(r, ctx))) };
  });

  routes.get('/v3/organizations/:guid', async (req, ctx) => ({ body: presentOrganization(await getOrganization(ctx.db, req.params.guid), ctx) }));

  routes.get('/v3/organizations/:guid/domains', async (req, ctx) => {
    const org = await getOrganization(ctx.db, req.params.guid);
    const message = listMessage(req.query, DOMAIN_FILTERS);
    const { total, rows } = await listOrganizationDomains(ctx.db, org.guid, message);
    return { body: paginated(ctx.urls.api, `/v3/organizations/${org.guid}/domains`, req.query, message, total, rows.map((r) => presentDomain(r, ctx))) };
  });

  routes.get('/v3/organizations/:guid/domains/default', async (req, ctx) => {
    const org = await getOrganization(ctx.db, req.params.guid);
    return { body: presentDomain(found(await findDefaultDomain(ctx.db, org.guid), 'Domain'), ctx) };
  });

  // devbox has no isolation segments: every space runs where the DEAs run.
  routes.get('/v3/organizations/:guid/relationships/default_isolation_segment', async (req, ctx) => {
    const org = await getOrganization(ctx.db, req.params.guid);
    return { body: { data: null, links: { self: { href: `${ctx.urls.api}/v3/organizations/${org.guid}/relationships/default_isolation_segment` } } } };
  });

  routes.post('/v3/organizations', async (req, ctx) => ({ status: 201, body: presentOrganization(await createOrganization(ctx, organizationCreateMessage(req.body)), ctx) }));

  routes.get('/v3/spaces', async (req, ctx) => {
    const message = listMessage(req.query, SPACE_FILTERS);
    const { total, rows } = await listSpaces(ctx.db, message);
    return { body: paginated(ctx.urls.api, '/v3/spaces', req.query, message, total, rows.map((r) => presentSpace(r, ctx))) };
  });

  routes.get('/v3/spaces/:guid', async (req, ctx) => ({ body: presentSpace(await getSpace(ctx.db, req.params.guid), ctx) }));

  routes.get('/v3/spaces/:guid/relationships/isolation_segment', async (req, ctx) => {
    const space = await getSpace(ctx.db, req.params.guid);
    return { body: { data: null, links: { self: { href: `${ctx.urls.api}/v3/spaces/${space.guid}/relationships/isolation_segment` } } } };
  });

  // devbox has no security groups (apps run on the host, unfenced): a space's lists are empty.
  for (const lifecycle of ['running', 'staging']) {
    routes.get(`/v3/spaces/:guid/${lifecycle}_security_groups`, async (req, ctx) => {
      const space = await getSpace(ctx.db, req.params.guid);
      const message = listMessage(req.query, ['names', 'guids'] as const);
      return { body: paginated(ctx.urls.api, `/v3/spaces/${space.guid}/${lifecycle}_security_groups`, req.query, message, 0, []) };
    });
  }

  routes.post('/v3/spaces', async (req, ctx) => ({ status: 201, body: presentSpace(await createSpace(ctx, spaceCreateMessage(req.body)), ctx) }));

  routes.delete('/v3/spaces/:guid', async (req, ctx) => jobAccepted(ctx, (await deleteSpaceAction(ctx, await getSpace(ctx.db, req.params.guid))).guid));
}
