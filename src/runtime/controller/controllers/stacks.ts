// /v3/stacks and /v3/buildpacks: read only. devbox has one stack, `host` (apps run on the machine
// itself), and the DEA's built-in buildpacks; neither can be created, changed or deleted.
import type { RequestContext } from '../context.js';
import { notFound } from '../errors.js';
import type { Routes } from '../http/routes.js';
import { listMessage, ORDER_BY_NAME, ORDER_BY_TIME } from '../messages/list.js';
import { paginated } from '../presenters/paginated.js';
import { presentBuildpack, presentStack } from '../presenters/platform.js';
import { buildpackRows, pageOfRows, platformCreatedAt, stackRows } from '../repositories/platform.js';

const STACK_FILTERS = ['names'] as const;
const BUILDPACK_FILTERS = ['names', 'stacks'] as const;

export function stackRoutes(routes: Routes<RequestContext>): void {
  routes.get('/v3/stacks', async (req, ctx) => {
    const message = listMessage(req.query, STACK_FILTERS, ORDER_BY_NAME);
    const { total, rows } = pageOfRows(stackRows(await platformCreatedAt(ctx.db)), message, { names: 'name' });
    return { body: paginated(ctx.urls.api, '/v3/stacks', req.query, message, total, rows.map((r) => presentStack(r, ctx))) };
  });

  routes.get('/v3/stacks/:guid', async (req, ctx) => {
    const stack = stackRows(await platformCreatedAt(ctx.db)).find((s) => s.guid === req.params.guid);
    if (!stack) throw notFound('Stack');
    return { body: presentStack(stack, ctx) };
  });

  routes.get('/v3/buildpacks', async (req, ctx) => {
    const message = listMessage(req.query, BUILDPACK_FILTERS, [...ORDER_BY_TIME, 'position']);
    // The built-ins share one creation time: unordered, they come in detection order.
    const ordered = req.query.has('order_by') ? message : { ...message, orderBy: 'position' };
    const { total, rows } = pageOfRows(buildpackRows(await platformCreatedAt(ctx.db)), ordered, { names: 'name', stacks: 'stack' });
    return { body: paginated(ctx.urls.api, '/v3/buildpacks', req.query, message, total, rows.map((r) => presentBuildpack(r, ctx))) };
  });

  routes.get('/v3/buildpacks/:guid', async (req, ctx) => {
    const buildpack = buildpackRows(await platformCreatedAt(ctx.db)).find((b) => b.guid === req.params.guid);
    if (!buildpack) throw notFound('Buildpack');
    return { body: presentBuildpack(buildpack, ctx) };
  });
}
