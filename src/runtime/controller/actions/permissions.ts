// Who may change what, as Cloud Controller's Permissions (lib/cloud_controller/permissions.rb) and
// ProcessModelAccess say it: an admin always; anyone else by a role in the space or its
// organization. devbox checks roles only where ssh is concerned (docs/controller.md, *ssh*): who may
// turn ssh on and who may ssh into an instance.
import { notAuthorized } from '../errors.js';
import type { RequestContext } from '../context.js';
import { hasRoleIn } from '../repositories/roles.js';
import type { SpaceRow } from '../repositories/spaces.js';

/** can_write_to_active_space: the app feature `ssh`; updating a process (ssh_access). */
export const ROLES_FOR_SPACE_WRITING = ['space_developer'] as const;
/** can_manage_apps_in_active_space: the app feature `revisions`. */
export const ROLES_FOR_APP_MANAGING = ['space_developer', 'space_supporter'] as const;
/** can_update_active_space: the space feature `ssh`. */
export const ROLES_FOR_SPACE_UPDATING = ['space_manager', 'organization_manager'] as const;

type Space = Pick<SpaceRow, 'guid' | 'organization_guid'>;

/** Whether the actor is an admin or has one of the roles in the space (or, for organization roles, its organization). */
export async function hasSpaceRole(ctx: RequestContext, space: Space, roles: readonly string[]): Promise<boolean> {
  if (ctx.actor.admin) return true;
  // A client's token (no user) has no roles: only the admin scope lets it change things here.
  if (ctx.actor.type !== 'user') return false;
  return hasRoleIn(ctx.db, ctx.actor.guid, [space.guid, space.organization_guid], roles);
}

/** 403 CF-NotAuthorized unless hasSpaceRole. */
export async function requireSpaceRole(ctx: RequestContext, space: Space, roles: readonly string[]): Promise<void> {
  if (!(await hasSpaceRole(ctx, space, roles))) throw notAuthorized();
}
