// Processes: what runs for an app (the `web` process by default) and how much of it: instances,
// memory, disk, command and health check.
import { ApiError, notFound } from '../api/errors.js';
import type { Routes } from '../api/http.js';
import { filterList, listParams, paginated } from '../api/pagination.js';
import type { Database } from '../db/schema.js';
import { newGuid, now, parseJson, type RequestContext } from '../context.js';
import { apiLog, findApp } from './apps.js';
import { recordEvent } from './audit-events.js';
import { findSpace } from './organizations.js';
import { page } from './query.js';
import { allowOnly, asObject, optionalInteger, optionalObject, optionalString, type Body } from './validate.js';

type ProcessRow = Database['processes'];

export const HEALTH_CHECK_TYPES = ['port', 'http', 'process'] as const;
export const MAX_MEMORY_MB = 32 * 1024;
export const MAX_DISK_MB = 64 * 1024;

export function presentProcess(row: ProcessRow, ctx: RequestContext, spaceGuid?: string) {
  const self = `${ctx.urls.api}/v3/processes/${row.guid}`;
  return {
    guid: row.guid,
    type: row.type,
    command: row.command,
    instances: row.instances,
    memory_in_mb: row.memory_in_mb,
    disk_in_mb: row.disk_in_mb,
    log_rate_limit_in_bytes_per_second: row.log_rate_limit_in_bytes_per_second,
    health_check: {
      type: row.health_check_type,
      data: {
        timeout: row.health_check_timeout,
        invocation_timeout: row.health_check_invocation_timeout,
        ...(row.health_check_type === 'http' ? { endpoint: row.health_check_endpoint ?? '/' } : {}),
      },
    },
    readiness_health_check: { type: 'process', data: { invocation_timeout: null } },
    relationships: { app: { data: { guid: row.app_guid } }, revision: null },
    metadata: parseJson(row.metadata, { labels: {}, annotations: {} }),
    created_at: row.created_at,
    updated_at: row.updated_at,
    version: row.version,
    links: {
      self: { href: self },
      scale: { href: `${self}/actions/scale`, method: 'POST' },
      app: { href: `${ctx.urls.api}/v3/apps/${row.app_guid}` },
      ...(spaceGuid ? { space: { href: `${ctx.urls.api}/v3/spaces/${spaceGuid}` } } : {}),
      stats: { href: `${self}/stats` },
    },
  };
}

async function findProcess(ctx: RequestContext, guid: string): Promise<ProcessRow> {
  const row = await ctx.db.selectFrom('processes').selectAll().where('guid', '=', guid).executeTakeFirst();
  if (!row) throw notFound('Process');
  return row;
}

async function findAppProcess(ctx: RequestContext, appGuid: string, type: string): Promise<ProcessRow> {
  await findApp(ctx, appGuid);
  const row = await ctx.db.selectFrom('processes').selectAll().where('app_guid', '=', appGuid).where('type', '=', type).executeTakeFirst();
  if (!row) throw notFound('Process');
  return row;
}

async function scale(ctx: RequestContext, process: ProcessRow, body: Body) {
  allowOnly(body, ['instances', 'memory_in_mb', 'disk_in_mb', 'log_rate_limit_in_bytes_per_second']);
  const instances = optionalInteger(body, 'instances', { min: 0, max: 1000 });
  const memory = optionalInteger(body, 'memory_in_mb', { min: 1, max: MAX_MEMORY_MB });
  const disk = optionalInteger(body, 'disk_in_mb', { min: 1, max: MAX_DISK_MB });
  const logRate = optionalInteger(body, 'log_rate_limit_in_bytes_per_second', { min: -1 });
  const updated: ProcessRow = {
    ...process,
    instances: instances ?? process.instances,
    memory_in_mb: memory ?? process.memory_in_mb,
    disk_in_mb: disk ?? process.disk_in_mb,
    log_rate_limit_in_bytes_per_second: logRate ?? process.log_rate_limit_in_bytes_per_second,
    // New limits need new instances; a change of instance count alone does not.
    version: memory !== undefined || disk !== undefined ? newGuid() : process.version,
    updated_at: now(),
  };
  await ctx.db
    .updateTable('processes')
    .set({ instances: updated.instances, memory_in_mb: updated.memory_in_mb, disk_in_mb: updated.disk_in_mb, log_rate_limit_in_bytes_per_second: updated.log_rate_limit_in_bytes_per_second, version: updated.version, updated_at: updated.updated_at })
    .where('guid', '=', process.guid)
    .execute();
  const app = await findApp(ctx, process.app_guid);
  const space = await findSpace(ctx, app.space_guid);
  await recordEvent(ctx.db, { type: 'audit.app.process.scale', actor: ctx.actor, target: { guid: app.guid, type: 'app', name: app.name }, spaceGuid: app.space_guid, organizationGuid: space.organization_guid, data: { process_guid: process.guid, process_type: process.type, request: body } });
  apiLog(ctx, app.guid, `Scaling app with guid ${app.guid} (${JSON.stringify(body)})`);
  await applyToInstances(ctx, app, process, updated);
  return presentProcess(updated, ctx, app.space_guid);
}

async function update(ctx: RequestContext, process: ProcessRow, body: Body) {
  allowOnly(body, ['command', 'health_check', 'metadata']);
  const command = body.command === null ? null : optionalString(body, 'command', { max: 4096 });
  const next: ProcessRow = { ...process, command: command === undefined ? process.command : command, updated_at: now() };
  const check = optionalObject(body, 'health_check');
  if (check) {
    allowOnly(check, ['type', 'data']);
    const type = optionalString(check, 'type') ?? process.health_check_type;
    if (!(HEALTH_CHECK_TYPES as readonly string[]).includes(type)) throw new ApiError('UnprocessableEntity', `Health check type must be one of: ${HEALTH_CHECK_TYPES.join(', ')}`);
    const data = optionalObject(check, 'data') ?? {};
    allowOnly(data, ['timeout', 'invocation_timeout', 'endpoint']);
    const timeout = optionalInteger(data, 'timeout', { min: 1, max: 600 });
    const invocation = optionalInteger(data, 'invocation_timeout', { min: 1, max: 600 });
    const endpoint = optionalString(data, 'endpoint', { max: 1024 });
    if (endpoint !== undefined && type !== 'http') throw new ApiError('UnprocessableEntity', 'Health check endpoint can only be set for the http health check type');
    if (endpoint !== undefined && !endpoint.startsWith('/')) throw new ApiError('UnprocessableEntity', 'Health check endpoint must be a path starting with /');
    next.health_check_type = type;
    next.health_check_endpoint = type === 'http' ? (endpoint ?? process.health_check_endpoint ?? '/') : null;
    next.health_check_timeout = timeout ?? process.health_check_timeout;
    next.health_check_invocation_timeout = invocation ?? process.health_check_invocation_timeout;
  }
  const changed = next.command !== process.command || next.health_check_type !== process.health_check_type || next.health_check_endpoint !== process.health_check_endpoint;
  if (changed) next.version = newGuid();
  await ctx.db
    .updateTable('processes')
    .set({ command: next.command, health_check_type: next.health_check_type, health_check_endpoint: next.health_check_endpoint, health_check_timeout: next.health_check_timeout, health_check_invocation_timeout: next.health_check_invocation_timeout, version: next.version, updated_at: next.updated_at })
    .where('guid', '=', process.guid)
    .execute();
  const app = await findApp(ctx, process.app_guid);
  const space = await findSpace(ctx, app.space_guid);
  await applyToInstances(ctx, app, process, next);
  await recordEvent(ctx.db, { type: 'audit.app.process.update', actor: ctx.actor, target: { guid: app.guid, type: 'app', name: app.name }, spaceGuid: app.space_guid, organizationGuid: space.organization_guid, data: { process_guid: process.guid, process_type: process.type, request: body } });
  return presentProcess(next, ctx, app.space_guid);
}

/**
 * Every instance index of a process with its state, as the DEAs report it (dea.find.droplet): the
 * newest instance of the current version per index; an index nobody runs is DOWN.
 */
async function processStats(ctx: RequestContext, process: ProcessRow) {
  const app = await findApp(ctx, process.app_guid);
  const reported = process.type === 'web' && app.state === 'STARTED' && ctx.runner ? await ctx.runner.instances(app.guid, undefined, { version: process.version, instances: process.instances }) : [];
  const rank = (state: string) => ({ RUNNING: 3, STARTING: 2, CRASHED: 1 })[state] ?? 0;
  const byIndex = new Map<number, (typeof reported)[number]>();
  for (const instance of reported) {
    if (instance.version !== process.version) continue;
    const seen = byIndex.get(instance.index);
    if (!seen || rank(instance.state) > rank(seen.state) || (rank(instance.state) === rank(seen.state) && instance.state_timestamp > seen.state_timestamp)) byIndex.set(instance.index, instance);
  }
  const resources = [...Array(app.state === 'STARTED' ? process.instances : 0).keys()].map((index) => {
    const instance = byIndex.get(index);
    const stats = instance?.stats;
    return {
      type: process.type,
      index,
      state: instance ? (instance.state === 'STOPPING' ? 'DOWN' : instance.state) : 'DOWN',
      usage: stats?.usage ? { time: stats.usage.time ?? new Date().toISOString(), cpu: stats.usage.cpu ?? 0, mem: stats.usage.mem ?? 0, disk: stats.usage.disk ?? 0 } : {},
      host: stats?.host ?? '',
      instance_guid: instance?.instance ?? null,
      instance_ports: stats?.port ? [{ external: stats.port, internal: stats.port }] : [],
      uptime: stats?.uptime ?? 0,
      mem_quota: stats?.mem_quota ?? process.memory_in_mb * 1024 * 1024,
      disk_quota: stats?.disk_quota ?? process.disk_in_mb * 1024 * 1024,
      fds_quota: stats?.fds_quota ?? 16384,
      isolation_segment: null,
      details: instance?.state === 'CRASHED' ? 'crashed' : null,
      since: instance ? Math.floor(instance.state_timestamp) : null,
    };
  });
  return { resources };
}

/** Running instances follow a change: a new version restarts them all, a new count adds or removes. */
async function applyToInstances(ctx: RequestContext, app: { guid: string; state: string }, before: ProcessRow, after: ProcessRow) {
  if (!ctx.runner || app.state !== 'STARTED' || before.type !== 'web') return;
  if (after.version !== before.version) {
    ctx.runner.stopApp(app.guid);
    await ctx.runner.startApp(app.guid);
  } else if (after.instances > before.instances) {
    await ctx.runner.startInstances(app.guid, [...Array(after.instances - before.instances).keys()].map((i) => before.instances + i));
  } else if (after.instances < before.instances) {
    ctx.runner.stopApp(app.guid, { indices: [...Array(before.instances - after.instances).keys()].map((i) => after.instances + i) });
  }
}

export function processRoutes(routes: Routes<RequestContext>): void {
  routes.get('/v3/processes', async (req, ctx) => {
    const params = listParams(req.query, ['created_at', 'updated_at']);
    let q = ctx.db.selectFrom('processes').selectAll();
    const types = filterList(req.query, 'types');
    const apps = filterList(req.query, 'app_guids');
    const guids = filterList(req.query, 'guids');
    if (types) q = q.where('type', 'in', types.length ? types : ['']);
    if (apps) q = q.where('app_guid', 'in', apps.length ? apps : ['']);
    if (guids) q = q.where('guid', 'in', guids.length ? guids : ['']);
    const { total, rows } = await page(q, params);
    return { body: paginated(ctx.urls.api, '/v3/processes', req.query, params, total, rows.map((r) => presentProcess(r, ctx))) };
  });
  routes.get('/v3/processes/:guid', async (req, ctx) => ({ body: presentProcess(await findProcess(ctx, req.params.guid), ctx) }));
  routes.patch('/v3/processes/:guid', async (req, ctx) => ({ body: await update(ctx, await findProcess(ctx, req.params.guid), asObject(req.body)) }));
  routes.post('/v3/processes/:guid/actions/scale', async (req, ctx) => ({ status: 202, body: await scale(ctx, await findProcess(ctx, req.params.guid), asObject(req.body)) }));

  routes.get('/v3/processes/:guid/stats', async (req, ctx) => ({ body: await processStats(ctx, await findProcess(ctx, req.params.guid)) }));
  routes.get('/v3/apps/:guid/processes/:type/stats', async (req, ctx) => ({ body: await processStats(ctx, await findAppProcess(ctx, req.params.guid, req.params.type)) }));

  routes.get('/v3/apps/:guid/processes', async (req, ctx) => {
    const app = await findApp(ctx, req.params.guid);
    const params = listParams(req.query, ['created_at', 'updated_at']);
    const { total, rows } = await page(ctx.db.selectFrom('processes').selectAll().where('app_guid', '=', app.guid), params);
    return { body: paginated(ctx.urls.api, `/v3/apps/${app.guid}/processes`, req.query, params, total, rows.map((r) => presentProcess(r, ctx, app.space_guid))) };
  });
  routes.get('/v3/apps/:guid/processes/:type', async (req, ctx) => ({ body: presentProcess(await findAppProcess(ctx, req.params.guid, req.params.type), ctx) }));
  routes.patch('/v3/apps/:guid/processes/:type', async (req, ctx) => ({ body: await update(ctx, await findAppProcess(ctx, req.params.guid, req.params.type), asObject(req.body)) }));
  routes.post('/v3/apps/:guid/processes/:type/actions/scale', async (req, ctx) => ({ status: 202, body: await scale(ctx, await findAppProcess(ctx, req.params.guid, req.params.type), asObject(req.body)) }));
}
