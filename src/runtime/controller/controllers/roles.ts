// /v3/roles and /v3/users: thin routes over actions/roles.ts. `include=user,organization,space` adds
// the related resources under `included` (cf's org-users and space-users read the users there).
import type { RequestContext } from '../context.js';
import type { Routes } from '../http/routes.js';
import { createRole, deleteRoleAction } from '../actions/roles.js';
import { roleCreateMessage, roleListMessage, roleShowInclude, userListMessage } from '../messages/roles.js';
import { presentOrganization, presentSpace } from '../presenters/organizations.js';
import { paginated } from '../presenters/paginated.js';
import { presentRole, presentUser } from '../presenters/roles.js';
import { getRole, getUser, listRoles, listUsers, usersByGuids, type RoleRow } from '../repositories/roles.js';
import { findOrganization, findSpace, type OrganizationRow, type SpaceRow } from '../repositories/spaces.js';
import { jobAccepted } from './jobs.js';
import { withIncluded } from './service-included.js';

/** The resources `include` asks for, of the roles given (each once). */
async function rolesIncluded(ctx: RequestContext, include: string[], rows: RoleRow[]) {
  if (!include.length) return undefined;
  const included: Record<string, Record<string, unknown>[]> = {};
  const unique = (guids: (string | null)[]) => [...new Set(guids.filter((g): g is string => !!g))];
  if (include.includes('user')) included.users = (await usersByGuids(ctx.db, rows.map((r) => r.user_guid))).map((u) => presentUser(u, ctx));
  if (include.includes('organization')) {
    const orgs = await Promise.all(unique(rows.map((r) => r.organization_guid)).map((g) => findOrganization(ctx.db, g)));
    included.organizations = orgs.filter((o): o is OrganizationRow => !!o).map((o) => presentOrganization(o, ctx));
  }
  if (include.includes('space')) {
    const spaces = await Promise.all(unique(rows.map((r) => r.space_guid)).map((g) => findSpace(ctx.db, g)));
    included.spaces = spaces.filter((s): s is SpaceRow => !!s).map((s) => presentSpace(s, ctx));
  }
  return included;
}

export function roleRoutes(routes: Routes<RequestContext>): void {
  routes.get('/v3/roles', async (req, ctx) => {
    const message = roleListMessage(req.query);
    const { total, rows } = await listRoles(ctx.db, message);
    const list = paginated(ctx.urls.api, '/v3/roles', req.query, message, total, rows.map((r) => presentRole(r, ctx)));
    return { body: withIncluded(list, await rolesIncluded(ctx, message.include, rows)) };
  });

  routes.get('/v3/roles/:guid', async (req, ctx) => {
    const include = roleShowInclude(req.query);
    const role = await getRole(ctx.db, req.params.guid);
    return { body: withIncluded(presentRole(role, ctx), await rolesIncluded(ctx, include, [role])) };
  });

  routes.post('/v3/roles', async (req, ctx) => ({ status: 201, body: presentRole(await createRole(ctx, roleCreateMessage(req.body)), ctx) }));

  routes.delete('/v3/roles/:guid', async (req, ctx) => jobAccepted(ctx, (await deleteRoleAction(ctx, await getRole(ctx.db, req.params.guid))).guid));

  routes.get('/v3/users', async (req, ctx) => {
    const message = userListMessage(req.query);
    const { total, rows } = await listUsers(ctx.db, message);
    return { body: paginated(ctx.urls.api, '/v3/users', req.query, message, total, rows.map((u) => presentUser(u, ctx))) };
  });

  routes.get('/v3/users/:guid', async (req, ctx) => ({ body: presentUser(await getUser(ctx.db, req.params.guid), ctx) }));
}
