// Sidecars (CC v3): `POST /v3/apps/:guid/sidecars`, an app's and a process's lists, and one by guid
// (get, update, delete): thin routes over actions/sidecars.ts. cf asks for a process's in `cf app`.
import type { RequestContext } from '../context.js';
import type { Routes } from '../http/routes.js';
import { createSidecar, deleteSidecarAction, updateSidecarAction } from '../actions/sidecars.js';
import { listMessage, ORDER_BY_TIME } from '../messages/list.js';
import { sidecarCreateMessage, sidecarUpdateMessage } from '../messages/sidecars.js';
import { paginated } from '../presenters/paginated.js';
import { presentSidecar } from '../presenters/sidecars.js';
import { getApp, getProcess } from '../repositories/apps.js';
import { getSidecar, listSidecars } from '../repositories/sidecars.js';

export function sidecarRoutes(routes: Routes<RequestContext>): void {
  routes.post('/v3/apps/:guid/sidecars', async (req, ctx) => {
    const app = await getApp(ctx.db, req.params.guid);
    return { status: 201, body: presentSidecar(await createSidecar(ctx, app, sidecarCreateMessage(req.body))) };
  });

  routes.get('/v3/apps/:guid/sidecars', async (req, ctx) => {
    const app = await getApp(ctx.db, req.params.guid);
    const message = listMessage(req.query, [], ORDER_BY_TIME);
    const { total, rows } = await listSidecars(ctx.db, message, app.guid);
    return { body: paginated(ctx.urls.api, `/v3/apps/${app.guid}/sidecars`, req.query, message, total, rows.map(presentSidecar)) };
  });

  routes.get('/v3/processes/:guid/sidecars', async (req, ctx) => {
    const process = await getProcess(ctx.db, req.params.guid);
    const message = listMessage(req.query, [], ORDER_BY_TIME);
    const { total, rows } = await listSidecars(ctx.db, message, process.app_guid, process.type);
    return { body: paginated(ctx.urls.api, `/v3/processes/${process.guid}/sidecars`, req.query, message, total, rows.map(presentSidecar)) };
  });

  routes.get('/v3/sidecars/:guid', async (req, ctx) => ({ body: presentSidecar(await getSidecar(ctx.db, req.params.guid)) }));

  routes.patch('/v3/sidecars/:guid', async (req, ctx) => {
    const sidecar = await getSidecar(ctx.db, req.params.guid);
    return { body: presentSidecar(await updateSidecarAction(ctx, sidecar, sidecarUpdateMessage(req.body))) };
  });

  routes.delete('/v3/sidecars/:guid', async (req, ctx) => {
    await deleteSidecarAction(ctx, await getSidecar(ctx.db, req.params.guid));
    return { status: 204 };
  });
}
