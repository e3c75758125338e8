// Rendering the platform's fixed resources as v3 resources: the stack, the built-in buildpacks,
// the feature flags and the default organization quota (repositories/platform.ts).
import { emptyMetadata, type Urls } from '../context.js';
import type { BuildpackRow, FeatureFlagRow, OrganizationQuotaRow, StackRow } from '../repositories/platform.js';

type Ctx = { urls: Urls };

export function presentStack(row: StackRow, ctx: Ctx) {
  return {
    guid: row.guid,
    created_at: row.created_at,
    updated_at: row.updated_at,
    name: row.name,
    description: row.description,
    build_rootfs_image: row.name,
    run_rootfs_image: row.name,
    default: true,
    metadata: emptyMetadata(),
    links: { self: { href: `${ctx.urls.api}/v3/stacks/${row.guid}` } },
  };
}

/** A built-in buildpack: it ships with the DEA, so it is READY, enabled and not locked, with nothing to upload. */
export function presentBuildpack(row: BuildpackRow, ctx: Ctx) {
  const self = `${ctx.urls.api}/v3/buildpacks/${row.guid}`;
  return {
    guid: row.guid,
    created_at: row.created_at,
    updated_at: row.updated_at,
    name: row.name,
    state: 'READY',
    filename: `${row.name}_buildpack`,
    stack: row.stack,
    position: row.position,
    lifecycle: 'buildpack',
    enabled: true,
    locked: false,
    metadata: emptyMetadata(),
    links: { self: { href: self }, upload: { href: `${self}/upload`, method: 'POST' } },
  };
}

export function presentFeatureFlag(row: FeatureFlagRow, ctx: Ctx) {
  return {
    name: row.name,
    enabled: row.enabled,
    updated_at: null,
    custom_error_message: null,
    links: { self: { href: `${ctx.urls.api}/v3/feature_flags/${row.name}` } },
  };
}

/** An organization quota with every limit unlimited: Cloud Controller renders an unlimited limit as null. */
export function presentOrganizationQuota(row: OrganizationQuotaRow, organizationGuids: string[], ctx: Ctx) {
  return {
    guid: row.guid,
    created_at: row.created_at,
    updated_at: row.updated_at,
    name: row.name,
    apps: { total_memory_in_mb: null, per_process_memory_in_mb: null, log_rate_limit_in_bytes_per_second: null, total_instances: null, per_app_tasks: null },
    services: { paid_services_allowed: true, total_service_instances: null, total_service_keys: null },
    routes: { total_routes: null, total_reserved_ports: null },
    domains: { total_domains: null },
    relationships: { organizations: { data: organizationGuids.map((guid) => ({ guid })) } },
    links: { self: { href: `${ctx.urls.api}/v3/organization_quotas/${row.guid}` } },
  };
}
