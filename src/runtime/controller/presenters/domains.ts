// Rendering domains as v3 resources.
import type { Metadata, Urls } from '../context.js';
import type { DomainRow } from '../repositories/domains.js';
import { jsonColumn } from '../repositories/query.js';

type Ctx = { urls: Urls };

export function presentDomain(row: DomainRow, ctx: Ctx) {
  return {
    guid: row.guid,
    created_at: row.created_at,
    updated_at: row.updated_at,
    name: row.name,
    internal: row.internal === 1,
    router_group: null,
    supported_protocols: ['http'],
    metadata: jsonColumn<Metadata, DomainRow, 'metadata'>('domains', row, 'metadata', { labels: {}, annotations: {} }),
    relationships: {
      organization: { data: row.organization_guid ? { guid: row.organization_guid } : null },
      shared_organizations: { data: [] },
    },
    links: {
      self: { href: `${ctx.urls.api}/v3/domains/${row.guid}` },
      route_reservations: { href: `${ctx.urls.api}/v3/domains/${row.guid}/route_reservations` },
    },
  };
}
