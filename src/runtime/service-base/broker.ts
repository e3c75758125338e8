// An Open Service Broker (OSBAPI v2.17, spec.md "Provisioning", "Updating", "Binding", "Unbinding",
// "Deprovisioning", "Fetching …", "Polling Last Operation …") for a service whose instances live on
// nodes: each operation answers a status code and a body. Everything is synchronous: a 2xx means
// the node has done it. A 4xx leaves the record and the nodes unchanged: every request is checked
// whole before anything is asked of a node. What is done on the nodes is the service's own (its
// ServiceDriver: MySQL's databases and users, Redis's servers); the rest is here, once.
import type { Logger } from '../common/log.js';
import { NodeError, type NodePool, type ReservedNode } from './nodes.js';
import type { BindingRecord, ServiceInstanceRecord, RecordStore } from './records.js';

export interface BrokerResult {
  status: number;
  body: Record<string, unknown>;
}

export interface PlanRef {
  id: string;
  name: string;
}

/** What a binding adds to the broker's own fields of its record (MySQL: its database and user). */
export type BindingExtra<B extends BindingRecord> = Omit<B, keyof BindingRecord>;

/** What a service does on its nodes; the broker calls it only for a request it has checked whole. */
export interface ServiceDriver<B extends BindingRecord> {
  readonly serviceId: string;
  /** The offering's name, in errors (`p-mysql`). */
  readonly offering: string;
  planById(id: string): PlanRef | undefined;
  /** Why an instance id cannot be used (the 400's description), or undefined. */
  instanceIdProblem(id: string): string | undefined;
  /** What the node will know a new instance by (MySQL: `cf_<guid with underscores>`). */
  instanceName(id: string): string;
  /** What the node knows a binding by while it is being made (orphan checks leave it alone). */
  bindingHandle?(bindingId: string): string;
  /** Makes the instance on the node; resolves to the name to record (the node's, else `name`). */
  provision(node: ReservedNode, plan: PlanRef, name: string): Promise<string>;
  /** Moves an instance to another plan; absent when the offering's plans cannot change. A NodeError whose reply has code 422: not possible, nothing changed. */
  changePlan?(instance: ServiceInstanceRecord, plan: PlanRef): Promise<void>;
  /** Removes the instance from its node, with what the record says of its bindings. */
  deprovision(instance: ServiceInstanceRecord, bindings: B[]): Promise<void>;
  /** The binding's credentials (as the platform gets them) and what its record keeps besides. */
  bind(instance: ServiceInstanceRecord, bindingId: string): Promise<{ credentials: Record<string, unknown>; extra: BindingExtra<B> }>;
  unbind(binding: B, instance: ServiceInstanceRecord | undefined): Promise<void>;
  /** What of a node's or an older record's credentials goes to the platform (and so to the apps). */
  appCredentials(credentials: Record<string, unknown>): Record<string, unknown>;
}

export interface BrokerDeps<B extends BindingRecord> {
  pool: NodePool;
  records: RecordStore<B>;
  driver: ServiceDriver<B>;
  log: Logger;
  /** The plural of what a node is in a 503's words (`mysql-node`). */
  nodeLabel: string;
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

/** What makes two provisions of one id the same (spec.md: identical → 200, other → 409). */
const provisionAttributes = (r: { service_id: string; plan_id: string; organization_guid?: unknown; space_guid?: unknown; parameters?: unknown }) =>
  canonical({ service_id: r.service_id, plan_id: r.plan_id, organization_guid: r.organization_guid, space_guid: r.space_guid, parameters: r.parameters ?? {} });
/** What makes two binds of one id the same. */
const bindAttributes = (r: { instance_id: string; app_guid?: string; parameters?: unknown }) => canonical({ instance_id: r.instance_id, app_guid: r.app_guid, parameters: r.parameters ?? {} });

type Operation = 'provision' | 'update' | 'deprovision' | 'bind' | 'unbind';

export class Broker<B extends BindingRecord = BindingRecord> {
  /**
   * Instance and binding ids with an operation in progress (spec.md "Blocking Operations"), with the
   * attributes of a provision or bind: another with other attributes is a 409, as for one done.
   */
  private readonly busy = new Map<string, { op: Operation; attributes?: string }>();
  /** Instance names and binding handles being made: not orphans yet. */
  readonly pendingNames = new Set<string>();
  readonly pendingHandles = new Set<string>();
  /**
   * Provisions whose node did not answer in time: it may have made the instance after all. The
   * platform's orphan mitigation (a DELETE of the id) is sent on to that node rather than answered
   * 410, so nothing is left running there.
   */
  private readonly inDoubt = new Map<string, ServiceInstanceRecord>();

  constructor(private readonly deps: BrokerDeps<B>) {}

  private get records(): RecordStore<B> {
    return this.deps.records;
  }

  getInstance(id: string): BrokerResult {
    const r = this.records.instances.get(id);
    if (!r) return fail(404, `service instance ${id} does not exist`);
    // spec.md "Fetching a Service Instance": 422 while it is being updated.
    if (this.busy.get(id)?.op === 'update') return fail(422, `service instance ${id} is being updated`, 'ConcurrencyError');
    return ok(200, { service_id: r.service_id, plan_id: r.plan_id, parameters: r.parameters ?? {} });
  }

  getBinding(instanceId: string, bindingId: string): BrokerResult {
    const b = this.records.bindings.get(bindingId);
    if (!b || b.instance_id !== instanceId) return fail(404, `service binding ${bindingId} does not exist`);
    return ok(200, { credentials: this.deps.driver.appCredentials(b.credentials), parameters: b.parameters ?? {} });
  }

  /**
   * Everything is synchronous, so an operation on what exists has succeeded. What does not exist is
   * a 404 (spec.md: MUST); 410 is only for asynchronous deletes, which this broker never does.
   */
  lastOperation(instanceId: string, bindingId?: string): BrokerResult {
    if (bindingId) {
      if (this.records.bindings.get(bindingId)?.instance_id !== instanceId) return fail(404, `service binding ${bindingId} of service instance ${instanceId} does not exist`);
    } else if (!this.records.instances.has(instanceId)) return fail(404, `service instance ${instanceId} does not exist`);
    return ok(200, { state: 'succeeded' });
  }

  async provision(id: string, body: unknown): Promise<BrokerResult> {
    const { driver } = this.deps;
    if (!validId(id)) return fail(400, `'${id}' is not a usable instance id (letters, digits, '.', '_', '~', '-'; at most 60)`);
    if (!isObject(body)) return fail(400, 'the request body must be a JSON object');
    const { service_id, plan_id, organization_guid, space_guid, parameters } = body;
    if (typeof service_id !== 'string' || service_id === '') return fail(400, "'service_id' is missing");
    if (typeof plan_id !== 'string' || plan_id === '') return fail(400, "'plan_id' is missing");
    if (service_id !== driver.serviceId) return fail(400, `unknown service_id '${service_id}'`);
    const plan = driver.planById(plan_id);
    if (!plan) return fail(400, `unknown plan_id '${plan_id}' for service ${service_id}`);
    // spec.md "Provisioning": both REQUIRED, non-empty strings (deprecated in favour of `context`, still sent).
    if (typeof organization_guid !== 'string' || organization_guid === '') return fail(400, "'organization_guid' is missing (a non-empty string)");
    if (typeof space_guid !== 'string' || space_guid === '') return fail(400, "'space_guid' is missing (a non-empty string)");
    if (parameters !== undefined && !isObject(parameters)) return fail(400, "'parameters' must be an object");
    const idProblem = driver.instanceIdProblem(id);
    if (idProblem) return fail(400, idProblem);

    const attributes = provisionAttributes({ service_id, plan_id, organization_guid, space_guid, parameters });
    const existing = this.records.instances.get(id);
    if (existing) return provisionAttributes(existing) === attributes ? ok(200, {}) : fail(409, `service instance ${id} already exists with other attributes`);
    const busy = this.inProgress('service instance', id, attributes);
    if (busy) return busy;

    const node = this.deps.pool.reserve(plan.name);
    if (!node) return fail(503, `no ${this.deps.nodeLabel} is available for plan '${plan.name}' (none announced, or all are full); is the ${this.deps.nodeLabel} running?`);
    const name = driver.instanceName(id);
    const record: ServiceInstanceRecord = { id, service_id, plan_id, plan: plan.name, organization_guid, space_guid, parameters, node_id: node.id, name, created_at: new Date().toISOString() };
    this.busy.set(id, { op: 'provision', attributes });
    this.pendingNames.add(name);
    this.inDoubt.delete(id);
    try {
      record.name = await driver.provision(node, plan, name);
      this.records.putInstance(record);
      this.deps.log.info('provisioned', { instance_id: id, plan: plan.name, node_id: node.id, name: record.name });
      return ok(201, {});
    } catch (error) {
      if (error instanceof NodeError && !error.timedOut) this.deps.pool.release(node.id);
      if (error instanceof NodeError && error.timedOut) this.inDoubt.set(id, record);
      return this.nodeFailure('provision', error);
    } finally {
      this.busy.delete(id);
      this.pendingNames.delete(name);
    }
  }

  /**
   * spec.md "Updating a Service Instance": a plan of this offering (the driver moves the instance
   * to it: 422 with why when it cannot), and/or parameters (recorded). The request is checked whole
   * first (400); one that changes nothing is a 200 at once. Synchronous: 200 once it is done.
   */
  async update(id: string, body: unknown): Promise<BrokerResult> {
    const { driver } = this.deps;
    if (!isObject(body)) return fail(400, 'the request body must be a JSON object');
    const { service_id, plan_id, parameters } = body;
    if (typeof service_id !== 'string' || service_id === '') return fail(400, "'service_id' is missing");
    if (service_id !== driver.serviceId) return fail(400, `unknown service_id '${service_id}'`);
    if (plan_id !== undefined && (typeof plan_id !== 'string' || plan_id === '')) return fail(400, "'plan_id' must be a non-empty string");
    const target = typeof plan_id === 'string' ? driver.planById(plan_id) : undefined;
    if (plan_id !== undefined && !target) return fail(400, `unknown plan_id '${String(plan_id)}' for service ${service_id}`);
    if (parameters !== undefined && !isObject(parameters)) return fail(400, "'parameters' must be an object");
    const instance = this.records.instances.get(id);
    if (!instance) return fail(400, `service instance ${id} does not exist`);
    if (service_id !== instance.service_id) return fail(400, `service_id does not match service instance ${id}`);
    const busy = this.inProgress('service instance', id);
    if (busy) return busy;

    const plan = target && target.id !== instance.plan_id ? target : undefined;
    const newParameters = parameters !== undefined && canonical(parameters) !== canonical(instance.parameters ?? {}) ? parameters : undefined;
    if (!plan && newParameters === undefined) return ok(200, {});
    if (plan && !driver.changePlan) return { status: 422, body: { description: `${driver.offering} instances cannot change plans`, instance_usable: true } };
    this.busy.set(id, { op: 'update' });
    try {
      if (plan) await driver.changePlan?.(instance, plan);
      const record: ServiceInstanceRecord = { ...instance, ...(plan ? { plan_id: plan.id, plan: plan.name } : {}), ...(newParameters !== undefined ? { parameters: newParameters } : {}) };
      // Its bindings are now of the new plan too: the platform names it when it unbinds them.
      for (const binding of this.records.bindingsOf(id)) if (binding.plan_id !== record.plan_id) this.records.putBinding({ ...binding, plan_id: record.plan_id });
      this.records.putInstance(record);
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
    const recorded = this.records.instances.get(id);
    const instance = recorded ?? this.inDoubt.get(id);
    if (!instance) return ok(410, {});
    if (query.get('service_id') !== instance.service_id || query.get('plan_id') !== instance.plan_id) {
      return fail(400, `service_id and plan_id do not match service instance ${id}`);
    }
    const busy = this.inProgress('service instance', id);
    if (busy) return busy;
    this.busy.set(id, { op: 'deprovision' });
    try {
      const bindings = this.records.bindingsOf(id);
      await this.deps.driver.deprovision(instance, bindings);
      if (recorded) this.records.deleteInstance(id);
      this.inDoubt.delete(id);
      this.deps.log.info(recorded ? 'deprovisioned' : 'deprovisioned what a provision that timed out may have made', { instance_id: id, node_id: instance.node_id, name: instance.name, bindings: bindings.length });
      return ok(200, {});
    } catch (error) {
      return this.nodeFailure('unprovision', error);
    } finally {
      this.busy.delete(id);
    }
  }

  async bind(instanceId: string, bindingId: string, body: unknown): Promise<BrokerResult> {
    const { driver } = this.deps;
    if (!validId(bindingId)) return fail(400, `'${bindingId}' is not a usable binding id`);
    if (!isObject(body)) return fail(400, 'the request body must be a JSON object');
    const { service_id, plan_id, parameters } = body;
    if (typeof service_id !== 'string' || service_id === '') return fail(400, "'service_id' is missing");
    if (typeof plan_id !== 'string' || plan_id === '') return fail(400, "'plan_id' is missing");
    if (parameters !== undefined && !isObject(parameters)) return fail(400, "'parameters' must be an object");
    const bindResource = isObject(body.bind_resource) ? body.bind_resource : {};
    const appGuid = typeof bindResource.app_guid === 'string' ? bindResource.app_guid : typeof body.app_guid === 'string' ? body.app_guid : undefined;
    const instance = this.records.instances.get(instanceId);
    if (!instance) return fail(400, `service instance ${instanceId} does not exist`);
    if (service_id !== instance.service_id || plan_id !== instance.plan_id) return fail(400, `service_id and plan_id do not match service instance ${instanceId}`);

    const attributes = bindAttributes({ instance_id: instanceId, app_guid: appGuid, parameters });
    const existing = this.records.bindings.get(bindingId);
    if (existing) {
      return bindAttributes(existing) === attributes ? ok(200, { credentials: driver.appCredentials(existing.credentials) }) : fail(409, `service binding ${bindingId} already exists with other parameters`);
    }
    const busy = this.inProgress('service binding', bindingId, attributes) ?? this.inProgress('service instance', instanceId);
    if (busy) return busy;
    const handle = driver.bindingHandle?.(bindingId);
    this.busy.set(bindingId, { op: 'bind', attributes });
    if (handle) this.pendingHandles.add(handle);
    try {
      const { credentials: given, extra } = await driver.bind(instance, bindingId);
      const credentials = driver.appCredentials(given);
      const base: BindingRecord = { id: bindingId, instance_id: instanceId, service_id, plan_id, app_guid: appGuid, parameters, node_id: instance.node_id, credentials, created_at: new Date().toISOString() };
      this.records.putBinding({ ...base, ...extra } as B);
      this.deps.log.info('bound', { instance_id: instanceId, binding_id: bindingId, node_id: instance.node_id, ...(handle ? { handle } : {}) });
      return ok(201, { credentials });
    } catch (error) {
      return this.nodeFailure('bind', error);
    } finally {
      this.busy.delete(bindingId);
      if (handle) this.pendingHandles.delete(handle);
    }
  }

  async unbind(instanceId: string, bindingId: string, query: URLSearchParams): Promise<BrokerResult> {
    const missing = this.missingQueryIds(query);
    if (missing) return missing;
    const binding = this.records.bindings.get(bindingId);
    if (!binding || binding.instance_id !== instanceId) return ok(410, {});
    if (query.get('service_id') !== binding.service_id || query.get('plan_id') !== binding.plan_id) {
      return fail(400, `service_id and plan_id do not match service binding ${bindingId}`);
    }
    const busy = this.inProgress('service binding', bindingId);
    if (busy) return busy;
    this.busy.set(bindingId, { op: 'unbind' });
    try {
      await this.deps.driver.unbind(binding, this.records.instances.get(instanceId));
      this.records.deleteBinding(bindingId);
      this.deps.log.info('unbound', { instance_id: instanceId, binding_id: bindingId });
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
