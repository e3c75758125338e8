// Turning app and space features on and off (CC v3's AppFeatureUpdate, SpaceFeaturesController):
// who may is Cloud Controller's rule for each (actions/permissions.ts). Like Cloud Controller, no
// audit event and no app log line: the change is only the flag.
import { now, type RequestContext } from '../context.js';
import type { FeatureUpdateMessage } from '../messages/features.js';
import { APP_FEATURE_COLUMNS, updateApp, type AppFeatureName, type AppRow } from '../repositories/apps.js';
import { getSpace, updateSpace, type SpaceRow } from '../repositories/spaces.js';
import { requireSpaceRole, ROLES_FOR_APP_MANAGING, ROLES_FOR_SPACE_UPDATING, ROLES_FOR_SPACE_WRITING } from './permissions.js';

export async function updateAppFeature(ctx: RequestContext, app: AppRow, name: AppFeatureName, message: FeatureUpdateMessage): Promise<AppRow> {
  // Cloud Controller trusts a space supporter with revisions, not with ssh.
  await requireSpaceRole(ctx, await getSpace(ctx.db, app.space_guid), name === 'revisions' ? ROLES_FOR_APP_MANAGING : ROLES_FOR_SPACE_WRITING);
  const changes = { [APP_FEATURE_COLUMNS[name]]: message.enabled ? 1 : 0, updated_at: now() };
  await updateApp(ctx.db, app.guid, changes);
  return { ...app, ...changes };
}

export async function updateSpaceSshFeature(ctx: RequestContext, space: SpaceRow, message: FeatureUpdateMessage): Promise<SpaceRow> {
  await requireSpaceRole(ctx, space, ROLES_FOR_SPACE_UPDATING);
  const changes = { allow_ssh: message.enabled ? 1 : 0, updated_at: now() };
  await updateSpace(ctx.db, space.guid, changes);
  return { ...space, ...changes };
}
