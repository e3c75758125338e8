// The controller as an Open Service Broker API platform, through a real box and the real CLI, against
// a small broker written here (with switches to fail): registration and catalog, provision, bind,
// VCAP_SERVICES, service keys, user-provided services, and orphan mitigation after failures.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { freePort } from '../../../src/runtime/common/net.js';
import { boxApi, type BoxApi } from '../../helpers/api.js';
import { cleanupBox, devbox, tempHome } from '../../helpers/devbox.js';

type Mode = 'ok' | '500' | 'timeout' | 'garbage' | '400';

interface Seen {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: Record<string, unknown>;
}

/** A tiny OSBAPI broker: one offering (`test-db`, plans tiny and big), basic auth, switchable failures. */
function startTestBroker(username: string, password: string) {
  const seen: Seen[] = [];
  const modes: { provision: Mode; bind: Mode } = { provision: 'ok', bind: 'ok' };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://broker');
      const text = Buffer.concat(chunks).toString('utf8');
      const body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
      seen.push({ method: req.method ?? '', path: url.pathname, headers: req.headers, body });
      const reply = (status: number, value: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(typeof value === 'string' ? value : JSON.stringify(value));
      };
      if (req.headers.authorization !== `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`) return reply(401, {});
      if (req.headers['x-broker-api-version'] !== '2.17') return reply(412, { description: 'version' });
      const fail = (mode: Mode, created: unknown) => {
        if (mode === 'ok') return reply(201, created);
        if (mode === '500') return reply(500, { description: 'the broker broke' });
        if (mode === '400') return reply(400, { error: 'BadRequest', description: 'plan says no' });
        if (mode === 'garbage') return reply(201, '<html>not json');
        // timeout: answer never (the platform gives up first)
      };
      if (req.method === 'GET' && url.pathname === '/v2/catalog') {
        return reply(200, {
          services: [
            {
              id: 'svc-1',
              name: 'test-db',
              description: 'A database for tests',
              bindable: true,
              tags: ['testing', 'db'],
              plans: [
                { id: 'plan-tiny', name: 'tiny', description: 'A tiny one', free: true },
                { id: 'plan-big', name: 'big', description: 'A big one', free: false },
              ],
            },
          ],
        });
      }
      const binding = /^\/v2\/service_instances\/([^/]+)\/service_bindings\/([^/]+)$/.exec(url.pathname);
      if (binding && req.method === 'PUT') return fail(modes.bind, { credentials: { uri: `mysql://u-${binding[2].slice(0, 8)}:pw@db.example:3306/d`, username: `u-${binding[2].slice(0, 8)}` } });
      if (binding && req.method === 'DELETE') return reply(200, {});
      const instance = /^\/v2\/service_instances\/([^/]+)$/.exec(url.pathname);
      if (instance && req.method === 'PUT') return fail(modes.provision, { dashboard_url: `http://dash.example/${instance[1]}` });
      if (instance && req.method === 'DELETE') return reply(200, {});
      reply(404, {});
    });
  });
  return {
    seen,
    modes,
    listen: () => new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port))),
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

describe('controller as an OSBAPI platform', function () {
  this.timeout(60_000);
  let home: string;
  let box: BoxApi;
  let spaceGuid: string;
  let brokerUrl: string;
  const broker = startTestBroker('broker-user', 'broker-s3cret');
  const cli = (args: string[]) => devbox(home, args);

  before(async () => {
    const brokerPort = await broker.listen();
    brokerUrl = `http://127.0.0.1:${brokerPort}`;
    home = tempHome();
    const routerPort = await freePort();
    const up = await devbox(home, ['up', '-d', '--port', String(routerPort)], { env: { DEVBOX_BROKER_TIMEOUT_MS: '1500' } });
    assert.equal(up.exitCode, 0, up.stdout + up.stderr);
    box = await boxApi(home, routerPort);
    spaceGuid = (await box.call('GET', '/v3/spaces?names=dev')).json().resources[0].guid;
  });
  after(async () => {
    await cleanupBox(home);
    broker.close();
  });

  const createApp = async (name: string) => (await box.call('POST', '/v3/apps', { name, relationships: { space: { data: { guid: spaceGuid } } } })).json();
  const instanceByName = async (name: string) => (await box.call('GET', `/v3/service_instances?names=${name}`)).json().resources[0];
  const deletesOf = (id: string) => broker.seen.filter((s) => s.method === 'DELETE' && s.path.includes(id));

  it('registers a broker with create-service-broker, fetching its catalog, and never shows its password', async () => {
    const created = await cli(['create-service-broker', 'test-broker', 'broker-user', 'broker-s3cret', brokerUrl]);
    assert.equal(created.exitCode, 0, created.stdout + created.stderr);
    assert.match(created.stdout, /Creating service broker test-broker as admin\.\.\.\nOK/);
    const brokers = await box.call('GET', '/v3/service_brokers?names=test-broker');
    assert.equal(brokers.json().resources.length, 1);
    assert.equal(brokers.json().resources[0].url, brokerUrl);
    assert.doesNotMatch(brokers.text, /broker-s3cret/);
    const listed = await cli(['service-brokers']);
    assert.match(listed.stdout, new RegExp(`test-broker\\s+${brokerUrl}`));

    const catalog = broker.seen.find((s) => s.path === '/v2/catalog')!;
    assert.equal(catalog.headers['x-broker-api-version'], '2.17');
    assert.match(String(catalog.headers['x-broker-api-originating-identity']), /^cloudfoundry /);
    const identity = JSON.parse(Buffer.from(String(catalog.headers['x-broker-api-originating-identity']).split(' ')[1], 'base64').toString());
    assert.equal(typeof identity.user_id, 'string');
    assert.ok(catalog.headers['x-broker-api-request-identity']);

    const offering = (await box.call('GET', '/v3/service_offerings?names=test-db')).json().resources[0];
    assert.equal(offering.broker_catalog.id, 'svc-1');
    assert.deepEqual(offering.tags, ['testing', 'db']);
    assert.equal(offering.broker_catalog.features.bindable, true);
    const plans = (await box.call('GET', `/v3/service_plans?service_offering_guids=${offering.guid}`)).json().resources;
    assert.deepEqual(plans.map((p: { name: string }) => p.name).sort(), ['big', 'tiny']);

    const market = await cli(['marketplace']);
    assert.equal(market.exitCode, 0, market.stderr);
    assert.match(market.stdout, /offering\s+plans\s+description\s+broker/);
    assert.match(market.stdout, /test-db\s+(tiny, big|big, tiny)\s+A database for tests\s+test-broker/);
    const plansOf = await cli(['marketplace', '-e', 'test-db']);
    assert.match(plansOf.stdout, /tiny\s+A tiny one\s+free/);

    const refused = await box.call('POST', '/v3/service_brokers', { name: 'bad', url: brokerUrl, authentication: { type: 'basic', credentials: { username: 'x', password: 'y' } } });
    assert.equal(refused.status, 502);
    assert.equal(refused.json().errors[0].title, 'CF-ServiceBrokerBadResponse');
  });

  it('provisions with create-service, binds with bind-service, and the credentials reach VCAP_SERVICES', async () => {
    const created = await cli(['create-service', 'test-db', 'tiny', 'mydb', '-c', '{"size":"s"}']);
    assert.equal(created.exitCode, 0, created.stdout + created.stderr);
    assert.match(created.stdout, /Creating service instance mydb in org devbox \/ space dev as admin\.\.\.\nOK/);
    const instance = await instanceByName('mydb');
    assert.equal(instance.type, 'managed');
    assert.deepEqual({ type: instance.last_operation.type, state: instance.last_operation.state }, { type: 'create', state: 'succeeded' });
    assert.equal(instance.dashboard_url, `http://dash.example/${instance.guid}`);
    const provision = broker.seen.find((s) => s.method === 'PUT' && s.path === `/v2/service_instances/${instance.guid}`)!;
    assert.equal(provision.body.service_id, 'svc-1');
    assert.equal(provision.body.plan_id, 'plan-tiny');
    assert.equal(provision.body.space_guid, spaceGuid);
    assert.deepEqual(provision.body.parameters, { size: 's' });
    assert.equal((provision.body.context as { platform: string }).platform, 'cloudfoundry');

    const app = await createApp('svc-app');
    const bound = await cli(['bind-service', 'svc-app', 'mydb']);
    assert.equal(bound.exitCode, 0, bound.stdout + bound.stderr);
    assert.match(bound.stdout, /OK\n\nTIP: Use 'devbox restage svc-app' to ensure your env variable changes take effect/);
    const again = await cli(['bind-service', 'svc-app', 'mydb']);
    assert.equal(again.exitCode, 0);
    assert.match(again.stdout, /App svc-app is already bound to service instance mydb\./);

    const env = (await box.call('GET', `/v3/apps/${app.guid}/env`)).json();
    const entries = env.system_env_json.VCAP_SERVICES['test-db'];
    assert.equal(entries.length, 1);
    const [entry] = entries;
    const binding = (await box.call('GET', `/v3/service_credential_bindings?app_guids=${app.guid}`)).json().resources[0];
    assert.deepEqual(entry, {
      name: 'mydb',
      label: 'test-db',
      plan: 'tiny',
      tags: ['testing', 'db'],
      instance_guid: instance.guid,
      instance_name: 'mydb',
      binding_guid: binding.guid,
      binding_name: null,
      credentials: { uri: `mysql://u-${binding.guid.slice(0, 8)}:pw@db.example:3306/d`, username: `u-${binding.guid.slice(0, 8)}` },
      syslog_drain_url: null,
      volume_mounts: [],
    });
    const bindCall = broker.seen.find((s) => s.method === 'PUT' && s.path.endsWith(`/service_bindings/${binding.guid}`))!;
    assert.equal(bindCall.body.app_guid, app.guid);

    const services = await cli(['services']);
    assert.match(services.stdout, /mydb\s+test-db\s+tiny\s+svc-app\s+create succeeded\s+test-broker/);
    const one = await cli(['service', 'mydb']);
    assert.match(one.stdout, /plan:\s+tiny/);
    assert.match(one.stdout, /Bound apps:\n\s+svc-app/);

    const events = (await box.call('GET', `/v3/audit_events?target_guids=${instance.guid},${binding.guid}`)).json().resources.map((e: { type: string }) => e.type);
    assert.deepEqual(events.sort(), ['audit.service_binding.create', 'audit.service_instance.create']);
  });

  it('refuses to delete a bound instance, then deletes it after unbind-service', async () => {
    const instance = await instanceByName('mydb');
    const refused = await box.call('DELETE', `/v3/service_instances/${instance.guid}`);
    assert.equal(refused.status, 422);
    assert.equal(refused.json().errors[0].title, 'CF-AssociationNotEmpty');
    assert.match(refused.json().errors[0].detail, /unbind-service/);
    const viaCli = await cli(['delete-service', 'mydb', '-f']);
    assert.equal(viaCli.exitCode, 1);
    assert.match(viaCli.stderr, /still has 1 app binding\. .*unbind it from its apps \(unbind-service\)/);

    const unbound = await cli(['unbind-service', 'svc-app', 'mydb']);
    assert.equal(unbound.exitCode, 0, unbound.stdout + unbound.stderr);
    assert.equal(broker.seen.filter((s) => s.method === 'DELETE' && s.path.includes('/service_bindings/')).length, 1);
    const app = (await box.call('GET', '/v3/apps?names=svc-app')).json().resources[0];
    assert.deepEqual((await box.call('GET', `/v3/apps/${app.guid}/env`)).json().system_env_json.VCAP_SERVICES, {});
    const deleted = await cli(['delete-service', 'mydb', '-f']);
    assert.equal(deleted.exitCode, 0, deleted.stdout + deleted.stderr);
    const deprovision = deletesOf(instance.guid).find((s) => s.path === `/v2/service_instances/${instance.guid}`);
    assert.ok(deprovision, 'the broker saw the deprovision');
    assert.equal(await instanceByName('mydb'), undefined);
  });

  it('puts user-provided services in VCAP_SERVICES under user-provided, without a plan', async () => {
    const created = await cli(['create-user-provided-service', 'my-api', '-p', '{"url":"https://api.example","token":"t0k"}']);
    assert.equal(created.exitCode, 0, created.stdout + created.stderr);
    const app = await createApp('ups-app');
    assert.equal((await cli(['bind-service', 'ups-app', 'my-api'])).exitCode, 0);
    const env = (await box.call('GET', `/v3/apps/${app.guid}/env`)).json();
    const [entry] = env.system_env_json.VCAP_SERVICES['user-provided'];
    assert.equal(entry.name, 'my-api');
    assert.equal(entry.label, 'user-provided');
    assert.equal('plan' in entry, false);
    assert.deepEqual(entry.credentials, { url: 'https://api.example', token: 't0k' });
    const instance = await instanceByName('my-api');
    assert.deepEqual((await box.call('GET', `/v3/service_instances/${instance.guid}/credentials`)).json(), { url: 'https://api.example', token: 't0k' });
    assert.doesNotMatch((await box.call('GET', `/v3/service_instances/${instance.guid}`)).text, /t0k/);
  });

  it('creates, shows and deletes service keys', async () => {
    assert.equal((await cli(['create-service', 'test-db', 'big', 'keydb'])).exitCode, 0);
    const created = await cli(['create-service-key', 'keydb', 'k1']);
    assert.equal(created.exitCode, 0, created.stdout + created.stderr);
    const shown = await cli(['service-key', 'keydb', 'k1']);
    assert.equal(shown.exitCode, 0, shown.stderr);
    const credentials = JSON.parse(shown.stdout.slice(shown.stdout.indexOf('{')));
    assert.match(credentials.uri, /^mysql:\/\/u-/);
    const keyBind = broker.seen.filter((s) => s.method === 'PUT' && s.path.includes('/service_bindings/')).at(-1)!;
    assert.deepEqual(keyBind.body.bind_resource, { credential_client_id: 'cf' });
    const deleted = await cli(['delete-service-key', 'keydb', 'k1', '-f']);
    assert.equal(deleted.exitCode, 0, deleted.stdout + deleted.stderr);
    const missing = await cli(['service-key', 'keydb', 'k1']);
    assert.equal(missing.exitCode, 1);
    assert.equal((await cli(['delete-service', 'keydb', '-f'])).exitCode, 0);
  });

  for (const mode of ['500', 'timeout', 'garbage'] as const) {
    it(`sends the matching DELETE after a provision that ${mode === '500' ? 'failed with 500' : mode === 'timeout' ? 'timed out' : 'answered an unreadable 201'} (orphan mitigation)`, async () => {
      broker.modes.provision = mode;
      try {
        const plan = (await box.call('GET', '/v3/service_plans?names=tiny')).json().resources[0];
        const res = await box.call('POST', '/v3/service_instances', { type: 'managed', name: `orphan-${mode}`, relationships: { space: { data: { guid: spaceGuid } }, service_plan: { data: { guid: plan.guid } } } });
        assert.equal(res.status, 502, res.text);
        assert.equal(res.json().errors[0].title, 'CF-ServiceBrokerBadResponse');
        const put = broker.seen.filter((s) => s.method === 'PUT' && /^\/v2\/service_instances\/[^/]+$/.test(s.path)).at(-1)!;
        const id = put.path.split('/').pop()!;
        const deletes = deletesOf(id);
        assert.equal(deletes.length, 1, 'one orphan-mitigation DELETE');
        assert.match(deletes[0].path, new RegExp(`^/v2/service_instances/${id}$`));
        assert.equal(await instanceByName(`orphan-${mode}`), undefined);
      } finally {
        broker.modes.provision = 'ok';
      }
    });
  }

  it("surfaces a broker's 4xx description and sends no DELETE", async () => {
    broker.modes.provision = '400';
    try {
      const res = await cli(['create-service', 'test-db', 'tiny', 'rejected']);
      assert.equal(res.exitCode, 1);
      assert.match(res.stderr, /plan says no/);
      const id = broker.seen.filter((s) => s.method === 'PUT').at(-1)!.path.split('/').pop()!;
      assert.equal(deletesOf(id).length, 0);
    } finally {
      broker.modes.provision = 'ok';
    }
  });

  it('sends the matching DELETE after a bind that failed with 500', async () => {
    assert.equal((await cli(['create-service', 'test-db', 'tiny', 'binddb'])).exitCode, 0);
    await createApp('bind-fail-app');
    broker.modes.bind = '500';
    try {
      const res = await cli(['bind-service', 'bind-fail-app', 'binddb']);
      assert.equal(res.exitCode, 1);
      assert.match(res.stderr, /invalid response: status code: 500/);
      const put = broker.seen.filter((s) => s.method === 'PUT' && s.path.includes('/service_bindings/')).at(-1)!;
      assert.equal(broker.seen.filter((s) => s.method === 'DELETE' && s.path === put.path).length, 1);
      const app = (await box.call('GET', '/v3/apps?names=bind-fail-app')).json().resources[0];
      assert.equal((await box.call('GET', `/v3/service_credential_bindings?app_guids=${app.guid}`)).json().resources.length, 0);
    } finally {
      broker.modes.bind = 'ok';
    }
  });
});
