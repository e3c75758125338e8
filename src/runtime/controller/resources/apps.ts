// Apps: the desired state of an application (name, space, STARTED/STOPPED, lifecycle, env) and its
// processes (type, command, instances, memory, disk, health check).
import { publishAppLog } from '../../common/app-log.js';
import { ApiError, notFound } from '../api/errors.js';
import type { Routes } from '../api/http.js';
import { filterList, listParams, paginated } from '../api/pagination.js';
import type { Database } from '../db/schema.js';
import { newGuid, now, parseJson, type Metadata, type RequestContext } from '../context.js';
import { groupByLabel, serviceEntries } from '../services/vcap.js';
import { recordEvent } from './audit-events.js';
import { createJob } from './jobs.js';
import { findSpace } from './organizations.js';
import { isUniqueViolation, page } from './query.js';
import { allowOnly, asObject, metadataUpdate, optionalObject, optionalString, relationshipGuid, requiredString, type Body } from './validate.js';

type AppRow = Database['apps'];
type ProcessRow = Database['processes'];

export const STACK = 'host';

export function presentApp(row: AppRow, ctx: RequestContext) {
  const self = `${ctx.urls.api}/v3/apps/${row.guid}`;
  return {
    guid: row.guid,
    name: row.name,
    state: row.state,
    created_at: row.created_at,
    updated_at: row.updated_at,
    lifecycle: { type: row.lifecycle_type, data: { buildpacks: parseJson<string[]>(row.buildpacks, []), stack: row.stack } },
    relationships: { space: { data: { guid: row.space_guid } } },
    metadata: parseJson<Metadata>(row.metadata, { labels: {}, annotations: {} }),
    links: {
      self: { href: self },
      space: { href: `${ctx.urls.api}/v3/spaces/${row.space_guid}` },
      processes: { href: `${self}/processes` },
      packages: { href: `${self}/packages` },
      environment_variables: { href: `${self}/environment_variables` },
      current_droplet: { href: `${self}/droplets/current` },
      droplets: { href: `${self}/droplets` },
      routes: { href: `${self}/routes` },
      start: { href: `${self}/actions/start`, method: 'POST' },
      stop: { href: `${self}/actions/stop`, method: 'POST' },
      restart: { href: `${self}/actions/restart`, method: 'POST' },
    },
  };
}

export async function findApp(ctx: RequestContext, guid: string): Promise<AppRow> {
  const row = await ctx.db.selectFrom('apps').selectAll().where('guid', '=', guid).executeTakeFirst();
  if (!row) throw notFound('App');
  return row;
}

/** A line on the app's log stream as `[API/0]`, as Cloud Controller writes for every app change. */
export function apiLog(ctx: RequestContext, appGuid: string, message: string): void {
  if (ctx.bus && !ctx.bus.isClosed()) publishAppLog(ctx.bus, { app_guid: appGuid, source_type: 'API', source_instance: '0', message_type: 'OUT', message });
}

function parseLifecycle(body: Body): { buildpacks: string[]; stack: string } | undefined {
  const lifecycle = optionalObject(body, 'lifecycle');
  if (!lifecycle) return undefined;
  allowOnly(lifecycle, ['type', 'data']);
  if (lifecycle.type !== undefined && lifecycle.type !== 'buildpack') throw new ApiError('UnprocessableEntity', "Lifecycle type must be 'buildpack'");
  const data = optionalObject(lifecycle, 'data') ?? {};
  allowOnly(data, ['buildpacks', 'stack']);
  const buildpacks = data.buildpacks ?? [];
  if (!Array.isArray(buildpacks) || buildpacks.some((b) => typeof b !== 'string')) throw new ApiError('UnprocessableEntity', 'Buildpacks must be an array of strings');
  const stack = optionalString(data, 'stack') ?? STACK;
  if (stack !== STACK) throw new ApiError('UnprocessableEntity', `Stack must be an existing stack: devbox runs apps on the '${STACK}' stack`);
  return { buildpacks: buildpacks as string[], stack };
}

export function validateEnvironment(value: unknown): Record<string, string> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new ApiError('UnprocessableEntity', 'Environment variables must be an object');
  const out: Record<string, string> = {};
  for (const [key, v] of Object.entries(value)) {
    if (/^VCAP_|^VMC_/.test(key)) throw new ApiError('UnprocessableEntity', `Environment variables cannot start with VCAP_ or VMC_ ('${key}')`);
    if (key === 'PORT') throw new ApiError('UnprocessableEntity', "Environment variables cannot set PORT");
    if (typeof v === 'string') out[key] = v;
    else if (typeof v === 'number' || typeof v === 'boolean') out[key] = String(v);
    else throw new ApiError('UnprocessableEntity', `Environment variable '${key}' must be a string`);
  }
  return out;
}

export function newProcess(ctx: RequestContext, appGuid: string, type: string, at: string): ProcessRow {
  return {
    guid: newGuid(),
    app_guid: appGuid,
    type,
    command: null,
    instances: type === 'web' ? 1 : 0,
    memory_in_mb: ctx.defaults.memoryInMb,
    disk_in_mb: ctx.defaults.diskInMb,
    log_rate_limit_in_bytes_per_second: ctx.defaults.logRateLimit,
    health_check_type: type === 'web' ? 'port' : 'process',
    health_check_endpoint: null,
    health_check_timeout: null,
    health_check_invocation_timeout: null,
    version: newGuid(),
    metadata: JSON.stringify({ labels: {}, annotations: {} }),
    created_at: at,
    updated_at: at,
  };
}

async function setState(ctx: RequestContext, app: AppRow, state: 'STARTED' | 'STOPPED', eventType: string) {
  if (state === 'STARTED' && !app.droplet_guid) {
    throw new ApiError('UnprocessableEntity', 'Assign a droplet before starting this app.');
  }
  const at = now();
  await ctx.db.updateTable('apps').set({ state, updated_at: at }).where('guid', '=', app.guid).execute();
  const space = await findSpace(ctx, app.space_guid);
  await recordEvent(ctx.db, { type: eventType, actor: ctx.actor, target: { guid: app.guid, type: 'app', name: app.name }, spaceGuid: app.space_guid, organizationGuid: space.organization_guid, data: {} });
  apiLog(ctx, app.guid, `Updated app with guid ${app.guid} ({"state"=>"${state}"})`);
  if (state === 'STARTED') await ctx.runner?.startApp(app.guid);
  else ctx.runner?.stopApp(app.guid);
  return { ...app, state, updated_at: at };
}

export function appRoutes(routes: Routes<RequestContext>): void {
  routes.get('/v3/apps', async (req, ctx) => {
    const params = listParams(req.query);
    let q = ctx.db.selectFrom('apps').selectAll();
    const names = filterList(req.query, 'names');
    const spaces = filterList(req.query, 'space_guids');
    const guids = filterList(req.query, 'guids');
    const orgs = filterList(req.query, 'organization_guids');
    if (names) q = q.where('name', 'in', names.length ? names : ['']);
    if (spaces) q = q.where('space_guid', 'in', spaces.length ? spaces : ['']);
    if (guids) q = q.where('guid', 'in', guids.length ? guids : ['']);
    if (orgs) q = q.where('space_guid', 'in', ctx.db.selectFrom('spaces').select('guid').where('organization_guid', 'in', orgs.length ? orgs : ['']));
    const { total, rows } = await page(q, params);
    return { body: paginated(ctx.urls.api, '/v3/apps', req.query, params, total, rows.map((r) => presentApp(r, ctx))) };
  });

  routes.get('/v3/apps/:guid', async (req, ctx) => ({ body: presentApp(await findApp(ctx, req.params.guid), ctx) }));

  routes.post('/v3/apps', async (req, ctx) => {
    const body = asObject(req.body);
    allowOnly(body, ['name', 'relationships', 'environment_variables', 'lifecycle', 'metadata']);
    const name = requiredString(body, 'name');
    const spaceGuid = relationshipGuid(body, 'space');
    const space = await ctx.db.selectFrom('spaces').selectAll().where('guid', '=', spaceGuid).executeTakeFirst();
    if (!space) throw new ApiError('UnprocessableEntity', 'Invalid space. Ensure that the space exists and you have access to it.');
    const lifecycle = parseLifecycle(body) ?? { buildpacks: [], stack: STACK };
    const env = body.environment_variables === undefined ? {} : validateEnvironment(body.environment_variables);
    const at = now();
    const row: AppRow = {
      guid: newGuid(),
      name,
      space_guid: space.guid,
      state: 'STOPPED',
      lifecycle_type: 'buildpack',
      buildpacks: JSON.stringify(lifecycle.buildpacks),
      stack: lifecycle.stack,
      environment_variables: JSON.stringify(env),
      droplet_guid: null,
      metadata: JSON.stringify(metadataUpdate(body, { labels: {}, annotations: {} })),
      created_at: at,
      updated_at: at,
    };
    try {
      await ctx.db.transaction().execute(async (trx) => {
        await trx.insertInto('apps').values(row).execute();
        await trx.insertInto('processes').values(newProcess(ctx, row.guid, 'web', at)).execute();
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw new ApiError('UniquenessError', `App with the name '${name}' already exists.`);
      throw error;
    }
    await recordEvent(ctx.db, { type: 'audit.app.create', actor: ctx.actor, target: { guid: row.guid, type: 'app', name }, spaceGuid: space.guid, organizationGuid: space.organization_guid, data: { request: { name, lifecycle } } });
    apiLog(ctx, row.guid, `Created app with guid ${row.guid}`);
    return { status: 201, body: presentApp(row, ctx) };
  });

  routes.patch('/v3/apps/:guid', async (req, ctx) => {
    const app = await findApp(ctx, req.params.guid);
    const body = asObject(req.body);
    allowOnly(body, ['name', 'lifecycle', 'metadata']);
    const name = body.name === undefined ? app.name : requiredString(body, 'name');
    const lifecycle = parseLifecycle(body);
    const metadata = metadataUpdate(body, parseJson(app.metadata, { labels: {}, annotations: {} }));
    const updated: AppRow = {
      ...app,
      name,
      buildpacks: lifecycle ? JSON.stringify(lifecycle.buildpacks) : app.buildpacks,
      stack: lifecycle?.stack ?? app.stack,
      metadata: JSON.stringify(metadata),
      updated_at: now(),
    };
    try {
      await ctx.db.updateTable('apps').set({ name: updated.name, buildpacks: updated.buildpacks, stack: updated.stack, metadata: updated.metadata, updated_at: updated.updated_at }).where('guid', '=', app.guid).execute();
    } catch (error) {
      if (isUniqueViolation(error)) throw new ApiError('UniquenessError', `App with the name '${name}' already exists.`);
      throw error;
    }
    const space = await findSpace(ctx, app.space_guid);
    await recordEvent(ctx.db, { type: 'audit.app.update', actor: ctx.actor, target: { guid: app.guid, type: 'app', name }, spaceGuid: app.space_guid, organizationGuid: space.organization_guid, data: { request: body } });
    apiLog(ctx, app.guid, `Updated app with guid ${app.guid} (${JSON.stringify(body)})`);
    return { body: presentApp(updated, ctx) };
  });

  routes.delete('/v3/apps/:guid', async (req, ctx) => {
    const app = await findApp(ctx, req.params.guid);
    const space = await findSpace(ctx, app.space_guid);
    await ctx.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('route_destinations').where('app_guid', '=', app.guid).execute();
      await trx.deleteFrom('processes').where('app_guid', '=', app.guid).execute();
      await trx.deleteFrom('apps').where('guid', '=', app.guid).execute();
    });
    await recordEvent(ctx.db, { type: 'audit.app.delete-request', actor: ctx.actor, target: { guid: app.guid, type: 'app', name: app.name }, spaceGuid: app.space_guid, organizationGuid: space.organization_guid, data: { request: { recursive: true } } });
    apiLog(ctx, app.guid, `Deleted app with guid ${app.guid}`);
    ctx.runner?.stopApp(app.guid);
    const job = await createJob(ctx, 'app.delete', { guid: app.guid, type: 'app' });
    return { status: 202, headers: { Location: `${ctx.urls.api}/v3/jobs/${job.guid}` } };
  });

  routes.post('/v3/apps/:guid/actions/start', async (req, ctx) => {
    const app = await findApp(ctx, req.params.guid);
    return { body: presentApp(await setState(ctx, app, 'STARTED', 'audit.app.start'), ctx) };
  });
  routes.post('/v3/apps/:guid/actions/stop', async (req, ctx) => {
    const app = await findApp(ctx, req.params.guid);
    return { body: presentApp(await setState(ctx, app, 'STOPPED', 'audit.app.stop'), ctx) };
  });
  routes.post('/v3/apps/:guid/actions/restart', async (req, ctx) => {
    const app = await findApp(ctx, req.params.guid);
    if (!app.droplet_guid) throw new ApiError('UnprocessableEntity', 'Assign a droplet before starting this app.');
    const stopped = await setState(ctx, app, 'STOPPED', 'audit.app.stop');
    // A new version: instances of the old one still reporting are extras, not the restarted ones.
    await ctx.db.updateTable('processes').set({ version: newGuid(), updated_at: now() }).where('app_guid', '=', app.guid).execute();
    const restarted = await setState(ctx, stopped, 'STARTED', 'audit.app.start');
    return { body: presentApp(restarted, ctx) };
  });

  routes.get('/v3/apps/:guid/environment_variables', async (req, ctx) => {
    const app = await findApp(ctx, req.params.guid);
    return { body: presentEnvironment(app, ctx) };
  });

  routes.patch('/v3/apps/:guid/environment_variables', async (req, ctx) => {
    const app = await findApp(ctx, req.params.guid);
    const body = asObject(req.body);
    allowOnly(body, ['var']);
    const update = optionalObject(body, 'var') ?? {};
    const current = parseJson<Record<string, string>>(app.environment_variables, {});
    const removed = Object.entries(update).filter(([, v]) => v === null).map(([k]) => k);
    const set = validateEnvironment(Object.fromEntries(Object.entries(update).filter(([, v]) => v !== null)));
    const next: Record<string, string> = { ...current, ...set };
    for (const key of removed) delete next[key];
    const at = now();
    await ctx.db.updateTable('apps').set({ environment_variables: JSON.stringify(next), updated_at: at }).where('guid', '=', app.guid).execute();
    const space = await findSpace(ctx, app.space_guid);
    // Values may be secrets: the event says which keys changed, never their values.
    await recordEvent(ctx.db, { type: 'audit.app.update', actor: ctx.actor, target: { guid: app.guid, type: 'app', name: app.name }, spaceGuid: app.space_guid, organizationGuid: space.organization_guid, data: { request: { environment_variables: '[PRIVATE DATA HIDDEN]' }, keys: Object.keys(update) } });
    apiLog(ctx, app.guid, `Updated app with guid ${app.guid} ({"environment_variables"=>"[PRIVATE DATA HIDDEN]"})`);
    return { body: presentEnvironment({ ...app, environment_variables: JSON.stringify(next) }, ctx) };
  });

  routes.get('/v3/apps/:guid/env', async (req, ctx) => {
    const app = await findApp(ctx, req.params.guid);
    const space = await findSpace(ctx, app.space_guid);
    const org = await ctx.db.selectFrom('organizations').selectAll().where('guid', '=', space.organization_guid).executeTakeFirstOrThrow();
    const web = await ctx.db.selectFrom('processes').selectAll().where('app_guid', '=', app.guid).where('type', '=', 'web').executeTakeFirst();
    const uris = await appUris(ctx, app.guid);
    return {
      body: {
        staging_env_json: {},
        running_env_json: {},
        environment_variables: parseJson(app.environment_variables, {}),
        system_env_json: { VCAP_SERVICES: groupByLabel(await serviceEntries(ctx.db, app.guid)) },
        application_env_json: {
          VCAP_APPLICATION: {
            cf_api: ctx.urls.api,
            limits: { fds: 16384, mem: web?.memory_in_mb ?? ctx.defaults.memoryInMb, disk: web?.disk_in_mb ?? ctx.defaults.diskInMb },
            application_name: app.name,
            application_uris: uris,
            name: app.name,
            space_name: space.name,
            space_id: space.guid,
            organization_id: org.guid,
            organization_name: org.name,
            uris,
            users: null,
            application_id: app.guid,
            application_version: web?.version ?? app.guid,
            version: web?.version ?? app.guid,
          },
        },
      },
    };
  });
}

function presentEnvironment(app: AppRow, ctx: RequestContext) {
  return {
    var: parseJson(app.environment_variables, {}),
    links: {
      self: { href: `${ctx.urls.api}/v3/apps/${app.guid}/environment_variables` },
      app: { href: `${ctx.urls.api}/v3/apps/${app.guid}` },
    },
  };
}

/** `host.domain[/path]` of every route mapped to the app. */
export async function appUris(ctx: Pick<RequestContext, 'db'>, appGuid: string): Promise<string[]> {
  const rows = await ctx.db
    .selectFrom('route_destinations')
    .innerJoin('routes', 'routes.guid', 'route_destinations.route_guid')
    .innerJoin('domains', 'domains.guid', 'routes.domain_guid')
    .select(['routes.host', 'routes.path', 'domains.name as domain'])
    .where('route_destinations.app_guid', '=', appGuid)
    .orderBy('routes.created_at')
    .execute();
  return [...new Set(rows.map((r) => `${r.host ? `${r.host}.` : ''}${r.domain}${r.path}`))];
}
