// Service instance actions: create (a managed one is provisioned by its broker; a user-provided one
// holds the credentials given), update (a managed one's plan and parameters by its broker) and
// delete. v3 makes the broker calls asynchronous; devbox calls the broker before answering, outside
// any transaction, so every last_operation ends succeeded (but an update the broker refused, `update
// failed`); a create shows `create in progress` while its broker works.
import { newGuid, now, type RequestContext } from '../context.js';
import { ApiError, notUnique, unprocessable } from '../errors.js';
import type { ServiceInstanceCreateMessage, ServiceInstanceUpdateMessage } from '../messages/services.js';
import { metadataUpdate } from '../messages/validate.js';
import { updateInstance, updateInstanceBindings } from '../repositories/service-instance-updates.js';
import type { JobRow } from '../repositories/jobs.js';
import { isUniqueViolation, jsonColumn, type Db } from '../repositories/query.js';
import { deleteInstance, findInstanceByName, insertInstance, instanceBindingTypes, type InstanceRow, type OfferingRow, type PlanRow } from '../repositories/services.js';
import { findSpace, getOrganization, getSpaceWithOrganization } from '../repositories/spaces.js';
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

/**
 * Creates an instance. Its name is claimed first (the row, inserted under the unique key of space
 * and name, `create in progress`): two creates of one name never both reach the broker, so none
 * provisions something devbox then forgets. A managed one is then provisioned by its broker; when
 * that fails the claim is withdrawn (the broker client has done the spec's orphan mitigation).
 */
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
  // Credentials and parameters may be secrets: the event says only that they were given.
  const secrets = message.type === 'user-provided' ? { credentials: '[PRIVATE DATA HIDDEN]' } : message.parameters ? { parameters: '[PRIVATE DATA HIDDEN]' } : {};
  const recordCreate = (db: Db) => instanceEvent(db, ctx, 'create', row, { request: { name: row.name, type: row.type, relationships: { space: space.guid, service_plan: row.plan_guid }, ...secrets } });
  if (message.type === 'user-provided') {
    row.credentials = JSON.stringify(message.credentials);
    row.syslog_drain_url = message.syslogDrainUrl;
    row.route_service_url = message.routeServiceUrl;
    await claim(ctx, row, taken, recordCreate);
    return row;
  }
  const { plan, offering, client, ids } = await brokerOfPlan(ctx, message.planGuid);
  row.plan_guid = plan.guid;
  row.last_operation = JSON.stringify({ type: 'create', state: 'in progress', description: '', created_at: at, updated_at: at });
  await claim(ctx, row, taken);
  let answer: { dashboard_url?: unknown };
  try {
    const org = await getOrganization(ctx.db, space.organization_guid);
    answer = await client.provision(
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
  } catch (error) {
    await deleteInstance(ctx.db, row.guid);
    throw error;
  }
  const done = now();
  row.dashboard_url = typeof answer.dashboard_url === 'string' ? answer.dashboard_url : null;
  row.last_operation = succeeded('create', done);
  row.updated_at = done;
  await ctx.db.transaction().execute(async (trx) => {
    await updateInstance(trx, row.guid, { dashboard_url: row.dashboard_url, last_operation: row.last_operation, updated_at: done });
    await recordCreate(trx);
  });
  ctx.log.info('provisioned', { instance: row.guid, offering: offering.name, plan: plan.name });
  return row;
}

/** Inserts the instance's row (and, given, its audit event) in one transaction: a name another request holds is `taken`. */
async function claim(ctx: RequestContext, row: InstanceRow, taken: () => ApiError, record?: (db: Db) => Promise<void>): Promise<void> {
  try {
    await ctx.db.transaction().execute(async (trx) => {
      await insertInstance(trx, row);
      if (record) await record(trx);
    });
  } catch (error) {
    if (isUniqueViolation(error)) throw taken();
    throw error;
  }
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

/** A plan's (else its offering's) catalog flag, as Cloud Controller reads plan_updateable and bindable. */
function catalogFlag(plan: PlanRow, offering: OfferingRow, flag: 'plan_updateable' | 'bindable'): boolean {
  const own = jsonColumn<Record<string, unknown>, PlanRow, 'catalog'>('service_plans', plan, 'catalog', {})[flag];
  if (typeof own === 'boolean') return own;
  return Boolean(jsonColumn<Record<string, unknown>, OfferingRow, 'catalog'>('service_offerings', offering, 'catalog', {})[flag]);
}

/**
 * What a managed instance's update asks of its broker, checked as Cloud Controller checks it: a new
 * plan of the same offering whose plan is updateable (and bindable if the instance has bindings),
 * or a maintenance_info version its plan offers. undefined when the broker need not be asked
 * (a rename, tags or metadata).
 */
async function brokerUpdate(ctx: RequestContext, row: InstanceRow, message: ServiceInstanceUpdateMessage) {
  const planChange = message.planGuid !== undefined && message.planGuid !== row.plan_guid;
  if (!planChange && message.parameters === undefined && !message.maintenanceInfo) return undefined;
  if (!row.plan_guid) throw unprocessable('The service instance has no service plan: it cannot be updated by its broker.');
  const current = await brokerOfPlan(ctx, row.plan_guid);
  let target = current;
  if (planChange) {
    target = await brokerOfPlan(ctx, message.planGuid!);
    if (target.offering.guid !== current.offering.guid) throw new ApiError('InvalidRelation', 'service plan relates to a different service offering');
    if (!catalogFlag(current.plan, current.offering, 'plan_updateable')) throw unprocessable('The service does not support changing plans.');
    if (!catalogFlag(target.plan, target.offering, 'bindable') && (await instanceBindingTypes(ctx.db, row.guid)).length) {
      throw unprocessable('The service plan is invalid: cannot switch to non-bindable plan when service bindings exist');
    }
  }
  if (message.maintenanceInfo) {
    if (planChange) throw unprocessable('maintenance_info should not be changed when switching to different plan.');
    const offered = jsonColumn<{ maintenance_info?: { version?: unknown } }, PlanRow, 'catalog'>('service_plans', current.plan, 'catalog', {}).maintenance_info?.version;
    if (typeof offered !== 'string') throw unprocessable('The service broker does not support upgrades for service instances created from this plan.');
    if (offered !== message.maintenanceInfo.version) {
      throw unprocessable('maintenance_info.version requested is invalid. Please ensure the catalog is up to date and you are providing a version supported by this service plan.');
    }
  }
  return { current, target };
}

/**
 * Renames an instance, or changes its tags and metadata; a user-provided one's credentials, syslog
 * drain and route service URL too (its app bindings carry the new credentials at their apps' next
 * start). A managed instance's plan, parameters or maintenance_info are changed by its broker
 * first (`PATCH /v2/service_instances/:id`, outside any transaction), then written with the rest;
 * that update answers with a job (complete), as Cloud Controller answers 202 for it. A broker that
 * refuses leaves the instance as it was, its last operation `update failed`.
 */
export async function updateServiceInstance(ctx: RequestContext, row: InstanceRow, message: ServiceInstanceUpdateMessage): Promise<{ instance: InstanceRow; job?: JobRow }> {
  if (row.type === 'managed') {
    if (message.credentials !== undefined || message.syslogDrainUrl !== undefined || message.routeServiceUrl !== undefined) {
      throw unprocessable('Credentials, syslog drain url and route service url can be updated only for user-provided service instances.');
    }
  } else if (message.parameters !== undefined || message.planGuid !== undefined || message.maintenanceInfo) {
    throw unprocessable('Parameters, service plan and maintenance info can be updated only for managed service instances.');
  }
  const name = message.name ?? row.name;
  const taken = () => notUnique(`The service instance name is taken: ${name}.`);
  if (name !== row.name && (await findInstanceByName(ctx.db, row.space_guid, name))) throw taken();
  const update = row.type === 'managed' ? await brokerUpdate(ctx, row, message) : undefined;
  let dashboardUrl = row.dashboard_url;
  if (update) {
    const { space, organization } = await getSpaceWithOrganization(ctx.db, row.space_guid);
    const { current, target } = update;
    try {
      const answer = await target.client.update(
        row.guid,
        {
          service_id: current.offering.broker_id,
          plan_id: target.plan.broker_id,
          ...(message.parameters ? { parameters: message.parameters } : {}),
          ...(message.maintenanceInfo ? { maintenance_info: message.maintenanceInfo } : {}),
          previous_values: { service_id: current.offering.broker_id, plan_id: current.plan.broker_id, organization_id: organization.guid, space_id: space.guid },
          context: { platform: 'cloudfoundry', organization_guid: organization.guid, organization_name: organization.name, space_guid: space.guid, space_name: space.name, instance_name: name },
        },
        target.ids,
      );
      if (typeof answer.dashboard_url === 'string') dashboardUrl = answer.dashboard_url;
    } catch (error) {
      if (error instanceof ApiError) {
        const at = now();
        await updateInstance(ctx.db, row.guid, { last_operation: JSON.stringify({ type: 'update', state: 'failed', description: error.detail, created_at: at, updated_at: at }), updated_at: at });
      }
      throw error;
    }
    ctx.log.info('updated by its broker', { instance: row.guid, offering: current.offering.name, plan: target.plan.name });
  }
  const at = now();
  const updated: InstanceRow = {
    ...row,
    name,
    plan_guid: update ? update.target.plan.guid : row.plan_guid,
    dashboard_url: dashboardUrl,
    tags: message.tags ? JSON.stringify(message.tags) : row.tags,
    credentials: message.credentials ? JSON.stringify(message.credentials) : row.credentials,
    syslog_drain_url: message.syslogDrainUrl !== undefined ? message.syslogDrainUrl : row.syslog_drain_url,
    route_service_url: message.routeServiceUrl !== undefined ? message.routeServiceUrl : row.route_service_url,
    metadata: JSON.stringify(metadataUpdate(message.body, jsonColumn('service_instances', row, 'metadata', { labels: {}, annotations: {} }))),
    last_operation: succeeded('update', at),
    updated_at: at,
  };
  // Credentials and parameters may be secrets: the event says only that they were given.
  const request = { ...message.body, ...(message.credentials ? { credentials: '[PRIVATE DATA HIDDEN]' } : {}), ...(message.parameters ? { parameters: '[PRIVATE DATA HIDDEN]' } : {}) };
  try {
    const job = await ctx.db.transaction().execute(async (trx) => {
      const { guid: _guid, type: _type, space_guid: _space, created_at: _created, ...changes } = updated;
      await updateInstance(trx, row.guid, changes);
      if (row.type === 'user-provided' && (message.credentials || message.syslogDrainUrl !== undefined)) {
        await updateInstanceBindings(trx, row.guid, { credentials: updated.credentials ?? '{}', syslog_drain_url: updated.syslog_drain_url, updated_at: at });
      }
      await instanceEvent(trx, ctx, 'update', updated, { request });
      return update ? completedJob(trx, 'service_instance.update', { guid: row.guid, type: 'service_instances' }) : undefined;
    });
    return { instance: updated, job };
  } catch (error) {
    if (isUniqueViolation(error)) throw taken();
    throw error;
  }
}
