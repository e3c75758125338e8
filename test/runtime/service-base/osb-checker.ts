// The cases of the Open Service Broker API's own conformance suites (osb-checker, its Go and mocha
// suites: catalog headers, provision, last_operation, update, bind, unbind, deprovision, each with its
// request syntax, new, existed and conflict cases) and the status codes of spec.md (v2.17), for a
// built-in broker over real HTTP. Each service's conformance test calls these inside its describe,
// with what is its own: how to see the instance on its node, what its credentials are and do, and
// the cases only it has (MySQL's plan changes). The lifecycle cases run in order, as osb-checker's
// do: each builds on the one before.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { BROKER, osb } from '../mysql-gateway/helpers.js';

export interface PlanIds {
  id: string;
  name: string;
}

/** What the shared cases know of the broker under test. */
export interface BrokerUnderTest {
  /** Its base URL (read at each case: the suite's `before` starts it). */
  url: () => string;
  serviceId: string;
  /** The basic-auth realm of its 401s. */
  realm: string;
}

/** 412 without X-Broker-API-Version and 401 without or with wrong credentials, on every endpoint; 404 for the last_operation of what does not exist. */
export function headerAndAuthCases(b: BrokerUnderTest, planId: string): void {
  it('412 without X-Broker-API-Version and 401 without or with wrong credentials, on every endpoint', async () => {
    const id = randomUUID();
    const endpoints: Array<[string, string]> = [
      ['GET', '/v2/catalog'],
      ['PUT', `/v2/service_instances/${id}`],
      ['PATCH', `/v2/service_instances/${id}`],
      ['DELETE', `/v2/service_instances/${id}?service_id=${b.serviceId}&plan_id=${planId}`],
      ['GET', `/v2/service_instances/${id}/last_operation`],
      ['PUT', `/v2/service_instances/${id}/service_bindings/${id}`],
      ['DELETE', `/v2/service_instances/${id}/service_bindings/${id}?service_id=${b.serviceId}&plan_id=${planId}`],
      ['GET', `/v2/service_instances/${id}/service_bindings/${id}/last_operation`],
    ];
    for (const [method, target] of endpoints) {
      assert.equal((await osb(b.url(), method, target, { body: {}, version: null })).status, 412, `${method} ${target} without a version`);
      const unauthorized = await osb(b.url(), method, target, { body: {}, auth: null });
      assert.equal(unauthorized.status, 401, `${method} ${target} without credentials`);
      assert.equal(String(unauthorized.headers['www-authenticate']), `Basic realm="${b.realm}"`);
      assert.equal((await osb(b.url(), method, target, { body: {}, auth: { username: BROKER.username, password: 'wrong' } })).status, 401, `${method} ${target} with wrong credentials`);
    }
  });

  it('last_operation: 404 for an unknown service instance and an unknown service binding (MUST)', async () => {
    const res = await osb(b.url(), 'GET', `/v2/service_instances/${randomUUID()}/last_operation?service_id=${b.serviceId}&plan_id=${planId}`);
    assert.equal(res.status, 404);
    assert.ok(String(res.json.description).length > 0);
    assert.equal((await osb(b.url(), 'GET', `/v2/service_instances/${randomUUID()}/service_bindings/${randomUUID()}/last_operation`)).status, 404);
  });
}

/** What a lifecycle's service-specific steps are given: its ids and paths, and the credentials once bound. */
export interface Lifecycle {
  instanceId: string;
  instance: string;
  binding: string;
  credentials: Record<string, unknown>;
}

export interface LifecycleOptions extends BrokerUnderTest {
  plan: PlanIds;
  /** Another plan of the offering, where there is one: a conflicting provision, update bodies. */
  otherPlan?: PlanIds;
  /** Whether the node holds the instance (its database, its server). */
  exists(instanceId: string): Promise<boolean>;
  /** The credentials' fields, sorted: exactly these, nothing else. */
  credentialFields: string[];
  /** Checks new credentials as apps use them (and may leave data the later steps use). */
  useCredentials(credentials: Record<string, unknown>, l: Lifecycle): Promise<void>;
  /** The service's update cases, after the shared "changes nothing" one. */
  updates?(l: Lifecycle): void;
  /** The service's cases once bound, before the unbind (MySQL: its plan and data). */
  whileBound?(l: Lifecycle): void;
  /** What an unbind changes on the node (MySQL: the credentials no longer log in). */
  afterUnbind?(l: Lifecycle): Promise<void>;
  /** What a deprovision leaves, besides the node not holding the instance. */
  afterDeprovision?(l: Lifecycle): Promise<void>;
}

export function lifecycleCases(o: LifecycleOptions): void {
  const { serviceId, plan } = o;
  const other = o.otherPlan ?? plan;
  const instanceId = randomUUID();
  const bindingId = randomUUID();
  const instance = `/v2/service_instances/${instanceId}`;
  const l: Lifecycle = { instanceId, instance, binding: `${instance}/service_bindings/${bindingId}`, credentials: {} };
  const { binding } = l;
  const url = () => o.url();
  const provisionBody = (over: Record<string, unknown> = {}) => ({
    service_id: serviceId,
    plan_id: plan.id,
    organization_guid: 'org-guid-here',
    space_guid: 'space-guid-here',
    context: { platform: 'cloudfoundry', organization_guid: 'org-guid-here', space_guid: 'space-guid-here', instance_name: `osb-${plan.name}` },
    ...over,
  });
  const bindBody = (over: Record<string, unknown> = {}) => ({ service_id: serviceId, plan_id: plan.id, bind_resource: { app_guid: 'app-guid-here' }, context: { platform: 'cloudfoundry' }, ...over });
  const query = (omit?: 'service_id' | 'plan_id') => `?${[omit !== 'service_id' && `service_id=${serviceId}`, omit !== 'plan_id' && `plan_id=${plan.id}`].filter(Boolean).join('&')}`;
  const planNow = async () => (await osb(url(), 'GET', instance)).json.plan_id;

  describe('PROVISION - request syntax', () => {
    const rejected: Array<[string, Record<string, unknown>, string?]> = [
      ['missing service_id', provisionBody({ service_id: undefined })],
      ['missing plan_id', provisionBody({ plan_id: undefined })],
      ['missing organization_guid', provisionBody({ organization_guid: undefined })],
      ['missing space_guid', provisionBody({ space_guid: undefined })],
      ['an empty organization_guid', provisionBody({ organization_guid: '' })],
      ['an invalid service_id', provisionBody({ service_id: 'xxxx-xxxx-xxxx-xxxx' })],
      ['an invalid plan_id', provisionBody({ plan_id: 'xxxx-xxxx-xxxx-xxxx' })],
      ['parameters that are no object', provisionBody({ parameters: 'x' })],
      ['an instance id that is no GUID', provisionBody(), '/v2/service_instances/not-a-guid'],
    ];
    for (const [what, body, target] of rejected) {
      it(`400 for ${what}, and nothing is created`, async () => {
        const res = await osb(url(), 'PUT', `${target ?? instance}?accepts_incomplete=true`, { body });
        assert.equal(res.status, 400);
        assert.ok(String(res.json.description).length > 0);
        assert.equal((await osb(url(), 'GET', target ?? instance)).status, 404);
        assert.equal(await o.exists(instanceId), false);
      });
    }
  });

  describe('PROVISION - new', () => {
    it('201 {} (synchronous: done when answered, with or without accepts_incomplete)', async () => {
      const res = await osb(url(), 'PUT', `${instance}?accepts_incomplete=true`, { body: provisionBody() });
      assert.deepEqual([res.status, res.json], [201, {}]);
      assert.equal(await o.exists(instanceId), true);
    });
    it('last_operation: 200 succeeded', async () => {
      assert.deepEqual(await osb(url(), 'GET', `${instance}/last_operation${query()}`).then((r) => [r.status, r.json]), [200, { state: 'succeeded' }]);
    });
    it('fetch: 200 with its service_id and plan_id', async () => {
      const res = await osb(url(), 'GET', instance);
      assert.equal(res.status, 200);
      assert.deepEqual([res.json.service_id, res.json.plan_id], [serviceId, plan.id]);
    });
  });

  describe('PROVISION - existed', () => {
    it('200 {} when the instance exists with identical attributes', async () => {
      const res = await osb(url(), 'PUT', `${instance}?accepts_incomplete=true`, { body: provisionBody() });
      assert.deepEqual([res.status, res.json], [200, {}]);
    });
  });

  describe('PROVISION - conflict', () => {
    const conflicts: Array<[string, Record<string, unknown>]> = [
      ...(o.otherPlan ? [['another plan', { plan_id: o.otherPlan.id }] as [string, Record<string, unknown>]] : []),
      ['another space', { space_guid: 'another-space-guid' }],
      ['another organization', { organization_guid: 'another-org-guid' }],
      ['other parameters', { parameters: { a: 1 } }],
    ];
    for (const [what, over] of conflicts) {
      it(`409 when the instance exists with ${what}`, async () => {
        const res = await osb(url(), 'PUT', `${instance}?accepts_incomplete=true`, { body: provisionBody(over) });
        assert.equal(res.status, 409);
        assert.ok(String(res.json.description).length > 0);
        assert.equal(await planNow(), plan.id, 'unchanged');
      });
    }
  });

  describe('UPDATE - request syntax', () => {
    for (const [what, body, target] of [
      ['missing service_id', { plan_id: other.id }, instance],
      ['an invalid service_id', { service_id: 'xxxx-xxxx-xxxx-xxxx', plan_id: other.id }, instance],
      ['an unknown plan_id', { service_id: serviceId, plan_id: 'xxxx-xxxx-xxxx-xxxx' }, instance],
      ['an unknown instance', { service_id: serviceId, plan_id: other.id }, `/v2/service_instances/${randomUUID()}`],
    ] as const) {
      it(`400 for ${what}, and nothing changes`, async () => {
        const res = await osb(url(), 'PATCH', `${target}?accepts_incomplete=true`, { body });
        assert.equal(res.status, 400);
        assert.ok(String(res.json.description).length > 0);
        assert.equal(await planNow(), plan.id);
      });
    }
  });

  describe('UPDATE', () => {
    it('200 {} for a request that changes nothing', async () => {
      for (const body of [{ service_id: serviceId }, { service_id: serviceId, plan_id: plan.id, previous_values: { plan_id: plan.id } }]) {
        const res = await osb(url(), 'PATCH', `${instance}?accepts_incomplete=true`, { body });
        assert.deepEqual([res.status, res.json], [200, {}], JSON.stringify(body));
      }
    });
    o.updates?.(l);
  });

  describe('BINDING - request syntax', () => {
    for (const [what, body, target] of [
      ['missing service_id', bindBody({ service_id: undefined }), binding],
      ['missing plan_id', bindBody({ plan_id: undefined }), binding],
      ['an unknown service instance', bindBody(), `/v2/service_instances/${randomUUID()}/service_bindings/${bindingId}`],
      ['ids that do not match the instance', bindBody({ service_id: randomUUID() }), binding],
    ] as const) {
      it(`400 for ${what}`, async () => {
        const res = await osb(url(), 'PUT', target, { body });
        assert.equal(res.status, 400);
        assert.ok(String(res.json.description).length > 0);
      });
    }
  });

  describe('BINDING - new', () => {
    it('201 with the credentials, and nothing else, that work as apps use them', async () => {
      const res = await osb(url(), 'PUT', `${binding}?accepts_incomplete=true`, { body: bindBody() });
      assert.equal(res.status, 201);
      l.credentials = res.json.credentials as Record<string, unknown>;
      assert.deepEqual(Object.keys(l.credentials).sort(), o.credentialFields);
      assert.equal(typeof l.credentials.port, 'number');
      await o.useCredentials(l.credentials, l);
    });
    it('last_operation and fetch: 200 succeeded, 200 with the same credentials', async () => {
      assert.deepEqual(await osb(url(), 'GET', `${binding}/last_operation`).then((r) => [r.status, r.json]), [200, { state: 'succeeded' }]);
      const fetched = await osb(url(), 'GET', binding);
      assert.equal(fetched.status, 200);
      assert.deepEqual(fetched.json.credentials, l.credentials);
    });
  });

  describe('BINDING - existed', () => {
    it('200 with the same credentials when the binding exists with identical attributes', async () => {
      const res = await osb(url(), 'PUT', `${binding}?accepts_incomplete=true`, { body: bindBody() });
      assert.equal(res.status, 200);
      assert.deepEqual(res.json.credentials, l.credentials);
    });
  });

  describe('BINDING - conflict', () => {
    it('409 when the binding exists with other attributes', async () => {
      for (const over of [{ bind_resource: { app_guid: 'another-app-guid' } }, { parameters: { a: 1 } }]) {
        const res = await osb(url(), 'PUT', `${binding}?accepts_incomplete=true`, { body: bindBody(over) });
        assert.equal(res.status, 409, JSON.stringify(over));
        assert.ok(String(res.json.description).length > 0);
      }
    });
  });

  o.whileBound?.(l);

  describe('UNBINDING', () => {
    it('400 for a missing service_id or plan_id; the binding stays', async () => {
      for (const omit of ['service_id', 'plan_id'] as const) assert.equal((await osb(url(), 'DELETE', `${binding}${query(omit)}&accepts_incomplete=true`)).status, 400, omit);
      assert.equal((await osb(url(), 'GET', binding)).status, 200);
    });
    it('200 {}: the binding is gone', async () => {
      const res = await osb(url(), 'DELETE', `${binding}${query()}&accepts_incomplete=true`);
      assert.deepEqual([res.status, res.json], [200, {}]);
      assert.equal((await osb(url(), 'GET', binding)).status, 404);
      assert.equal((await osb(url(), 'GET', `${binding}/last_operation`)).status, 404);
      await o.afterUnbind?.(l);
    });
    it('410 {} when the binding does not exist', async () => {
      const res = await osb(url(), 'DELETE', `${binding}${query()}&accepts_incomplete=true`);
      assert.deepEqual([res.status, res.json], [410, {}]);
    });
  });

  describe('DEPROVISIONING', () => {
    it('400 for a missing service_id or plan_id, or ids that do not match; the instance stays', async () => {
      for (const omit of ['service_id', 'plan_id'] as const) assert.equal((await osb(url(), 'DELETE', `${instance}${query(omit)}&accepts_incomplete=true`)).status, 400, omit);
      assert.equal((await osb(url(), 'DELETE', `${instance}?service_id=${serviceId}&plan_id=${randomUUID()}`)).status, 400);
      assert.equal((await osb(url(), 'GET', instance)).status, 200);
      assert.equal(await o.exists(instanceId), true);
    });
    it('200 {}: the node no longer holds it', async () => {
      const res = await osb(url(), 'DELETE', `${instance}${query()}&accepts_incomplete=true`);
      assert.deepEqual([res.status, res.json], [200, {}]);
      assert.equal(await o.exists(instanceId), false);
      await o.afterDeprovision?.(l);
    });
    it('410 {} when the instance does not exist; last_operation and fetch 404', async () => {
      const res = await osb(url(), 'DELETE', `${instance}${query()}&accepts_incomplete=true`);
      assert.deepEqual([res.status, res.json], [410, {}]);
      assert.equal((await osb(url(), 'GET', `${instance}/last_operation`)).status, 404);
      assert.equal((await osb(url(), 'GET', instance)).status, 404);
    });
  });
}
