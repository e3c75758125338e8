// Builds and droplets: a build stages a package into a droplet on a DEA; an app runs its current
// droplet. The DEA uploads the droplet it made (`POST /v3/droplets/:guid/upload`) and downloads it
// again to run instances.
import fs from 'node:fs';
import { ApiError, notFound } from '../api/errors.js';
import type { Routes } from '../api/http.js';
import { filterList, listParams, paginated } from '../api/pagination.js';
import { SizeLimitError } from '../blobstore.js';
import type { Database } from '../db/schema.js';
import { newGuid, now, parseJson, type RequestContext } from '../context.js';
import { apiLog, findApp } from './apps.js';
import { recordEvent } from './audit-events.js';
import { findSpace } from './organizations.js';
import { findPackage } from './packages.js';
import { page } from './query.js';
import { allowOnly, asObject, optionalInteger, optionalObject } from './validate.js';

type BuildRow = Database['builds'];
type DropletRow = Database['droplets'];

export function presentBuild(row: BuildRow, ctx: RequestContext) {
  return {
    guid: row.guid,
    created_at: row.created_at,
    updated_at: row.updated_at,
    state: row.state,
    staging_memory_in_mb: row.staging_memory_in_mb,
    staging_disk_in_mb: row.staging_disk_in_mb,
    error: row.error,
    lifecycle: { type: 'buildpack', data: { buildpacks: parseJson<string[]>(row.buildpacks, []), stack: 'host' } },
    package: { guid: row.package_guid },
    droplet: row.droplet_guid && row.state === 'STAGED' ? { guid: row.droplet_guid } : null,
    created_by: parseJson(row.created_by, {}),
    relationships: { app: { data: { guid: row.app_guid } } },
    metadata: { labels: {}, annotations: {} },
    links: {
      self: { href: `${ctx.urls.api}/v3/builds/${row.guid}` },
      app: { href: `${ctx.urls.api}/v3/apps/${row.app_guid}` },
      ...(row.droplet_guid && row.state === 'STAGED' ? { droplet: { href: `${ctx.urls.api}/v3/droplets/${row.droplet_guid}` } } : {}),
    },
  };
}

export function presentDroplet(row: DropletRow, ctx: RequestContext) {
  const self = `${ctx.urls.api}/v3/droplets/${row.guid}`;
  return {
    guid: row.guid,
    state: row.state,
    error: row.error,
    lifecycle: { type: 'buildpack', data: {} },
    execution_metadata: '',
    process_types: parseJson(row.process_types, {}),
    checksum: row.sha1 ? { type: 'sha1', value: row.sha1 } : null,
    buildpacks: parseJson(row.buildpacks, []),
    stack: row.stack,
    image: null,
    created_at: row.created_at,
    updated_at: row.updated_at,
    relationships: { app: { data: { guid: row.app_guid } } },
    metadata: { labels: {}, annotations: {} },
    links: {
      self: { href: self },
      package: row.package_guid ? { href: `${ctx.urls.api}/v3/packages/${row.package_guid}` } : null,
      app: { href: `${ctx.urls.api}/v3/apps/${row.app_guid}` },
      assign_current_droplet: { href: `${ctx.urls.api}/v3/apps/${row.app_guid}/relationships/current_droplet`, method: 'PATCH' },
      download: { href: `${self}/download` },
    },
  };
}

async function findDroplet(ctx: RequestContext, guid: string): Promise<DropletRow> {
  const row = await ctx.db.selectFrom('droplets').selectAll().where('guid', '=', guid).executeTakeFirst();
  if (!row) throw notFound('Droplet');
  return row;
}

/** Makes `dropletGuid` the app's current droplet; running instances keep theirs until a restart. */
export async function assignDroplet(ctx: RequestContext, appGuid: string, dropletGuid: string) {
  const app = await findApp(ctx, appGuid);
  const droplet = await ctx.db.selectFrom('droplets').selectAll().where('guid', '=', dropletGuid).where('app_guid', '=', app.guid).executeTakeFirst();
  if (!droplet) throw new ApiError('UnprocessableEntity', 'Unable to assign current droplet. Ensure the droplet exists and belongs to this app.');
  if (droplet.state !== 'STAGED') throw new ApiError('UnprocessableEntity', `Unable to assign current droplet: the droplet is ${droplet.state}, not STAGED.`);
  await ctx.db.updateTable('apps').set({ droplet_guid: droplet.guid, updated_at: now() }).where('guid', '=', app.guid).execute();
  const space = await findSpace(ctx, app.space_guid);
  await recordEvent(ctx.db, { type: 'audit.app.droplet.mapped', actor: ctx.actor, target: { guid: app.guid, type: 'app', name: app.name }, spaceGuid: app.space_guid, organizationGuid: space.organization_guid, data: { request: { droplet_guid: droplet.guid } } });
  return droplet;
}

export function buildAndDropletRoutes(routes: Routes<RequestContext>): void {
  routes.post('/v3/builds', async (req, ctx) => {
    const body = asObject(req.body);
    allowOnly(body, ['package', 'lifecycle', 'staging_memory_in_mb', 'staging_disk_in_mb', 'metadata']);
    const pkgRef = optionalObject(body, 'package');
    if (typeof pkgRef?.guid !== 'string') throw new ApiError('UnprocessableEntity', 'Package guid must be given');
    const pkg = await findPackage(ctx, pkgRef.guid).catch(() => {
      throw new ApiError('UnprocessableEntity', 'Unable to use package. Ensure that the package exists and you have access to it.');
    });
    if (pkg.state !== 'READY') throw new ApiError('UnprocessableEntity', 'Unable to stage the package: it is not uploaded yet (state ' + pkg.state + ').');
    const app = await findApp(ctx, pkg.app_guid);
    const lifecycle = optionalObject(body, 'lifecycle');
    const data = lifecycle ? optionalObject(lifecycle, 'data') : undefined;
    const requested = data?.buildpacks ?? parseJson<string[]>(app.buildpacks, []);
    if (!Array.isArray(requested) || requested.some((b) => typeof b !== 'string')) throw new ApiError('UnprocessableEntity', 'Buildpacks must be an array of strings');
    const web = await ctx.db.selectFrom('processes').select(['memory_in_mb', 'disk_in_mb']).where('app_guid', '=', app.guid).where('type', '=', 'web').executeTakeFirst();
    const at = now();
    const row: BuildRow = {
      guid: newGuid(),
      app_guid: app.guid,
      package_guid: pkg.guid,
      droplet_guid: null,
      state: 'STAGING',
      error: null,
      buildpacks: JSON.stringify(requested),
      staging_memory_in_mb: optionalInteger(body, 'staging_memory_in_mb', { min: 1, max: 32768 }) ?? Math.max(1024, web?.memory_in_mb ?? 0),
      staging_disk_in_mb: optionalInteger(body, 'staging_disk_in_mb', { min: 1, max: 65536 }) ?? Math.max(2048, web?.disk_in_mb ?? 0),
      created_by: JSON.stringify({ guid: ctx.actor.guid, name: ctx.actor.name, email: '' }),
      created_at: at,
      updated_at: at,
    };
    await ctx.db.insertInto('builds').values(row).execute();
    const space = await findSpace(ctx, app.space_guid);
    await recordEvent(ctx.db, { type: 'audit.app.build.create', actor: ctx.actor, target: { guid: app.guid, type: 'app', name: app.name }, spaceGuid: app.space_guid, organizationGuid: space.organization_guid, data: { build_guid: row.guid, package_guid: pkg.guid } });
    apiLog(ctx, app.guid, `Creating build for app with guid ${app.guid}`);
    if (!ctx.runner) throw new ApiError('ServerError', 'staging is not available on this controller');
    const runner = ctx.runner;
    // An unchanged app's build is STAGED at once with the droplet it already has (docs/push.md).
    if (await runner.reuseDroplet(row)) {
      const staged = await ctx.db.selectFrom('builds').selectAll().where('guid', '=', row.guid).executeTakeFirstOrThrow();
      return { status: 201, body: presentBuild(staged, ctx) };
    }
    void runner.stage(row.guid).catch((error: Error) => ctx.log.error('staging failed', { build: row.guid, error: error.message }));
    return { status: 201, body: presentBuild(row, ctx) };
  });

  routes.get('/v3/builds', async (req, ctx) => {
    const params = listParams(req.query, ['created_at', 'updated_at']);
    let q = ctx.db.selectFrom('builds').selectAll();
    const apps = filterList(req.query, 'app_guids');
    const states = filterList(req.query, 'states');
    if (apps) q = q.where('app_guid', 'in', apps.length ? apps : ['']);
    if (states) q = q.where('state', 'in', states.length ? states : ['']);
    const { total, rows } = await page(q, params);
    return { body: paginated(ctx.urls.api, '/v3/builds', req.query, params, total, rows.map((r) => presentBuild(r, ctx))) };
  });

  routes.get('/v3/builds/:guid', async (req, ctx) => {
    const row = await ctx.db.selectFrom('builds').selectAll().where('guid', '=', req.params.guid).executeTakeFirst();
    if (!row) throw notFound('Build');
    return { body: presentBuild(row, ctx) };
  });

  routes.get('/v3/droplets/:guid', async (req, ctx) => ({ body: presentDroplet(await findDroplet(ctx, req.params.guid), ctx) }));

  routes.get('/v3/apps/:guid/droplets', async (req, ctx) => {
    const app = await findApp(ctx, req.params.guid);
    const params = listParams(req.query, ['created_at', 'updated_at']);
    const { total, rows } = await page(ctx.db.selectFrom('droplets').selectAll().where('app_guid', '=', app.guid), params);
    return { body: paginated(ctx.urls.api, `/v3/apps/${app.guid}/droplets`, req.query, params, total, rows.map((r) => presentDroplet(r, ctx))) };
  });

  routes.get('/v3/apps/:guid/droplets/current', async (req, ctx) => {
    const app = await findApp(ctx, req.params.guid);
    if (!app.droplet_guid) throw notFound('Droplet');
    return { body: presentDroplet(await findDroplet(ctx, app.droplet_guid), ctx) };
  });

  routes.patch('/v3/apps/:guid/relationships/current_droplet', async (req, ctx) => {
    await findApp(ctx, req.params.guid); // an unknown app is a 404 whatever the body says
    const body = asObject(req.body);
    allowOnly(body, ['data']);
    const data = optionalObject(body, 'data');
    if (typeof data?.guid !== 'string') throw new ApiError('UnprocessableEntity', 'Data guid must be given');
    const droplet = await assignDroplet(ctx, req.params.guid, data.guid);
    return {
      body: {
        data: { guid: droplet.guid },
        links: { self: { href: `${ctx.urls.api}/v3/apps/${req.params.guid}/relationships/current_droplet` }, related: { href: `${ctx.urls.api}/v3/apps/${req.params.guid}/droplets/current` } },
      },
    };
  });

  routes.add(
    'POST',
    '/v3/droplets/:guid/upload',
    async (req, ctx) => {
      const droplet = await findDroplet(ctx, req.params.guid);
      if (droplet.state !== 'STAGING' && droplet.state !== 'AWAITING_UPLOAD') throw new ApiError('UnprocessableEntity', `Droplet is ${droplet.state}; it cannot be uploaded again`);
      let stored: { sha1: string; size: number };
      try {
        stored = await ctx.blobstore.putDroplet(droplet.guid, req.raw, ctx.limits.maxPackageBytes * 2);
      } catch (error) {
        if (error instanceof SizeLimitError) throw new ApiError('RequestEntityTooLarge', `The droplet is larger than ${error.limit} bytes`);
        throw error;
      }
      await ctx.db.updateTable('droplets').set({ state: 'STAGED', sha1: stored.sha1, bytes: stored.size, updated_at: now() }).where('guid', '=', droplet.guid).execute();
      return { body: presentDroplet({ ...droplet, state: 'STAGED', sha1: stored.sha1, bytes: stored.size }, ctx) };
    },
    { rawBody: true },
  );

  routes.get('/v3/droplets/:guid/download', async (req, ctx) => {
    const droplet = await findDroplet(ctx, req.params.guid);
    if (droplet.state !== 'STAGED') throw new ApiError('UnprocessableEntity', `Droplet is ${droplet.state}; only a STAGED droplet can be downloaded`);
    const file = await ctx.blobstore.dropletFile(droplet.guid, droplet.sha1);
    if (!file) throw notFound('Droplet bits');
    return { headers: { 'Content-Type': 'application/gzip', 'Content-Length': String(droplet.bytes) }, stream: fs.createReadStream(file) };
  });
}
