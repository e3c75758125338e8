// /v3/processes and /v3/apps/:guid/processes: thin routes over actions/processes.ts.
import type { RequestContext } from '../context.js';
import type { Routes } from '../http/routes.js';
import { restartInstance } from '../actions/instances.js';
import { processInstances, scaleProcess, updateProcessAction } from '../actions/processes.js';
import { listMessage, ORDER_BY_TIME } from '../messages/list.js';
import { processScaleMessage, processUpdateMessage } from '../messages/processes.js';
import { paginated } from '../presenters/paginated.js';
import { presentProcess, presentProcessStats } from '../presenters/processes.js';
import { getApp, getAppProcess, getProcess, listAppProcesses, listProcesses, PROCESS_FILTERS, type ProcessRow } from '../repositories/apps.js';

/** The process of `/v3/apps/:guid/processes/:type` (an unknown app is a 404 of the app). */
async function appProcess(ctx: RequestContext, appGuid: string, type: string): Promise<ProcessRow> {
  await getApp(ctx.db, appGuid);
  return getAppProcess(ctx.db, appGuid, type);
}

export function processRoutes(routes: Routes<RequestContext>): void {
  routes.get('/v3/processes', async (req, ctx) => {
    const message = listMessage(req.query, PROCESS_FILTERS, ORDER_BY_TIME);
    const { total, rows } = await listProcesses(ctx.db, message);
    return { body: paginated(ctx.urls.api, '/v3/processes', req.query, message, total, rows.map((r) => presentProcess(r, ctx))) };
  });

  const scale = async (ctx: RequestContext, process: ProcessRow, body: unknown) => {
    const { process: scaled, app } = await scaleProcess(ctx, process, processScaleMessage(body));
    return { status: 202, body: presentProcess(scaled, ctx, app.space_guid) };
  };
  const update = async (ctx: RequestContext, process: ProcessRow, body: unknown) => {
    const { process: updated, app } = await updateProcessAction(ctx, process, processUpdateMessage(body));
    return { body: presentProcess(updated, ctx, app.space_guid) };
  };
  const stats = async (ctx: RequestContext, process: ProcessRow) => ({ body: presentProcessStats(process, (await processInstances(ctx, process)).indices) });

  routes.get('/v3/processes/:guid', async (req, ctx) => ({ body: presentProcess(await getProcess(ctx.db, req.params.guid), ctx) }));
  routes.patch('/v3/processes/:guid', async (req, ctx) => update(ctx, await getProcess(ctx.db, req.params.guid), req.body));
  routes.post('/v3/processes/:guid/actions/scale', async (req, ctx) => scale(ctx, await getProcess(ctx.db, req.params.guid), req.body));
  routes.get('/v3/processes/:guid/stats', async (req, ctx) => stats(ctx, await getProcess(ctx.db, req.params.guid)));

  routes.get('/v3/apps/:guid/processes', async (req, ctx) => {
    const app = await getApp(ctx.db, req.params.guid);
    const message = listMessage(req.query, [], ORDER_BY_TIME);
    const { total, rows } = await listAppProcesses(ctx.db, app.guid, message);
    return { body: paginated(ctx.urls.api, `/v3/apps/${app.guid}/processes`, req.query, message, total, rows.map((r) => presentProcess(r, ctx, app.space_guid))) };
  });
  routes.get('/v3/apps/:guid/processes/:type', async (req, ctx) => ({ body: presentProcess(await appProcess(ctx, req.params.guid, req.params.type), ctx) }));
  routes.patch('/v3/apps/:guid/processes/:type', async (req, ctx) => update(ctx, await appProcess(ctx, req.params.guid, req.params.type), req.body));
  routes.post('/v3/apps/:guid/processes/:type/actions/scale', async (req, ctx) => scale(ctx, await appProcess(ctx, req.params.guid, req.params.type), req.body));
  routes.get('/v3/apps/:guid/processes/:type/stats', async (req, ctx) => stats(ctx, await appProcess(ctx, req.params.guid, req.params.type)));
}

/** `DELETE /v3/processes/:guid/instances/:index` and its `/v3/apps/:guid/processes/:type/...` twin (cf restart-app-instance): 204; the instance comes back. */
export function processInstanceRoutes(routes: Routes<RequestContext>): void {
  const restart = async (ctx: RequestContext, process: ProcessRow, index: string) => {
    await restartInstance(ctx, process, /^\d+$/.test(index) ? Number(index) : -1);
    return { status: 204 };
  };
  routes.delete('/v3/processes/:guid/instances/:index', async (req, ctx) => restart(ctx, await getProcess(ctx.db, req.params.guid), req.params.index));
  routes.delete('/v3/apps/:guid/processes/:type/instances/:index', async (req, ctx) => restart(ctx, await appProcess(ctx, req.params.guid, req.params.type), req.params.index));
}
