// Service broker actions: register, update and delete a broker. As in Cloud Controller, registering
// (or updating its name, url or credentials) is a job: the request checks what it can, marks the
// broker SYNCHRONIZING and answers 202; the job (run by actions/service-jobs.ts) fetches the catalog,
// as slow as the broker is, then writes the broker's changes, its offerings and plans in one
// transaction and makes it AVAILABLE. A catalog that cannot be had fails the job with the broker's
// error: a new broker stays SYNCHRONIZATION_FAILED (update or delete it), an update changes nothing.
import { emptyMetadata, newGuid, now, type RequestContext } from '../context.js';
import type { BrokerState } from '../db/schema.js';
import { ApiError, notUnique, unprocessable } from '../errors.js';
import type { BrokerCreateMessage, BrokerUpdateMessage } from '../messages/services.js';
import { metadataUpdate } from '../messages/validate.js';
import type { JobRow } from '../repositories/jobs.js';
import { isUniqueViolation, jsonColumn, type Db } from '../repositories/query.js';
import {
  brokerInstanceNames,
  deleteBroker,
  deleteStaleCatalog,
  findBroker,
  findBrokerByName,
  findOfferingByCatalogId,
  findPlanByCatalogId,
  findPlanWithBroker,
  insertBroker,
  insertOffering,
  insertPlan,
  updateBroker,
  updateOffering,
  updatePlan,
  type BrokerRow,
} from '../repositories/services.js';
import { BrokerClient, type CatalogService } from '../services/broker-client.js';
import { recordEvent } from './audit.js';
import { completedJob, serviceJob, type BrokerUpdate, type JobStep, type ServiceJobPayload } from './jobs.js';

const nameTaken = () => notUnique('Name must be unique');

/** The broker's password is never recorded. */
const HIDDEN = '[PRIVATE DATA HIDDEN]';

const brokerTarget = (broker: BrokerRow) => ({ guid: broker.guid, type: 'service_broker', name: broker.name });

/**
 * Stores the broker's catalog: offerings and plans upserted by their catalog ids; those gone are
 * removed unless instances use them.
 */
export async function storeCatalog(db: Db, brokerGuid: string, services: CatalogService[]): Promise<void> {
  const at = now();
  // New offerings and plans are stamped a millisecond apart, so lists (ordered by created_at) keep
  // the order of the broker's catalog, as cf shows it.
  let stamped = 0;
  const createdAt = () => new Date(Date.parse(at) + stamped++).toISOString();
  const keep: { offerings: string[]; plans: string[] } = { offerings: [], plans: [] };
  for (const service of services) {
    const { plans, ...rest } = service;
    const existing = await findOfferingByCatalogId(db, brokerGuid, service.id);
    const offeringGuid = existing?.guid ?? newGuid();
    const values = { name: service.name, description: service.description, catalog: JSON.stringify(rest), updated_at: at };
    if (existing) await updateOffering(db, offeringGuid, values);
    else await insertOffering(db, { guid: offeringGuid, broker_guid: brokerGuid, broker_id: service.id, created_at: createdAt(), ...values });
    keep.offerings.push(offeringGuid);
    for (const plan of plans) {
      const current = await findPlanByCatalogId(db, offeringGuid, plan.id);
      const planGuid = current?.guid ?? newGuid();
      const planValues = { name: plan.name, description: plan.description, catalog: JSON.stringify(plan), updated_at: at };
      if (current) await updatePlan(db, planGuid, planValues);
      else await insertPlan(db, { guid: planGuid, offering_guid: offeringGuid, broker_id: plan.id, created_at: createdAt(), ...planValues });
      keep.plans.push(planGuid);
    }
  }
  await deleteStaleCatalog(db, brokerGuid, keep);
}

export async function createBroker(ctx: RequestContext, message: BrokerCreateMessage): Promise<JobRow> {
  const at = now();
  const row: BrokerRow = {
    guid: newGuid(),
    name: message.name,
    url: message.url,
    username: message.credentials.username,
    password: message.credentials.password,
    metadata: JSON.stringify(message.metadata),
    state: 'SYNCHRONIZING',
    created_at: at,
    updated_at: at,
  };
  if (await findBrokerByName(ctx.db, row.name)) throw nameTaken();
  let job: JobRow;
  try {
    job = await ctx.db.transaction().execute(async (trx) => {
      await insertBroker(trx, row);
      await recordEvent(trx, { type: 'audit.service_broker.create', actor: ctx.actor, target: brokerTarget(row), data: { request: { name: row.name, url: row.url, authentication: HIDDEN } } });
      return serviceJob(trx, 'service_broker.catalog.synchronize', { guid: row.guid, type: 'service_brokers' }, { actor: ctx.actor });
    });
  } catch (error) {
    if (isUniqueViolation(error)) throw nameTaken();
    throw error;
  }
  void ctx.serviceJobs?.run(job.guid);
  return job;
}

/**
 * Updates the broker. A change of name, url or credentials (or an empty request: fetch the catalog
 * again) is a job, and the broker is SYNCHRONIZING until it ends; metadata alone is changed at once.
 */
export async function updateBrokerAction(ctx: RequestContext, broker: BrokerRow, message: BrokerUpdateMessage): Promise<{ broker: BrokerRow; job?: JobRow }> {
  const metadata = JSON.stringify(metadataUpdate(message.body, jsonColumn('service_brokers', broker, 'metadata', emptyMetadata())));
  const refresh = message.url !== undefined || message.credentials !== undefined || message.name !== undefined || Object.keys(message.body).length === 0;
  if (!refresh) {
    const next: BrokerRow = { ...broker, metadata, updated_at: now() };
    await updateBroker(ctx.db, broker.guid, { metadata, updated_at: next.updated_at });
    return { broker: next };
  }
  if (broker.state === 'SYNCHRONIZING') throw unprocessable('Cannot update a broker when other operation is already in progress');
  if (message.name !== undefined && message.name !== broker.name && (await findBrokerByName(ctx.db, message.name))) throw nameTaken();
  const update: BrokerUpdate = {
    ...(message.name !== undefined ? { name: message.name } : {}),
    ...(message.url !== undefined ? { url: message.url } : {}),
    ...(message.credentials ? { username: message.credentials.username, password: message.credentials.password } : {}),
    previous_state: broker.state,
  };
  const job = await ctx.db.transaction().execute(async (trx) => {
    await updateBroker(trx, broker.guid, { metadata, state: 'SYNCHRONIZING', updated_at: now() });
    const request = { name: message.name, url: message.url, ...(message.credentials ? { authentication: HIDDEN } : {}) };
    await recordEvent(trx, { type: 'audit.service_broker.update', actor: ctx.actor, target: brokerTarget(broker), data: { request } });
    return serviceJob(trx, 'service_broker.update', { guid: broker.guid, type: 'service_brokers' }, { actor: ctx.actor, broker_update: update });
  });
  void ctx.serviceJobs?.run(job.guid);
  return { broker: { ...broker, metadata, state: 'SYNCHRONIZING' }, job };
}

/** A registration's job: the broker's catalog fetched (as slow as the broker is), then stored and the broker AVAILABLE. */
export async function brokerSynchronizeStep(ctx: RequestContext, job: JobRow): Promise<JobStep> {
  const broker = await findBroker(ctx.db, job.resource_guid ?? '');
  if (!broker) return { state: 'FAILED', error: new ApiError('ServiceBrokerGone', 'The service broker was removed before the synchronization completed') };
  const catalog = await new BrokerClient(broker, ctx.actor.guid, ctx.log).catalog();
  return {
    state: 'COMPLETE',
    write: async (trx) => {
      await storeCatalog(trx, broker.guid, catalog);
      await updateBroker(trx, broker.guid, { state: 'AVAILABLE', updated_at: now() });
    },
  };
}

/** An update's job: the catalog fetched with the new name, url or credentials; they are kept only if it is had. */
export async function brokerUpdateStep(ctx: RequestContext, job: JobRow, payload: ServiceJobPayload): Promise<JobStep> {
  const broker = await findBroker(ctx.db, job.resource_guid ?? '');
  if (!broker) return { state: 'FAILED', error: new ApiError('ServiceBrokerGone', 'The service broker was removed before the synchronization completed') };
  const { previous_state: _previous, ...changes } = payload.broker_update ?? { previous_state: broker.state };
  const catalog = await new BrokerClient({ ...broker, ...changes }, ctx.actor.guid, ctx.log).catalog();
  return {
    state: 'COMPLETE',
    write: async (trx) => {
      try {
        await updateBroker(trx, broker.guid, { ...changes, state: 'AVAILABLE', updated_at: now() });
      } catch (error) {
        if (isUniqueViolation(error)) throw nameTaken();
        throw error;
      }
      await storeCatalog(trx, broker.guid, catalog);
    },
  };
}

/** A broker job that failed: a new broker stays SYNCHRONIZATION_FAILED, an updated one is as it was. */
export function brokerJobFailed(job: JobRow, payload: ServiceJobPayload) {
  const state: BrokerState = payload.broker_update?.previous_state ?? 'SYNCHRONIZATION_FAILED';
  return async (db: Db) => {
    if (job.resource_guid) await updateBroker(db, job.resource_guid, { state, updated_at: now() });
  };
}

/** Deletes the broker with its offerings and plans; a broker whose plans have instances stays. */
export async function deleteBrokerAction(ctx: RequestContext, broker: BrokerRow): Promise<JobRow> {
  if (broker.state === 'SYNCHRONIZING') throw unprocessable('Cannot delete a broker when other operation is already in progress');
  const instances = await brokerInstanceNames(ctx.db, broker.guid);
  if (instances.length) throw unprocessable(`Can not remove brokers that have associated service instances: ${instances.join(', ')}`);
  return ctx.db.transaction().execute(async (trx) => {
    await deleteBroker(trx, broker.guid);
    await recordEvent(trx, { type: 'audit.service_broker.delete', actor: ctx.actor, target: brokerTarget(broker), data: {} });
    return completedJob(trx, 'service_broker.delete', { guid: broker.guid, type: 'service_broker' });
  });
}

/** The plan (an unknown one is 422, as Cloud Controller answers), its offering, and a client of its broker with the catalog ids the broker knows them by. */
export async function brokerOfPlan(ctx: RequestContext, planGuid: string) {
  const found = await findPlanWithBroker(ctx.db, planGuid);
  if (!found) throw unprocessable('Invalid service plan. Ensure that the service plan exists, is available, and you have access to it.');
  const { plan, offering, broker } = found;
  return { plan, offering, broker, client: new BrokerClient(broker, ctx.actor.guid, ctx.log), ids: { service_id: offering.broker_id, plan_id: plan.broker_id } };
}
