// Rendering roles and users as v3 resources (Cloud Controller's RolePresenter and UserPresenter).
import type { Metadata, Urls } from '../context.js';
import { isSpaceRole } from '../messages/roles.js';
import { jsonColumn } from '../repositories/query.js';
import type { RoleRow, UserRow } from '../repositories/roles.js';

type Ctx = { urls: Urls };

export function presentRole(row: RoleRow, ctx: Ctx) {
  const space = isSpaceRole(row.type);
  const user = { href: `${ctx.urls.api}/v3/users/${encodeURIComponent(row.user_guid)}` };
  return {
    guid: row.guid,
    created_at: row.created_at,
    updated_at: row.updated_at,
    type: row.type,
    relationships: {
      user: { data: { guid: row.user_guid } },
      space: { data: space ? { guid: row.space_guid } : null },
      organization: { data: space ? null : { guid: row.organization_guid } },
    },
    links: {
      self: { href: `${ctx.urls.api}/v3/roles/${row.guid}` },
      user,
      ...(space ? { space: { href: `${ctx.urls.api}/v3/spaces/${row.space_guid}` } } : { organization: { href: `${ctx.urls.api}/v3/organizations/${row.organization_guid}` } }),
    },
  };
}

/** A user: `presentation_name` is the username, or the guid when the user has none (a client, or a user known by guid only). */
export function presentUser(row: UserRow, ctx: Ctx) {
  return {
    guid: row.guid,
    created_at: row.created_at,
    updated_at: row.updated_at,
    username: row.username,
    presentation_name: row.username ?? row.guid,
    origin: row.origin,
    metadata: jsonColumn<Metadata, UserRow, 'metadata'>('users', row, 'metadata', { labels: {}, annotations: {} }),
    links: { self: { href: `${ctx.urls.api}/v3/users/${encodeURIComponent(row.guid)}` } },
  };
}
