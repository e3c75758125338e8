// /v3/organizations and /v3/spaces: thin routes over actions/organizations.ts.
import type { RequestContext } from '../context.js';
import type { Routes } from '../http/routes.js';
import { createOrganization, createSpace } from '../actions/organizations.js';
import { listMessage } from '../messages/list.js';
import { organizationCreateMessage, spaceCreateMessage } from '../messages/organizations.js';
import { presentOrganization, presentSpace } from '../presenters/organizations.js';
import { paginated } from '../presenters/paginated.js';
import { getOrganization, getSpace, listOrganizations, listSpaces, ORGANIZATION_FILTERS, SPACE_FILTERS } from '../repositories/spaces.js';

export function organizationRoutes(routes: Routes<RequestContext>): void {
  routes.get('/v3/organizations', async (req, ctx) => {
    const message = listMessage(req.query, ORGANIZATION_FILTERS);
    const { total, rows } = await listOrganizations(ctx.db, message);
    return { body: paginated(ctx.urls.api, '/v3/organizations', req.query, message, total, rows.map((r) => presentOrganization(r, ctx))) };
  });

  routes.get('/v3/organizations/:guid', async (req, ctx) => ({ body: presentOrganization(await getOrganization(ctx.db, req.params.guid), ctx) }));

  routes.post('/v3/organizations', async (req, ctx) => ({ status: 201, body: presentOrganization(await createOrganization(ctx, organizationCreateMessage(req.body)), ctx) }));

  routes.get('/v3/spaces', async (req, ctx) => {
    const message = listMessage(req.query, SPACE_FILTERS);
    const { total, rows } = await listSpaces(ctx.db, message);
    return { body: paginated(ctx.urls.api, '/v3/spaces', req.query, message, total, rows.map((r) => presentSpace(r, ctx))) };
  });

  routes.get('/v3/spaces/:guid', async (req, ctx) => ({ body: presentSpace(await getSpace(ctx.db, req.params.guid), ctx) }));

  routes.post('/v3/spaces', async (req, ctx) => ({ status: 201, body: presentSpace(await createSpace(ctx, spaceCreateMessage(req.body)), ctx) }));
}
