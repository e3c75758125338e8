// Organization and space actions: create, each with its audit event in one transaction.
import { notUnique, unprocessable } from '../errors.js';
import { newGuid, now, type RequestContext } from '../context.js';
import type { OrganizationCreateMessage, SpaceCreateMessage } from '../messages/organizations.js';
import { isUniqueViolation } from '../repositories/query.js';
import { findOrganization, insertOrganization, insertSpace, NEW_SPACE_FEATURES, type OrganizationRow, type SpaceRow } from '../repositories/spaces.js';
import type { JobRow } from '../repositories/jobs.js';
import { deleteSpaceRow, spaceApps, spaceBindings, spaceInstances, spaceRoutes } from '../repositories/manifests.js';
import { deleteAppAction } from './apps.js';
import { recordEvent } from './audit.js';
import { completedJob, serviceJobOutcome } from './jobs.js';
import { deleteRouteAction } from './routes.js';
import { deleteServiceBinding } from './service-bindings.js';
import { deleteServiceInstance } from './service-instances.js';

export async function createOrganization(ctx: RequestContext, message: OrganizationCreateMessage): Promise<OrganizationRow> {
  const at = now();
  const row: OrganizationRow = { guid: newGuid(), name: message.name, suspended: 0, metadata: JSON.stringify(message.metadata), created_at: at, updated_at: at };
  try {
    await ctx.db.transaction().execute(async (trx) => {
      await insertOrganization(trx, row);
      await recordEvent(trx, { type: 'audit.organization.create', actor: ctx.actor, target: { guid: row.guid, type: 'organization', name: row.name }, organizationGuid: row.guid, data: { request: { name: row.name } } });
    });
  } catch (error) {
    if (isUniqueViolation(error)) throw notUnique(`Organization '${message.name}' already exists.`);
    throw error;
  }
  return row;
}

export async function createSpace(ctx: RequestContext, message: SpaceCreateMessage): Promise<SpaceRow> {
  const org = await findOrganization(ctx.db, message.organizationGuid);
  if (!org) throw unprocessable('Invalid organization. Ensure the organization exists and you have access to it.');
  const at = now();
  const row: SpaceRow = { guid: newGuid(), name: message.name, organization_guid: org.guid, metadata: JSON.stringify(message.metadata), ...NEW_SPACE_FEATURES, created_at: at, updated_at: at };
  try {
    await ctx.db.transaction().execute(async (trx) => {
      await insertSpace(trx, row);
      await recordEvent(trx, { type: 'audit.space.create', actor: ctx.actor, target: { guid: row.guid, type: 'space', name: row.name }, spaceGuid: row.guid, data: { request: { name: row.name } } });
    });
  } catch (error) {
    if (isUniqueViolation(error)) throw notUnique(`Name must be unique per organization: space '${message.name}' already exists in organization '${org.name}'.`);
    throw error;
  }
  return row;
}

/**
 * Deletes the space and everything in it, as Cloud Controller's v3 delete does: its service
 * bindings and keys (unbound by their brokers), its service instances (deprovisioned), its apps
 * (stopped) and its routes, then the space. A broker's refusal stops it there with the broker's
 * error, the space and what is left in it kept, so it can be tried again; so does a broker that
 * unbinds or deprovisions asynchronously (the space can be deleted once it is done).
 */
export async function deleteSpaceAction(ctx: RequestContext, space: SpaceRow): Promise<JobRow> {
  const done = async (job: JobRow | undefined, what: string) => {
    if (job && (await serviceJobOutcome(ctx, job)).state !== 'COMPLETE') throw unprocessable(`Cannot delete space ${space.name} yet: the broker of ${what} is still deleting it (asynchronously). Delete the space again once it is done.`);
  };
  for (const binding of await spaceBindings(ctx.db, space.guid)) await done(await deleteServiceBinding(ctx, binding), binding.type === 'app' ? 'a service binding' : `service key ${binding.name ?? ''}`);
  for (const instance of await spaceInstances(ctx.db, space.guid)) await done(await deleteServiceInstance(ctx, instance), `service instance ${instance.name}`);
  for (const app of await spaceApps(ctx.db, space.guid)) await deleteAppAction(ctx, app);
  for (const route of await spaceRoutes(ctx.db, space.guid)) await deleteRouteAction(ctx, route);
  return ctx.db.transaction().execute(async (trx) => {
    await deleteSpaceRow(trx, space.guid);
    await recordEvent(trx, { type: 'audit.space.delete-request', actor: ctx.actor, target: { guid: space.guid, type: 'space', name: space.name }, organizationGuid: space.organization_guid, data: { request: { recursive: true } } });
    return completedJob(trx, 'space.delete', { guid: space.guid, type: 'space' });
  });
}
