// The broker's operations (OSBAPI v2.17, spec.md "Provisioning", "Updating", "Binding", "Unbinding",
// "Deprovisioning", "Fetching …"), each answering a status code and a body. Everything is
// synchronous: a 2xx means the node has done it. A 4xx leaves the record unchanged.
import type { NatsConnection } from '../common/bus.js';
import type { Logger } from '../common/log.js';
import { planById, SERVICE_ID } from './catalog.js';
import { bindingUsername, databaseName, NodeError, nodeRequest, type NodePool } from './nodes.js';
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
const optionalString = (v: unknown): v is string | undefined => v === undefined || (typeof v === 'string' && v !== '');

/** Stable JSON for comparing `parameters` (key order does not matter). */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (isObject(value)) return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(',')}}`;
  return JSON.stringify(value ?? null);
}

/** Ids become database names: unreserved characters only, short enough for MySQL's 64. */
export const validId = (id: string) => /^[A-Za-z0-9._~-]{1,60}$/.test(id);

export class Broker {
  /** Instance and binding ids with an operation in progress (spec.md "Blocking Operations"). */
  private readonly busy = new Set<string>();
  readonly pendingDatabases = new Set<string>();
  readonly pendingUsers = new Set<string>();

  constructor(private readonly deps: BrokerDeps) {}

  getInstance(id: string): BrokerResult {
    const r = this.deps.records.instances.get(id);
    if (!r) return fail(404, `service instance ${id} does not exist`);
    return ok(200, { service_id: r.service_id, plan_id: r.plan_id, parameters: r.parameters ?? {} });
  }

  getBinding(instanceId: string, bindingId: string): BrokerResult {
    const b = this.deps.records.bindings.get(bindingId);
    if (!b || b.instance_id !== instanceId) return fail(404, `service binding ${bindingId} does not exist`);
    return ok(200, { credentials: b.credentials, parameters: b.parameters ?? {} });
  }

  /** Everything is synchronous, so an operation that exists has succeeded. */
  lastOperation(instanceId: string, bindingId?: string): BrokerResult {
    const exists = bindingId ? this.deps.records.bindings.get(bindingId)?.instance_id === instanceId : this.deps.records.instances.has(instanceId);
    // 410: the resource is gone (spec: the platform treats it as a finished delete).
    if (!exists) return ok(410, {});
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
    if (!optionalString(organization_guid) || !optionalString(space_guid)) return fail(400, "'organization_guid' and 'space_guid' must be non-empty strings");
    if (parameters !== undefined && !isObject(parameters)) return fail(400, "'parameters' must be an object");

    const existing = this.deps.records.instances.get(id);
    if (existing) {
      const same =
        existing.service_id === service_id &&
        existing.plan_id === plan_id &&
        (existing.organization_guid ?? null) === (organization_guid ?? null) &&
        (existing.space_guid ?? null) === (space_guid ?? null) &&
        canonical(existing.parameters ?? {}) === canonical(parameters ?? {});
      return same ? ok(200, {}) : fail(409, `service instance ${id} already exists with other attributes`);
    }
    if (this.busy.has(id)) return fail(422, `another operation for service instance ${id} is in progress`, 'ConcurrencyError');

    const node = this.deps.pool.reserve(plan.name);
    if (!node) return fail(503, `no mysql-node is available for plan '${plan.name}' (none announced, or all are full); is the mysql-node running?`);
    const name = databaseName(id);
    this.busy.add(id);
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
        credentials: reply.credentials ?? {},
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
   * it: its size quota and connection limit), and/or parameters (recorded; p-mysql takes none).
   * Synchronous: 200 once the node has done it.
   */
  async update(id: string, body: unknown): Promise<BrokerResult> {
    if (!isObject(body)) return fail(400, 'the request body must be a JSON object');
    const { service_id, plan_id, parameters } = body;
    if (typeof service_id !== 'string' || service_id === '') return fail(400, "'service_id' is missing");
    if (plan_id !== undefined && (typeof plan_id !== 'string' || plan_id === '')) return fail(400, "'plan_id' must be a non-empty string");
    if (parameters !== undefined && !isObject(parameters)) return fail(400, "'parameters' must be an object");
    const instance = this.deps.records.instances.get(id);
    if (!instance) return fail(400, `service instance ${id} does not exist`);
    if (service_id !== instance.service_id) return fail(400, `service_id does not match service instance ${id}`);
    const plan = planById(plan_id ?? instance.plan_id);
    if (!plan) return fail(400, `unknown plan_id '${String(plan_id)}' for service ${service_id}`);
    if (this.busy.has(id)) return fail(422, `another operation for service instance ${id} is in progress`, 'ConcurrencyError');
    this.busy.add(id);
    try {
      if (plan.id !== instance.plan_id) await nodeRequest(this.deps.bus, 'update', instance.node_id, { name: instance.name, plan: plan.name }, this.deps.requestTimeoutMs);
      const record: ServiceInstanceRecord = { ...instance, plan_id: plan.id, plan: plan.name, ...(parameters !== undefined ? { parameters } : {}) };
      // Its bindings are now of the new plan too: the platform names it when it unbinds them.
      for (const binding of this.deps.records.bindingsOf(id)) if (binding.plan_id !== plan.id) this.deps.records.putBinding({ ...binding, plan_id: plan.id });
      this.deps.records.putInstance(record);
      this.deps.log.info('updated', { instance_id: id, plan: plan.name, node_id: instance.node_id });
      return ok(200, {});
    } catch (error) {
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
    if (this.busy.has(id)) return fail(422, `another operation for service instance ${id} is in progress`, 'ConcurrencyError');
    this.busy.add(id);
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

    const existing = this.deps.records.bindings.get(bindingId);
    if (existing) {
      const same =
        existing.instance_id === instanceId &&
        (existing.app_guid ?? null) === (appGuid ?? null) &&
        canonical(existing.parameters ?? {}) === canonical(parameters ?? {});
      return same ? ok(200, { credentials: existing.credentials }) : fail(409, `service binding ${bindingId} already exists with other parameters`);
    }
    if (this.busy.has(bindingId)) return fail(422, `another operation for service binding ${bindingId} is in progress`, 'ConcurrencyError');
    if (this.busy.has(instanceId)) return fail(422, `another operation for service instance ${instanceId} is in progress`, 'ConcurrencyError');
    const username = bindingUsername(bindingId);
    this.busy.add(bindingId);
    this.pendingUsers.add(username);
    try {
      const reply = await nodeRequest(this.deps.bus, 'bind', instance.node_id, { name: instance.name, binding_id: bindingId, bind_opts: {} }, this.deps.requestTimeoutMs);
      const credentials = reply.credentials ?? {};
      const record: BindingRecord = {
        id: bindingId,
        instance_id: instanceId,
        service_id,
        plan_id,
        app_guid: appGuid,
        parameters,
        node_id: instance.node_id,
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
    if (this.busy.has(bindingId)) return fail(422, `another operation for service binding ${bindingId} is in progress`, 'ConcurrencyError');
    const instance = this.deps.records.instances.get(instanceId);
    const database = instance?.name ?? binding.credentials.name;
    this.busy.add(bindingId);
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
