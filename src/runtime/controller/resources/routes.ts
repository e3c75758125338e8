// Routes (host + domain + path) and their destinations (which app's process gets the traffic).
import { ApiError, notFound } from '../api/errors.js';
import type { Routes } from '../api/http.js';
import { filterList, listParams, paginated } from '../api/pagination.js';
import type { Database } from '../db/schema.js';
import { newGuid, now, parseJson, type RequestContext } from '../context.js';
import { apiLog, findApp } from './apps.js';
import { recordEvent } from './audit-events.js';
import { findDomain } from './domains.js';
import { createJob } from './jobs.js';
import { findSpace } from './organizations.js';
import { isUniqueViolation, page } from './query.js';
import { allowOnly, asObject, metadataUpdate, optionalObject, optionalString, relationshipGuid } from './validate.js';

type RouteRow = Database['routes'];
type DestinationRow = Database['route_destinations'];

// A DNS label: letters, digits and hyphens, not starting or ending with a hyphen (or `*`).
const HOST = /^(\*|[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)$/i;
const PATH = /^(\/[A-Za-z0-9._~!$&'()*+,;=:@%-]+)+$/;

export function presentDestination(row: DestinationRow) {
  return { guid: row.guid, app: { guid: row.app_guid, process: { type: row.process_type } }, weight: null, port: row.port ?? 8080, protocol: 'http1' };
}

export async function presentRoute(row: RouteRow, ctx: RequestContext) {
  const domain = await findDomain(ctx, row.domain_guid);
  const destinations = await ctx.db.selectFrom('route_destinations').selectAll().where('route_guid', '=', row.guid).orderBy('created_at').execute();
  const self = `${ctx.urls.api}/v3/routes/${row.guid}`;
  return {
    guid: row.guid,
    protocol: 'http',
    port: null,
    host: row.host,
    path: row.path,
    url: `${row.host ? `${row.host}.` : ''}${domain.name}${row.path}`,
    created_at: row.created_at,
    updated_at: row.updated_at,
    destinations: destinations.map(presentDestination),
    options: {},
    metadata: parseJson(row.metadata, { labels: {}, annotations: {} }),
    relationships: { space: { data: { guid: row.space_guid } }, domain: { data: { guid: row.domain_guid } } },
    links: {
      self: { href: self },
      space: { href: `${ctx.urls.api}/v3/spaces/${row.space_guid}` },
      domain: { href: `${ctx.urls.api}/v3/domains/${row.domain_guid}` },
      destinations: { href: `${self}/destinations` },
    },
  };
}

async function findRoute(ctx: RequestContext, guid: string): Promise<RouteRow> {
  const row = await ctx.db.selectFrom('routes').selectAll().where('guid', '=', guid).executeTakeFirst();
  if (!row) throw notFound('Route');
  return row;
}

async function listDestinations(ctx: RequestContext, route: RouteRow) {
  const rows = await ctx.db.selectFrom('route_destinations').selectAll().where('route_guid', '=', route.guid).orderBy('created_at').execute();
  return {
    destinations: rows.map(presentDestination),
    links: { self: { href: `${ctx.urls.api}/v3/routes/${route.guid}/destinations` }, route: { href: `${ctx.urls.api}/v3/routes/${route.guid}` } },
  };
}

export function routeRoutes(routes: Routes<RequestContext>): void {
  routes.get('/v3/routes', async (req, ctx) => {
    const params = listParams(req.query, ['created_at', 'updated_at']);
    let q = ctx.db.selectFrom('routes').selectAll();
    const hosts = filterList(req.query, 'hosts');
    const paths = req.query.get('paths') === null ? undefined : (req.query.get('paths') ?? '').split(',');
    const domains = filterList(req.query, 'domain_guids');
    const spaces = filterList(req.query, 'space_guids');
    const apps = filterList(req.query, 'app_guids');
    if (hosts) q = q.where('host', 'in', hosts.length ? hosts : ['']);
    if (paths) q = q.where('path', 'in', paths);
    if (domains) q = q.where('domain_guid', 'in', domains.length ? domains : ['']);
    if (spaces) q = q.where('space_guid', 'in', spaces.length ? spaces : ['']);
    if (apps) q = q.where('guid', 'in', ctx.db.selectFrom('route_destinations').select('route_guid').where('app_guid', 'in', apps.length ? apps : ['']));
    const { total, rows } = await page(q, params);
    const resources = await Promise.all(rows.map((r) => presentRoute(r, ctx)));
    return { body: paginated(ctx.urls.api, '/v3/routes', req.query, params, total, resources) };
  });

  routes.get('/v3/routes/:guid', async (req, ctx) => ({ body: await presentRoute(await findRoute(ctx, req.params.guid), ctx) }));

  routes.post('/v3/routes', async (req, ctx) => {
    const body = asObject(req.body);
    allowOnly(body, ['host', 'path', 'port', 'relationships', 'metadata', 'options']);
    const host = (optionalString(body, 'host', { max: 63 }) ?? '').toLowerCase();
    const path = optionalString(body, 'path', { max: 128 }) ?? '';
    if (host !== '' && !HOST.test(host)) throw new ApiError('UnprocessableEntity', 'Host must be either "*" or contain only alphanumeric characters, "_", or "-"');
    if (path !== '' && !PATH.test(path)) throw new ApiError('UnprocessableEntity', "Path must begin with a '/' and contain only URL characters, without '?' or '#'");
    const domain = await ctx.db.selectFrom('domains').selectAll().where('guid', '=', relationshipGuid(body, 'domain')).executeTakeFirst();
    if (!domain) throw new ApiError('UnprocessableEntity', 'Invalid domain. Ensure that the domain exists and you have access to it.');
    const space = await ctx.db.selectFrom('spaces').selectAll().where('guid', '=', relationshipGuid(body, 'space')).executeTakeFirst();
    if (!space) throw new ApiError('UnprocessableEntity', 'Invalid space. Ensure that the space exists and you have access to it.');
    if (host === '' && domain.organization_guid === null) throw new ApiError('UnprocessableEntity', 'Missing host. Routes in shared domains must have a host defined.');
    const at = now();
    const row: RouteRow = { guid: newGuid(), host, path, domain_guid: domain.guid, space_guid: space.guid, metadata: JSON.stringify(metadataUpdate(body, { labels: {}, annotations: {} })), created_at: at, updated_at: at };
    try {
      await ctx.db.insertInto('routes').values(row).execute();
    } catch (error) {
      if (isUniqueViolation(error)) throw new ApiError('UniquenessError', `Route already exists with host '${host}'${path ? ` and path '${path}'` : ''} for domain '${domain.name}'.`);
      throw error;
    }
    const url = `${host ? `${host}.` : ''}${domain.name}${path}`;
    await recordEvent(ctx.db, { type: 'audit.route.create', actor: ctx.actor, target: { guid: row.guid, type: 'route', name: url }, spaceGuid: space.guid, organizationGuid: space.organization_guid, data: { request: { host, path, domain_guid: domain.guid } } });
    return { status: 201, body: await presentRoute(row, ctx) };
  });

  routes.delete('/v3/routes/:guid', async (req, ctx) => {
    const route = await findRoute(ctx, req.params.guid);
    const space = await findSpace(ctx, route.space_guid);
    const mapped = await ctx.db.selectFrom('route_destinations').select('app_guid').where('route_guid', '=', route.guid).execute();
    await ctx.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('route_destinations').where('route_guid', '=', route.guid).execute();
      await trx.deleteFrom('routes').where('guid', '=', route.guid).execute();
    });
    for (const { app_guid } of mapped) await ctx.runner?.routesChanged(app_guid);
    await recordEvent(ctx.db, { type: 'audit.route.delete-request', actor: ctx.actor, target: { guid: route.guid, type: 'route', name: route.host }, spaceGuid: route.space_guid, organizationGuid: space.organization_guid, data: {} });
    const job = await createJob(ctx, 'route.delete', { guid: route.guid, type: 'route' });
    return { status: 202, headers: { Location: `${ctx.urls.api}/v3/jobs/${job.guid}` } };
  });

  routes.get('/v3/routes/:guid/destinations', async (req, ctx) => ({ body: await listDestinations(ctx, await findRoute(ctx, req.params.guid)) }));

  routes.post('/v3/routes/:guid/destinations', async (req, ctx) => {
    const route = await findRoute(ctx, req.params.guid);
    const body = asObject(req.body);
    allowOnly(body, ['destinations']);
    if (!Array.isArray(body.destinations) || body.destinations.length === 0) throw new ApiError('UnprocessableEntity', 'Destinations must be a non-empty array');
    const at = now();
    for (const raw of body.destinations) {
      const destination = asObject(raw, 'a destination');
      allowOnly(destination, ['app', 'port', 'weight', 'protocol']);
      const app = optionalObject(destination, 'app');
      const appGuid = app?.guid;
      if (typeof appGuid !== 'string') throw new ApiError('UnprocessableEntity', 'Destinations must have an app guid');
      const process = app && optionalObject(app, 'process');
      const processType = (process && optionalString(process, 'type')) ?? 'web';
      const target = await ctx.db.selectFrom('apps').selectAll().where('guid', '=', appGuid).executeTakeFirst();
      if (!target) throw new ApiError('UnprocessableEntity', `App with guid '${appGuid}' does not exist or you do not have access to it.`);
      if (target.space_guid !== route.space_guid) throw new ApiError('UnprocessableEntity', 'Route and app must be in the same space.');
      const exists = await ctx.db.selectFrom('route_destinations').select('guid').where('route_guid', '=', route.guid).where('app_guid', '=', appGuid).where('process_type', '=', processType).executeTakeFirst();
      if (exists) continue; // mapping twice is not an error, as in CF
      await ctx.db.insertInto('route_destinations').values({ guid: newGuid(), route_guid: route.guid, app_guid: appGuid, process_type: processType, port: null, created_at: at, updated_at: at }).execute();
      const space = await findSpace(ctx, target.space_guid);
      await recordEvent(ctx.db, { type: 'audit.app.map-route', actor: ctx.actor, target: { guid: target.guid, type: 'app', name: target.name }, spaceGuid: target.space_guid, organizationGuid: space.organization_guid, data: { route_guid: route.guid, app_port: 8080, process_type: processType } });
      apiLog(ctx, target.guid, `Added route ${route.host} to app with guid ${target.guid}`);
      await ctx.runner?.routesChanged(target.guid);
    }
    return { body: await listDestinations(ctx, route) };
  });

  routes.delete('/v3/routes/:guid/destinations/:destination', async (req, ctx) => {
    const route = await findRoute(ctx, req.params.guid);
    const destination = await ctx.db.selectFrom('route_destinations').selectAll().where('route_guid', '=', route.guid).where('guid', '=', req.params.destination).executeTakeFirst();
    if (!destination) throw notFound('Destination');
    await ctx.db.deleteFrom('route_destinations').where('guid', '=', destination.guid).execute();
    const app = await findApp(ctx, destination.app_guid);
    const space = await findSpace(ctx, app.space_guid);
    await ctx.runner?.routesChanged(app.guid);
    await recordEvent(ctx.db, { type: 'audit.app.unmap-route', actor: ctx.actor, target: { guid: app.guid, type: 'app', name: app.name }, spaceGuid: app.space_guid, organizationGuid: space.organization_guid, data: { route_guid: route.guid, process_type: destination.process_type } });
    return { status: 204 };
  });

  routes.get('/v3/apps/:guid/routes', async (req, ctx) => {
    const app = await findApp(ctx, req.params.guid);
    const params = listParams(req.query, ['created_at', 'updated_at']);
    const q = ctx.db.selectFrom('routes').selectAll().where('guid', 'in', ctx.db.selectFrom('route_destinations').select('route_guid').where('app_guid', '=', app.guid));
    const { total, rows } = await page(q, params);
    const resources = await Promise.all(rows.map((r) => presentRoute(r, ctx)));
    return { body: paginated(ctx.urls.api, `/v3/apps/${app.guid}/routes`, req.query, params, total, resources) };
  });
}
