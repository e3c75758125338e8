// Rendering audit events as v3 resources.
import type { Urls } from '../context.js';
import type { AuditEventRow } from '../repositories/audit-events.js';
import { jsonColumn } from '../repositories/query.js';

type Ctx = { urls: Urls };

export function presentAuditEvent(row: AuditEventRow, ctx: Ctx) {
  return {
    guid: row.guid,
    created_at: row.created_at,
    updated_at: row.updated_at,
    type: row.type,
    actor: { guid: row.actor_guid, type: row.actor_type, name: row.actor_name },
    target: { guid: row.target_guid, type: row.target_type, name: row.target_name },
    data: jsonColumn('audit_events', row, 'data', {} as Record<string, unknown>),
    space: row.space_guid ? { guid: row.space_guid } : null,
    organization: row.organization_guid ? { guid: row.organization_guid } : null,
    links: { self: { href: `${ctx.urls.api}/v3/audit_events/${row.guid}` } },
  };
}
