// Space manifests and an app's manifest: `POST /v3/spaces/:guid/actions/apply_manifest` (202 and a
// job), `POST /v3/spaces/:guid/manifest_diff` and `GET /v3/apps/:guid/manifest` (YAML). The bodies
// are YAML, read by the message; the route table declares them raw.
import { Readable } from 'node:stream';
import type { RequestContext } from '../context.js';
import type { Routes } from '../http/routes.js';
import { appManifestParts, applyManifest, manifestDiff } from '../actions/manifests.js';
import { manifestMessage, readManifestBody } from '../messages/manifests.js';
import { appManifestHash, manifestYaml } from '../presenters/manifests.js';
import { getApp } from '../repositories/apps.js';
import { getSpace } from '../repositories/spaces.js';
import { jobAccepted } from './jobs.js';

export function manifestRoutes(routes: Routes<RequestContext>): void {
  routes.add(
    'POST',
    '/v3/spaces/:guid/actions/apply_manifest',
    async (req, ctx) => {
      const space = await getSpace(ctx.db, req.params.guid);
      const message = manifestMessage(await readManifestBody(req.raw));
      const job = await applyManifest(ctx, space, message);
      return jobAccepted(ctx, job.guid);
    },
    { rawBody: true },
  );

  routes.add(
    'POST',
    '/v3/spaces/:guid/manifest_diff',
    async (req, ctx) => {
      const space = await getSpace(ctx.db, req.params.guid);
      const message = manifestMessage(await readManifestBody(req.raw));
      return { status: 201, body: { diff: await manifestDiff(ctx, space, message) } };
    },
    { rawBody: true },
  );

  routes.get('/v3/apps/:guid/manifest', async (req, ctx) => {
    const app = await getApp(ctx.db, req.params.guid);
    const text = manifestYaml([appManifestHash(await appManifestParts(ctx.db, app))]);
    return { headers: { 'Content-Type': 'application/x-yaml', 'Content-Length': String(Buffer.byteLength(text)) }, stream: Readable.from([Buffer.from(text)]) };
  });
}
