// /v3/audit_events: what changed, by whom and when (actions record them through actions/audit.ts). Read only.
import type { RequestContext } from '../context.js';
import type { Routes } from '../http/routes.js';
import { listMessage, ORDER_BY_TIME } from '../messages/list.js';
import { presentAuditEvent } from '../presenters/audit-events.js';
import { paginated } from '../presenters/paginated.js';
import { AUDIT_EVENT_FILTERS, getAuditEvent, listAuditEvents } from '../repositories/audit-events.js';

export function auditEventRoutes(routes: Routes<RequestContext>): void {
  routes.get('/v3/audit_events', async (req, ctx) => {
    const message = listMessage(req.query, AUDIT_EVENT_FILTERS, ORDER_BY_TIME);
    const { total, rows } = await listAuditEvents(ctx.db, message);
    return { body: paginated(ctx.urls.api, '/v3/audit_events', req.query, message, total, rows.map((r) => presentAuditEvent(r, ctx))) };
  });

  routes.get('/v3/audit_events/:guid', async (req, ctx) => ({ body: presentAuditEvent(await getAuditEvent(ctx.db, req.params.guid), ctx) }));
}
