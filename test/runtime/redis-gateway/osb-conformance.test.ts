// The redis-gateway as an Open Service Broker, through the cases of the API's own conformance suites
// (osb-checker: catalog, provision, last_operation, update, bind, unbind, deprovision, each with its
// request syntax, new, existed and conflict cases) and the status codes of spec.md (v2.17). Real HTTP
// to the gateway, a real bus, the real redis-node and its redis-servers: the credentials handed out
// work, and a deprovision leaves no server behind. The cases shared with the mysql-gateway's test are
// in ../service-base/osb-checker.ts; they run in order, as osb-checker's do.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { BusServer } from '../../../src/runtime/bus/server.js';
import { writeSecretJson } from '../../../src/runtime/common/config.js';
import { waitFor } from '../../../src/runtime/common/net.js';
import { PLANS, SERVICE_ID } from '../../../src/runtime/redis-gateway/catalog.js';
import { createRedisGateway, credentialsFile, recordsFile } from '../../../src/runtime/redis-gateway/component.js';
import { redisCommands } from '../../../src/runtime/redis-node/resp.js';
import { BROKER, osb, startGateway, tempHome, type RunningGateway } from '../mysql-gateway/helpers.js';
import { asClient, isRunning, serversUnder, startRedisNode, type Credentials, type RunningRedisNode } from '../redis-node/helpers.js';
import { headerAndAuthCases, lifecycleCases, type Lifecycle } from '../service-base/osb-checker.js';

const SHARED_VM = PLANS[0].id;
const GATEWAY_ENV = { DEVBOX_REDIS_REGISTER_BROKER: '0', DEVBOX_REDIS_REQUEST_TIMEOUT_MS: '10000', DEVBOX_REDIS_ORPHAN_GATHER_MS: '150' };
/** p-redis's credentials, and nothing else. */
const P_REDIS_FIELDS = ['host', 'password', 'port', 'uri'];

describe('redis-gateway: Open Service Broker API conformance (osb-checker cases; real node and redis-servers)', function () {
  this.timeout(30_000);
  const homes: string[] = [];
  let bus: BusServer;
  let node: RunningRedisNode | undefined;
  let g: RunningGateway | undefined;
  let url = '';
  let nodeHome = '';
  const broker = { url: () => url, serviceId: SERVICE_ID, realm: 'redis-broker' };

  before(async () => {
    bus = new BusServer({ host: '127.0.0.1', port: 0 });
    const busPort = (await bus.listen()).port;
    nodeHome = tempHome();
    const gatewayHome = tempHome();
    homes.push(nodeHome, gatewayHome);
    // The broker's credentials are its own (made at its first start): the tests' here.
    fs.mkdirSync(path.dirname(credentialsFile(gatewayHome)), { recursive: true });
    writeSecretJson(credentialsFile(gatewayHome), BROKER);
    node = await startRedisNode({ home: nodeHome, busPort });
    g = await startGateway({ home: gatewayHome, busPort, env: GATEWAY_ENV, create: createRedisGateway, name: 'redis-gateway' });
    url = g.url;
    await waitFor('the gateway to know the redis-node', () => g!.varz().nodes.some((n) => n.id === 'redis-node-0'), { timeoutMs: 10_000 });
  });
  after(async () => {
    await g?.stop();
    await node?.stop();
    await bus?.close();
    const left = serversUnder(nodeHome);
    for (const home of homes) fs.rmSync(home, { recursive: true, force: true });
    assert.deepEqual(left, [], 'no redis-server left behind');
  });

  describe('catalog', () => {
    it('GET /v2/catalog: 200, p-redis with tags, bindable, retrievable, its one plan shared-vm', async () => {
      const res = await osb(url, 'GET', '/v2/catalog');
      assert.equal(res.status, 200);
      assert.match(String(res.headers['content-type']), /^application\/json/);
      const [service, ...others] = res.json.services as Array<Record<string, unknown>>;
      assert.equal(others.length, 0);
      assert.deepEqual([service.id, service.name, service.tags, service.bindable, service.instances_retrievable, service.bindings_retrievable, service.plan_updateable], [SERVICE_ID, 'p-redis', ['pivotal', 'redis'], true, true, true, false]);
      assert.ok(String(service.description).length > 0);
      const plans = service.plans as Array<Record<string, unknown>>;
      assert.deepEqual(plans.map((p) => [p.id, p.name]), [[SHARED_VM, 'shared-vm']]);
      for (const field of ['id', 'name', 'description']) assert.equal(typeof plans[0][field], 'string', field);
    });

    headerAndAuthCases(broker, SHARED_VM);
  });

  describe('lifecycle, plan shared-vm', () => {
    const serverOf = (l: Lifecycle) => node!.varz().servers.find((s) => s.name === l.instanceId);
    let pid = 0;
    lifecycleCases({
      ...broker,
      plan: PLANS[0],
      exists: async (instanceId) => node!.varz().servers.some((s) => s.name === instanceId && s.running),
      credentialFields: P_REDIS_FIELDS,
      // p-redis's credentials, which reach the instance's own server.
      async useCredentials(given, l) {
        const credentials = given as unknown as Credentials;
        assert.equal(credentials.port, serverOf(l)?.port);
        assert.equal(credentials.uri, `redis://:${encodeURIComponent(credentials.password)}@${credentials.host}:${credentials.port}`);
        assert.deepEqual(await asClient(credentials, ['SET', 'osb', 'works'], ['GET', 'osb']), ['OK', 'works']);
        pid = serverOf(l)!.pid!;
        // The record holds nothing of the node in the credentials, and is owner-only.
        const file = recordsFile(homes[1]);
        assert.equal(fs.statSync(file).mode & 0o777, 0o600);
        const saved = JSON.parse(fs.readFileSync(file, 'utf8')) as { instances: Record<string, { node_id: string; name: string }> };
        assert.deepEqual([saved.instances[l.instanceId].node_id, saved.instances[l.instanceId].name], ['redis-node-0', l.instanceId]);
      },
      updates(l) {
        it('new parameters are recorded (p-redis takes none); there is no other plan to move to', async () => {
          assert.deepEqual(await osb(url, 'PATCH', l.instance, { body: { service_id: SERVICE_ID, parameters: { note: 'x' } } }).then((r) => [r.status, r.json]), [200, {}]);
          assert.deepEqual((await osb(url, 'GET', l.instance)).json.parameters, { note: 'x' });
          assert.equal((await osb(url, 'PATCH', l.instance, { body: { service_id: SERVICE_ID, parameters: {} } })).status, 200);
        });
      },
      // The credentials are the instance's own, as p-redis's shared-vm: its server and data stay.
      afterUnbind: async (l) => assert.deepEqual(await asClient(l.credentials as unknown as Credentials, ['GET', 'osb']), ['works']),
      // Its redis-server stopped, its data removed: its port answers no more.
      async afterDeprovision(l) {
        assert.ok(!isRunning(pid));
        assert.deepEqual(serversUnder(nodeHome), []);
        assert.equal(fs.existsSync(path.join(nodeHome, 'redis', 'node-0', 'instances', l.instanceId)), false);
        const { host, port } = l.credentials as unknown as Credentials;
        const refused = await redisCommands({ host, port }, [['PING']]).then(() => 'answered', (error: Error) => error.message);
        assert.match(refused, /ECONNREFUSED/);
      },
    });
  });

  describe('orphans', () => {
    it("finds an instance the node runs that the record does not own, and purges it on request (its server stopped)", async () => {
      const stray = randomUUID();
      const made = await node!.nc.request(`RaaS.provision.redis-node-0`, new TextEncoder().encode(JSON.stringify({ plan: 'shared-vm', name: stray })), { timeout: 10_000 });
      assert.equal((JSON.parse(new TextDecoder().decode(made.data)) as { success: boolean }).success, true);
      await g!.gw.checkOrphans();
      assert.equal(g!.varz().orphan_databases, 1);
      const purged = await osb(url, 'POST', '/orphans/purge', { version: null });
      assert.equal(purged.status, 200);
      assert.deepEqual(purged.json.purged, { 'redis-node-0': { databases: [stray], users: [] } });
      assert.equal(node!.varz().instances, 0);
      assert.deepEqual(serversUnder(nodeHome), []);
    });
  });
});
