// App features (`/v3/apps/:guid/features[/:name]`, `/v3/apps/:guid/ssh_enabled`) and the space
// feature ssh (`/v3/spaces/:guid/features[/:name]`), as CC v3's AppFeaturesController and
// SpaceFeaturesController: what cf's enable-ssh, disable-ssh, ssh-enabled, allow-space-ssh,
// disallow-space-ssh and space-ssh-allowed ask. Anyone who can see the app or space reads them;
// changing them is checked in actions/features.ts. The app or space and the feature are looked up
// before the body is read (Cloud Controller's order for app features): an unknown one is a 404
// whatever the body.
import { notFound } from '../errors.js';
import type { RequestContext } from '../context.js';
import type { Routes } from '../http/routes.js';
import { updateAppFeature, updateSpaceSshFeature } from '../actions/features.js';
import { featureUpdateMessage } from '../messages/features.js';
import { presentAppFeature, presentAppFeatures, presentSpaceSshFeature, presentSshStatus } from '../presenters/features.js';
import { getApp, isAppFeature, type AppFeatureName } from '../repositories/apps.js';
import { getSpace } from '../repositories/spaces.js';

const SPACE_FEATURE = 'ssh';

function appFeatureName(name: string): AppFeatureName {
  if (!isAppFeature(name)) throw notFound('Feature');
  return name;
}

export function featureRoutes(routes: Routes<RequestContext>): void {
  routes.get('/v3/apps/:guid/features', async (req, ctx) => ({ body: presentAppFeatures(await getApp(ctx.db, req.params.guid), ctx) }));

  routes.get('/v3/apps/:guid/features/:name', async (req, ctx) => {
    const app = await getApp(ctx.db, req.params.guid);
    return { body: presentAppFeature(app, appFeatureName(req.params.name)) };
  });

  routes.patch('/v3/apps/:guid/features/:name', async (req, ctx) => {
    const app = await getApp(ctx.db, req.params.guid);
    const name = appFeatureName(req.params.name);
    const message = featureUpdateMessage(req.body);
    return { body: presentAppFeature(await updateAppFeature(ctx, app, name, message), name) };
  });

  routes.get('/v3/apps/:guid/ssh_enabled', async (req, ctx) => {
    const app = await getApp(ctx.db, req.params.guid);
    return { body: presentSshStatus(app, await getSpace(ctx.db, app.space_guid)) };
  });

  // Cloud Controller's space feature list has no pagination, only the resources.
  routes.get('/v3/spaces/:guid/features', async (req, ctx) => ({ body: { resources: [presentSpaceSshFeature(await getSpace(ctx.db, req.params.guid))] } }));

  routes.get('/v3/spaces/:guid/features/:name', async (req, ctx) => {
    const space = await getSpace(ctx.db, req.params.guid);
    if (req.params.name !== SPACE_FEATURE) throw notFound('Feature');
    return { body: presentSpaceSshFeature(space) };
  });

  routes.patch('/v3/spaces/:guid/features/:name', async (req, ctx) => {
    const space = await getSpace(ctx.db, req.params.guid);
    if (req.params.name !== SPACE_FEATURE) throw notFound('Feature');
    const message = featureUpdateMessage(req.body);
    return { body: presentSpaceSshFeature(await updateSpaceSshFeature(ctx, space, message)) };
  });
}
