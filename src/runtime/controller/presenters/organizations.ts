// Rendering organizations and spaces as v3 resources.
import type { Metadata, Urls } from '../context.js';
import { DEFAULT_QUOTA_GUID } from '../repositories/platform.js';
import { jsonColumn } from '../repositories/query.js';
import type { OrganizationRow, SpaceRow } from '../repositories/spaces.js';

type Ctx = { urls: Urls };

export function presentOrganization(row: OrganizationRow, ctx: Ctx) {
  const self = `${ctx.urls.api}/v3/organizations/${row.guid}`;
  return {
    guid: row.guid,
    created_at: row.created_at,
    updated_at: row.updated_at,
    name: row.name,
    suspended: row.suspended === 1,
    // Every organization has the one unlimited quota, `default` (controllers/quotas.ts).
    relationships: { quota: { data: { guid: DEFAULT_QUOTA_GUID } } },
    metadata: jsonColumn<Metadata, OrganizationRow, 'metadata'>('organizations', row, 'metadata', { labels: {}, annotations: {} }),
    links: { self: { href: self }, domains: { href: `${self}/domains` }, default_domain: { href: `${self}/domains/default` }, quota: { href: `${ctx.urls.api}/v3/organization_quotas/${DEFAULT_QUOTA_GUID}` } },
  };
}

export function presentSpace(row: SpaceRow, ctx: Ctx) {
  const self = `${ctx.urls.api}/v3/spaces/${row.guid}`;
  return {
    guid: row.guid,
    created_at: row.created_at,
    updated_at: row.updated_at,
    name: row.name,
    relationships: { organization: { data: { guid: row.organization_guid } }, quota: { data: null } },
    metadata: jsonColumn<Metadata, SpaceRow, 'metadata'>('spaces', row, 'metadata', { labels: {}, annotations: {} }),
    links: {
      self: { href: self },
      organization: { href: `${ctx.urls.api}/v3/organizations/${row.organization_guid}` },
      features: { href: `${self}/features` },
      apply_manifest: { href: `${self}/actions/apply_manifest`, method: 'POST' },
    },
  };
}
