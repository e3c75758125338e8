// Service credential binding actions: bind an instance to an app (its credentials reach the app's
// VCAP_SERVICES at its next start, once its broker has made them) or create a service key; delete
// either. A user-provided instance's binding is written at once. A managed instance's is claimed
// (the row, `create in progress`, under the unique key of instance and app or key name) with a job,
// and answered 202; the job's steps below ask the broker in the background (accepts_incomplete: an
// asynchronous broker is polled). A bind that failed after the broker may have made something is
// undone at the broker (orphan mitigation); the row stays `create failed` until deleted or replaced
// by a new bind. The app's log says so only once it is done.
import { newGuid, now, type RequestContext } from '../context.js';
import { ApiError, notUnique, unprocessable } from '../errors.js';
import type { ServiceBindingCreateMessage } from '../messages/services.js';
import { findApp, type AppRow } from '../repositories/apps.js';
import { endJob, liveJobsOf, type JobRow } from '../repositories/jobs.js';
import { isUniqueViolation, type Db } from '../repositories/query.js';
import {
  bindingClaim,
  deleteBinding,
  findBinding,
  findBindingByClaim,
  findInstance,
  getInstance,
  insertBinding,
  updateBinding,
  updateBindingIf,
  type BindingRow,
  type InstanceRow,
} from '../repositories/services.js';
import { getSpaceWithOrganization } from '../repositories/spaces.js';
import { apiLog } from './apps.js';
import { recordEvent } from './audit.js';
import { jobErrors, serviceJob, type JobStep, type ServiceJobPayload } from './jobs.js';
import { brokerOfPlan } from './service-brokers.js';
import { catalogFlag } from './service-instances.js';
import { askAgainLater, createFailed, inProgress, lastOperation, pollAgain, pollingOver, pollQuery, readLastOperation, succeeded, unableTo, unknownPoll, type OperationType } from './service-operations.js';

const RESOURCE_TYPE = 'service_credential_binding';

/** audit.service_binding.* (an app's) or audit.service_key.*. */
function bindingEvent(db: Db, ctx: RequestContext, action: string, row: BindingRow, instance: InstanceRow) {
  const kind = row.type === 'app' ? 'service_binding' : 'service_key';
  const request = row.type === 'app' ? { app_guid: row.app_guid, service_instance_guid: instance.guid } : { service_instance_guid: instance.guid, name: row.name };
  return recordEvent(db, { type: `audit.${kind}.${action}`, actor: ctx.actor, target: { guid: row.guid, type: kind, name: row.name ?? '' }, spaceGuid: instance.space_guid, data: { request } });
}

/** 409: the binding's create or delete is in progress. */
function operationInProgress(row: BindingRow, instance: InstanceRow, app?: AppRow): ApiError {
  const detail = row.type === 'app' ? `An operation for the service binding between app ${app?.name ?? row.app_guid} and service instance ${instance.name} is in progress.` : `An operation for the service key ${row.name} of service instance ${instance.name} is in progress.`;
  return new ApiError('AsyncServiceBindingOperationInProgress', detail);
}

/** The binding exists (not a failed create, which a new bind replaces). */
const alreadyThere = (message: ServiceBindingCreateMessage) =>
  message.type === 'app'
    ? unprocessable('The app is already bound to the service instance.')
    : notUnique(`The binding name is invalid. Key binding names must be unique. The service instance already has a key binding with name '${message.name}'.`);

export async function createServiceBinding(ctx: RequestContext, message: ServiceBindingCreateMessage): Promise<{ binding: BindingRow; job?: JobRow }> {
  const instance = await findInstance(ctx.db, message.instanceGuid);
  if (!instance) throw unprocessable('The service instance could not be found.');
  let app: AppRow | undefined;
  if (message.type === 'app') {
    app = await findApp(ctx.db, message.appGuid);
    if (!app) throw unprocessable('The app could not be found.');
    if (app.space_guid !== instance.space_guid) throw unprocessable('The service instance and the app are in different spaces.');
  } else if (instance.type === 'user-provided') {
    throw unprocessable('Service credential bindings of type key are not supported for user-provided service instances.');
  }
  const managed = instance.type === 'managed';
  if (managed) {
    // A managed instance has a plan (only user-provided ones have none).
    const { plan, offering } = await brokerOfPlan(ctx, instance.plan_guid!);
    if (!catalogFlag(plan, offering, 'bindable')) throw unprocessable('Service instance is not bindable.');
    const op = readLastOperation('service_instances', instance);
    if (createFailed(op)) throw unprocessable(`The service instance ${instance.name} cannot be bound: its create failed (${op.description || 'no reason given'}). Delete it and create it again.`);
    if (inProgress(op)) throw unprocessable('There is an operation in progress for the service instance');
  }
  const at = now();
  const claim = bindingClaim(message.type === 'app' ? { type: 'app', appGuid: message.appGuid } : { type: 'key', name: message.name });
  const row: BindingRow = {
    guid: newGuid(),
    type: message.type,
    name: message.name,
    instance_guid: instance.guid,
    app_guid: app?.guid ?? null,
    credentials: managed ? '{}' : (instance.credentials ?? '{}'),
    syslog_drain_url: managed ? null : instance.syslog_drain_url,
    last_operation: managed ? lastOperation('create', 'in progress', '', at) : succeeded('create', at),
    metadata: JSON.stringify(message.metadata),
    claim,
    created_at: at,
    updated_at: at,
  };
  const existing = await findBindingByClaim(ctx.db, instance.guid, claim);
  if (existing && !createFailed(readLastOperation('service_bindings', existing))) throw alreadyThere(message);
  let replaced: BindingRow | undefined;
  let job: JobRow | undefined;
  try {
    job = await ctx.db.transaction().execute(async (trx) => {
      // Only the failed bind read above is replaced, never one another request made meanwhile.
      const old = existing && (await findBinding(trx, existing.guid));
      if (old && old.last_operation === existing!.last_operation) {
        await deleteBinding(trx, old.guid);
        replaced = old;
      }
      await insertBinding(trx, row);
      if (!managed) {
        await bindingEvent(trx, ctx, 'create', row, instance);
        return undefined;
      }
      return serviceJob(trx, 'service_bindings.create', { guid: row.guid, type: RESOURCE_TYPE }, { actor: ctx.actor, ...(message.parameters ? { parameters: message.parameters } : {}) });
    });
  } catch (error) {
    if (isUniqueViolation(error)) throw alreadyThere(message);
    throw error;
  }
  if (replaced) void forgetAtBroker(ctx, instance, replaced);
  if (job) void ctx.serviceJobs?.run(job.guid);
  else if (app) apiLog(ctx, app.guid, `Bound service instance ${instance.name} to app ${app.name}`);
  return { binding: row, job };
}

/** A failed binding replaced: its broker is asked to forget it once more, best effort (orphan mitigation). */
async function forgetAtBroker(ctx: RequestContext, instance: InstanceRow, row: BindingRow): Promise<void> {
  try {
    const { client, ids } = await brokerOfPlan(ctx, instance.plan_guid!);
    await client.mitigate(client.bindingPath(instance.guid, row.guid), ids);
  } catch (error) {
    ctx.log.warn('could not ask the broker to forget a failed binding', { binding: row.guid, error: (error as Error).message });
  }
}

/** The write of a binding's job that ended or polls on: its last operation (and its credentials). */
function settleBinding(binding: BindingRow, job: JobRow, type: OperationType, state: 'in progress' | 'succeeded' | 'failed', description: string, changes: Partial<Pick<BindingRow, 'credentials' | 'syslog_drain_url'>> = {}) {
  return (db: Db) => updateBinding(db, binding.guid, { ...changes, last_operation: lastOperation(type, state, description, job.created_at), updated_at: now() });
}

/** A step of `service_bindings.create`: the bind, then (asynchronous broker) its last_operation polls and the binding's fetch. */
export async function bindingCreateStep(ctx: RequestContext, job: JobRow, payload: ServiceJobPayload): Promise<JobStep> {
  const binding = await findBinding(ctx.db, job.resource_guid ?? '');
  if (!binding) return { state: 'FAILED', error: unableTo('bind', 'the service binding was deleted before its create finished') };
  const instance = await getInstance(ctx.db, binding.instance_guid);
  const app = binding.app_guid ? await findApp(ctx.db, binding.app_guid) : undefined;
  const { plan, broker, client, ids } = await brokerOfPlan(ctx, instance.plan_guid!);
  const path = client.bindingPath(instance.guid, binding.guid);
  const bound = (credentials: { credentials: Record<string, unknown>; syslog_drain_url?: string }, description = ''): JobStep => ({
    state: 'COMPLETE',
    write: async (db) => {
      await settleBinding(binding, job, 'create', 'succeeded', description, { credentials: JSON.stringify(credentials.credentials), syslog_drain_url: credentials.syslog_drain_url ?? null })(db);
      await bindingEvent(db, ctx, 'create', binding, instance);
    },
    after: () => {
      if (app) apiLog(ctx, app.guid, `Bound service instance ${instance.name} to app ${app.name}`);
    },
  });
  const failed = async (why: string, orphan: boolean): Promise<JobStep> => {
    if (orphan) await client.mitigate(path, ids);
    return { state: 'FAILED', error: unableTo('bind', why), write: settleBinding(binding, job, 'create', 'failed', why) };
  };
  if (job.state === 'PROCESSING') {
    const { space, organization } = await getSpaceWithOrganization(ctx.db, instance.space_guid);
    const answer = await client.bind(instance.guid, binding.guid, {
      ...ids,
      ...(app ? { app_guid: app.guid, bind_resource: { app_guid: app.guid, space_guid: space.guid } } : { bind_resource: { credential_client_id: 'cf' } }),
      ...(payload.parameters ? { parameters: payload.parameters } : {}),
      context: { platform: 'cloudfoundry', organization_guid: organization.guid, organization_name: organization.name, space_guid: space.guid, space_name: space.name, instance_name: instance.name },
    });
    if (answer.outcome === 'done') return bound(answer.body);
    if (answer.outcome === 'failed') return failed(answer.message, answer.orphan);
    if (answer.outcome === 'busy') return pollingOver(payload) ? failed(answer.message, true) : askAgainLater(payload, plan);
    return { ...pollAgain(payload, plan, answer), write: settleBinding(binding, job, 'create', 'in progress', '') };
  }
  if (pollingOver(payload)) return failed(`Service broker '${broker.name}' failed to bind within the required time.`, true);
  const op = await client.lastOperation(path, pollQuery(ids, payload));
  switch (op.state) {
    case 'succeeded': {
      // An asynchronous bind's credentials are fetched once it is done (OSBAPI's GET binding).
      const fetched = await client.fetchBinding(instance.guid, binding.guid);
      return fetched.ok ? bound(fetched.body, op.description) : failed(fetched.message, true);
    }
    case 'failed':
      return failed(op.description || `Service broker '${broker.name}' says the bind failed.`, true);
    case 'gone':
      return failed(`Service broker '${broker.name}' no longer knows the service binding (410 Gone).`, false);
    case 'unknown':
      unknownPoll(ctx, job, op.message);
      return pollAgain(payload, plan);
    default:
      return { ...pollAgain(payload, plan, op), write: settleBinding(binding, job, 'create', 'in progress', op.description ?? '') };
  }
}

/**
 * Deletes a binding or key. A user-provided instance's is gone at once (undefined: 204); a managed
 * one's unbind is a job. A create still polling its broker gives way to the delete; any other
 * operation in progress is a 409.
 */
export async function deleteServiceBinding(ctx: RequestContext, row: BindingRow): Promise<JobRow | undefined> {
  const instance = await getInstance(ctx.db, row.instance_guid);
  const app = row.app_guid ? await findApp(ctx.db, row.app_guid) : undefined;
  if (instance.type === 'user-provided') {
    await ctx.db.transaction().execute(async (trx) => {
      await deleteBinding(trx, row.guid);
      await bindingEvent(trx, ctx, 'delete', row, instance);
    });
    if (app) apiLog(ctx, app.guid, `Unbound service instance ${instance.name} from app ${app.name}`);
    return undefined;
  }
  const current = readLastOperation('service_bindings', row);
  let creating: JobRow | undefined;
  if (inProgress(current)) {
    creating = current.type === 'create' ? (await liveJobsOf(ctx.db, row.guid)).find((j) => j.operation === 'service_bindings.create') : undefined;
    if (creating?.state !== 'POLLING') throw operationInProgress(row, instance, app);
  }
  const at = now();
  const job = await ctx.db.transaction().execute(async (trx) => {
    if (creating && !(await endJob(trx, creating.guid, jobErrors([unableTo('bind', 'the service binding was deleted before its create finished')]), at, ['POLLING']))) throw operationInProgress(row, instance, app);
    if (!(await updateBindingIf(trx, row.guid, row.last_operation, { last_operation: lastOperation('delete', 'in progress', '', at), updated_at: at }))) throw operationInProgress(row, instance, app);
    return serviceJob(trx, 'service_bindings.delete', { guid: row.guid, type: RESOURCE_TYPE }, { actor: ctx.actor });
  });
  void ctx.serviceJobs?.run(job.guid);
  return job;
}

/** A step of `service_bindings.delete`: the unbind, then (asynchronous broker) its last_operation polls. */
export async function bindingDeleteStep(ctx: RequestContext, job: JobRow, payload: ServiceJobPayload): Promise<JobStep> {
  const binding = await findBinding(ctx.db, job.resource_guid ?? '');
  if (!binding) return { state: 'COMPLETE' };
  const instance = await getInstance(ctx.db, binding.instance_guid);
  const app = binding.app_guid ? await findApp(ctx.db, binding.app_guid) : undefined;
  const { plan, broker, client, ids } = await brokerOfPlan(ctx, instance.plan_guid!);
  const unbound: JobStep = {
    state: 'COMPLETE',
    write: async (db) => {
      await deleteBinding(db, binding.guid);
      await bindingEvent(db, ctx, 'delete', binding, instance);
    },
    after: () => {
      if (app) apiLog(ctx, app.guid, `Unbound service instance ${instance.name} from app ${app.name}`);
    },
  };
  const failed = (why: string): JobStep => ({ state: 'FAILED', error: unableTo('unbind', why), write: settleBinding(binding, job, 'delete', 'failed', why) });
  if (job.state === 'PROCESSING') {
    const answer = await client.unbind(instance.guid, binding.guid, ids);
    if (answer.outcome === 'done') return unbound;
    if (answer.outcome === 'failed') return failed(answer.message);
    if (answer.outcome === 'busy') return pollingOver(payload) ? failed(answer.message) : askAgainLater(payload, plan);
    return { ...pollAgain(payload, plan, answer), write: settleBinding(binding, job, 'delete', 'in progress', '') };
  }
  if (pollingOver(payload)) return failed(`Service broker '${broker.name}' failed to unbind within the required time.`);
  const op = await client.lastOperation(client.bindingPath(instance.guid, binding.guid), pollQuery(ids, payload));
  switch (op.state) {
    case 'succeeded':
    case 'gone':
      return unbound;
    case 'failed':
      return failed(op.description || `Service broker '${broker.name}' says the unbind failed.`);
    case 'unknown':
      unknownPoll(ctx, job, op.message);
      return pollAgain(payload, plan);
    default:
      return { ...pollAgain(payload, plan, op), write: settleBinding(binding, job, 'delete', 'in progress', op.description ?? '') };
  }
}
