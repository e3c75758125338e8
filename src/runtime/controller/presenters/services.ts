// Rendering service brokers (never their password), offerings and plans (from the broker's catalog
// as stored), service instances and credential bindings as v3 resources.
import { emptyMetadata, type Urls } from '../context.js';
import { jsonColumn } from '../repositories/query.js';
import type { BindingRow, BrokerRow, InstanceRow, OfferingRow, PlanRow } from '../repositories/services.js';
import type { CatalogService } from '../services/broker-client.js';

type Ctx = { urls: Urls };

export function presentBroker(row: BrokerRow, ctx: Ctx) {
  const self = `${ctx.urls.api}/v3/service_brokers/${row.guid}`;
  return {
    guid: row.guid,
    name: row.name,
    url: row.url,
    created_at: row.created_at,
    updated_at: row.updated_at,
    relationships: {},
    metadata: jsonColumn('service_brokers', row, 'metadata', emptyMetadata()),
    links: { self: { href: self }, service_offerings: { href: `${ctx.urls.api}/v3/service_offerings?service_broker_guids=${row.guid}` } },
  };
}

export function presentOffering(row: OfferingRow, ctx: Ctx) {
  const catalog = jsonColumn('service_offerings', row, 'catalog', {} as Partial<CatalogService>);
  const metadata = catalog.metadata as { shareable?: boolean; documentationUrl?: string } | undefined;
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
    shareable: Boolean(metadata?.shareable),
    documentation_url: metadata?.documentationUrl ?? null,
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

export function presentPlan(row: PlanRow, ctx: Ctx) {
  const catalog = jsonColumn('service_plans', row, 'catalog', {} as Record<string, unknown>);
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

/** A managed or user-provided instance; a user-provided one's credentials only at `…/credentials`. */
export function presentInstance(row: InstanceRow, ctx: Ctx) {
  const self = `${ctx.urls.api}/v3/service_instances/${row.guid}`;
  const common = {
    guid: row.guid,
    name: row.name,
    type: row.type,
    tags: jsonColumn('service_instances', row, 'tags', [] as string[]),
    last_operation: jsonColumn('service_instances', row, 'last_operation', {}),
    created_at: row.created_at,
    updated_at: row.updated_at,
    metadata: jsonColumn('service_instances', row, 'metadata', emptyMetadata()),
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

/** `GET /v3/service_instances/:guid/credentials` of a user-provided instance. */
export const presentInstanceCredentials = (row: InstanceRow) => jsonColumn('service_instances', row, 'credentials', {});

export function presentBinding(row: BindingRow, ctx: Ctx) {
  const self = `${ctx.urls.api}/v3/service_credential_bindings/${row.guid}`;
  return {
    guid: row.guid,
    created_at: row.created_at,
    updated_at: row.updated_at,
    name: row.name,
    type: row.type,
    last_operation: jsonColumn('service_bindings', row, 'last_operation', {}),
    metadata: jsonColumn('service_bindings', row, 'metadata', emptyMetadata()),
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

/** `GET /v3/service_credential_bindings/:guid/details`: the binding's credentials. */
export const presentBindingDetails = (row: BindingRow) => ({
  credentials: jsonColumn('service_bindings', row, 'credentials', {}),
  syslog_drain_url: row.syslog_drain_url,
  volume_mounts: [],
});
