// Service brokers, the offerings and plans of their catalogs, service instances and credential
// bindings: the only SQL that reads or writes them, and the join VCAP_SERVICES is made of.
import type { Database } from '../db/schema.js';
import type { ListMessage } from '../messages/list.js';
import { filtered, found, page, type Db } from './query.js';

export type BrokerRow = Database['service_brokers'];
export type OfferingRow = Database['service_offerings'];
export type PlanRow = Database['service_plans'];
export type InstanceRow = Database['service_instances'];
export type BindingRow = Database['service_bindings'];

// Brokers

export const findBroker = (db: Db, guid: string) => db.selectFrom('service_brokers').selectAll().where('guid', '=', guid).executeTakeFirst();

export const getBroker = async (db: Db, guid: string): Promise<BrokerRow> => found(await findBroker(db, guid), 'Service broker');

export const findBrokerByName = (db: Db, name: string) => db.selectFrom('service_brokers').selectAll().where('name', '=', name).executeTakeFirst();

export const BROKER_FILTERS = ['names'] as const;

export const listBrokers = (db: Db, message: ListMessage<(typeof BROKER_FILTERS)[number]>) =>
  page(filtered(db.selectFrom('service_brokers').selectAll(), message.filters, { names: 'name' }), message);

export const insertBroker = (db: Db, row: BrokerRow) => db.insertInto('service_brokers').values(row).execute();

export const updateBroker = (db: Db, guid: string, changes: Partial<Omit<BrokerRow, 'guid' | 'created_at'>>) =>
  db.updateTable('service_brokers').set(changes).where('guid', '=', guid).execute();

/** The names of the instances of the broker's plans (a broker with any cannot be deleted). */
export const brokerInstanceNames = async (db: Db, brokerGuid: string): Promise<string[]> =>
  (
    await db
      .selectFrom('service_instances')
      .select('service_instances.name')
      .innerJoin('service_plans', 'service_plans.guid', 'service_instances.plan_guid')
      .innerJoin('service_offerings', 'service_offerings.guid', 'service_plans.offering_guid')
      .where('service_offerings.broker_guid', '=', brokerGuid)
      .execute()
  ).map((r) => r.name);

/** The broker with its catalog's offerings and plans. */
export async function deleteBroker(db: Db, guid: string): Promise<void> {
  await db.deleteFrom('service_plans').where('offering_guid', 'in', db.selectFrom('service_offerings').select('guid').where('broker_guid', '=', guid)).execute();
  await db.deleteFrom('service_offerings').where('broker_guid', '=', guid).execute();
  await db.deleteFrom('service_brokers').where('guid', '=', guid).execute();
}

// Offerings and plans (written only by a broker's catalog)

export const findOffering = (db: Db, guid: string) => db.selectFrom('service_offerings').selectAll().where('guid', '=', guid).executeTakeFirst();

export const getOffering = async (db: Db, guid: string): Promise<OfferingRow> => found(await findOffering(db, guid), 'Service offering');

export const OFFERING_FILTERS = ['names', 'service_broker_guids', 'service_broker_names'] as const;

export const listOfferings = (db: Db, message: ListMessage<(typeof OFFERING_FILTERS)[number]>) =>
  page(
    filtered(db.selectFrom('service_offerings').selectAll(), message.filters, {
      names: 'name',
      service_broker_guids: 'broker_guid',
      service_broker_names: (q, names) => q.where('broker_guid', 'in', db.selectFrom('service_brokers').select('guid').where('name', 'in', names)),
    }),
    message,
  );

export const findPlan = (db: Db, guid: string) => db.selectFrom('service_plans').selectAll().where('guid', '=', guid).executeTakeFirst();

export const getPlan = async (db: Db, guid: string): Promise<PlanRow> => found(await findPlan(db, guid), 'Service plan');

export const PLAN_FILTERS = ['names', 'service_offering_guids', 'service_offering_names', 'service_broker_guids', 'service_broker_names'] as const;

export const listPlans = (db: Db, message: ListMessage<(typeof PLAN_FILTERS)[number]>) =>
  page(
    filtered(db.selectFrom('service_plans').selectAll(), message.filters, {
      names: 'name',
      service_offering_guids: 'offering_guid',
      service_offering_names: (q, names) => q.where('offering_guid', 'in', db.selectFrom('service_offerings').select('guid').where('name', 'in', names)),
      service_broker_guids: (q, brokers) => q.where('offering_guid', 'in', db.selectFrom('service_offerings').select('guid').where('broker_guid', 'in', brokers)),
      service_broker_names: (q, names) =>
        q.where('offering_guid', 'in', db.selectFrom('service_offerings').select('guid').where('broker_guid', 'in', db.selectFrom('service_brokers').select('guid').where('name', 'in', names))),
    }),
    message,
  );

/** The plan with the offering and broker it belongs to, or undefined for an unknown plan. */
export async function findPlanWithBroker(db: Db, planGuid: string): Promise<{ plan: PlanRow; offering: OfferingRow; broker: BrokerRow } | undefined> {
  const plan = await findPlan(db, planGuid);
  if (!plan) return undefined;
  const offering = await db.selectFrom('service_offerings').selectAll().where('guid', '=', plan.offering_guid).executeTakeFirstOrThrow();
  const broker = await db.selectFrom('service_brokers').selectAll().where('guid', '=', offering.broker_guid).executeTakeFirstOrThrow();
  return { plan, offering, broker };
}

/** The broker's offering with catalog id `id`, if stored. */
export const findOfferingByCatalogId = (db: Db, brokerGuid: string, id: string) =>
  db.selectFrom('service_offerings').select('guid').where('broker_guid', '=', brokerGuid).where('broker_id', '=', id).executeTakeFirst();

export const insertOffering = (db: Db, row: OfferingRow) => db.insertInto('service_offerings').values(row).execute();

export const updateOffering = (db: Db, guid: string, changes: Pick<OfferingRow, 'name' | 'description' | 'catalog' | 'updated_at'>) =>
  db.updateTable('service_offerings').set(changes).where('guid', '=', guid).execute();

/** The offering's plan with catalog id `id`, if stored. */
export const findPlanByCatalogId = (db: Db, offeringGuid: string, id: string) =>
  db.selectFrom('service_plans').select('guid').where('offering_guid', '=', offeringGuid).where('broker_id', '=', id).executeTakeFirst();

export const insertPlan = (db: Db, row: PlanRow) => db.insertInto('service_plans').values(row).execute();

export const updatePlan = (db: Db, guid: string, changes: Pick<PlanRow, 'name' | 'description' | 'catalog' | 'updated_at'>) =>
  db.updateTable('service_plans').set(changes).where('guid', '=', guid).execute();

/**
 * Removes the broker's plans and offerings that its catalog no longer lists (all but `keep`),
 * except plans that instances use and offerings that still have plans.
 */
export async function deleteStaleCatalog(db: Db, brokerGuid: string, keep: { offerings: string[]; plans: string[] }): Promise<void> {
  const used = db.selectFrom('service_instances').select('plan_guid').where('plan_guid', 'is not', null);
  let stalePlans = db
    .deleteFrom('service_plans')
    .where('offering_guid', 'in', db.selectFrom('service_offerings').select('guid').where('broker_guid', '=', brokerGuid))
    // plan_guid is nullable and guid is not; the null ones are filtered out above.
    .where('guid', 'not in', used as never);
  if (keep.plans.length) stalePlans = stalePlans.where('guid', 'not in', keep.plans);
  await stalePlans.execute();
  let staleOfferings = db.deleteFrom('service_offerings').where('broker_guid', '=', brokerGuid).where('guid', 'not in', db.selectFrom('service_plans').select('offering_guid'));
  if (keep.offerings.length) staleOfferings = staleOfferings.where('guid', 'not in', keep.offerings);
  await staleOfferings.execute();
}

// Instances

export const findInstance = (db: Db, guid: string) => db.selectFrom('service_instances').selectAll().where('guid', '=', guid).executeTakeFirst();

export const getInstance = async (db: Db, guid: string): Promise<InstanceRow> => found(await findInstance(db, guid), 'Service instance');

export const findInstanceByName = (db: Db, spaceGuid: string, name: string) =>
  db.selectFrom('service_instances').selectAll().where('space_guid', '=', spaceGuid).where('name', '=', name).executeTakeFirst();

export const INSTANCE_FILTERS = ['names', 'space_guids', 'service_plan_guids'] as const;

/** A list of instances: the filters, and `type` (one value, managed or user-provided). */
export type InstanceListMessage = ListMessage<(typeof INSTANCE_FILTERS)[number]> & { type?: string };

export const listInstances = (db: Db, message: InstanceListMessage) => {
  let q = filtered(db.selectFrom('service_instances').selectAll(), message.filters, { names: 'name', space_guids: 'space_guid', service_plan_guids: 'plan_guid' });
  if (message.type) q = q.where('type', '=', message.type);
  return page(q, message);
};

export const insertInstance = (db: Db, row: InstanceRow) => db.insertInto('service_instances').values(row).execute();

export const deleteInstance = (db: Db, guid: string) => db.deleteFrom('service_instances').where('guid', '=', guid).execute();

/**
 * Changes the instance if its last operation is still `lastOperation` (as read): false when another
 * request started an operation on it meanwhile.
 */
export async function updateInstanceIf(db: Db, guid: string, lastOperation: string, changes: Partial<Omit<InstanceRow, 'guid' | 'type' | 'space_guid' | 'created_at'>>): Promise<boolean> {
  const result = await db.updateTable('service_instances').set(changes).where('guid', '=', guid).where('last_operation', '=', lastOperation).executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

// Credential bindings (type app: to an app; type key: a service key)

export const findBinding = (db: Db, guid: string) => db.selectFrom('service_bindings').selectAll().where('guid', '=', guid).executeTakeFirst();

export const getBinding = async (db: Db, guid: string): Promise<BindingRow> => found(await findBinding(db, guid), 'Service credential binding');

export const BINDING_FILTERS = ['names', 'service_instance_guids', 'service_instance_names', 'app_guids'] as const;

/** A list of credential bindings: the filters, and `type` (one value, app or key). */
export type BindingListMessage = ListMessage<(typeof BINDING_FILTERS)[number]> & { type?: string };

export const listBindings = (db: Db, message: BindingListMessage) => {
  let q = filtered(db.selectFrom('service_bindings').selectAll(), message.filters, {
    names: 'name',
    service_instance_guids: 'instance_guid',
    service_instance_names: (q, names) => q.where('instance_guid', 'in', db.selectFrom('service_instances').select('guid').where('name', 'in', names)),
    app_guids: 'app_guid',
  });
  if (message.type) q = q.where('type', '=', message.type);
  return page(q, message);
};

/** The type (app or key) of each of the instance's bindings. */
export const instanceBindingTypes = async (db: Db, instanceGuid: string): Promise<string[]> =>
  (await db.selectFrom('service_bindings').select('type').where('instance_guid', '=', instanceGuid).execute()).map((b) => b.type);

/** What a binding holds of its instance (unique per instance): one binding per app, one key per name. */
export const bindingClaim = (binding: { type: 'app'; appGuid: string } | { type: 'key'; name: string }) => (binding.type === 'app' ? `app:${binding.appGuid}` : `key:${binding.name}`);

export const findBindingByClaim = (db: Db, instanceGuid: string, claim: string) =>
  db.selectFrom('service_bindings').selectAll().where('instance_guid', '=', instanceGuid).where('claim', '=', claim).executeTakeFirst();

/** The app's binding to the instance, if any. */
export const findAppBinding = (db: Db, instanceGuid: string, appGuid: string) => findBindingByClaim(db, instanceGuid, bindingClaim({ type: 'app', appGuid }));

export const insertBinding = (db: Db, row: BindingRow) => db.insertInto('service_bindings').values(row).execute();

export const updateBinding = (db: Db, guid: string, changes: Partial<Pick<BindingRow, 'credentials' | 'syslog_drain_url' | 'last_operation' | 'updated_at'>>) =>
  db.updateTable('service_bindings').set(changes).where('guid', '=', guid).execute();

/** Changes the binding if its last operation is still `lastOperation` (as read): false when another request got there first. */
export async function updateBindingIf(db: Db, guid: string, lastOperation: string, changes: Partial<Pick<BindingRow, 'last_operation' | 'updated_at'>>): Promise<boolean> {
  const result = await db.updateTable('service_bindings').set(changes).where('guid', '=', guid).where('last_operation', '=', lastOperation).executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export const deleteBinding = (db: Db, guid: string) => db.deleteFrom('service_bindings').where('guid', '=', guid).execute();

/** The instance's bindings and keys, whatever their state. */
export const instanceBindings = (db: Db, instanceGuid: string) => db.selectFrom('service_bindings').selectAll().where('instance_guid', '=', instanceGuid).execute();

export const deleteInstanceBindings = (db: Db, instanceGuid: string) => db.deleteFrom('service_bindings').where('instance_guid', '=', instanceGuid).execute();

/** The app's bindings (not its keys) with their instance, plan and offering, oldest first: what VCAP_SERVICES is made of (of those its broker has made). */
export const appBindingsWithServices = (db: Db, appGuid: string) =>
  db
    .selectFrom('service_bindings as b')
    .innerJoin('service_instances as i', 'i.guid', 'b.instance_guid')
    .leftJoin('service_plans as p', 'p.guid', 'i.plan_guid')
    .leftJoin('service_offerings as o', 'o.guid', 'p.offering_guid')
    .select([
      'b.guid as binding_guid',
      'b.name as binding_name',
      'b.credentials',
      'b.syslog_drain_url',
      'b.last_operation',
      'i.guid as instance_guid',
      'i.name as instance_name',
      'i.type as instance_type',
      'i.tags as instance_tags',
      'p.name as plan',
      'o.guid as offering_guid',
      'o.name as offering',
      'o.catalog as offering_catalog',
    ])
    .where('b.app_guid', '=', appGuid)
    .where('b.type', '=', 'app')
    .orderBy('b.created_at')
    .orderBy('b.guid')
    .execute();

// Related rows for `include` and `fields` (each list in guid order, without duplicates)

const uniq = (guids: (string | null)[]) => [...new Set(guids.filter((g): g is string => !!g))];

export const brokersByGuids = async (db: Db, guids: (string | null)[]): Promise<BrokerRow[]> =>
  uniq(guids).length ? db.selectFrom('service_brokers').selectAll().where('guid', 'in', uniq(guids)).orderBy('guid').execute() : [];

export const offeringsByGuids = async (db: Db, guids: (string | null)[]): Promise<OfferingRow[]> =>
  uniq(guids).length ? db.selectFrom('service_offerings').selectAll().where('guid', 'in', uniq(guids)).orderBy('guid').execute() : [];

export const plansByGuids = async (db: Db, guids: (string | null)[]): Promise<PlanRow[]> =>
  uniq(guids).length ? db.selectFrom('service_plans').selectAll().where('guid', 'in', uniq(guids)).orderBy('guid').execute() : [];

export const instancesByGuids = async (db: Db, guids: (string | null)[]): Promise<InstanceRow[]> =>
  uniq(guids).length ? db.selectFrom('service_instances').selectAll().where('guid', 'in', uniq(guids)).orderBy('guid').execute() : [];
