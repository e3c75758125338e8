// /v3/tasks and /v3/apps/:guid/tasks: thin routes over actions/tasks.ts.
import type { RequestContext } from '../context.js';
import type { Routes } from '../http/routes.js';
import { cancelTask, createTask } from '../actions/tasks.js';
import { listMessage, ORDER_BY_TIME } from '../messages/list.js';
import { metadataUpdate } from '../messages/validate.js';
import { taskCreateMessage, taskUpdateMessage } from '../messages/tasks.js';
import { paginated } from '../presenters/paginated.js';
import { presentTask } from '../presenters/tasks.js';
import { getApp } from '../repositories/apps.js';
import { jsonColumn } from '../repositories/query.js';
import { getTask, listTasks, TASK_FILTERS } from '../repositories/tasks.js';

export function taskRoutes(routes: Routes<RequestContext>): void {
  routes.post('/v3/apps/:guid/tasks', async (req, ctx) => {
    const app = await getApp(ctx.db, req.params.guid);
    return { status: 202, body: presentTask(await createTask(ctx, app, taskCreateMessage(req.body)), ctx) };
  });
  routes.get('/v3/apps/:guid/tasks', async (req, ctx) => {
    const app = await getApp(ctx.db, req.params.guid);
    const message = listMessage(req.query, TASK_FILTERS, ORDER_BY_TIME);
    const { total, rows } = await listTasks(ctx.db, message, app.guid);
    return { body: paginated(ctx.urls.api, `/v3/apps/${app.guid}/tasks`, req.query, message, total, rows.map((r) => presentTask(r, ctx))) };
  });
  routes.get('/v3/tasks', async (req, ctx) => {
    const message = listMessage(req.query, TASK_FILTERS, ORDER_BY_TIME);
    const { total, rows } = await listTasks(ctx.db, message);
    return { body: paginated(ctx.urls.api, '/v3/tasks', req.query, message, total, rows.map((r) => presentTask(r, ctx))) };
  });
  routes.get('/v3/tasks/:guid', async (req, ctx) => ({ body: presentTask(await getTask(ctx.db, req.params.guid), ctx) }));
  routes.patch('/v3/tasks/:guid', async (req, ctx) => {
    const task = await getTask(ctx.db, req.params.guid);
    const metadata = JSON.stringify(metadataUpdate(taskUpdateMessage(req.body), jsonColumn('tasks', task, 'metadata', { labels: {}, annotations: {} })));
    await ctx.db.updateTable('tasks').set({ metadata }).where('guid', '=', task.guid).execute();
    return { body: presentTask({ ...task, metadata }, ctx) };
  });
  const cancel = async (ctx: RequestContext, guid: string) => ({ status: 202, body: presentTask(await cancelTask(ctx, await getTask(ctx.db, guid)), ctx) });
  routes.post('/v3/tasks/:guid/actions/cancel', async (req, ctx) => cancel(ctx, req.params.guid));
  // Cloud Controller's older form, still answered.
  routes.put('/v3/tasks/:guid/cancel', async (req, ctx) => cancel(ctx, req.params.guid));
}
