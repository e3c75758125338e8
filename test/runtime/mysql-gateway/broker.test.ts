// The mysql-gateway as an Open Service Broker API v2.17 broker (spec.md of openservicebrokerapi),
// on a real bus with fake mysql-nodes: every status code, the order of the checks, node choice by
// capacity, node timeouts, the record across a restart, and orphans.
import assert from 'node:assert/strict';
import net from 'node:net';
import { PLANS, SERVICE_ID } from '../../../src/runtime/mysql-gateway/catalog.js';
import { BROKER, dbName, gatewaySuite, guid, osb, type FakeNode, type RunningGateway } from './helpers.js';

const SMALL = PLANS.find((p) => p.name === 'small')!.id;
const MEDIUM = PLANS.find((p) => p.name === 'medium')!.id;
const provisionBody = (over: Record<string, unknown> = {}) => ({ service_id: SERVICE_ID, plan_id: SMALL, organization_guid: 'org-1', space_guid: 'space-1', context: { platform: 'cloudfoundry' }, ...over });
const bindBody = (over: Record<string, unknown> = {}) => ({ service_id: SERVICE_ID, plan_id: SMALL, bind_resource: { app_guid: 'app-1' }, ...over });
const Q = `?service_id=${SERVICE_ID}&plan_id=${SMALL}`;
/** The credentials of a binding, as cf-mysql writes them: nothing of devbox's own. */
const CF_MYSQL_FIELDS = ['hostname', 'jdbcUrl', 'name', 'password', 'port', 'uri', 'username'];

describe('mysql-gateway: an OSBAPI v2 broker on a real bus', function () {
  this.timeout(15_000);
  const { gateway, node, seesNodes } = gatewaySuite();

  describe('headers, auth and catalog', () => {
    let g: RunningGateway;
    beforeEach(async () => {
      g = await gateway();
    });

    it('answers 412 with an error body when X-Broker-API-Version is missing or unsupported, before auth', async () => {
      for (const version of [null, '2.12', '2.18', '3.0', 'abc']) {
        const res = await osb(g.url, 'GET', '/v2/catalog', { version, auth: null });
        assert.equal(res.status, 412, `version ${String(version)}`);
        assert.match(String(res.json.description), /2\.13 to 2\.17/);
      }
      for (const version of ['2.13', '2.14', '2.15', '2.16', '2.17']) assert.equal((await osb(g.url, 'GET', '/v2/catalog', { version })).status, 200, version);
    });

    it('answers 400 to two Host headers, as every server of the box (common/http.ts), in its error shape', async () => {
      const { port } = new URL(g.url);
      const answer = await new Promise<string>((resolve, reject) => {
        const socket = net.connect(Number(port), '127.0.0.1');
        let text = '';
        socket.on('data', (d: Buffer) => (text += d.toString('utf8')));
        socket.on('error', reject);
        socket.on('close', () => resolve(text));
        socket.setTimeout(5_000, () => socket.destroy());
        socket.end('GET /v2/catalog HTTP/1.1\r\nHost: mysql-broker.localhost\r\nHost: api.localhost\r\nX-Broker-API-Version: 2.17\r\n\r\n');
      });
      assert.match(answer, /^HTTP\/1\.1 400 /);
      assert.match(answer, /\{"description":"More than one Host header: send exactly one"\}$/);
      assert.equal(g.varz().responses && (g.varz().responses as Record<string, number>)['400'], 1);
    });

    it('answers 401 without or with wrong credentials, before reading the body', async () => {
      assert.equal((await osb(g.url, 'GET', '/v2/catalog', { auth: null })).status, 401);
      const wrong = await osb(g.url, 'GET', '/v2/catalog', { auth: { username: BROKER.username, password: 'nope' } });
      assert.equal(wrong.status, 401);
      assert.ok(wrong.json.description);
      assert.match(String(wrong.headers['www-authenticate']), /^Basic/);
      // An unreadable body with bad auth is a 401, not a 400; with no version a 412.
      assert.equal((await osb(g.url, 'PUT', '/v2/service_instances/i-1', { raw: '{not json', auth: null })).status, 401);
      assert.equal((await osb(g.url, 'PUT', '/v2/service_instances/i-1', { raw: '{not json', version: null, auth: null })).status, 412);
      assert.equal((await osb(g.url, 'PUT', '/v2/service_instances/i-1', { raw: '{not json' })).status, 400);
    });

    it('serves the catalog: p-mysql, tags, retrievable, plans small and medium with stable ids', async () => {
      const res = await osb(g.url, 'GET', '/v2/catalog');
      assert.equal(res.status, 200);
      assert.match(String(res.headers['content-type']), /application\/json/);
      const [service, ...others] = res.json.services as Array<Record<string, unknown>>;
      assert.equal(others.length, 0);
      assert.equal(service.name, 'p-mysql');
      assert.equal(service.id, SERVICE_ID);
      assert.deepEqual(service.tags, ['mysql', 'relational']);
      assert.equal(service.bindable, true);
      assert.equal(service.instances_retrievable, true);
      assert.equal(service.bindings_retrievable, true);
      assert.equal(service.plan_updateable, true);
      assert.ok(String(service.description).length > 0);
      const plans = service.plans as Array<Record<string, unknown>>;
      assert.deepEqual(plans.map((p) => [p.name, p.id]), [['small', SMALL], ['medium', MEDIUM]]);
      for (const p of plans) assert.match(String(p.description), /MB/);
      // Stable across restarts: a second gateway serves the same ids.
      const g2 = await gateway();
      assert.deepEqual((await osb(g2.url, 'GET', '/v2/catalog')).json, res.json);
    });

    it('answers 404 for unknown endpoints', async () => {
      assert.equal((await osb(g.url, 'GET', '/v2/nothing')).status, 404);
    });
  });

  describe('provision, bind, unbind, deprovision', () => {
    let g: RunningGateway;
    let n: FakeNode;
    beforeEach(async () => {
      n = await node({ id: 'node-a', capacity: 10 });
      g = await gateway();
      await seesNodes(g, 'node-a');
    });

    it('provision: 400 for malformed or missing/unknown ids (state unchanged), 201, 200 identical, 409 other attributes', async () => {
      const id = 'f0e1d2c3-b4a5-4697-8879-6a5b4c3d2e1f';
      const path = `/v2/service_instances/${id}`;
      const bad: Array<[string, unknown, string?]> = [
        ['no body', undefined],
        ['an array', []],
        ['no service_id', provisionBody({ service_id: undefined })],
        ['no plan_id', provisionBody({ plan_id: undefined })],
        ['unknown service_id', provisionBody({ service_id: 'nope' })],
        ['unknown plan_id', provisionBody({ plan_id: 'nope' })],
        ['plan_id of another kind', provisionBody({ plan_id: 42 })],
        // spec.md "Provisioning": REQUIRED, non-empty strings (MUST 400).
        ['no organization_guid', provisionBody({ organization_guid: undefined })],
        ['no space_guid', provisionBody({ space_guid: undefined })],
        ['an empty organization_guid', provisionBody({ organization_guid: '' })],
        ['a space_guid of another kind', provisionBody({ space_guid: 7 })],
        ['parameters not an object', provisionBody({ parameters: 'x' })],
        ['an id that is no GUID (it names the database)', provisionBody(), '/v2/service_instances/inst-1'],
      ];
      for (const [what, body, target = path] of bad) {
        const res = await osb(g.url, 'PUT', target, { body });
        assert.equal(res.status, 400, what);
        assert.ok(String(res.json.description).length > 0, what);
      }
      assert.match(String((await osb(g.url, 'PUT', path, { body: provisionBody({ organization_guid: undefined }) })).json.description), /'organization_guid' is missing/);
      assert.match(String((await osb(g.url, 'PUT', '/v2/service_instances/inst-1', { body: provisionBody() })).json.description), /must be a GUID/);
      assert.equal((await osb(g.url, 'GET', path)).status, 404);
      assert.equal(n.requests.filter((r) => r.op === 'provision').length, 0, 'nothing created');
      assert.equal(g.varz().instances, 0);

      // Unknown fields are ignored. The database is named as cf-mysql names it.
      const created = await osb(g.url, 'PUT', path, { body: provisionBody({ x_unknown_field: { a: 1 }, parameters: { a: 1, b: 2 } }) });
      assert.equal(created.status, 201);
      assert.deepEqual(created.json, {});
      assert.deepEqual([...n.databases], ['cf_f0e1d2c3_b4a5_4697_8879_6a5b4c3d2e1f']);
      assert.deepEqual(n.requests[0], { op: 'provision', body: { plan: 'small', version: '10.11', name: 'cf_f0e1d2c3_b4a5_4697_8879_6a5b4c3d2e1f' } });

      const again = await osb(g.url, 'PUT', path, { body: provisionBody({ parameters: { b: 2, a: 1 } }) });
      assert.equal(again.status, 200);
      assert.deepEqual(again.json, {});
      for (const over of [{ plan_id: MEDIUM }, { space_guid: 'space-2' }, { parameters: { a: 2 } }]) {
        const conflict = await osb(g.url, 'PUT', path, { body: provisionBody(over) });
        assert.equal(conflict.status, 409, JSON.stringify(over));
        assert.ok(conflict.json.description);
      }
      assert.equal(n.requests.filter((r) => r.op === 'provision').length, 1);

      const fetched = await osb(g.url, 'GET', path);
      assert.equal(fetched.status, 200);
      assert.equal(fetched.json.service_id, SERVICE_ID);
      assert.equal(fetched.json.plan_id, SMALL);
      assert.deepEqual(await osb(g.url, 'GET', `${path}/last_operation`).then((r) => [r.status, r.json]), [200, { state: 'succeeded' }]);
      // spec.md "Polling Last Operation": 404 (MUST) for an instance that does not exist.
      const absent = await osb(g.url, 'GET', `/v2/service_instances/${guid(404)}/last_operation`);
      assert.equal(absent.status, 404);
      assert.ok(absent.json.description);
      assert.equal(g.varz().instances, 1);
    });

    it('bind: 400 for missing ids or an unknown instance, 201 with cf-mysql credentials, 200 identical, 409, GET 200/404', async () => {
      const id = guid(2);
      assert.equal((await osb(g.url, 'PUT', `/v2/service_instances/${id}`, { body: provisionBody() })).status, 201);
      const path = `/v2/service_instances/${id}/service_bindings/bind-1`;
      assert.equal((await osb(g.url, 'PUT', `/v2/service_instances/${guid(404)}/service_bindings/bind-1`, { body: bindBody() })).status, 400);
      assert.equal((await osb(g.url, 'PUT', path, { body: bindBody({ service_id: undefined }) })).status, 400);
      assert.equal((await osb(g.url, 'PUT', path, { body: bindBody({ plan_id: MEDIUM }) })).status, 400);
      assert.equal((await osb(g.url, 'PUT', path, { raw: '[' })).status, 400);
      assert.equal((await osb(g.url, 'GET', path)).status, 404);

      const created = await osb(g.url, 'PUT', path, { body: bindBody({ x_extra: true }) });
      assert.equal(created.status, 201);
      const credentials = created.json.credentials as Record<string, unknown>;
      // cf-mysql's fields and nothing else: the node's id and `host` (which the node sent) stay in the broker.
      assert.deepEqual(Object.keys(credentials).sort(), CF_MYSQL_FIELDS);
      assert.equal(credentials.name, dbName(id));
      assert.equal(typeof credentials.port, 'number');
      assert.match(String(credentials.uri), new RegExp(`^mysql://u[0-9a-f]{15}:.+@127\\.0\\.0\\.1:3306/${dbName(id)}\\?reconnect=true$`));

      const again = await osb(g.url, 'PUT', path, { body: bindBody() });
      assert.equal(again.status, 200);
      assert.deepEqual(again.json.credentials, credentials);
      const conflict = await osb(g.url, 'PUT', path, { body: bindBody({ bind_resource: { app_guid: 'app-2' } }) });
      assert.equal(conflict.status, 409);
      assert.ok(conflict.json.description);

      const fetched = await osb(g.url, 'GET', path);
      assert.equal(fetched.status, 200);
      assert.deepEqual(fetched.json.credentials, credentials);
      assert.equal((await osb(g.url, 'GET', `${path}/last_operation`)).status, 200);
      assert.equal((await osb(g.url, 'GET', `/v2/service_instances/${id}/service_bindings/other`)).status, 404);
      assert.equal((await osb(g.url, 'GET', `/v2/service_instances/${id}/service_bindings/other/last_operation`)).status, 404);

      const second = await osb(g.url, 'PUT', `/v2/service_instances/${id}/service_bindings/bind-2`, { body: bindBody() });
      assert.equal(second.status, 201);
      assert.notEqual((second.json.credentials as Record<string, unknown>).username, credentials.username);
      assert.equal(g.varz().bindings, 2);
    });

    it('update: checked whole first (400 for a bad body, missing or unknown ids, an unknown instance), 200 {} for no change, a plan change is the node\'s', async () => {
      const id = guid(5);
      const path = `/v2/service_instances/${id}`;
      assert.equal((await osb(g.url, 'PUT', path, { body: provisionBody() })).status, 201);
      assert.equal((await osb(g.url, 'PUT', `${path}/service_bindings/b-before`, { body: bindBody() })).status, 201);
      for (const [what, target, body] of [
        ['no body', path, undefined],
        ['an array', path, [SERVICE_ID]],
        ['no service_id', path, { plan_id: MEDIUM }],
        ['an empty service_id', path, { service_id: '', plan_id: MEDIUM }],
        ['an unknown service_id', path, { service_id: 'nope', plan_id: MEDIUM }],
        ['an unknown plan', path, { service_id: SERVICE_ID, plan_id: 'nope' }],
        ['a plan_id of another kind', path, { service_id: SERVICE_ID, plan_id: 42 }],
        ['parameters not an object', path, { service_id: SERVICE_ID, parameters: [1] }],
        ['an unknown instance', `/v2/service_instances/${guid(404)}`, { service_id: SERVICE_ID, plan_id: MEDIUM }],
        ['an unknown instance, nothing else wrong', `/v2/service_instances/${guid(404)}`, { service_id: SERVICE_ID }],
      ] as Array<[string, string, unknown]>) {
        const res = await osb(g.url, 'PATCH', `${target}?accepts_incomplete=true`, { body });
        assert.equal(res.status, 400, what);
        assert.ok(String(res.json.description).length > 0, what);
      }
      assert.match(String((await osb(g.url, 'PATCH', path, { body: { service_id: SERVICE_ID, plan_id: 'nope' } })).json.description), /unknown plan_id 'nope'/);
      assert.equal(n.requests.filter((r) => r.op === 'update').length, 0, 'a refused update asks no node');
      assert.equal((await osb(g.url, 'GET', path)).json.plan_id, SMALL);

      // Nothing to change (only service_id and context, the same plan, the same parameters): 200 {} at once.
      for (const body of [
        { service_id: SERVICE_ID },
        { service_id: SERVICE_ID, context: { platform: 'cloudfoundry', instance_name: 'renamed' } },
        { service_id: SERVICE_ID, plan_id: SMALL, previous_values: { plan_id: SMALL } },
        { service_id: SERVICE_ID, parameters: {} },
      ]) {
        const res = await osb(g.url, 'PATCH', path, { body });
        assert.deepEqual([res.status, res.json], [200, {}], JSON.stringify(body));
      }
      assert.equal(n.requests.filter((r) => r.op === 'update').length, 0);

      const moved = await osb(g.url, 'PATCH', `${path}?accepts_incomplete=true`, { body: { service_id: SERVICE_ID, plan_id: MEDIUM, previous_values: { plan_id: SMALL } } });
      assert.deepEqual([moved.status, moved.json], [200, {}]);
      assert.deepEqual(n.requests.filter((r) => r.op === 'update').map((r) => r.body), [{ name: dbName(id), plan: 'medium' }]);
      assert.equal((await osb(g.url, 'GET', path)).json.plan_id, MEDIUM);
      // Parameters only: recorded, no node asked; the same plan again asks nothing either.
      assert.equal((await osb(g.url, 'PATCH', path, { body: { service_id: SERVICE_ID, parameters: { x: 1 } } })).status, 200);
      assert.equal((await osb(g.url, 'PATCH', path, { body: { service_id: SERVICE_ID, plan_id: MEDIUM } })).status, 200);
      assert.equal(n.requests.filter((r) => r.op === 'update').length, 1);
      assert.deepEqual((await osb(g.url, 'GET', path)).json, { service_id: SERVICE_ID, plan_id: MEDIUM, parameters: { x: 1 } });
      // Binding, unbinding (a binding made before too) and deprovisioning now name the new plan.
      assert.equal((await osb(g.url, 'PUT', `${path}/service_bindings/b-u`, { body: bindBody({ plan_id: MEDIUM }) })).status, 201);
      assert.equal((await osb(g.url, 'DELETE', `${path}/service_bindings/b-before?service_id=${SERVICE_ID}&plan_id=${MEDIUM}`)).status, 200);
      assert.equal((await osb(g.url, 'DELETE', `${path}?service_id=${SERVICE_ID}&plan_id=${MEDIUM}`)).status, 200);
    });

    it('unbind and deprovision: 400 without the query ids, 200 {}, 410 {} when absent', async () => {
      const id = guid(3);
      assert.equal((await osb(g.url, 'PUT', `/v2/service_instances/${id}`, { body: provisionBody() })).status, 201);
      const path = `/v2/service_instances/${id}/service_bindings/bind-3`;
      const bound = await osb(g.url, 'PUT', path, { body: bindBody() });
      const username = String((bound.json.credentials as Record<string, unknown>).username);
      assert.ok(n.users.has(username));

      assert.equal((await osb(g.url, 'DELETE', path)).status, 400);
      assert.equal((await osb(g.url, 'DELETE', `${path}?service_id=${SERVICE_ID}`)).status, 400);
      assert.equal((await osb(g.url, 'DELETE', `${path}?plan_id=${SMALL}`)).status, 400);
      assert.equal((await osb(g.url, 'GET', path)).status, 200, 'a 400 leaves the binding alone');
      assert.deepEqual(await osb(g.url, 'DELETE', `${path}${Q}`).then((r) => [r.status, r.json]), [200, {}]);
      assert.equal(n.users.has(username), false);
      assert.deepEqual(await osb(g.url, 'DELETE', `${path}${Q}`).then((r) => [r.status, r.json]), [410, {}]);
      assert.equal((await osb(g.url, 'GET', path)).status, 404);

      // Deprovision drops the database and the bindings still left on it.
      const left = await osb(g.url, 'PUT', `${path}-b`, { body: bindBody() });
      const leftUser = String((left.json.credentials as Record<string, unknown>).username);
      const instance = `/v2/service_instances/${id}`;
      assert.equal((await osb(g.url, 'DELETE', `${instance}?service_id=${SERVICE_ID}`)).status, 400);
      assert.equal((await osb(g.url, 'GET', instance)).status, 200);
      assert.deepEqual(await osb(g.url, 'DELETE', `${instance}${Q}`).then((r) => [r.status, r.json]), [200, {}]);
      assert.deepEqual(n.requests.find((r) => r.op === 'unprovision')?.body, { name: dbName(id), bindings: [{ username: leftUser }] });
      assert.equal(n.databases.size, 0);
      assert.equal(n.users.size, 0);
      assert.deepEqual(await osb(g.url, 'DELETE', `${instance}${Q}`).then((r) => [r.status, r.json]), [410, {}]);
      assert.equal((await osb(g.url, 'GET', instance)).status, 404);
      assert.equal((await osb(g.url, 'GET', `${instance}/last_operation`)).status, 404, 'gone: 404, as for any instance that does not exist');
      assert.equal((await osb(g.url, 'GET', `${path}/last_operation`)).status, 404);
      assert.equal(g.varz().instances, 0);
      assert.equal(g.varz().bindings, 0);
    });
  });
});
