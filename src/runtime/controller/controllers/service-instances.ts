// /v3/service_instances and /v3/service_credential_bindings: thin routes over
// actions/service-instances.ts and actions/service-bindings.ts. As Cloud Controller: what a broker
// does (a managed instance's create, update of plan or parameters, delete; a managed instance's
// binding or key, and its delete) answers 202 at once, `Location` the job that does it; a
// user-provided instance and its bindings are done at once (201 with the resource, 204).
import type { RequestContext } from '../context.js';
import { notFound, unprocessable } from '../errors.js';
import type { Routes } from '../http/routes.js';
import { createServiceBinding, deleteServiceBinding } from '../actions/service-bindings.js';
import { createServiceInstance, deleteServiceInstance, updateServiceInstance } from '../actions/service-instances.js';
import { fieldsParam } from '../messages/include.js';
import { listMessage } from '../messages/list.js';
import { serviceBindingCreateMessage, serviceInstanceCreateMessage, serviceInstanceUpdateMessage, typeFilter } from '../messages/services.js';
import { paginated } from '../presenters/paginated.js';
import { presentBinding, presentBindingDetails, presentInstance, presentInstanceCredentials } from '../presenters/services.js';
import { BINDING_FILTERS, getBinding, getInstance, INSTANCE_FILTERS, listBindings, listInstances } from '../repositories/services.js';
import { jobAccepted } from './jobs.js';
import { bindingsIncluded, checkBindingQuery, checkInstanceQuery, instancesIncluded, withIncluded } from './service-included.js';

/** A boolean query parameter (`purge=true`), false when absent. */
function booleanParam(query: URLSearchParams, name: string): boolean {
  const value = query.get(name);
  if (value === null || value === 'false') return false;
  if (value === 'true') return true;
  throw unprocessable(`${name[0].toUpperCase()}${name.slice(1)} must be a boolean`);
}

const SHARED_SPACE_FIELDS = { space: ['guid', 'name', 'relationships.organization'], 'space.organization': ['guid', 'name'] } as const;

export function serviceInstanceRoutes(routes: Routes<RequestContext>): void {
  routes.get('/v3/service_instances', async (req, ctx) => {
    const message = { ...listMessage(req.query, INSTANCE_FILTERS), type: typeFilter(req.query) };
    checkInstanceQuery(req.query);
    const { total, rows } = await listInstances(ctx.db, message);
    const list = paginated(ctx.urls.api, '/v3/service_instances', req.query, message, total, rows.map((r) => presentInstance(r, ctx)));
    return { body: withIncluded(list, await instancesIncluded(ctx, req.query, rows)) };
  });

  routes.get('/v3/service_instances/:guid', async (req, ctx) => {
    checkInstanceQuery(req.query);
    const instance = await getInstance(ctx.db, req.params.guid);
    return { body: withIncluded(presentInstance(instance, ctx), await instancesIncluded(ctx, req.query, [instance])) };
  });

  // devbox does not share instances with other spaces (feature flag service_instance_sharing is off).
  routes.get('/v3/service_instances/:guid/relationships/shared_spaces', async (req, ctx) => {
    const fields = fieldsParam(req.query, SHARED_SPACE_FIELDS);
    const instance = await getInstance(ctx.db, req.params.guid);
    const body = { data: [], links: { self: { href: `${ctx.urls.api}/v3/service_instances/${instance.guid}/relationships/shared_spaces` } } };
    return { body: withIncluded(body, Object.keys(fields).length ? { spaces: [], organizations: [] } : undefined) };
  });

  routes.get('/v3/service_instances/:guid/credentials', async (req, ctx) => {
    const row = await getInstance(ctx.db, req.params.guid);
    // Only a user-provided instance has credentials of its own; a managed one's are its bindings'.
    if (row.type !== 'user-provided') throw notFound('Service instance');
    return { body: presentInstanceCredentials(row) };
  });

  routes.post('/v3/service_instances', async (req, ctx) => {
    const { instance, job } = await createServiceInstance(ctx, serviceInstanceCreateMessage(req.body));
    return job ? jobAccepted(ctx, job.guid) : { status: 201, body: presentInstance(instance, ctx) };
  });

  routes.patch('/v3/service_instances/:guid', async (req, ctx) => {
    const message = serviceInstanceUpdateMessage(req.body);
    const { instance, job } = await updateServiceInstance(ctx, await getInstance(ctx.db, req.params.guid), message);
    // A managed instance's broker update answers with its job, as Cloud Controller does; the rest with the instance.
    return job ? jobAccepted(ctx, job.guid) : { body: presentInstance(instance, ctx) };
  });

  routes.delete('/v3/service_instances/:guid', async (req, ctx) => {
    const purge = booleanParam(req.query, 'purge');
    const job = await deleteServiceInstance(ctx, await getInstance(ctx.db, req.params.guid), { purge });
    return job ? jobAccepted(ctx, job.guid) : { status: 204 };
  });

  routes.get('/v3/service_credential_bindings', async (req, ctx) => {
    const message = { ...listMessage(req.query, BINDING_FILTERS), type: typeFilter(req.query) };
    checkBindingQuery(req.query);
    const { total, rows } = await listBindings(ctx.db, message);
    const list = paginated(ctx.urls.api, '/v3/service_credential_bindings', req.query, message, total, rows.map((r) => presentBinding(r, ctx)));
    return { body: withIncluded(list, await bindingsIncluded(ctx, req.query, rows)) };
  });

  routes.get('/v3/service_credential_bindings/:guid', async (req, ctx) => {
    checkBindingQuery(req.query);
    const binding = await getBinding(ctx.db, req.params.guid);
    return { body: withIncluded(presentBinding(binding, ctx), await bindingsIncluded(ctx, req.query, [binding])) };
  });

  routes.get('/v3/service_credential_bindings/:guid/details', async (req, ctx) => ({ body: presentBindingDetails(await getBinding(ctx.db, req.params.guid)) }));

  routes.post('/v3/service_credential_bindings', async (req, ctx) => {
    const { binding, job } = await createServiceBinding(ctx, serviceBindingCreateMessage(req.body));
    return job ? jobAccepted(ctx, job.guid) : { status: 201, body: presentBinding(binding, ctx) };
  });

  routes.delete('/v3/service_credential_bindings/:guid', async (req, ctx) => {
    const job = await deleteServiceBinding(ctx, await getBinding(ctx.db, req.params.guid));
    return job ? jobAccepted(ctx, job.guid) : { status: 204 };
  });
}
