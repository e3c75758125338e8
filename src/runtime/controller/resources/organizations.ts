// Organizations and spaces: where apps, routes and services live (`devbox`/`dev` after the first up).
import { ApiError, notFound } from '../api/errors.js';
import type { Routes } from '../api/http.js';
import { filterList, listParams, paginated } from '../api/pagination.js';
import type { Database } from '../db/schema.js';
import { newGuid, now, parseJson, type RequestContext } from '../context.js';
import { recordEvent } from './audit-events.js';
import { isUniqueViolation, page } from './query.js';
import { allowOnly, asObject, metadataUpdate, relationshipGuid, requiredString } from './validate.js';

type OrgRow = Database['organizations'];
type SpaceRow = Database['spaces'];

export function presentOrganization(row: OrgRow, ctx: RequestContext) {
  const self = `${ctx.urls.api}/v3/organizations/${row.guid}`;
  return {
    guid: row.guid,
    created_at: row.created_at,
    updated_at: row.updated_at,
    name: row.name,
    suspended: row.suspended === 1,
    relationships: { quota: { data: null } },
    metadata: parseJson(row.metadata, { labels: {}, annotations: {} }),
    links: { self: { href: self }, domains: { href: `${self}/domains` }, default_domain: { href: `${self}/domains/default` } },
  };
}

export function presentSpace(row: SpaceRow, ctx: RequestContext) {
  return {
    guid: row.guid,
    created_at: row.created_at,
    updated_at: row.updated_at,
    name: row.name,
    relationships: { organization: { data: { guid: row.organization_guid } }, quota: { data: null } },
    metadata: parseJson(row.metadata, { labels: {}, annotations: {} }),
    links: {
      self: { href: `${ctx.urls.api}/v3/spaces/${row.guid}` },
      organization: { href: `${ctx.urls.api}/v3/organizations/${row.organization_guid}` },
      features: { href: `${ctx.urls.api}/v3/spaces/${row.guid}/features` },
      apply_manifest: { href: `${ctx.urls.api}/v3/spaces/${row.guid}/actions/apply_manifest`, method: 'POST' },
    },
  };
}

export async function findSpace(ctx: RequestContext, guid: string): Promise<SpaceRow> {
  const row = await ctx.db.selectFrom('spaces').selectAll().where('guid', '=', guid).executeTakeFirst();
  if (!row) throw notFound('Space');
  return row;
}

export function organizationRoutes(routes: Routes<RequestContext>): void {
  routes.get('/v3/organizations', async (req, ctx) => {
    const params = listParams(req.query);
    let q = ctx.db.selectFrom('organizations').selectAll();
    const names = filterList(req.query, 'names');
    const guids = filterList(req.query, 'guids');
    if (names) q = q.where('name', 'in', names.length ? names : ['']);
    if (guids) q = q.where('guid', 'in', guids.length ? guids : ['']);
    const { total, rows } = await page(q, params);
    return { body: paginated(ctx.urls.api, '/v3/organizations', req.query, params, total, rows.map((r) => presentOrganization(r, ctx))) };
  });

  routes.get('/v3/organizations/:guid', async (req, ctx) => {
    const row = await ctx.db.selectFrom('organizations').selectAll().where('guid', '=', req.params.guid).executeTakeFirst();
    if (!row) throw notFound('Organization');
    return { body: presentOrganization(row, ctx) };
  });

  routes.post('/v3/organizations', async (req, ctx) => {
    const body = asObject(req.body);
    allowOnly(body, ['name', 'suspended', 'metadata']);
    const name = requiredString(body, 'name');
    const at = now();
    const row: OrgRow = { guid: newGuid(), name, suspended: 0, metadata: JSON.stringify(metadataUpdate(body, { labels: {}, annotations: {} })), created_at: at, updated_at: at };
    try {
      await ctx.db.insertInto('organizations').values(row).execute();
    } catch (error) {
      if (isUniqueViolation(error)) throw new ApiError('UniquenessError', `Organization '${name}' already exists.`);
      throw error;
    }
    await recordEvent(ctx.db, { type: 'audit.organization.create', actor: ctx.actor, target: { guid: row.guid, type: 'organization', name }, organizationGuid: row.guid, data: { request: { name } } });
    return { status: 201, body: presentOrganization(row, ctx) };
  });

  routes.get('/v3/spaces', async (req, ctx) => {
    const params = listParams(req.query);
    let q = ctx.db.selectFrom('spaces').selectAll();
    const names = filterList(req.query, 'names');
    const orgs = filterList(req.query, 'organization_guids');
    const guids = filterList(req.query, 'guids');
    if (names) q = q.where('name', 'in', names.length ? names : ['']);
    if (orgs) q = q.where('organization_guid', 'in', orgs.length ? orgs : ['']);
    if (guids) q = q.where('guid', 'in', guids.length ? guids : ['']);
    const { total, rows } = await page(q, params);
    return { body: paginated(ctx.urls.api, '/v3/spaces', req.query, params, total, rows.map((r) => presentSpace(r, ctx))) };
  });

  routes.get('/v3/spaces/:guid', async (req, ctx) => ({ body: presentSpace(await findSpace(ctx, req.params.guid), ctx) }));

  routes.post('/v3/spaces', async (req, ctx) => {
    const body = asObject(req.body);
    allowOnly(body, ['name', 'relationships', 'metadata']);
    const name = requiredString(body, 'name');
    const orgGuid = relationshipGuid(body, 'organization');
    const org = await ctx.db.selectFrom('organizations').select(['guid', 'name']).where('guid', '=', orgGuid).executeTakeFirst();
    if (!org) throw new ApiError('UnprocessableEntity', 'Invalid organization. Ensure the organization exists and you have access to it.');
    const at = now();
    const row: SpaceRow = { guid: newGuid(), name, organization_guid: org.guid, metadata: JSON.stringify(metadataUpdate(body, { labels: {}, annotations: {} })), created_at: at, updated_at: at };
    try {
      await ctx.db.insertInto('spaces').values(row).execute();
    } catch (error) {
      if (isUniqueViolation(error)) throw new ApiError('UniquenessError', `Name must be unique per organization: space '${name}' already exists in organization '${org.name}'.`);
      throw error;
    }
    await recordEvent(ctx.db, { type: 'audit.space.create', actor: ctx.actor, target: { guid: row.guid, type: 'space', name }, spaceGuid: row.guid, organizationGuid: org.guid, data: { request: { name } } });
    return { status: 201, body: presentSpace(row, ctx) };
  });
}
