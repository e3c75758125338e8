// The broker's operations (OSBAPI v2.17, spec.md "Provisioning", "Updating", "Binding", "Unbinding",
// "Deprovisioning", "Fetching …", "Polling Last Operation …"), each answering a status code and a
// body. Everything is synchronous: a 2xx means the node has done it. A 4xx leaves the record and
// the nodes unchanged: every request is checked whole before anything is asked of a node.
import type { NatsConnection } from '../common/bus.js';
import type { Logger } from '../common/log.js';
import { planById, SERVICE_ID } from './catalog.js';
import { bindingUsername, databaseName, isGuid, NodeError, nodeRequest, type NodePool } from './nodes.js';
import type { BindingRecord, ServiceInstanceRecord, RecordStore } from './records.js';

export interface BrokerResult {
  status: number;
  body: Record<string, unknown>;
}

export interface BrokerDeps {
  bus: NatsConnection;
  pool: NodePool;
  records: RecordStore;
  log: Logger;
  requestTimeoutMs: number;
}

const ok = (status: number, body: Record<string, unknown> = {}): BrokerResult => ({ status, body });
/** Error body (spec.md "Service Broker Errors"): `error` only for the spec's own codes. */
const fail = (status: number, description: string, error?: string): BrokerResult => ({ status, body: error ? { error, description } : { description } });

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Stable JSON for comparing `parameters` (key order does not matter). */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (isObject(value)) return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(',')}}`;
  return JSON.stringify(value ?? null);
}

/** Ids in paths: unreserved characters only, at most 60. */
export const validId = (id: string) => /^[A-Za-z0-9._~-]{1,60}$/.test(id);

/**
 * The credentials an app sees in VCAP_SERVICES, as cf-mysql writes them. Anything else a node sends,
 * or a binding recorded before held (`host`, the node's id), stays in the broker.
 */
export const CREDENTIAL_FIELDS = ['hostname', 'port', 'name', 'username', 'password', 'uri', 'jdbcUrl'] as const;
export const appCredentials = (credentials: Record<string, unknown>): Record<string, unknown> =>
  Object.fromEntries(CREDENTIAL_FIELDS.filter((field) => credentials[field] !== undefined).map((field) => [field, credentials[field]]));

/** What makes two provisions of one id the same (spec.md: identical → 200, other → 409). */
const provisionAttributes = (r: { service_id: string; plan_id: string; organization_guid?: unknown; space_guid?: unknown; parameters?: unknown }) =>
  canonical({ service_id: r.service_id, plan_id: r.plan_id, organization_guid: r.organization_guid, space_guid: r.space_guid, parameters: r.parameters ?? {} });
/** What makes two binds of one id the same. */
const bindAttributes = (r: { instance_id: string; app_guid?: string; parameters?: unknown }) => canonical({ instance_id: r.instance_id, app_guid: r.app_guid, parameters: r.parameters ?? {} });

type Operation = 'provision' | 'update' | 'deprovision' | 'bind' | 'unbind';

export class Broker {
  /**
   * Instance and binding ids with an operation in progress (spec.md "Blocking Operations"), with the
   * attributes of a provision or bind: another with other attributes is a 409, as for one done.
   */
  private readonly busy = new Map<string, { op: Operation; attributes?: string }>();
  readonly pendingDatabases = new Set<string>();
  readonly pendingUsers = new Set<string>();

  constructor(private readonly deps: BrokerDeps) {}

  getInstance(id: string): BrokerResult {
    const r = this.deps.records.instances.get(id);
    if (!r) return fail(404, `service instance ${id} does not exist`);
    // spec.md "Fetching a Service Instance": 422 while it is being updated.
    if (this.busy.get(id)?.op === 'update') return fail(422, `service instance ${id} is being updated`, 'ConcurrencyError');
    return ok(200, { service_id: r.service_id, plan_id: r.plan_id, parameters: r.parameters ?? {} });
  }

  getBinding(instanceId: string, bindingId: string): BrokerResult {
    const b = this.deps.records.bindings.get(bindingId);
    if (!b || b.instance_id !== instanceId) return fail(404, `service binding ${bindingId} does not exist`);
    return ok(200, { credentials: appCredentials(b.credentials), parameters: b.parameters ?? {} });
  }

  /**
   * Everything is synchronous, so an operation on what exists has succeeded. What does not exist is
   * a 404 (spec.md: MUST); 410 is only for asynchronous deletes, which this broker never does.
   */
  lastOperation(instanceId: string, bindingId?: string): BrokerResult {
    if (bindingId) {
      if (this.deps.records.bindings.get(bindingId)?.instance_id !== instanceId) return fail(404, `service binding ${bindingId} of service instance ${instanceId} does not exist`);
    } else if (!this.deps.records.instances.has(instanceId)) return fail(404, `service instance ${instanceId} does not exist`);
    return ok(200, { state: 'succeeded' });
  }

  async provision(id: string, body: unknown): Promise<BrokerResult> {
    if (!validId(id)) return fail(400, `'${id}' is not a usable instance id (letters, digits, '.', '_', '~', '-'; at most 60)`);
    if (!isObject(body)) return fail(400, 'the request body must be a JSON object');
    const { service_id, plan_id, organization_guid, space_guid, parameters } = body;
    if (typeof service_id !== 'string' || service_id === '') return fail(400, "'service_id' is missing");
    if (typeof plan_id !== 'string' || plan_id === '') return fail(400, "'plan_id' is missing");
    if (service_id !== SERVICE_ID) return fail(400, `unknown service_id '${service_id}'`);
    const plan = planById(plan_id);
    if (!plan) return fail(400, `unknown plan_id '${plan_id}' for service ${service_id}`);
    // spec.md "Provisioning": both REQUIRED, non-empty strings (deprecated in favour of `context`, still sent).
    if (typeof organization_guid !== 'string' || organization_guid === '') return fail(400, "'organization_guid' is missing (a non-empty string)");
    if (typeof space_guid !== 'string' || space_guid === '') return fail(400, "'space_guid' is missing (a non-empty string)");
    if (parameters !== undefined && !isObject(parameters)) return fail(400, "'parameters' must be an object");
    // The database is named after the id (cf-mysql's `cf_<guid>`).
    if (!isGuid(id)) return fail(400, `'${id}' is not a usable instance id: p-mysql names the database after it, so it must be a GUID (8-4-4-4-12 hex digits)`);

    const attributes = provisionAttributes({ service_id, plan_id, organization_guid, space_guid, parameters });
    const existing = this.deps.records.instances.get(id);
    if (existing) return provisionAttributes(existing) === attributes ? ok(200, {}) : fail(409, `service instance ${id} already exists with other attributes`);
    const busy = this.inProgress('service instance', id, attributes);
    if (busy) return busy;

    const node = this.deps.pool.reserve(plan.name);
    if (!node) return fail(503, `no mysql-node is available for plan '${plan.name}' (none announced, or all are full); is the mysql-node running?`);
    const name = databaseName(id);
    this.busy.set(id, { op: 'provision', attributes });
    this.pendingDatabases.add(name);
    try {
      const reply = await nodeRequest(this.deps.bus, 'provision', node.id, { plan: plan.name, version: node.version, name }, this.deps.requestTimeoutMs);
      const record: ServiceInstanceRecord = {
        id,
        service_id,
        plan_id,
        plan: plan.name,
        organization_guid,
        space_guid,
        parameters,
        node_id: node.id,
        name: typeof reply.credentials?.name === 'string' ? reply.credentials.name : name,
        created_at: new Date().toISOString(),
      };
      this.deps.records.putInstance(record);
      this.deps.log.info('provisioned', { instance_id: id, plan: plan.name, node_id: node.id, database: record.name });
      return ok(201, {});
    } catch (error) {
      if (error instanceof NodeError && !error.timedOut) this.deps.pool.release(node.id);
      return this.nodeFailure('provision', error);
    } finally {
      this.busy.delete(id);
      this.pendingDatabases.delete(name);
    }
  }

  /**
   * spec.md "Updating a Service Instance": a plan of this offering (the node moves the database to
   * it, its size quota and connection limit, when its data fits: 422 with why when not), and/or
   * parameters (recorded; p-mysql takes none). The request is checked whole first (400); one that
   * changes nothing is a 200 at once. Synchronous: 200 once the node has done it.
   */
  async update(id: string, body: unknown): Promise<BrokerResult> {
    if (!isObject(body)) return fail(400, 'the request body must be a JSON object');
    const { service_id, plan_id, parameters } = body;
    if (typeof service_id !== 'string' || service_id === '') return fail(400, "'service_id' is missing");
    if (service_id !== SERVICE_ID) return fail(400, `unknown service_id '${service_id}'`);
    if (plan_id !== undefined && (typeof plan_id !== 'string' || plan_id === '')) return fail(400, "'plan_id' must be a non-empty string");
    const target = typeof plan_id === 'string' ? planById(plan_id) : undefined;
    if (plan_id !== undefined && !target) return fail(400, `unknown plan_id '${String(plan_id)}' for service ${service_id}`);
    if (parameters !== undefined && !isObject(parameters)) return fail(400, "'parameters' must be an object");
    const instance = this.deps.records.instances.get(id);
    if (!instance) return fail(400, `service instance ${id} does not exist`);
    if (service_id !== instance.service_id) return fail(400, `service_id does not match service instance ${id}`);
    const busy = this.inProgress('service instance', id);
    if (busy) return busy;

    const plan = target && target.id !== instance.plan_id ? target : undefined;
    const newParameters = parameters !== undefined && canonical(parameters) !== canonical(instance.parameters ?? {}) ? parameters : undefined;
    if (!plan && newParameters === undefined) return ok(200, {});
    this.busy.set(id, { op: 'update' });
    try {
      if (plan) await nodeRequest(this.deps.bus, 'update', instance.node_id, { name: instance.name, plan: plan.name }, this.deps.requestTimeoutMs);
      const record: ServiceInstanceRecord = { ...instance, ...(plan ? { plan_id: plan.id, plan: plan.name } : {}), ...(newParameters !== undefined ? { parameters: newParameters } : {}) };
      // Its bindings are now of the new plan too: the platform names it when it unbinds them.
      for (const binding of this.deps.records.bindingsOf(id)) if (binding.plan_id !== record.plan_id) this.deps.records.putBinding({ ...binding, plan_id: record.plan_id });
      this.deps.records.putInstance(record);
      this.deps.log.info('updated', { instance_id: id, plan: record.plan, node_id: instance.node_id });
      return ok(200, {});
    } catch (error) {
      // The node cannot make this change (the data does not fit the plan, or it does not serve the
      // plan): spec.md's 422 for a change "not supported" or not possible "due to the state of the
      // Service Instance". Nothing changed; the instance is as usable as before.
      if (error instanceof NodeError && error.reply?.code === 422 && plan) {
        this.deps.log.info('plan change refused', { instance_id: id, plan: plan.name, reason: error.reply.description });
        return { status: 422, body: { description: `service instance ${id} cannot move to plan ${plan.name}: ${error.reply.description}`, instance_usable: true } };
      }
      return this.nodeFailure('update', error);
    } finally {
      this.busy.delete(id);
    }
  }

  async deprovision(id: string, query: URLSearchParams): Promise<BrokerResult> {
    const missing = this.missingQueryIds(query);
    if (missing) return missing;
    const instance = this.deps.records.instances.get(id);
    if (!instance) return ok(410, {});
    if (query.get('service_id') !== instance.service_id || query.get('plan_id') !== instance.plan_id) {
      return fail(400, `service_id and plan_id do not match service instance ${id}`);
    }
    const busy = this.inProgress('service instance', id);
    if (busy) return busy;
    this.busy.set(id, { op: 'deprovision' });
    try {
      const bindings = this.deps.records.bindingsOf(id);
      await nodeRequest(this.deps.bus, 'unprovision', instance.node_id, { name: instance.name, bindings: bindings.map((b) => ({ username: b.username })) }, this.deps.requestTimeoutMs);
      this.deps.records.deleteInstance(id);
      this.deps.log.info('deprovisioned', { instance_id: id, node_id: instance.node_id, database: instance.name, bindings: bindings.length });
      return ok(200, {});
    } catch (error) {
      return this.nodeFailure('unprovision', error);
    } finally {
      this.busy.delete(id);
    }
  }

  async bind(instanceId: string, bindingId: string, body: unknown): Promise<BrokerResult> {
    if (!validId(bindingId)) return fail(400, `'${bindingId}' is not a usable binding id`);
    if (!isObject(body)) return fail(400, 'the request body must be a JSON object');
    const { service_id, plan_id, parameters } = body;
    if (typeof service_id !== 'string' || service_id === '') return fail(400, "'service_id' is missing");
    if (typeof plan_id !== 'string' || plan_id === '') return fail(400, "'plan_id' is missing");
    if (parameters !== undefined && !isObject(parameters)) return fail(400, "'parameters' must be an object");
    const bindResource = isObject(body.bind_resource) ? body.bind_resource : {};
    const appGuid = typeof bindResource.app_guid === 'string' ? bindResource.app_guid : typeof body.app_guid === 'string' ? body.app_guid : undefined;
    const instance = this.deps.records.instances.get(instanceId);
    if (!instance) return fail(400, `service instance ${instanceId} does not exist`);
    if (service_id !== instance.service_id || plan_id !== instance.plan_id) return fail(400, `service_id and plan_id do not match service instance ${instanceId}`);

    const attributes = bindAttributes({ instance_id: instanceId, app_guid: appGuid, parameters });
    const existing = this.deps.records.bindings.get(bindingId);
    if (existing) {
      return bindAttributes(existing) === attributes ? ok(200, { credentials: appCredentials(existing.credentials) }) : fail(409, `service binding ${bindingId} already exists with other parameters`);
    }
    const busy = this.inProgress('service binding', bindingId, attributes) ?? this.inProgress('service instance', instanceId);
    if (busy) return busy;
    const username = bindingUsername(bindingId);
    this.busy.set(bindingId, { op: 'bind', attributes });
    this.pendingUsers.add(username);
    try {
      const reply = await nodeRequest(this.deps.bus, 'bind', instance.node_id, { name: instance.name, binding_id: bindingId, bind_opts: {} }, this.deps.requestTimeoutMs);
      const credentials = appCredentials(reply.credentials ?? {});
      const record: BindingRecord = {
        id: bindingId,
        instance_id: instanceId,
        service_id,
        plan_id,
        app_guid: appGuid,
        parameters,
        node_id: instance.node_id,
        name: instance.name,
        username: typeof credentials.username === 'string' ? credentials.username : username,
        credentials,
        created_at: new Date().toISOString(),
      };
      this.deps.records.putBinding(record);
      this.deps.log.info('bound', { instance_id: instanceId, binding_id: bindingId, node_id: instance.node_id, username: record.username });
      return ok(201, { credentials });
    } catch (error) {
      return this.nodeFailure('bind', error);
    } finally {
      this.busy.delete(bindingId);
      this.pendingUsers.delete(username);
    }
  }

  async unbind(instanceId: string, bindingId: string, query: URLSearchParams): Promise<BrokerResult> {
    const missing = this.missingQueryIds(query);
    if (missing) return missing;
    const binding = this.deps.records.bindings.get(bindingId);
    if (!binding || binding.instance_id !== instanceId) return ok(410, {});
    if (query.get('service_id') !== binding.service_id || query.get('plan_id') !== binding.plan_id) {
      return fail(400, `service_id and plan_id do not match service binding ${bindingId}`);
    }
    const busy = this.inProgress('service binding', bindingId);
    if (busy) return busy;
    // The name as remembered: bindings recorded before it was kept name it in their credentials.
    const database = binding.name ?? this.deps.records.instances.get(instanceId)?.name ?? binding.credentials.name;
    this.busy.set(bindingId, { op: 'unbind' });
    try {
      const credentials = { name: typeof database === 'string' ? database : undefined, username: binding.username };
      await nodeRequest(this.deps.bus, 'unbind', binding.node_id, { credentials }, this.deps.requestTimeoutMs);
      this.deps.records.deleteBinding(bindingId);
      this.deps.log.info('unbound', { instance_id: instanceId, binding_id: bindingId, username: binding.username });
      return ok(200, {});
    } catch (error) {
      return this.nodeFailure('unbind', error);
    } finally {
      this.busy.delete(bindingId);
    }
  }

  /**
   * spec.md "Blocking Operations": an operation on `id` is in progress → 422 ConcurrencyError; but a
   * provision or bind with other attributes than the one in progress is a 409, as when it is done.
   */
  private inProgress(kind: 'service instance' | 'service binding', id: string, attributes?: string): BrokerResult | undefined {
    const running = this.busy.get(id);
    if (!running) return undefined;
    if (attributes !== undefined && running.attributes !== undefined && running.attributes !== attributes) {
      return fail(409, `${kind} ${id} is being created with other attributes`);
    }
    return fail(422, `another operation for ${kind} ${id} is in progress (${running.op})`, 'ConcurrencyError');
  }

  /** spec.md "Deprovisioning"/"Unbinding": `service_id` and `plan_id` are REQUIRED query fields (400). */
  private missingQueryIds(query: URLSearchParams): BrokerResult | undefined {
    for (const field of ['service_id', 'plan_id']) if (!query.get(field)) return fail(400, `the query parameter '${field}' is missing`);
    return undefined;
  }

  /** A node that failed or did not answer: a 5xx, so the platform does orphan mitigation. */
  private nodeFailure(op: string, error: unknown): BrokerResult {
    const message = (error as Error).message;
    this.deps.log.error(`${op} failed`, { error: message });
    if (error instanceof NodeError) return fail(error.timedOut ? 504 : 502, message);
    return fail(500, `${op} failed: ${message}`);
  }
}
