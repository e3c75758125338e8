// Service instance actions: create (a managed one is provisioned by its broker; a user-provided one
// holds the credentials given) and delete. v3 makes the broker calls asynchronous; devbox calls the
// broker before answering, outside any transaction, so every last_operation has succeeded. The
// instance and its audit event are then written in one transaction.
import { newGuid, now, type RequestContext } from '../context.js';
import { ApiError, notUnique, unprocessable } from '../errors.js';
import type { ServiceInstanceCreateMessage, ServiceInstanceUpdateMessage } from '../messages/services.js';
import { metadataUpdate } from '../messages/validate.js';
import { updateInstance, updateInstanceBindings } from '../repositories/service-instance-updates.js';
import type { JobRow } from '../repositories/jobs.js';
import { isUniqueViolation, jsonColumn, type Db } from '../repositories/query.js';
import { deleteInstance, findInstanceByName, insertInstance, instanceBindingTypes, type InstanceRow } from '../repositories/services.js';
import { findSpace, getOrganization } from '../repositories/spaces.js';
import { recordEvent } from './audit.js';
import { completedJob } from './jobs.js';
import { brokerOfPlan } from './service-brokers.js';

/** A last_operation that has succeeded (devbox finishes every operation before answering). */
export const succeeded = (type: 'create' | 'update' | 'delete', at: string) => JSON.stringify({ type, state: 'succeeded', description: '', created_at: at, updated_at: at });

/** audit.service_instance.* or audit.user_provided_service_instance.*, as Cloud Controller names them. */
function instanceEvent(db: Db, ctx: RequestContext, action: 'create' | 'update' | 'delete', row: InstanceRow, data: Record<string, unknown> = {}) {
  const kind = row.type === 'user-provided' ? 'user_provided_service_instance' : 'service_instance';
  return recordEvent(db, { type: `audit.${kind}.${action}`, actor: ctx.actor, target: { guid: row.guid, type: kind, name: row.name }, spaceGuid: row.space_guid, data });
}

export async function createServiceInstance(ctx: RequestContext, message: ServiceInstanceCreateMessage): Promise<InstanceRow> {
  const space = await findSpace(ctx.db, message.spaceGuid);
  if (!space) throw unprocessable('Invalid space. Ensure that the space exists and you have access to it.');
  const taken = () => notUnique(`The service instance name is taken: ${message.name}.`);
  if (await findInstanceByName(ctx.db, space.guid, message.name)) throw taken();
  const at = now();
  const row: InstanceRow = {
    guid: newGuid(),
    name: message.name,
    type: message.type,
    space_guid: space.guid,
    plan_guid: null,
    credentials: null,
    tags: JSON.stringify(message.tags),
    syslog_drain_url: null,
    route_service_url: null,
    dashboard_url: null,
    last_operation: succeeded('create', at),
    metadata: JSON.stringify(message.metadata),
    created_at: at,
    updated_at: at,
  };
  if (message.type === 'user-provided') {
    row.credentials = JSON.stringify(message.credentials);
    row.syslog_drain_url = message.syslogDrainUrl;
    row.route_service_url = message.routeServiceUrl;
  } else {
    const { plan, offering, client, ids } = await brokerOfPlan(ctx, message.planGuid);
    row.plan_guid = plan.guid;
    const org = await getOrganization(ctx.db, space.organization_guid);
    const answer = await client.provision(
      row.guid,
      {
        ...ids,
        organization_guid: org.guid,
        space_guid: space.guid,
        ...(message.parameters ? { parameters: message.parameters } : {}),
        context: { platform: 'cloudfoundry', organization_guid: org.guid, organization_name: org.name, space_guid: space.guid, space_name: space.name, instance_name: message.name },
      },
      ids,
    );
    row.dashboard_url = typeof answer.dashboard_url === 'string' ? answer.dashboard_url : null;
    ctx.log.info('provisioned', { instance: row.guid, offering: offering.name, plan: plan.name });
  }
  // Credentials and parameters may be secrets: the event says only that they were given.
  const secrets = message.type === 'user-provided' ? { credentials: '[PRIVATE DATA HIDDEN]' } : message.parameters ? { parameters: '[PRIVATE DATA HIDDEN]' } : {};
  try {
    await ctx.db.transaction().execute(async (trx) => {
      await insertInstance(trx, row);
      await instanceEvent(trx, ctx, 'create', row, { request: { name: row.name, type: row.type, relationships: { space: space.guid, service_plan: row.plan_guid }, ...secrets } });
    });
  } catch (error) {
    if (isUniqueViolation(error)) throw taken();
    throw error;
  }
  return row;
}

/**
 * Deletes an instance that has no bindings or keys left; a managed one is deprovisioned by its
 * broker first. A user-provided instance is gone at once (204); a managed one answers with a job.
 */
export async function deleteServiceInstance(ctx: RequestContext, row: InstanceRow): Promise<JobRow | undefined> {
  const bindings = await instanceBindingTypes(ctx.db, row.guid);
  if (bindings.length) {
    const apps = bindings.filter((type) => type === 'app').length;
    const keys = bindings.length - apps;
    const has = [apps ? `${apps} app binding${apps > 1 ? 's' : ''}` : '', keys ? `${keys} service key${keys > 1 ? 's' : ''}` : ''].filter(Boolean).join(' and ');
    const todo = [apps ? 'unbind it from its apps (unbind-service)' : '', keys ? 'delete its service keys (delete-service-key)' : ''].filter(Boolean).join(' and ');
    throw new ApiError('AssociationNotEmpty', `Cannot delete service instance ${row.name}: it still has ${has}. Service keys, bindings, and shares must first be deleted: ${todo}, then delete it.`);
  }
  if (row.type === 'managed' && row.plan_guid) {
    const { client, ids } = await brokerOfPlan(ctx, row.plan_guid);
    await client.deprovision(row.guid, ids);
  }
  return ctx.db.transaction().execute(async (trx) => {
    await deleteInstance(trx, row.guid);
    await instanceEvent(trx, ctx, 'delete', row);
    return row.type === 'user-provided' ? undefined : completedJob(trx, 'service_instance.delete', { guid: row.guid, type: 'service_instances' });
  });
}

/**
 * Renames an instance, or changes its tags and metadata; a user-provided one's credentials, syslog
 * drain and route service URL too (its app bindings carry the new credentials at their apps' next
 * start). Changing a managed instance's plan or parameters needs its broker's update, which devbox
 * does not make yet: a 422 that says so.
 */
export async function updateServiceInstance(ctx: RequestContext, row: InstanceRow, message: ServiceInstanceUpdateMessage): Promise<InstanceRow> {
  if (row.type === 'managed') {
    if (message.credentials !== undefined || message.syslogDrainUrl !== undefined || message.routeServiceUrl !== undefined) {
      throw unprocessable('Credentials, syslog drain url and route service url can be updated only for user-provided service instances.');
    }
    if (message.parameters !== undefined || (message.planGuid !== undefined && message.planGuid !== row.plan_guid) || message.maintenanceInfo) {
      throw unprocessable('devbox does not update the plan, parameters or maintenance info of a managed service instance yet: create a new instance (cf create-service), bind it, and delete the old one.');
    }
  } else if (message.parameters !== undefined || message.planGuid !== undefined || message.maintenanceInfo) {
    throw unprocessable('Parameters, service plan and maintenance info can be updated only for managed service instances.');
  }
  const name = message.name ?? row.name;
  const taken = () => notUnique(`The service instance name is taken: ${name}.`);
  if (name !== row.name && (await findInstanceByName(ctx.db, row.space_guid, name))) throw taken();
  const at = now();
  const updated: InstanceRow = {
    ...row,
    name,
    tags: message.tags ? JSON.stringify(message.tags) : row.tags,
    credentials: message.credentials ? JSON.stringify(message.credentials) : row.credentials,
    syslog_drain_url: message.syslogDrainUrl !== undefined ? message.syslogDrainUrl : row.syslog_drain_url,
    route_service_url: message.routeServiceUrl !== undefined ? message.routeServiceUrl : row.route_service_url,
    metadata: JSON.stringify(metadataUpdate(message.body, jsonColumn('service_instances', row, 'metadata', { labels: {}, annotations: {} }))),
    last_operation: succeeded('update', at),
    updated_at: at,
  };
  const request = { ...message.body, ...(message.credentials ? { credentials: '[PRIVATE DATA HIDDEN]' } : {}) };
  try {
    await ctx.db.transaction().execute(async (trx) => {
      const { guid: _guid, type: _type, space_guid: _space, created_at: _created, ...changes } = updated;
      await updateInstance(trx, row.guid, changes);
      if (row.type === 'user-provided' && (message.credentials || message.syslogDrainUrl !== undefined)) {
        await updateInstanceBindings(trx, row.guid, { credentials: updated.credentials ?? '{}', syslog_drain_url: updated.syslog_drain_url, updated_at: at });
      }
      await instanceEvent(trx, ctx, 'update', updated, { request });
    });
  } catch (error) {
    if (isUniqueViolation(error)) throw taken();
    throw error;
  }
  return updated;
}
