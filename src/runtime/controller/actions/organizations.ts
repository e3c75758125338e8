// Organization and space actions: create, each with its audit event in one transaction.
import { notUnique, unprocessable } from '../errors.js';
import { newGuid, now, type RequestContext } from '../context.js';
import type { OrganizationCreateMessage, SpaceCreateMessage } from '../messages/organizations.js';
import { isUniqueViolation } from '../repositories/query.js';
import { findOrganization, insertOrganization, insertSpace, type OrganizationRow, type SpaceRow } from '../repositories/spaces.js';
import { recordEvent } from './audit.js';

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
  const row: SpaceRow = { guid: newGuid(), name: message.name, organization_guid: org.guid, metadata: JSON.stringify(message.metadata), created_at: at, updated_at: at };
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
