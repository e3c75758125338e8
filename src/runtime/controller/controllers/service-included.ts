// The `included` resources of the service lists, as Cloud Controller answers them: cf's
// marketplace, services and service tables take the offering, plan, broker, space and bound-app
// names from here (`include=…`, `fields[…]=…`). Reads repositories, renders with presenters.
import type { RequestContext } from '../context.js';
import { fieldsParam, includeParam } from '../messages/include.js';
import { presentApp } from '../presenters/apps.js';
import { renderIncluded } from '../presenters/included.js';
import { presentOrganization, presentSpace } from '../presenters/organizations.js';
import { presentBroker, presentInstance, presentOffering, presentPlan } from '../presenters/services.js';
import { findApp, type AppRow } from '../repositories/apps.js';
import { brokersByGuids, instancesByGuids, offeringsByGuids, plansByGuids, type BindingRow, type InstanceRow, type OfferingRow, type PlanRow } from '../repositories/services.js';
import { findOrganization, findSpace, type OrganizationRow, type SpaceRow } from '../repositories/spaces.js';

type Included = Record<string, Record<string, unknown>[]>;

/** The list with `included` added when anything was asked for (Cloud Controller leaves it out otherwise). */
export const withIncluded = <L extends object>(list: L, included: Included | undefined) => (included ? { ...list, included } : list);

async function spacesAndOrganizations(ctx: RequestContext, spaceGuids: string[]): Promise<{ spaces: SpaceRow[]; organizations: OrganizationRow[] }> {
  const spaces = (await Promise.all([...new Set(spaceGuids)].map((g) => findSpace(ctx.db, g)))).filter((s): s is SpaceRow => !!s);
  const organizations = (await Promise.all([...new Set(spaces.map((s) => s.organization_guid))].map((g) => findOrganization(ctx.db, g)))).filter((o): o is OrganizationRow => !!o);
  return { spaces, organizations };
}

export const OFFERING_FIELDS = { service_broker: ['guid', 'name'] } as const;

/** `GET /v3/service_offerings?fields[service_broker]=…`. */
export async function offeringsIncluded(ctx: RequestContext, query: URLSearchParams, rows: OfferingRow[]): Promise<Included | undefined> {
  const fields = fieldsParam(query, OFFERING_FIELDS);
  if (!fields.service_broker) return undefined;
  return { service_brokers: renderIncluded(await brokersByGuids(ctx.db, rows.map((r) => r.broker_guid)), (b) => presentBroker(b, ctx), fields.service_broker) };
}

/** Checked before the list is read, so that a bad query is its 400 whatever the rows. */
export const checkOfferingQuery = (query: URLSearchParams) => fieldsParam(query, OFFERING_FIELDS);

export const PLAN_INCLUDES = ['space.organization', 'service_offering'] as const;
export const PLAN_FIELDS = { 'service_offering.service_broker': ['guid', 'name'] } as const;

export function checkPlanQuery(query: URLSearchParams) {
  return { include: includeParam(query, PLAN_INCLUDES), fields: fieldsParam(query, PLAN_FIELDS) };
}

/** `GET /v3/service_plans?include=service_offering,space.organization&fields[service_offering.service_broker]=…`. Plans are public: no space. */
export async function plansIncluded(ctx: RequestContext, query: URLSearchParams, rows: PlanRow[]): Promise<Included | undefined> {
  const { include, fields } = checkPlanQuery(query);
  const brokerKeys = fields['service_offering.service_broker'];
  if (!include.length && !brokerKeys) return undefined;
  const included: Included = {};
  const offerings = await offeringsByGuids(ctx.db, rows.map((r) => r.offering_guid));
  if (include.includes('service_offering')) included.service_offerings = renderIncluded(offerings, (o) => presentOffering(o, ctx));
  if (include.includes('space.organization')) {
    included.spaces = [];
    included.organizations = [];
  }
  if (brokerKeys) included.service_brokers = renderIncluded(await brokersByGuids(ctx.db, offerings.map((o) => o.broker_guid)), (b) => presentBroker(b, ctx), brokerKeys);
  return included;
}

export const INSTANCE_FIELDS = {
  space: ['guid', 'name', 'relationships.organization'],
  'space.organization': ['guid', 'name'],
  service_plan: ['guid', 'name', 'relationships.service_offering'],
  'service_plan.service_offering': ['guid', 'name', 'description', 'documentation_url', 'tags', 'relationships.service_broker'],
  'service_plan.service_offering.service_broker': ['guid', 'name'],
} as const;

export const checkInstanceQuery = (query: URLSearchParams) => fieldsParam(query, INSTANCE_FIELDS);

/** `GET /v3/service_instances?fields[service_plan]=…&fields[service_plan.service_offering]=…&fields[space]=…` (and the nested ones). */
export async function instancesIncluded(ctx: RequestContext, query: URLSearchParams, rows: InstanceRow[]): Promise<Included | undefined> {
  const fields = checkInstanceQuery(query);
  if (!Object.keys(fields).length) return undefined;
  const included: Included = {};
  const planKeys = fields.service_plan;
  const offeringKeys = fields['service_plan.service_offering'];
  const brokerKeys = fields['service_plan.service_offering.service_broker'];
  if (planKeys || offeringKeys || brokerKeys) {
    const plans = await plansByGuids(ctx.db, rows.map((r) => r.plan_guid));
    if (planKeys) included.service_plans = renderIncluded(plans, (p) => presentPlan(p, ctx), planKeys);
    if (offeringKeys || brokerKeys) {
      const offerings = await offeringsByGuids(ctx.db, plans.map((p) => p.offering_guid));
      if (offeringKeys) included.service_offerings = renderIncluded(offerings, (o) => presentOffering(o, ctx), offeringKeys);
      if (brokerKeys) included.service_brokers = renderIncluded(await brokersByGuids(ctx.db, offerings.map((o) => o.broker_guid)), (b) => presentBroker(b, ctx), brokerKeys);
    }
  }
  if (fields.space || fields['space.organization']) {
    const { spaces, organizations } = await spacesAndOrganizations(ctx, rows.map((r) => r.space_guid));
    if (fields.space) included.spaces = renderIncluded(spaces, (s) => presentSpace(s, ctx), fields.space);
    if (fields['space.organization']) included.organizations = renderIncluded(organizations, (o) => presentOrganization(o, ctx), fields['space.organization']);
  }
  return included;
}

export const BINDING_INCLUDES = ['app', 'service_instance'] as const;

export const checkBindingQuery = (query: URLSearchParams) => includeParam(query, BINDING_INCLUDES);

/** `GET /v3/service_credential_bindings?include=app,service_instance`. */
export async function bindingsIncluded(ctx: RequestContext, query: URLSearchParams, rows: BindingRow[]): Promise<Included | undefined> {
  const include = checkBindingQuery(query);
  if (!include.length) return undefined;
  const included: Included = {};
  if (include.includes('app')) {
    const guids = [...new Set(rows.map((r) => r.app_guid).filter((g): g is string => !!g))].sort();
    const apps = (await Promise.all(guids.map((g) => findApp(ctx.db, g)))).filter((a): a is AppRow => !!a);
    included.apps = renderIncluded(apps, (a) => presentApp(a, ctx));
  }
  if (include.includes('service_instance')) included.service_instances = renderIncluded(await instancesByGuids(ctx.db, rows.map((r) => r.instance_guid)), (i) => presentInstance(i, ctx));
  return included;
}
