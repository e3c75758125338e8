// /v3/builds and /v3/droplets: thin routes over actions/staging.ts. The DEA uploads the droplet it
// made (`POST /v3/droplets/:guid/upload`) and downloads it again to run instances.
import fs from 'node:fs';
import { ApiError, notFound, unprocessable } from '../errors.js';
import type { RequestContext } from '../context.js';
import type { Routes } from '../http/routes.js';
import { SizeLimitError } from '../blobstore.js';
import { assignDroplet, createBuild, dropletUploaded } from '../actions/staging.js';
import { buildCreateMessage, currentDropletMessage } from '../messages/builds.js';
import { listMessage, ORDER_BY_TIME } from '../messages/list.js';
import { presentBuild, presentCurrentDroplet, presentDroplet } from '../presenters/droplets.js';
import { paginated } from '../presenters/paginated.js';
import { getApp } from '../repositories/apps.js';
import { BUILD_FILTERS, getBuild, getDroplet, listAppDroplets, listBuilds } from '../repositories/droplets.js';

export function buildAndDropletRoutes(routes: Routes<RequestContext>): void {
  routes.post('/v3/builds', async (req, ctx) => ({ status: 201, body: presentBuild(await createBuild(ctx, buildCreateMessage(req.body)), ctx) }));

  routes.get('/v3/builds', async (req, ctx) => {
    const message = listMessage(req.query, BUILD_FILTERS, ORDER_BY_TIME);
    const { total, rows } = await listBuilds(ctx.db, message);
    return { body: paginated(ctx.urls.api, '/v3/builds', req.query, message, total, rows.map((r) => presentBuild(r, ctx))) };
  });

  routes.get('/v3/builds/:guid', async (req, ctx) => ({ body: presentBuild(await getBuild(ctx.db, req.params.guid), ctx) }));

  routes.get('/v3/droplets/:guid', async (req, ctx) => ({ body: presentDroplet(await getDroplet(ctx.db, req.params.guid), ctx) }));

  routes.get('/v3/apps/:guid/droplets', async (req, ctx) => {
    const app = await getApp(ctx.db, req.params.guid);
    const message = listMessage(req.query, [], ORDER_BY_TIME);
    const { total, rows } = await listAppDroplets(ctx.db, app.guid, message);
    return { body: paginated(ctx.urls.api, `/v3/apps/${app.guid}/droplets`, req.query, message, total, rows.map((r) => presentDroplet(r, ctx))) };
  });

  routes.get('/v3/apps/:guid/droplets/current', async (req, ctx) => {
    const app = await getApp(ctx.db, req.params.guid);
    if (!app.droplet_guid) throw notFound('Droplet');
    return { body: presentDroplet(await getDroplet(ctx.db, app.droplet_guid), ctx) };
  });

  routes.patch('/v3/apps/:guid/relationships/current_droplet', async (req, ctx) => {
    const app = await getApp(ctx.db, req.params.guid); // an unknown app is a 404 whatever the body says
    const droplet = await assignDroplet(ctx, app, currentDropletMessage(req.body).dropletGuid);
    return { body: presentCurrentDroplet(app.guid, droplet.guid, ctx) };
  });

  routes.add(
    'POST',
    '/v3/droplets/:guid/upload',
    async (req, ctx) => {
      const droplet = await getDroplet(ctx.db, req.params.guid);
      if (droplet.state !== 'STAGING' && droplet.state !== 'AWAITING_UPLOAD') throw unprocessable(`Droplet is ${droplet.state}; it cannot be uploaded again`);
      let stored: { sha1: string; size: number };
      try {
        stored = await ctx.blobstore.putDroplet(droplet.guid, req.raw, ctx.limits.maxPackageBytes * 2);
      } catch (error) {
        if (error instanceof SizeLimitError) throw new ApiError('RequestEntityTooLarge', `The droplet is larger than ${error.limit} bytes`);
        throw error;
      }
      return { body: presentDroplet(await dropletUploaded(ctx.db, droplet, { sha1: stored.sha1, bytes: stored.size }), ctx) };
    },
    { rawBody: true },
  );

  routes.get('/v3/droplets/:guid/download', async (req, ctx) => {
    const droplet = await getDroplet(ctx.db, req.params.guid);
    if (droplet.state !== 'STAGED') throw unprocessable(`Droplet is ${droplet.state}; only a STAGED droplet can be downloaded`);
    const file = await ctx.blobstore.dropletFile(droplet.guid, droplet.sha1);
    if (!file) throw notFound('Droplet bits');
    return { headers: { 'Content-Type': 'application/gzip', 'Content-Length': String(droplet.bytes) }, stream: fs.createReadStream(file) };
  });
}
