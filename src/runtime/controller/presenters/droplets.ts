// Rendering builds and droplets as v3 resources.
import type { Urls } from '../context.js';
import type { BuildRow, DropletRow } from '../repositories/droplets.js';
import { jsonColumn } from '../repositories/query.js';

type Ctx = { urls: Urls };

export function presentBuild(row: BuildRow, ctx: Ctx) {
  const staged = row.droplet_guid && row.state === 'STAGED';
  return {
    guid: row.guid,
    created_at: row.created_at,
    updated_at: row.updated_at,
    state: row.state,
    staging_memory_in_mb: row.staging_memory_in_mb,
    staging_disk_in_mb: row.staging_disk_in_mb,
    error: row.error,
    lifecycle: { type: 'buildpack', data: { buildpacks: jsonColumn('builds', row, 'buildpacks', [] as string[]), stack: 'host' } },
    package: { guid: row.package_guid },
    droplet: staged ? { guid: row.droplet_guid } : null,
    created_by: jsonColumn('builds', row, 'created_by', {}),
    relationships: { app: { data: { guid: row.app_guid } } },
    metadata: { labels: {}, annotations: {} },
    links: {
      self: { href: `${ctx.urls.api}/v3/builds/${row.guid}` },
      app: { href: `${ctx.urls.api}/v3/apps/${row.app_guid}` },
      ...(staged ? { droplet: { href: `${ctx.urls.api}/v3/droplets/${row.droplet_guid}` } } : {}),
    },
  };
}

export function presentDroplet(row: DropletRow, ctx: Ctx) {
  const self = `${ctx.urls.api}/v3/droplets/${row.guid}`;
  return {
    guid: row.guid,
    state: row.state,
    error: row.error,
    lifecycle: { type: 'buildpack', data: {} },
    execution_metadata: '',
    process_types: jsonColumn('droplets', row, 'process_types', {}),
    checksum: row.sha1 ? { type: 'sha1', value: row.sha1 } : null,
    buildpacks: jsonColumn('droplets', row, 'buildpacks', []),
    stack: row.stack,
    image: null,
    created_at: row.created_at,
    updated_at: row.updated_at,
    relationships: { app: { data: { guid: row.app_guid } } },
    metadata: { labels: {}, annotations: {} },
    links: {
      self: { href: self },
      package: row.package_guid ? { href: `${ctx.urls.api}/v3/packages/${row.package_guid}` } : null,
      app: { href: `${ctx.urls.api}/v3/apps/${row.app_guid}` },
      assign_current_droplet: { href: `${ctx.urls.api}/v3/apps/${row.app_guid}/relationships/current_droplet`, method: 'PATCH' },
      download: { href: `${self}/download` },
    },
  };
}

export function presentCurrentDroplet(appGuid: string, dropletGuid: string, ctx: Ctx) {
  return {
    data: { guid: dropletGuid },
    links: { self: { href: `${ctx.urls.api}/v3/apps/${appGuid}/relationships/current_droplet` }, related: { href: `${ctx.urls.api}/v3/apps/${appGuid}/droplets/current` } },
  };
}
