// /v3/apps: thin routes. Each parses its request (messages/), calls one action (actions/) and
// renders the result (presenters/).
import type { RequestContext } from '../context.js';
import type { Routes } from '../http/routes.js';
import { createApp, deleteAppAction, restartAppAction, startAppAction, stopAppAction, updateAppAction, updateEnvironment } from '../actions/apps.js';
import { loadVcapApplication } from '../environment/vcap-application.js';
import { serviceEntries } from '../environment/vcap-services.js';
import { jobAccepted } from './jobs.js';
import { appCreateMessage, appUpdateMessage, environmentUpdateMessage } from '../messages/apps.js';
import { listMessage } from '../messages/list.js';
import { presentApp, presentAppEnvironment, presentEnvironmentVariables } from '../presenters/apps.js';
import { paginated } from '../presenters/paginated.js';
import { APP_FILTERS, getApp, getAppProcess, listApps } from '../repositories/apps.js';

export function appRoutes(routes: Routes<RequestContext>): void {
  routes.get('/v3/apps', async (req, ctx) => {
    const message = listMessage(req.query, APP_FILTERS);
    const { total, rows } = await listApps(ctx.db, message);
    return { body: paginated(ctx.urls.api, '/v3/apps', req.query, message, total, rows.map((r) => presentApp(r, ctx))) };
  });

  routes.get('/v3/apps/:guid', async (req, ctx) => ({ body: presentApp(await getApp(ctx.db, req.params.guid), ctx) }));

  routes.post('/v3/apps', async (req, ctx) => ({ status: 201, body: presentApp(await createApp(ctx, appCreateMessage(req.body)), ctx) }));

  routes.patch('/v3/apps/:guid', async (req, ctx) => {
    const app = await getApp(ctx.db, req.params.guid);
    return { body: presentApp(await updateAppAction(ctx, app, appUpdateMessage(req.body)), ctx) };
  });

  routes.delete('/v3/apps/:guid', async (req, ctx) => {
    const job = await deleteAppAction(ctx, await getApp(ctx.db, req.params.guid));
    return jobAccepted(ctx, job.guid);
  });

  routes.post('/v3/apps/:guid/actions/start', async (req, ctx) => ({ body: presentApp(await startAppAction(ctx, await getApp(ctx.db, req.params.guid)), ctx) }));
  routes.post('/v3/apps/:guid/actions/stop', async (req, ctx) => ({ body: presentApp(await stopAppAction(ctx, await getApp(ctx.db, req.params.guid)), ctx) }));
  routes.post('/v3/apps/:guid/actions/restart', async (req, ctx) => ({ body: presentApp(await restartAppAction(ctx, await getApp(ctx.db, req.params.guid)), ctx) }));

  routes.get('/v3/apps/:guid/environment_variables', async (req, ctx) => ({ body: presentEnvironmentVariables(await getApp(ctx.db, req.params.guid), ctx) }));

  routes.patch('/v3/apps/:guid/environment_variables', async (req, ctx) => {
    const app = await getApp(ctx.db, req.params.guid);
    return { body: presentEnvironmentVariables(await updateEnvironment(ctx, app, environmentUpdateMessage(req.body)), ctx) };
  });

  routes.get('/v3/apps/:guid/env', async (req, ctx) => {
    const app = await getApp(ctx.db, req.params.guid);
    const web = await getAppProcess(ctx.db, app.guid, 'web');
    return { body: presentAppEnvironment(app, await loadVcapApplication(ctx.db, app, web, ctx.urls.api), await serviceEntries(ctx.db, app.guid)) };
  });
}

