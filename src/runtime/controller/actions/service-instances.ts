// Service instance actions: create, update and delete, as Cloud Controller v3 does them. A
// user-provided instance is written at once. A managed one's broker work is a job: the request
// claims the name (or marks the operation in progress) and starts the job, in one transaction, and
// answers 202; actions/service-jobs.ts then runs the job's steps below in the background (provision,
// update or deprovision, then last_operation polls for an asynchronous broker), each step's outcome
// written with its job. A provision that failed after the broker may have made something is undone
// at the broker (orphan mitigation, the OSBAPI table); the row stays, `create failed`, until deleted
// or replaced by a new create of its name.
import { newGuid, now, type RequestContext } from '../context.js';
import { ApiError, notAuthorized, notUnique, unprocessable } from '../errors.js';
import type { ServiceInstanceCreateMessage, ServiceInstanceUpdateMessage } from '../messages/services.js';
import { metadataUpdate } from '../messages/validate.js';
import { endJob, liveJobsOf, type JobRow } from '../repositories/jobs.js';
import { isUniqueViolation, jsonColumn, type Db } from '../repositories/query.js';
import { updateInstance, updateInstanceBindings } from '../repositories/service-instance-updates.js';
import {
  deleteInstance,
  deleteInstanceBindings,
  findInstance,
  findInstanceByName,
  insertInstance,
  instanceBindings,
  updateInstanceIf,
  type InstanceRow,
  type OfferingRow,
  type PlanRow,
} from '../repositories/services.js';
import { findSpace, getSpaceWithOrganization } from '../repositories/spaces.js';
import { recordEvent } from './audit.js';
import { jobErrors, serviceJob, type JobStep, type ServiceJobPayload } from './jobs.js';
import { brokerOfPlan } from './service-brokers.js';
import { askAgainLater, createFailed, inProgress, lastOperation, pollAgain, pollingOver, pollQuery, readLastOperation, succeeded, unableTo, unknownPoll, type OperationType } from './service-operations.js';

export { succeeded } from './service-operations.js';

const RESOURCE_TYPE = 'service_instances';

/** audit.service_instance.* or audit.user_provided_service_instance.*, as Cloud Controller names them. */
function instanceEvent(db: Db, ctx: RequestContext, action: string, row: InstanceRow, data: Record<string, unknown> = {}) {
  const kind = row.type === 'user-provided' ? 'user_provided_service_instance' : 'service_instance';
  return recordEvent(db, { type: `audit.${kind}.${action}`, actor: ctx.actor, target: { guid: row.guid, type: kind, name: row.name }, spaceGuid: row.space_guid, data });
}

/** 409: another operation of the instance is in progress. */
const operationInProgress = (row: InstanceRow) => new ApiError('AsyncServiceInstanceOperationInProgress', `An operation for service instance ${row.name} is in progress.`);

/** A transaction that claims a name: a unique violation is `taken`. */
async function claiming<T>(ctx: RequestContext, taken: () => ApiError, work: (db: Db) => Promise<T>): Promise<T> {
  try {
    return await ctx.db.transaction().execute(work);
  } catch (error) {
    if (isUniqueViolation(error)) throw taken();
    throw error;
  }
}

/**
 * Creates an instance. A user-provided one is created at once. A managed one's name is claimed (the
 * row, `create in progress`, under the unique key of space and name) with its job, before its broker
 * hears of it: two creates of one name never both reach the broker. A `create failed` instance of
 * the name is replaced, as Cloud Controller replaces it (its broker is asked once more to forget it).
 */
export async function createServiceInstance(ctx: RequestContext, message: ServiceInstanceCreateMessage): Promise<{ instance: InstanceRow; job?: JobRow }> {
  const space = await findSpace(ctx.db, message.spaceGuid);
  if (!space) throw unprocessable('Invalid space. Ensure that the space exists and you have access to it.');
  const taken = () => notUnique(`The service instance name is taken: ${message.name}.`);
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
  const request = () => ({ name: row.name, type: row.type, relationships: { space: space.guid, service_plan: row.plan_guid }, ...secrets });
  if (message.type === 'user-provided') {
    row.credentials = JSON.stringify(message.credentials);
    row.syslog_drain_url = message.syslogDrainUrl;
    row.route_service_url = message.routeServiceUrl;
    if (await findInstanceByName(ctx.db, space.guid, row.name)) throw taken();
    await claiming(ctx, taken, async (trx) => {
      await insertInstance(trx, row);
      await instanceEvent(trx, ctx, 'create', row, { request: request() });
    });
    return { instance: row };
  }
  const { plan } = await brokerOfPlan(ctx, message.planGuid);
  row.plan_guid = plan.guid;
  row.last_operation = lastOperation('create', 'in progress', '', at);
  const existing = await findInstanceByName(ctx.db, space.guid, row.name);
  if (existing && !(existing.type === 'managed' && createFailed(readLastOperation('service_instances', existing)))) throw taken();
  let replaced: InstanceRow | undefined;
  const job = await claiming(ctx, taken, async (trx) => {
    // Read again in the transaction: only the failed create read above is replaced, never a new one.
    const old = existing && (await findInstance(trx, existing.guid));
    if (old && old.last_operation === existing!.last_operation && !(await instanceBindings(trx, old.guid)).length) {
      await deleteInstance(trx, old.guid);
      replaced = old;
    }
    await insertInstance(trx, row);
    return serviceJob(trx, 'service_instance.create', { guid: row.guid, type: RESOURCE_TYPE }, { actor: ctx.actor, ...(message.parameters ? { parameters: message.parameters } : {}), request: request() });
  });
  if (replaced) void forgetAtBroker(ctx, replaced);
  void ctx.serviceJobs?.run(job.guid);
  return { instance: row, job };
}

/** A failed instance replaced or purged: its broker is asked to forget it once more, best effort (orphan mitigation). */
async function forgetAtBroker(ctx: RequestContext, row: InstanceRow): Promise<void> {
  try {
    const { client, ids } = await brokerOfPlan(ctx, row.plan_guid!);
    await client.mitigate(client.instancePath(row.guid), ids);
  } catch (error) {
    ctx.log.warn('could not ask the broker to forget a failed instance', { instance: row.guid, error: (error as Error).message });
  }
}

/** The writes of an instance's job that ended (or polls on): its last operation, and the instance's own changes. */
function settleInstance(instance: InstanceRow, job: JobRow, type: OperationType, state: 'in progress' | 'succeeded' | 'failed', description: string, changes: Partial<InstanceRow> = {}) {
  return (db: Db) => updateInstance(db, instance.guid, { ...changes, last_operation: lastOperation(type, state, description, job.created_at), updated_at: now() });
}

/** A step of `service_instance.create`: the provision, then (asynchronous broker) its last_operation polls. */
export async function instanceCreateStep(ctx: RequestContext, job: JobRow, payload: ServiceJobPayload): Promise<JobStep> {
  const instance = await findInstance(ctx.db, job.resource_guid ?? '');
  if (!instance) return { state: 'FAILED', error: unableTo('provision', 'the service instance was deleted before its create finished') };
  const { plan, offering, broker, client, ids } = await brokerOfPlan(ctx, instance.plan_guid!);
  const path = client.instancePath(instance.guid);
  const created = (dashboardUrl: string | undefined, description = ''): JobStep => ({
    state: 'COMPLETE',
    write: async (db) => {
      await settleInstance(instance, job, 'create', 'succeeded', description, dashboardUrl !== undefined ? { dashboard_url: dashboardUrl } : {})(db);
      await instanceEvent(db, ctx, 'create', instance, { request: payload.request ?? {} });
    },
    after: () => ctx.log.info('provisioned', { instance: instance.guid, offering: offering.name, plan: plan.name, broker: broker.name }),
  });
  const failed = async (why: string, orphan: boolean): Promise<JobStep> => {
    if (orphan) await client.mitigate(path, ids);
    return { state: 'FAILED', error: unableTo('provision', why), write: settleInstance(instance, job, 'create', 'failed', why) };
  };
  if (job.state === 'PROCESSING') {
    const { space, organization } = await getSpaceWithOrganization(ctx.db, instance.space_guid);
    // The plan's version, as Cloud Controller sends it (the broker then knows what it made).
    const maintenanceInfo = jsonColumn<{ maintenance_info?: unknown }, PlanRow, 'catalog'>('service_plans', plan, 'catalog', {}).maintenance_info;
    const answer = await client.provision(instance.guid, {
      ...ids,
      organization_guid: organization.guid,
      space_guid: space.guid,
      ...(payload.parameters ? { parameters: payload.parameters } : {}),
      ...(maintenanceInfo ? { maintenance_info: maintenanceInfo } : {}),
      context: { platform: 'cloudfoundry', organization_guid: organization.guid, organization_name: organization.name, space_guid: space.guid, space_name: space.name, instance_name: instance.name },
    });
    if (answer.outcome === 'done') return created(answer.body.dashboard_url);
    if (answer.outcome === 'failed') return failed(answer.message, answer.orphan);
    // Busy with this instance: a provision of it may be under way (ours, sent before a restart).
    if (answer.outcome === 'busy') return pollingOver(payload) ? failed(answer.message, true) : askAgainLater(payload, plan);
    return {
      ...pollAgain(payload, plan, answer),
      write: async (db) => {
        await settleInstance(instance, job, 'create', 'in progress', '')(db);
        await instanceEvent(db, ctx, 'start_create', instance, { request: payload.request ?? {} });
      },
    };
  }
  if (pollingOver(payload)) return failed(`Service broker '${broker.name}' failed to provision within the required time.`, true);
  const op = await client.lastOperation(path, pollQuery(ids, payload));
  switch (op.state) {
    case 'succeeded':
      return created(undefined, op.description);
    case 'failed':
      return failed(op.description || `Service broker '${broker.name}' says the provision failed.`, true);
    case 'gone':
      return failed(`Service broker '${broker.name}' no longer knows the service instance (410 Gone).`, false);
    case 'unknown':
      unknownPoll(ctx, job, op.message);
      return pollAgain(payload, plan);
    default:
      return { ...pollAgain(payload, plan, op), write: settleInstance(instance, job, 'create', 'in progress', op.description ?? '') };
  }
}

/**
 * Deletes an instance that has no bindings or keys left. A user-provided one is gone at once
 * (undefined: 204); a managed one's deprovision is a job. A create still polling its broker gives
 * way to the delete (its job fails), as Cloud Controller lets a delete through then; any other
 * operation in progress is a 409. `purge` (Cloud Controller's `purge=true`, admins only) forgets the
 * instance, its bindings and keys without asking the broker: for a broker that is gone for good.
 */
export async function deleteServiceInstance(ctx: RequestContext, row: InstanceRow, { purge = false } = {}): Promise<JobRow | undefined> {
  if (purge) {
    if (!ctx.actor.admin) throw notAuthorized();
    await purgeServiceInstance(ctx, row);
    return undefined;
  }
  const bindings = (await instanceBindings(ctx.db, row.guid)).map((b) => b.type);
  if (bindings.length) {
    const apps = bindings.filter((type) => type === 'app').length;
    const keys = bindings.length - apps;
    const has = [apps ? `${apps} app binding${apps > 1 ? 's' : ''}` : '', keys ? `${keys} service key${keys > 1 ? 's' : ''}` : ''].filter(Boolean).join(' and ');
    const todo = [apps ? 'unbind it from its apps (unbind-service)' : '', keys ? 'delete its service keys (delete-service-key)' : ''].filter(Boolean).join(' and ');
    throw new ApiError('AssociationNotEmpty', `Cannot delete service instance ${row.name}: it still has ${has}. Service keys, bindings, and shares must first be deleted: ${todo}, then delete it.`);
  }
  if (row.type === 'user-provided') {
    await ctx.db.transaction().execute(async (trx) => {
      await deleteInstance(trx, row.guid);
      await instanceEvent(trx, ctx, 'delete', row);
    });
    return undefined;
  }
  const current = readLastOperation('service_instances', row);
  let creating: JobRow | undefined;
  if (inProgress(current)) {
    if (current.type !== 'create') throw operationInProgress(row);
    creating = (await liveJobsOf(ctx.db, row.guid)).find((j) => j.operation === 'service_instance.create');
    // Before its broker answered the provision (PROCESSING) there is nothing the broker could delete yet.
    if (creating?.state !== 'POLLING') throw operationInProgress(row);
  }
  const at = now();
  const job = await ctx.db.transaction().execute(async (trx) => {
    if (creating && !(await endJob(trx, creating.guid, jobErrors([unableTo('provision', 'the service instance was deleted before its create finished')]), at, ['POLLING']))) throw operationInProgress(row);
    if (!(await updateInstanceIf(trx, row.guid, row.last_operation, { last_operation: lastOperation('delete', 'in progress', '', at), updated_at: at }))) throw operationInProgress(row);
    return serviceJob(trx, 'service_instance.delete', { guid: row.guid, type: RESOURCE_TYPE }, { actor: ctx.actor });
  });
  void ctx.serviceJobs?.run(job.guid);
  return job;
}

/** Forgets the instance with its bindings and keys, without its broker; their live jobs fail. */
async function purgeServiceInstance(ctx: RequestContext, row: InstanceRow): Promise<void> {
  const at = now();
  const purged = jobErrors([unableTo('the operation', 'the service instance was purged')]);
  const bindings = await ctx.db.transaction().execute(async (trx) => {
    const bindings = await instanceBindings(trx, row.guid);
    for (const guid of [row.guid, ...bindings.map((b) => b.guid)]) for (const job of await liveJobsOf(trx, guid)) await endJob(trx, job.guid, purged, at);
    await deleteInstanceBindings(trx, row.guid);
    await deleteInstance(trx, row.guid);
    await instanceEvent(trx, ctx, row.type === 'managed' ? 'purge' : 'delete', row, { request: { purge: true } });
    return bindings;
  });
  ctx.log.info('purged', { instance: row.guid, name: row.name, bindings: bindings.length });
}

/** A step of `service_instance.delete`: the deprovision, then (asynchronous broker) its last_operation polls. */
export async function instanceDeleteStep(ctx: RequestContext, job: JobRow, payload: ServiceJobPayload): Promise<JobStep> {
  const instance = await findInstance(ctx.db, job.resource_guid ?? '');
  if (!instance) return { state: 'COMPLETE' };
  const { plan, broker, client, ids } = await brokerOfPlan(ctx, instance.plan_guid!);
  const deleted: JobStep = {
    state: 'COMPLETE',
    write: async (db) => {
      await deleteInstance(db, instance.guid);
      await instanceEvent(db, ctx, 'delete', instance);
    },
    after: () => ctx.log.info('deprovisioned', { instance: instance.guid, broker: broker.name }),
  };
  const failed = (why: string): JobStep => ({ state: 'FAILED', error: unableTo('deprovision', why), write: settleInstance(instance, job, 'delete', 'failed', why) });
  if (job.state === 'PROCESSING') {
    const answer = await client.deprovision(instance.guid, ids);
    if (answer.outcome === 'done') return deleted;
    if (answer.outcome === 'failed') return failed(answer.message);
    if (answer.outcome === 'busy') return pollingOver(payload) ? failed(answer.message) : askAgainLater(payload, plan);
    return {
      ...pollAgain(payload, plan, answer),
      write: async (db) => {
        await settleInstance(instance, job, 'delete', 'in progress', '')(db);
        await instanceEvent(db, ctx, 'start_delete', instance);
      },
    };
  }
  if (pollingOver(payload)) return failed(`Service broker '${broker.name}' failed to deprovision within the required time.`);
  const op = await client.lastOperation(client.instancePath(instance.guid), pollQuery(ids, payload));
  switch (op.state) {
    case 'succeeded':
    case 'gone':
      return deleted;
    case 'failed':
      return failed(op.description || `Service broker '${broker.name}' says the deprovision failed.`);
    case 'unknown':
      unknownPoll(ctx, job, op.message);
      return pollAgain(payload, plan);
    default:
      return { ...pollAgain(payload, plan, op), write: settleInstance(instance, job, 'delete', 'in progress', op.description ?? '') };
  }
}

/** A plan's (else its offering's) catalog flag, as Cloud Controller reads plan_updateable and bindable. */
export function catalogFlag(plan: PlanRow, offering: OfferingRow, flag: 'plan_updateable' | 'bindable'): boolean {
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
    if (!catalogFlag(target.plan, target.offering, 'bindable') && (await instanceBindings(ctx.db, row.guid)).length) {
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
 * start). These are written at once. A managed instance's plan, parameters or maintenance_info are
 * its broker's: the instance's last operation is `update in progress` and a job asks the broker
 * (`PATCH /v2/service_instances/:id`); the plan changes when the broker is done. A broker that
 * refuses leaves the plan as it was, its last operation `update failed`.
 */
export async function updateServiceInstance(ctx: RequestContext, row: InstanceRow, message: ServiceInstanceUpdateMessage): Promise<{ instance: InstanceRow; job?: JobRow }> {
  if (row.type === 'managed') {
    if (message.credentials !== undefined || message.syslogDrainUrl !== undefined || message.routeServiceUrl !== undefined) {
      throw unprocessable('Credentials, syslog drain url and route service url can be updated only for user-provided service instances.');
    }
  } else if (message.parameters !== undefined || message.planGuid !== undefined || message.maintenanceInfo) {
    throw unprocessable('Parameters, service plan and maintenance info can be updated only for managed service instances.');
  }
  if (inProgress(readLastOperation('service_instances', row))) throw operationInProgress(row);
  const name = message.name ?? row.name;
  const taken = () => notUnique(`The service instance name is taken: ${name}.`);
  if (name !== row.name && (await findInstanceByName(ctx.db, row.space_guid, name))) throw taken();
  const update = row.type === 'managed' ? await brokerUpdate(ctx, row, message) : undefined;
  const at = now();
  const updated: InstanceRow = {
    ...row,
    name,
    tags: message.tags ? JSON.stringify(message.tags) : row.tags,
    credentials: message.credentials ? JSON.stringify(message.credentials) : row.credentials,
    syslog_drain_url: message.syslogDrainUrl !== undefined ? message.syslogDrainUrl : row.syslog_drain_url,
    route_service_url: message.routeServiceUrl !== undefined ? message.routeServiceUrl : row.route_service_url,
    metadata: JSON.stringify(metadataUpdate(message.body, jsonColumn('service_instances', row, 'metadata', { labels: {}, annotations: {} }))),
    last_operation: update ? lastOperation('update', 'in progress', '', at) : succeeded('update', at),
    updated_at: at,
  };
  // Credentials and parameters may be secrets: the event says only that they were given.
  const request = { ...message.body, ...(message.credentials ? { credentials: '[PRIVATE DATA HIDDEN]' } : {}), ...(message.parameters ? { parameters: '[PRIVATE DATA HIDDEN]' } : {}) };
  const job = await claiming(ctx, taken, async (trx) => {
    const { guid: _guid, type: _type, space_guid: _space, created_at: _created, ...changes } = updated;
    if (!(await updateInstanceIf(trx, row.guid, row.last_operation, changes))) throw operationInProgress(row);
    if (row.type === 'user-provided' && (message.credentials || message.syslogDrainUrl !== undefined)) {
      await updateInstanceBindings(trx, row.guid, { credentials: updated.credentials ?? '{}', syslog_drain_url: updated.syslog_drain_url, updated_at: at });
    }
    if (!update) {
      await instanceEvent(trx, ctx, 'update', updated, { request });
      return undefined;
    }
    return serviceJob(trx, 'service_instance.update', { guid: row.guid, type: RESOURCE_TYPE }, {
      actor: ctx.actor,
      plan_guid: update.target.plan.guid,
      ...(message.parameters ? { parameters: message.parameters } : {}),
      ...(message.maintenanceInfo ? { maintenance_info: message.maintenanceInfo } : {}),
      request,
    });
  });
  if (job) void ctx.serviceJobs?.run(job.guid);
  return { instance: updated, job };
}

/** A step of `service_instance.update`: the broker's PATCH, then (asynchronous broker) its last_operation polls. */
export async function instanceUpdateStep(ctx: RequestContext, job: JobRow, payload: ServiceJobPayload): Promise<JobStep> {
  const instance = await findInstance(ctx.db, job.resource_guid ?? '');
  if (!instance) return { state: 'FAILED', error: unableTo('update', 'the service instance was deleted before its update finished') };
  const current = await brokerOfPlan(ctx, instance.plan_guid!);
  const target = payload.plan_guid && payload.plan_guid !== current.plan.guid ? await brokerOfPlan(ctx, payload.plan_guid) : current;
  const { client, broker } = target;
  const updated = (dashboardUrl: string | undefined, description = ''): JobStep => ({
    state: 'COMPLETE',
    write: async (db) => {
      await settleInstance(instance, job, 'update', 'succeeded', description, { plan_guid: target.plan.guid, ...(dashboardUrl !== undefined ? { dashboard_url: dashboardUrl } : {}) })(db);
      await instanceEvent(db, ctx, 'update', instance, { request: payload.request ?? {} });
    },
    after: () => ctx.log.info('updated by its broker', { instance: instance.guid, offering: current.offering.name, plan: target.plan.name }),
  });
  const failed = (why: string): JobStep => ({ state: 'FAILED', error: unableTo('update', why), write: settleInstance(instance, job, 'update', 'failed', why) });
  if (job.state === 'PROCESSING') {
    const { space, organization } = await getSpaceWithOrganization(ctx.db, instance.space_guid);
    const answer = await client.update(instance.guid, {
      service_id: current.offering.broker_id,
      plan_id: target.plan.broker_id,
      ...(payload.parameters ? { parameters: payload.parameters } : {}),
      ...(payload.maintenance_info ? { maintenance_info: payload.maintenance_info } : {}),
      previous_values: { service_id: current.offering.broker_id, plan_id: current.plan.broker_id, organization_id: organization.guid, space_id: space.guid },
      context: { platform: 'cloudfoundry', organization_guid: organization.guid, organization_name: organization.name, space_guid: space.guid, space_name: space.name, instance_name: instance.name },
    });
    if (answer.outcome === 'done') return updated(answer.body.dashboard_url);
    if (answer.outcome === 'failed') return failed(answer.message);
    if (answer.outcome === 'busy') return pollingOver(payload) ? failed(answer.message) : askAgainLater(payload, target.plan);
    return {
      ...pollAgain(payload, target.plan, answer),
      write: async (db) => {
        await settleInstance(instance, job, 'update', 'in progress', '')(db);
        await instanceEvent(db, ctx, 'start_update', instance, { request: payload.request ?? {} });
      },
    };
  }
  if (pollingOver(payload)) return failed(`Service broker '${broker.name}' failed to update within the required time.`);
  const op = await client.lastOperation(client.instancePath(instance.guid), pollQuery(target.ids, payload));
  switch (op.state) {
    case 'succeeded':
      return updated(undefined, op.description);
    case 'failed':
      return failed(op.description || `Service broker '${broker.name}' says the update failed.`);
    case 'gone':
      return failed(`Service broker '${broker.name}' no longer knows the service instance (410 Gone).`);
    case 'unknown':
      unknownPoll(ctx, job, op.message);
      return pollAgain(payload, target.plan);
    default:
      return { ...pollAgain(payload, target.plan, op), write: settleInstance(instance, job, 'update', 'in progress', op.description ?? '') };
  }
}
