// Service broker actions: register, update and delete a broker. Registering (or updating its name,
// url or credentials) fetches the broker's catalog first, outside any transaction; the broker, its
// offerings and plans and the audit event are then written in one. v3 answers with a job, COMPLETE.
import { emptyMetadata, newGuid, now, type RequestContext } from '../context.js';
import { notUnique, unprocessable } from '../errors.js';
import type { BrokerCreateMessage, BrokerUpdateMessage } from '../messages/services.js';
import { metadataUpdate } from '../messages/validate.js';
import type { JobRow } from '../repositories/jobs.js';
import { isUniqueViolation, jsonColumn, type Db } from '../repositories/query.js';
import {
  brokerInstanceNames,
  deleteBroker,
  deleteStaleCatalog,
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
import { completedJob } from './jobs.js';

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
    created_at: at,
    updated_at: at,
  };
  if (await findBrokerByName(ctx.db, row.name)) throw nameTaken();
  const catalog = await new BrokerClient(row, ctx.actor.guid, ctx.log).catalog();
  try {
    return await ctx.db.transaction().execute(async (trx) => {
      await insertBroker(trx, row);
      await storeCatalog(trx, row.guid, catalog);
      await recordEvent(trx, { type: 'audit.service_broker.create', actor: ctx.actor, target: brokerTarget(row), data: { request: { name: row.name, url: row.url, authentication: HIDDEN } } });
      return completedJob(trx, 'service_broker.catalog.synchronize', { guid: row.guid, type: 'service_broker' });
    });
  } catch (error) {
    if (isUniqueViolation(error)) throw nameTaken();
    throw error;
  }
}

/**
 * Updates the broker. A change of name, url or credentials (or an empty request) fetches its
 * catalog again and answers with a job; a metadata-only update answers with the broker.
 */
export async function updateBrokerAction(ctx: RequestContext, broker: BrokerRow, message: BrokerUpdateMessage): Promise<{ broker: BrokerRow; job?: JobRow }> {
  const next: BrokerRow = {
    ...broker,
    name: message.name ?? broker.name,
    url: message.url ?? broker.url,
    username: message.credentials?.username ?? broker.username,
    password: message.credentials?.password ?? broker.password,
    metadata: JSON.stringify(metadataUpdate(message.body, jsonColumn('service_brokers', broker, 'metadata', emptyMetadata()))),
    updated_at: now(),
  };
  const refresh = message.url !== undefined || message.credentials !== undefined || message.name !== undefined || Object.keys(message.body).length === 0;
  const catalog = refresh ? await new BrokerClient(next, ctx.actor.guid, ctx.log).catalog() : undefined;
  try {
    const job = await ctx.db.transaction().execute(async (trx) => {
      await updateBroker(trx, broker.guid, { name: next.name, url: next.url, username: next.username, password: next.password, metadata: next.metadata, updated_at: next.updated_at });
      if (catalog) await storeCatalog(trx, broker.guid, catalog);
      const request = { name: message.name, url: message.url, ...(message.credentials ? { authentication: HIDDEN } : {}) };
      await recordEvent(trx, { type: 'audit.service_broker.update', actor: ctx.actor, target: brokerTarget(next), data: { request } });
      return catalog ? completedJob(trx, 'service_broker.update', { guid: broker.guid, type: 'service_broker' }) : undefined;
    });
    return { broker: next, job };
  } catch (error) {
    if (isUniqueViolation(error)) throw nameTaken();
    throw error;
  }
}

/** Deletes the broker with its offerings and plans; a broker whose plans have instances stays. */
export async function deleteBrokerAction(ctx: RequestContext, broker: BrokerRow): Promise<JobRow> {
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
