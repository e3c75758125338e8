// Service instances (managed: provisioned by a broker; user-provided: credentials given by the user)
// and service credential bindings (to an app, or a service key). v3 makes the broker calls
// asynchronous; devbox calls the broker before answering, so every last_operation has succeeded
// and creates answer 201 with the resource.
import { ApiError, notFound } from '../api/errors.js';
import type { Routes } from '../api/http.js';
import { filterList, listParams, paginated } from '../api/pagination.js';
import type { Database } from '../db/schema.js';
import { newGuid, now, parseJson, type Metadata, type RequestContext } from '../context.js';
import { BrokerClient } from '../services/broker-client.js';
import { apiLog, findApp } from './apps.js';
import { recordEvent } from './audit-events.js';
import { createJob } from './jobs.js';
import { findSpace } from './organizations.js';
import { isUniqueViolation, page } from './query.js';
import { allowOnly, asObject, metadataUpdate, optionalObject, optionalString, relationshipGuid, requiredString, type Body } from './validate.js';

type InstanceRow = Database['service_instances'];
type BindingRow = Database['service_bindings'];

const lastOperation = (type: 'create' | 'update' | 'delete', at: string) => JSON.stringify({ type, state: 'succeeded', description: '', created_at: at, updated_at: at });

export function presentInstance(row: InstanceRow, ctx: RequestContext) {
  const self = `${ctx.urls.api}/v3/service_instances/${row.guid}`;
  const common = {
    guid: row.guid,
    name: row.name,
    type: row.type,
    tags: parseJson<string[]>(row.tags, []),
    last_operation: parseJson(row.last_operation, {}),
    created_at: row.created_at,
    updated_at: row.updated_at,
    metadata: parseJson<Metadata>(row.metadata, { labels: {}, annotations: {} }),
  };
  const links = {
    self: { href: self },
    space: { href: `${ctx.urls.api}/v3/spaces/${row.space_guid}` },
    service_credential_bindings: { href: `${ctx.urls.api}/v3/service_credential_bindings?service_instance_guids=${row.guid}` },
  };
  if (row.type === 'user-provided') {
    return {
      ...common,
      syslog_drain_url: row.syslog_drain_url,
      route_service_url: row.route_service_url,
      relationships: { space: { data: { guid: row.space_guid } } },
      links: { ...links, credentials: { href: `${self}/credentials` } },
    };
  }
  return {
    ...common,
    maintenance_info: {},
    upgrade_available: false,
    dashboard_url: row.dashboard_url,
    relationships: { space: { data: { guid: row.space_guid } }, service_plan: { data: { guid: row.plan_guid } } },
    links: { ...links, service_plan: { href: `${ctx.urls.api}/v3/service_plans/${row.plan_guid}` }, parameters: { href: `${self}/parameters` } },
  };
}

export function presentBinding(row: BindingRow, ctx: RequestContext) {
  const self = `${ctx.urls.api}/v3/service_credential_bindings/${row.guid}`;
  return {
    guid: row.guid,
    created_at: row.created_at,
    updated_at: row.updated_at,
    name: row.name,
    type: row.type,
    last_operation: parseJson(row.last_operation, {}),
    metadata: parseJson<Metadata>(row.metadata, { labels: {}, annotations: {} }),
    relationships: {
      ...(row.type === 'app' ? { app: { data: { guid: row.app_guid } } } : {}),
      service_instance: { data: { guid: row.instance_guid } },
    },
    links: {
      self: { href: self },
      details: { href: `${self}/details` },
      service_instance: { href: `${ctx.urls.api}/v3/service_instances/${row.instance_guid}` },
      ...(row.type === 'app' ? { app: { href: `${ctx.urls.api}/v3/apps/${row.app_guid}` } } : {}),
    },
  };
}

async function findInstance(ctx: RequestContext, guid: string): Promise<InstanceRow> {
  const row = await ctx.db.selectFrom('service_instances').selectAll().where('guid', '=', guid).executeTakeFirst();
  if (!row) throw notFound('Service instance');
  return row;
}

async function findBinding(ctx: RequestContext, guid: string): Promise<BindingRow> {
  const row = await ctx.db.selectFrom('service_bindings').selectAll().where('guid', '=', guid).executeTakeFirst();
  if (!row) throw notFound('Service credential binding');
  return row;
}

/** The broker, offering and plan behind a managed instance. */
async function brokerFor(ctx: RequestContext, planGuid: string) {
  const plan = await ctx.db.selectFrom('service_plans').selectAll().where('guid', '=', planGuid).executeTakeFirst();
  if (!plan) throw new ApiError('UnprocessableEntity', 'Invalid service plan. Ensure that the service plan exists, is available, and you have access to it.');
  const offering = await ctx.db.selectFrom('service_offerings').selectAll().where('guid', '=', plan.offering_guid).executeTakeFirstOrThrow();
  const broker = await ctx.db.selectFrom('service_brokers').selectAll().where('guid', '=', offering.broker_guid).executeTakeFirstOrThrow();
  return { plan, offering, broker, client: new BrokerClient(broker, ctx.actor.guid, ctx.log), ids: { service_id: offering.broker_id, plan_id: plan.broker_id } };
}

function stringTags(body: Body): string[] {
  const tags = body.tags;
  if (tags === undefined) return [];
  if (!Array.isArray(tags) || tags.some((t) => typeof t !== 'string')) throw new ApiError('UnprocessableEntity', 'Tags must be a list of strings');
  return tags as string[];
}

function objectField(body: Body, field: string): Record<string, unknown> | undefined {
  return optionalObject(body, field);
}

function instanceEvent(ctx: RequestContext, type: string, row: InstanceRow, organizationGuid: string, data: Record<string, unknown> = {}) {
  const prefix = row.type === 'user-provided' ? 'audit.user_provided_service_instance' : 'audit.service_instance';
  return recordEvent(ctx.db, { type: `${prefix}.${type}`, actor: ctx.actor, target: { guid: row.guid, type: row.type === 'user-provided' ? 'user_provided_service_instance' : 'service_instance', name: row.name }, spaceGuid: row.space_guid, organizationGuid, data });
}

export function serviceInstanceRoutes(routes: Routes<RequestContext>): void {
  routes.get('/v3/service_instances', async (req, ctx) => {
    const params = listParams(req.query);
    let q = ctx.db.selectFrom('service_instances').selectAll();
    const names = filterList(req.query, 'names');
    const spaces = filterList(req.query, 'space_guids');
    const plans = filterList(req.query, 'service_plan_guids');
    const type = req.query.get('type');
    if (names) q = q.where('name', 'in', names.length ? names : ['']);
    if (spaces) q = q.where('space_guid', 'in', spaces.length ? spaces : ['']);
    if (plans) q = q.where('plan_guid', 'in', plans.length ? plans : ['']);
    if (type) q = q.where('type', '=', type);
    const { total, rows } = await page(q, params);
    return { body: paginated(ctx.urls.api, '/v3/service_instances', req.query, params, total, rows.map((r) => presentInstance(r, ctx))) };
  });

  routes.get('/v3/service_instances/:guid', async (req, ctx) => ({ body: presentInstance(await findInstance(ctx, req.params.guid), ctx) }));

  routes.get('/v3/service_instances/:guid/credentials', async (req, ctx) => {
    const row = await findInstance(ctx, req.params.guid);
    if (row.type !== 'user-provided') throw notFound('Service instance');
    return { body: parseJson(row.credentials, {}) };
  });

  routes.post('/v3/service_instances', async (req, ctx) => {
    const body = asObject(req.body);
    const type = body.type;
    if (type !== 'managed' && type !== 'user-provided') throw new ApiError('UnprocessableEntity', "Type must be one of 'managed', 'user-provided'");
    allowOnly(body, type === 'managed' ? ['type', 'name', 'relationships', 'parameters', 'tags', 'metadata'] : ['type', 'name', 'relationships', 'credentials', 'tags', 'syslog_drain_url', 'route_service_url', 'metadata']);
    const name = requiredString(body, 'name');
    const space = await ctx.db.selectFrom('spaces').selectAll().where('guid', '=', relationshipGuid(body, 'space')).executeTakeFirst();
    if (!space) throw new ApiError('UnprocessableEntity', 'Invalid space. Ensure that the space exists and you have access to it.');
    const tags = stringTags(body);
    const taken = () => new ApiError('UniquenessError', `The service instance name is taken: ${name}.`);
    if (await ctx.db.selectFrom('service_instances').select('guid').where('space_guid', '=', space.guid).where('name', '=', name).executeTakeFirst()) throw taken();
    const at = now();
    const row: InstanceRow = {
      guid: newGuid(),
      name,
      type,
      space_guid: space.guid,
      plan_guid: null,
      credentials: null,
      tags: JSON.stringify(tags),
      syslog_drain_url: null,
      route_service_url: null,
      dashboard_url: null,
      last_operation: lastOperation('create', at),
      metadata: JSON.stringify(metadataUpdate(body, { labels: {}, annotations: {} })),
      created_at: at,
      updated_at: at,
    };
    if (type === 'user-provided') {
      row.credentials = JSON.stringify(objectField(body, 'credentials') ?? {});
      row.syslog_drain_url = optionalString(body, 'syslog_drain_url', { max: 2048 }) ?? null;
      row.route_service_url = optionalString(body, 'route_service_url', { max: 2048 }) ?? null;
    } else {
      const parameters = objectField(body, 'parameters');
      const { plan, offering, client, ids } = await brokerFor(ctx, relationshipGuid(body, 'service_plan'));
      row.plan_guid = plan.guid;
      const org = await ctx.db.selectFrom('organizations').selectAll().where('guid', '=', space.organization_guid).executeTakeFirstOrThrow();
      const answer = await client.provision(
        row.guid,
        {
          ...ids,
          organization_guid: org.guid,
          space_guid: space.guid,
          ...(parameters ? { parameters } : {}),
          context: { platform: 'cloudfoundry', organization_guid: org.guid, organization_name: org.name, space_guid: space.guid, space_name: space.name, instance_name: name },
        },
        ids,
      );
      row.dashboard_url = typeof answer.dashboard_url === 'string' ? answer.dashboard_url : null;
      ctx.log.info('provisioned', { instance: row.guid, offering: offering.name, plan: plan.name });
    }
    try {
      await ctx.db.insertInto('service_instances').values(row).execute();
    } catch (error) {
      if (isUniqueViolation(error)) throw taken();
      throw error;
    }
    await instanceEvent(ctx, 'create', row, space.organization_guid, { request: { name, type, relationships: { space: space.guid, service_plan: row.plan_guid }, ...(type === 'user-provided' ? { credentials: '[PRIVATE DATA HIDDEN]' } : body.parameters ? { parameters: '[PRIVATE DATA HIDDEN]' } : {}) } });
    return { status: 201, body: presentInstance(row, ctx) };
  });

  routes.delete('/v3/service_instances/:guid', async (req, ctx) => {
    const row = await findInstance(ctx, req.params.guid);
    const space = await findSpace(ctx, row.space_guid);
    const bindings = await ctx.db.selectFrom('service_bindings').select(['type']).where('instance_guid', '=', row.guid).execute();
    if (bindings.length) {
      const apps = bindings.filter((b) => b.type === 'app').length;
      const keys = bindings.length - apps;
      const has = [apps ? `${apps} app binding${apps > 1 ? 's' : ''}` : '', keys ? `${keys} service key${keys > 1 ? 's' : ''}` : ''].filter(Boolean).join(' and ');
      const todo = [apps ? 'unbind it from its apps (unbind-service)' : '', keys ? 'delete its service keys (delete-service-key)' : ''].filter(Boolean).join(' and ');
      const detail = `Cannot delete service instance ${row.name}: it still has ${has}. Service keys, bindings, and shares must first be deleted: ${todo}, then delete it.`;
      throw Object.assign(new ApiError('UnprocessableEntity', detail), { title: 'CF-AssociationNotEmpty', code: 10006 });
    }
    if (row.type === 'managed' && row.plan_guid) {
      const { client, ids } = await brokerFor(ctx, row.plan_guid);
      await client.deprovision(row.guid, ids);
    }
    await ctx.db.deleteFrom('service_instances').where('guid', '=', row.guid).execute();
    await instanceEvent(ctx, 'delete', row, space.organization_guid);
    if (row.type === 'user-provided') return { status: 204 };
    const job = await createJob(ctx, 'service_instance.delete', { guid: row.guid, type: 'service_instances' });
    return { status: 202, headers: { Location: `${ctx.urls.api}/v3/jobs/${job.guid}` } };
  });

  routes.get('/v3/service_credential_bindings', async (req, ctx) => {
    const params = listParams(req.query);
    let q = ctx.db.selectFrom('service_bindings').selectAll();
    const names = filterList(req.query, 'names');
    const instances = filterList(req.query, 'service_instance_guids');
    const instanceNames = filterList(req.query, 'service_instance_names');
    const apps = filterList(req.query, 'app_guids');
    const type = req.query.get('type');
    if (names) q = q.where('name', 'in', names.length ? names : ['']);
    if (instances) q = q.where('instance_guid', 'in', instances.length ? instances : ['']);
    if (instanceNames) q = q.where('instance_guid', 'in', ctx.db.selectFrom('service_instances').select('guid').where('name', 'in', instanceNames.length ? instanceNames : ['']));
    if (apps) q = q.where('app_guid', 'in', apps.length ? apps : ['']);
    if (type) q = q.where('type', '=', type);
    const { total, rows } = await page(q, params);
    return { body: paginated(ctx.urls.api, '/v3/service_credential_bindings', req.query, params, total, rows.map((r) => presentBinding(r, ctx))) };
  });

  routes.get('/v3/service_credential_bindings/:guid', async (req, ctx) => ({ body: presentBinding(await findBinding(ctx, req.params.guid), ctx) }));

  routes.get('/v3/service_credential_bindings/:guid/details', async (req, ctx) => {
    const row = await findBinding(ctx, req.params.guid);
    return { body: { credentials: parseJson(row.credentials, {}), syslog_drain_url: row.syslog_drain_url, volume_mounts: [] } };
  });

  routes.post('/v3/service_credential_bindings', async (req, ctx) => {
    const body = asObject(req.body);
    allowOnly(body, ['type', 'name', 'relationships', 'parameters', 'metadata']);
    const type = body.type;
    if (type !== 'app' && type !== 'key') throw new ApiError('UnprocessableEntity', "Type must be 'app' or 'key'");
    const name = optionalString(body, 'name') ?? null;
    if (type === 'key' && !name) throw new ApiError('UnprocessableEntity', "Name can't be blank");
    const instance = await ctx.db.selectFrom('service_instances').selectAll().where('guid', '=', relationshipGuid(body, 'service_instance')).executeTakeFirst();
    if (!instance) throw new ApiError('UnprocessableEntity', 'The service instance could not be found.');
    const space = await findSpace(ctx, instance.space_guid);
    const parameters = objectField(body, 'parameters');
    let appGuid: string | null = null;
    let appName = '';
    if (type === 'app') {
      const app = await ctx.db.selectFrom('apps').selectAll().where('guid', '=', relationshipGuid(body, 'app')).executeTakeFirst();
      if (!app) throw new ApiError('UnprocessableEntity', 'The app could not be found.');
      if (app.space_guid !== instance.space_guid) throw new ApiError('UnprocessableEntity', 'The service instance and the app are in different spaces.');
      const bound = await ctx.db.selectFrom('service_bindings').select('guid').where('instance_guid', '=', instance.guid).where('app_guid', '=', app.guid).executeTakeFirst();
      if (bound) throw new ApiError('UnprocessableEntity', 'The app is already bound to the service instance.');
      appGuid = app.guid;
      appName = app.name;
    } else {
      if (instance.type === 'user-provided') throw new ApiError('UnprocessableEntity', 'Service credential bindings of type key are not supported for user-provided service instances.');
      const sameName = await ctx.db.selectFrom('service_bindings').select('guid').where('instance_guid', '=', instance.guid).where('type', '=', 'key').where('name', '=', name).executeTakeFirst();
      if (sameName) throw new ApiError('UniquenessError', `The binding name is invalid. Key binding names must be unique. The service instance already has a key binding with name '${name}'.`);
    }
    const at = now();
    const row: BindingRow = {
      guid: newGuid(),
      type,
      name,
      instance_guid: instance.guid,
      app_guid: appGuid,
      credentials: '{}',
      syslog_drain_url: null,
      last_operation: lastOperation('create', at),
      metadata: JSON.stringify(metadataUpdate(body, { labels: {}, annotations: {} })),
      created_at: at,
      updated_at: at,
    };
    if (instance.type === 'user-provided') {
      row.credentials = instance.credentials ?? '{}';
      row.syslog_drain_url = instance.syslog_drain_url;
    } else {
      const { offering, client, ids } = await brokerFor(ctx, instance.plan_guid!);
      if (parseJson<{ bindable?: boolean }>(offering.catalog, {}).bindable === false) throw new ApiError('UnprocessableEntity', 'Service instance is not bindable.');
      const org = await ctx.db.selectFrom('organizations').selectAll().where('guid', '=', space.organization_guid).executeTakeFirstOrThrow();
      const answer = await client.bind(
        instance.guid,
        row.guid,
        {
          ...ids,
          ...(appGuid ? { app_guid: appGuid, bind_resource: { app_guid: appGuid, space_guid: space.guid } } : { bind_resource: { credential_client_id: 'cf' } }),
          ...(parameters ? { parameters } : {}),
          context: { platform: 'cloudfoundry', organization_guid: org.guid, organization_name: org.name, space_guid: space.guid, space_name: space.name, instance_name: instance.name },
        },
        ids,
      );
      row.credentials = JSON.stringify(answer.credentials);
      row.syslog_drain_url = answer.syslog_drain_url ?? null;
    }
    await ctx.db.insertInto('service_bindings').values(row).execute();
    if (type === 'app') {
      await recordEvent(ctx.db, { type: 'audit.service_binding.create', actor: ctx.actor, target: { guid: row.guid, type: 'service_binding', name: name ?? '' }, spaceGuid: space.guid, organizationGuid: space.organization_guid, data: { request: { app_guid: appGuid, service_instance_guid: instance.guid } } });
      apiLog(ctx, appGuid!, `Bound service instance ${instance.name} to app ${appName}`);
    } else {
      await recordEvent(ctx.db, { type: 'audit.service_key.create', actor: ctx.actor, target: { guid: row.guid, type: 'service_key', name: name ?? '' }, spaceGuid: space.guid, organizationGuid: space.organization_guid, data: { request: { service_instance_guid: instance.guid, name } } });
    }
    return { status: 201, body: presentBinding(row, ctx) };
  });

  routes.delete('/v3/service_credential_bindings/:guid', async (req, ctx) => {
    const row = await findBinding(ctx, req.params.guid);
    const instance = await findInstance(ctx, row.instance_guid);
    const space = await findSpace(ctx, instance.space_guid);
    if (instance.type === 'managed' && instance.plan_guid) {
      const { client, ids } = await brokerFor(ctx, instance.plan_guid);
      await client.unbind(instance.guid, row.guid, ids);
    }
    await ctx.db.deleteFrom('service_bindings').where('guid', '=', row.guid).execute();
    const kind = row.type === 'app' ? 'service_binding' : 'service_key';
    await recordEvent(ctx.db, { type: `audit.${kind}.delete`, actor: ctx.actor, target: { guid: row.guid, type: kind, name: row.name ?? '' }, spaceGuid: space.guid, organizationGuid: space.organization_guid, data: { request: { app_guid: row.app_guid, service_instance_guid: instance.guid } } });
    if (row.app_guid) {
      const app = await findApp(ctx, row.app_guid).catch(() => undefined);
      if (app) apiLog(ctx, app.guid, `Unbound service instance ${instance.name} from app ${app.name}`);
    }
    if (instance.type === 'user-provided') return { status: 204 };
    const job = await createJob(ctx, 'service_bindings.delete', { guid: row.guid, type: 'service_credential_binding' });
    return { status: 202, headers: { Location: `${ctx.urls.api}/v3/jobs/${job.guid}` } };
  });
}
