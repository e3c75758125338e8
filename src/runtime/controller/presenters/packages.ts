// Rendering packages as v3 resources, and the answer to resource matching.
import type { Urls } from '../context.js';
import type { PackageResource } from '../messages/packages.js';
import type { PackageRow } from '../repositories/packages.js';

type Ctx = { urls: Urls };

export function presentPackage(row: PackageRow, ctx: Ctx) {
  const self = `${ctx.urls.api}/v3/packages/${row.guid}`;
  return {
    guid: row.guid,
    type: row.type,
    data: { checksum: { type: 'sha256', value: row.checksum ? row.checksum : null }, error: row.error },
    state: row.state,
    created_at: row.created_at,
    updated_at: row.updated_at,
    relationships: { app: { data: { guid: row.app_guid } } },
    metadata: { labels: {}, annotations: {} },
    links: {
      self: { href: self },
      upload: { href: `${self}/upload`, method: 'POST' },
      download: { href: `${self}/download` },
      app: { href: `${ctx.urls.api}/v3/apps/${row.app_guid}` },
    },
  };
}

/** `POST /v3/resource_matches`: the resources the blobstore has, as they were asked for. */
export const presentResourceMatches = (known: PackageResource[]) => ({ resources: known });
