// /v3/feature_flags: Cloud Controller's flags at their defaults, read only (devbox lets nobody
// change them). cf reads `service_instance_sharing` for `cf service`.
import type { RequestContext } from '../context.js';
import { notFound } from '../errors.js';
import type { Routes } from '../http/routes.js';
import { listMessage, ORDER_BY_NAME } from '../messages/list.js';
import { paginated } from '../presenters/paginated.js';
import { presentFeatureFlag } from '../presenters/platform.js';
import { FEATURE_FLAGS, pageOfRows } from '../repositories/platform.js';

export function featureFlagRoutes(routes: Routes<RequestContext>): void {
  routes.get('/v3/feature_flags', (req, ctx) => {
    const message = listMessage(req.query, [], ORDER_BY_NAME);
    // Cloud Controller lists them by name whatever the created_at default says.
    const byName = message.orderBy === 'created_at' || message.orderBy === 'updated_at' ? { ...message, orderBy: 'name' } : message;
    const { total, rows } = pageOfRows(FEATURE_FLAGS, byName, {});
    return { body: paginated(ctx.urls.api, '/v3/feature_flags', req.query, message, total, rows.map((r) => presentFeatureFlag(r, ctx))) };
  });

  routes.get('/v3/feature_flags/:name', (req, ctx) => {
    const flag = FEATURE_FLAGS.find((f) => f.name === req.params.name);
    if (!flag) throw notFound('Feature flag');
    return { body: presentFeatureFlag(flag, ctx) };
  });
}
