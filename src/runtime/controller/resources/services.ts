// Service brokers and what their catalogs offer: service offerings and their plans. Registering a
// broker (or updating it) fetches its catalog at once; the broker's password is never returned.
import { ApiError, notFound } from '../api/errors.js';
import type { Routes } from '../api/http.js';
import { filterList, listParams, paginated } from '../api/pagination.js';
import type { Database } from '../db/schema.js';
import { newGuid, now, parseJson, type Metadata, type RequestContext } from '../context.js';
import { BrokerClient, type CatalogService } from '../services/broker-client.js';
import { recordEvent } from './audit-events.js';
import { createJob } from './jobs.js';
import { isUniqueViolation, page } from './query.js';
import { allowOnly, asObject, metadataUpdate, optionalObject, optionalString, requiredString, type Body } from './validate.js';
import { serviceInstanceRoutes } from './services-instances.js';

type BrokerRow = Database['service_brokers'];
type OfferingRow = Database['service_offerings'];
type PlanRow = Database['service_plans'];

export function presentBroker(row: BrokerRow, ctx: RequestContext) {
  const self = `${ctx.urls.api}/v3/service_brokers/${row.guid}`;
  return {
    guid: row.guid,
    name: row.name,
    url: row.url,
    created_at: row.created_at,
    updated_at: row.updated_at,
    relationships: {},
    metadata: parseJson<Metadata>(row.metadata, { labels: {}, annotations: {} }),
    links: { self: { href: self }, service_offerings: { href: `${ctx.urls.api}/v3/service_offerings?service_broker_guids=${row.guid}` } },
  };
}

export function presentOffering(row: OfferingRow, ctx: RequestContext) {
  const catalog = parseJson<Partial<CatalogService>>(row.catalog, {});
  const self = `${ctx.urls.api}/v3/service_offerings/${row.guid}`;
  return {
    guid: row.guid,
    name: row.name,
    description: row.description,
    available: true,
    tags: catalog.tags ?? [],
    requires: (catalog.requires as string[] | undefined) ?? [],
    created_at: row.created_at,
    updated_at: row.updated_at,
    shareable: Boolean((catalog.metadata as { shareable?: boolean } | undefined)?.shareable),
    documentation_url: (catalog.metadata as { documentationUrl?: string } | undefined)?.documentationUrl ?? null,
    broker_catalog: {
      id: row.broker_id,
      metadata: (catalog.metadata as Record<string, unknown> | undefined) ?? {},
      features: {
        plan_updateable: Boolean(catalog.plan_updateable),
        bindable: catalog.bindable !== false,
        instances_retrievable: Boolean(catalog.instances_retrievable),
        bindings_retrievable: Boolean(catalog.bindings_retrievable),
        allow_context_updates: Boolean(catalog.allow_context_updates),
      },
    },
    relationships: { service_broker: { data: { guid: row.broker_guid } } },
    metadata: { labels: {}, annotations: {} },
    links: {
      self: { href: self },
      service_plans: { href: `${ctx.urls.api}/v3/service_plans?service_offering_guids=${row.guid}` },
      service_broker: { href: `${ctx.urls.api}/v3/service_brokers/${row.broker_guid}` },
    },
  };
}

export function presentPlan(row: PlanRow, ctx: RequestContext) {
  const catalog = parseJson<Record<string, unknown>>(row.catalog, {});
  return {
    guid: row.guid,
    name: row.name,
    description: row.description,
    visibility_type: 'public',
    available: true,
    free: catalog.free !== false,
    costs: [],
    created_at: row.created_at,
    updated_at: row.updated_at,
    maintenance_info: (catalog.maintenance_info as Record<string, unknown> | undefined) ?? {},
    broker_catalog: {
      id: row.broker_id,
      metadata: (catalog.metadata as Record<string, unknown> | undefined) ?? {},
      maximum_polling_duration: (catalog.maximum_polling_duration as number | undefined) ?? null,
      features: { bindable: catalog.bindable !== false, plan_updateable: Boolean(catalog.plan_updateable) },
    },
    schemas: (catalog.schemas as Record<string, unknown> | undefined) ?? { service_instance: { create: {}, update: {} }, service_binding: { create: {} } },
    relationships: { service_offering: { data: { guid: row.offering_guid } } },
    metadata: { labels: {}, annotations: {} },
    links: {
      self: { href: `${ctx.urls.api}/v3/service_plans/${row.guid}` },
      service_offering: { href: `${ctx.urls.api}/v3/service_offerings/${row.offering_guid}` },
    },
  };
}

export async function findBroker(ctx: RequestContext, guid: string): Promise<BrokerRow> {
  const row = await ctx.db.selectFrom('service_brokers').selectAll().where('guid', '=', guid).executeTakeFirst();
  if (!row) throw notFound('Service broker');
  return row;
}

/** Stores the broker's catalog: offerings and plans upserted by their catalog ids; those gone are removed unless instances use them. */
export async function storeCatalog(ctx: RequestContext, broker: BrokerRow, services: CatalogService[]): Promise<void> {
  const at = now();
  // New offerings and plans are stamped a millisecond apart, so lists (ordered by created_at) keep
  // the order of the broker's catalog, as cf shows it.
  let stamped = 0;
  const createdAt = () => new Date(Date.parse(at) + stamped++).toISOString();
  await ctx.db.transaction().execute(async (trx) => {
    const keepOfferings: string[] = [];
    const keepPlans: string[] = [];
    for (const service of services) {
      const { plans, ...rest } = service;
      const existing = await trx.selectFrom('service_offerings').select('guid').where('broker_guid', '=', broker.guid).where('broker_id', '=', service.id).executeTakeFirst();
      const offeringGuid = existing?.guid ?? newGuid();
      const values = { name: service.name, description: service.description, catalog: JSON.stringify(rest), updated_at: at };
      if (existing) await trx.updateTable('service_offerings').set(values).where('guid', '=', offeringGuid).execute();
      else await trx.insertInto('service_offerings').values({ guid: offeringGuid, broker_guid: broker.guid, broker_id: service.id, created_at: createdAt(), ...values }).execute();
      keepOfferings.push(offeringGuid);
      for (const plan of plans) {
        const current = await trx.selectFrom('service_plans').select('guid').where('offering_guid', '=', offeringGuid).where('broker_id', '=', plan.id).executeTakeFirst();
        const planGuid = current?.guid ?? newGuid();
        const planValues = { name: plan.name, description: plan.description, catalog: JSON.stringify(plan), updated_at: at };
        if (current) await trx.updateTable('service_plans').set(planValues).where('guid', '=', planGuid).execute();
        else await trx.insertInto('service_plans').values({ guid: planGuid, offering_guid: offeringGuid, broker_id: plan.id, created_at: createdAt(), ...planValues }).execute();
        keepPlans.push(planGuid);
      }
    }
    const used = trx.selectFrom('service_instances').select('plan_guid').where('plan_guid', 'is not', null);
    let stalePlans = trx.deleteFrom('service_plans').where('offering_guid', 'in', trx.selectFrom('service_offerings').select('guid').where('broker_guid', '=', broker.guid)).where('guid', 'not in', used as never);
    if (keepPlans.length) stalePlans = stalePlans.where('guid', 'not in', keepPlans);
    await stalePlans.execute();
    let staleOfferings = trx.deleteFrom('service_offerings').where('broker_guid', '=', broker.guid).where('guid', 'not in', trx.selectFrom('service_plans').select('offering_guid'));
    if (keepOfferings.length) staleOfferings = staleOfferings.where('guid', 'not in', keepOfferings);
    await staleOfferings.execute();
  });
}

function brokerFields(body: Body, required: boolean) {
  const name = required ? requiredString(body, 'name') : optionalString(body, 'name');
  const url = required ? requiredString(body, 'url', { max: 2048 }) : optionalString(body, 'url', { max: 2048 });
  if (url !== undefined && !/^https?:\/\/[^/\s]+/.test(url)) throw new ApiError('UnprocessableEntity', 'Url must be a valid url');
  const auth = optionalObject(body, 'authentication');
  if (required && !auth) throw new ApiError('UnprocessableEntity', "Authentication can't be blank");
  let credentials: { username: string; password: string } | undefined;
  if (auth) {
    allowOnly(auth, ['type', 'credentials']);
    if (auth.type !== 'basic') throw new ApiError('UnprocessableEntity', 'Authentication type must be basic');
    const creds = optionalObject(auth, 'credentials');
    if (!creds) throw new ApiError('UnprocessableEntity', "Authentication credentials can't be blank");
    credentials = { username: requiredString(creds, 'username'), password: requiredString(creds, 'password') };
  }
  return { name, url, credentials };
}

export function serviceRoutes(routes: Routes<RequestContext>): void {
  routes.get('/v3/service_brokers', async (req, ctx) => {
    const params = listParams(req.query);
    let q = ctx.db.selectFrom('service_brokers').selectAll();
    const names = filterList(req.query, 'names');
    if (names) q = q.where('name', 'in', names.length ? names : ['']);
    const { total, rows } = await page(q, params);
    return { body: paginated(ctx.urls.api, '/v3/service_brokers', req.query, params, total, rows.map((r) => presentBroker(r, ctx))) };
  });

  routes.get('/v3/service_brokers/:guid', async (req, ctx) => ({ body: presentBroker(await findBroker(ctx, req.params.guid), ctx) }));

  routes.post('/v3/service_brokers', async (req, ctx) => {
    if (!ctx.actor.admin) throw new ApiError('NotAuthorized', 'You are not authorized to perform the requested action');
    const body = asObject(req.body);
    allowOnly(body, ['name', 'url', 'authentication', 'relationships', 'metadata']);
    const fields = brokerFields(body, true);
    const at = now();
    const row: BrokerRow = {
      guid: newGuid(),
      name: fields.name!,
      url: fields.url!,
      username: fields.credentials!.username,
      password: fields.credentials!.password,
      metadata: JSON.stringify(metadataUpdate(body, { labels: {}, annotations: {} })),
      created_at: at,
      updated_at: at,
    };
    if (await ctx.db.selectFrom('service_brokers').select('guid').where('name', '=', row.name).executeTakeFirst()) {
      throw new ApiError('UniquenessError', `Name must be unique`);
    }
    const catalog = await new BrokerClient(row, ctx.actor.guid, ctx.log).catalog();
    try {
      await ctx.db.insertInto('service_brokers').values(row).execute();
    } catch (error) {
      if (isUniqueViolation(error)) throw new ApiError('UniquenessError', 'Name must be unique');
      throw error;
    }
    await storeCatalog(ctx, row, catalog);
    await recordEvent(ctx.db, { type: 'audit.service_broker.create', actor: ctx.actor, target: { guid: row.guid, type: 'service_broker', name: row.name }, data: { request: { name: row.name, url: row.url, authentication: '[PRIVATE DATA HIDDEN]' } } });
    const job = await createJob(ctx, 'service_broker.catalog.synchronize', { guid: row.guid, type: 'service_broker' });
    return { status: 202, headers: { Location: `${ctx.urls.api}/v3/jobs/${job.guid}` } };
  });

  routes.patch('/v3/service_brokers/:guid', async (req, ctx) => {
    if (!ctx.actor.admin) throw new ApiError('NotAuthorized', 'You are not authorized to perform the requested action');
    const broker = await findBroker(ctx, req.params.guid);
    const body = asObject(req.body);
    allowOnly(body, ['name', 'url', 'authentication', 'metadata']);
    const fields = brokerFields(body, false);
    const next: BrokerRow = {
      ...broker,
      name: fields.name ?? broker.name,
      url: fields.url ?? broker.url,
      username: fields.credentials?.username ?? broker.username,
      password: fields.credentials?.password ?? broker.password,
      metadata: JSON.stringify(metadataUpdate(body, parseJson<Metadata>(broker.metadata, { labels: {}, annotations: {} }))),
      updated_at: now(),
    };
    const refresh = fields.url !== undefined || fields.credentials !== undefined || fields.name !== undefined || Object.keys(body).length === 0;
    const catalog = refresh ? await new BrokerClient(next, ctx.actor.guid, ctx.log).catalog() : undefined;
    try {
      await ctx.db.updateTable('service_brokers').set(next).where('guid', '=', broker.guid).execute();
    } catch (error) {
      if (isUniqueViolation(error)) throw new ApiError('UniquenessError', 'Name must be unique');
      throw error;
    }
    if (catalog) await storeCatalog(ctx, next, catalog);
    await recordEvent(ctx.db, { type: 'audit.service_broker.update', actor: ctx.actor, target: { guid: broker.guid, type: 'service_broker', name: next.name }, data: { request: { name: fields.name, url: fields.url, ...(fields.credentials ? { authentication: '[PRIVATE DATA HIDDEN]' } : {}) } } });
    if (!catalog) return { body: presentBroker(next, ctx) };
    const job = await createJob(ctx, 'service_broker.update', { guid: broker.guid, type: 'service_broker' });
    return { status: 202, headers: { Location: `${ctx.urls.api}/v3/jobs/${job.guid}` } };
  });

  routes.delete('/v3/service_brokers/:guid', async (req, ctx) => {
    if (!ctx.actor.admin) throw new ApiError('NotAuthorized', 'You are not authorized to perform the requested action');
    const broker = await findBroker(ctx, req.params.guid);
    const instances = await ctx.db
      .selectFrom('service_instances')
      .select('service_instances.name')
      .innerJoin('service_plans', 'service_plans.guid', 'service_instances.plan_guid')
      .innerJoin('service_offerings', 'service_offerings.guid', 'service_plans.offering_guid')
      .where('service_offerings.broker_guid', '=', broker.guid)
      .execute();
    if (instances.length) {
      throw new ApiError('UnprocessableEntity', `Can not remove brokers that have associated service instances: ${instances.map((i) => i.name).join(', ')}`);
    }
    await ctx.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('service_plans').where('offering_guid', 'in', trx.selectFrom('service_offerings').select('guid').where('broker_guid', '=', broker.guid)).execute();
      await trx.deleteFrom('service_offerings').where('broker_guid', '=', broker.guid).execute();
      await trx.deleteFrom('service_brokers').where('guid', '=', broker.guid).execute();
    });
    await recordEvent(ctx.db, { type: 'audit.service_broker.delete', actor: ctx.actor, target: { guid: broker.guid, type: 'service_broker', name: broker.name }, data: {} });
    const job = await createJob(ctx, 'service_broker.delete', { guid: broker.guid, type: 'service_broker' });
    return { status: 202, headers: { Location: `${ctx.urls.api}/v3/jobs/${job.guid}` } };
  });

  routes.get('/v3/service_offerings', async (req, ctx) => {
    const params = listParams(req.query);
    let q = ctx.db.selectFrom('service_offerings').selectAll();
    const names = filterList(req.query, 'names');
    const brokers = filterList(req.query, 'service_broker_guids');
    const brokerNames = filterList(req.query, 'service_broker_names');
    if (names) q = q.where('name', 'in', names.length ? names : ['']);
    if (brokers) q = q.where('broker_guid', 'in', brokers.length ? brokers : ['']);
    if (brokerNames) q = q.where('broker_guid', 'in', ctx.db.selectFrom('service_brokers').select('guid').where('name', 'in', brokerNames.length ? brokerNames : ['']));
    const { total, rows } = await page(q, params);
    return { body: paginated(ctx.urls.api, '/v3/service_offerings', req.query, params, total, rows.map((r) => presentOffering(r, ctx))) };
  });

  routes.get('/v3/service_offerings/:guid', async (req, ctx) => {
    const row = await ctx.db.selectFrom('service_offerings').selectAll().where('guid', '=', req.params.guid).executeTakeFirst();
    if (!row) throw notFound('Service offering');
    return { body: presentOffering(row, ctx) };
  });

  routes.get('/v3/service_plans', async (req, ctx) => {
    const params = listParams(req.query);
    let q = ctx.db.selectFrom('service_plans').selectAll();
    const names = filterList(req.query, 'names');
    const offerings = filterList(req.query, 'service_offering_guids');
    const offeringNames = filterList(req.query, 'service_offering_names');
    const brokers = filterList(req.query, 'service_broker_guids');
    if (names) q = q.where('name', 'in', names.length ? names : ['']);
    if (offerings) q = q.where('offering_guid', 'in', offerings.length ? offerings : ['']);
    if (offeringNames) q = q.where('offering_guid', 'in', ctx.db.selectFrom('service_offerings').select('guid').where('name', 'in', offeringNames.length ? offeringNames : ['']));
    if (brokers) q = q.where('offering_guid', 'in', ctx.db.selectFrom('service_offerings').select('guid').where('broker_guid', 'in', brokers.length ? brokers : ['']));
    const { total, rows } = await page(q, params);
    return { body: paginated(ctx.urls.api, '/v3/service_plans', req.query, params, total, rows.map((r) => presentPlan(r, ctx))) };
  });

  routes.get('/v3/service_plans/:guid', async (req, ctx) => {
    const row = await ctx.db.selectFrom('service_plans').selectAll().where('guid', '=', req.params.guid).executeTakeFirst();
    if (!row) throw notFound('Service plan');
    return { body: presentPlan(row, ctx) };
  });

  serviceInstanceRoutes(routes);
}
