// /v3/packages and /v3/resource_matches: thin routes over actions/packages.ts. The upload streams
// the raw request body; the download streams the package as a tarball.
import type { RequestContext } from '../context.js';
import type { Routes } from '../http/routes.js';
import { createPackage, matchResources, packageTarball, uploadPackage } from '../actions/packages.js';
import { listMessage, ORDER_BY_TIME } from '../messages/list.js';
import { packageUploadMessage } from '../messages/package-upload.js';
import { packageCreateMessage, resourceMatchesMessage } from '../messages/packages.js';
import { presentPackage, presentResourceMatches } from '../presenters/packages.js';
import { presentDroplet } from '../presenters/droplets.js';
import { paginated } from '../presenters/paginated.js';
import { getApp } from '../repositories/apps.js';
import { listPackageDroplets, PACKAGE_DROPLET_FILTERS } from '../repositories/droplets.js';
import { getPackage, listAppPackages, listPackages, PACKAGE_FILTERS } from '../repositories/packages.js';

export function packageRoutes(routes: Routes<RequestContext>): void {
  routes.post('/v3/resource_matches', async (req, ctx) => ({ status: 201, body: presentResourceMatches(await matchResources(ctx, resourceMatchesMessage(req.body))) }));

  routes.get('/v3/packages', async (req, ctx) => {
    const message = listMessage(req.query, PACKAGE_FILTERS, ORDER_BY_TIME);
    const { total, rows } = await listPackages(ctx.db, message);
    return { body: paginated(ctx.urls.api, '/v3/packages', req.query, message, total, rows.map((r) => presentPackage(r, ctx))) };
  });

  routes.get('/v3/apps/:guid/packages', async (req, ctx) => {
    const app = await getApp(ctx.db, req.params.guid);
    const message = listMessage(req.query, [], ORDER_BY_TIME);
    const { total, rows } = await listAppPackages(ctx.db, app.guid, message);
    return { body: paginated(ctx.urls.api, `/v3/apps/${app.guid}/packages`, req.query, message, total, rows.map((r) => presentPackage(r, ctx))) };
  });

  // The droplets staged from the package (cf start asks for the STAGED one of the newest package).
  routes.get('/v3/packages/:guid/droplets', async (req, ctx) => {
    const pkg = await getPackage(ctx.db, req.params.guid);
    const message = listMessage(req.query, PACKAGE_DROPLET_FILTERS, ORDER_BY_TIME);
    const { total, rows } = await listPackageDroplets(ctx.db, pkg.guid, message);
    return { body: paginated(ctx.urls.api, `/v3/packages/${pkg.guid}/droplets`, req.query, message, total, rows.map((r) => presentDroplet(r, ctx))) };
  });

  routes.get('/v3/packages/:guid', async (req, ctx) => ({ body: presentPackage(await getPackage(ctx.db, req.params.guid), ctx) }));

  routes.post('/v3/packages', async (req, ctx) => ({ status: 201, body: presentPackage(await createPackage(ctx, packageCreateMessage(req.body)), ctx) }));

  routes.add(
    'POST',
    '/v3/packages/:guid/upload',
    async (req, ctx) => {
      const pkg = await getPackage(ctx.db, req.params.guid);
      return { body: presentPackage(await uploadPackage(ctx, pkg, packageUploadMessage(req.raw, ctx.limits.maxPackageBytes)), ctx) };
    },
    { rawBody: true },
  );

  routes.get('/v3/packages/:guid/download', async (req, ctx) => {
    const pkg = await getPackage(ctx.db, req.params.guid);
    return { status: 200, headers: { 'Content-Type': 'application/gzip' }, stream: packageTarball(ctx, pkg) };
  });
}
