// The gateway and its mysql-nodes (docs/services-protocol.md): node choice by capacity (also under
// concurrent provisions), no node, a node that never answers or fails, nodes dropped when silent,
// the record across a restart, orphans, and the registration with the controller.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { sleep, waitFor } from '../../../src/runtime/common/net.js';
import { PLANS, SERVICE_ID } from '../../../src/runtime/mysql-gateway/catalog.js';
import { recordsFile } from '../../../src/runtime/mysql-gateway/component.js';
import { BROKER, gatewaySuite, osb, tempHome } from './helpers.js';

const SMALL = PLANS.find((p) => p.name === 'small')!.id;
const provisionBody = () => ({ service_id: SERVICE_ID, plan_id: SMALL, organization_guid: 'org-1', space_guid: 'space-1' });
const bindBody = () => ({ service_id: SERVICE_ID, plan_id: SMALL, bind_resource: { app_guid: 'app-1' } });
const Q = `?service_id=${SERVICE_ID}&plan_id=${SMALL}`;

describe('mysql-gateway: nodes, the record and orphans', function () {
  this.timeout(15_000);
  const { gateway, node, seesNodes } = gatewaySuite();

  it('provisions on the node with the most capacity, and never overfills under concurrent provisions', async () => {
    const big = await node({ id: 'node-big', capacity: 3 });
    const small = await node({ id: 'node-small', capacity: 2 });
    const g = await gateway();
    await seesNodes(g, 'node-big', 'node-small');
    assert.equal((await osb(g.url, 'PUT', '/v2/service_instances/first', { body: provisionBody() })).status, 201);
    assert.deepEqual([...big.databases], ['cf_first']);
    // 4 more at once: capacity left is 2 + 2; a sixth has nowhere to go.
    const results = await Promise.all(['c1', 'c2', 'c3', 'c4'].map((id) => osb(g.url, 'PUT', `/v2/service_instances/${id}`, { body: provisionBody() })));
    assert.deepEqual(results.map((r) => r.status), [201, 201, 201, 201]);
    assert.equal(big.databases.size, 3);
    assert.equal(small.databases.size, 2);
    const full = await osb(g.url, 'PUT', '/v2/service_instances/c5', { body: provisionBody() });
    assert.equal(full.status, 503);
    assert.match(String(full.json.description), /no mysql-node is available for plan 'small'/);
    assert.equal((await osb(g.url, 'GET', '/v2/service_instances/c5')).status, 404);
    const varzNodes = g.varz().nodes;
    assert.deepEqual(varzNodes.map((n) => [n.id, n.plans.sort(), n.available_capacity]), [['node-big', ['medium', 'small'], 0], ['node-small', ['medium', 'small'], 0]]);
  });

  it('answers 503 saying no node is available when none announced, and drops nodes silent past the timeout', async () => {
    const g = await gateway(tempHome(), { DEVBOX_MYSQL_NODE_TIMEOUT_MS: '300' });
    const none = await osb(g.url, 'PUT', '/v2/service_instances/x', { body: provisionBody() });
    assert.equal(none.status, 503);
    assert.match(String(none.json.description), /no mysql-node is available/);
    await node({ id: 'node-quiet', capacity: 5 });
    await seesNodes(g, 'node-quiet');
    await sleep(400);
    assert.deepEqual(g.varz().nodes, []);
    assert.equal((await osb(g.url, 'PUT', '/v2/service_instances/x', { body: provisionBody() })).status, 503);
  });

  it('turns a node that never answers into a timeout error (504), and a node failure into a 502, state unchanged', async () => {
    const silent = await node({ id: 'node-silent', capacity: 9, silent: true });
    const g = await gateway(tempHome(), { DEVBOX_MYSQL_REQUEST_TIMEOUT_MS: '300' });
    await seesNodes(g, 'node-silent');
    const started = Date.now();
    const pending = osb(g.url, 'PUT', '/v2/service_instances/slow', { body: provisionBody() });
    await waitFor('the node to get the provision', () => silent.requests.length === 1, { timeoutMs: 2_000 });
    // spec.md "Blocking Operations": the same instance while its provision runs → 422 ConcurrencyError.
    const busy = await osb(g.url, 'PUT', '/v2/service_instances/slow', { body: provisionBody() });
    assert.equal(busy.status, 422);
    assert.equal(busy.json.error, 'ConcurrencyError');
    const res = await pending;
    assert.equal(res.status, 504);
    assert.match(String(res.json.description), /mysql-node 'node-silent' did not answer provision within 0\.3 s/);
    assert.ok(Date.now() - started < 2_000);
    assert.equal(silent.requests.length, 1);
    assert.equal((await osb(g.url, 'GET', '/v2/service_instances/slow')).status, 404);
    await silent.stop();

    await node({ id: 'node-failing', capacity: 50, failProvision: 'disk full' });
    await seesNodes(g, 'node-failing');
    const failed = await osb(g.url, 'PUT', '/v2/service_instances/f', { body: provisionBody() });
    assert.equal(failed.status, 502);
    assert.match(String(failed.json.description), /mysql-node 'node-failing' failed to provision: disk full/);
    assert.equal((await osb(g.url, 'GET', '/v2/service_instances/f')).status, 404);
    // The failure gave the capacity back.
    assert.equal(g.varz().nodes.find((n) => n.id === 'node-failing')?.available_capacity, 50);
  });

  it('keeps its record in records.json (0600) so a restart loses nothing', async () => {
    const n = await node({ id: 'node-r', capacity: 5 });
    const home = tempHome();
    const g1 = await gateway(home);
    await seesNodes(g1, 'node-r');
    assert.equal((await osb(g1.url, 'PUT', '/v2/service_instances/keep', { body: provisionBody() })).status, 201);
    const bound = await osb(g1.url, 'PUT', '/v2/service_instances/keep/service_bindings/kb', { body: bindBody() });
    assert.equal(bound.status, 201);
    await g1.stop();
    assert.equal(fs.statSync(recordsFile(home)).mode & 0o777, 0o600);

    const g2 = await gateway(home);
    assert.equal(g2.varz().instances, 1);
    assert.equal((await osb(g2.url, 'PUT', '/v2/service_instances/keep', { body: provisionBody() })).status, 200);
    const fetched = await osb(g2.url, 'GET', '/v2/service_instances/keep/service_bindings/kb');
    assert.equal(fetched.status, 200);
    assert.deepEqual(fetched.json.credentials, bound.json.credentials);
    // Operations after the restart go to the node that holds the instance.
    assert.equal((await osb(g2.url, 'DELETE', `/v2/service_instances/keep/service_bindings/kb${Q}`)).status, 200);
    assert.equal((await osb(g2.url, 'DELETE', `/v2/service_instances/keep${Q}`)).status, 200);
    assert.equal(n.databases.size, 0);
  });

  it('finds orphans (counted in /varz, logged) and purges them on request, keeping what the record owns', async () => {
    const n = await node({ id: 'node-o', capacity: 10 });
    const g = await gateway();
    await seesNodes(g, 'node-o');
    assert.equal((await osb(g.url, 'PUT', '/v2/service_instances/owned', { body: provisionBody() })).status, 201);
    const bound = await osb(g.url, 'PUT', '/v2/service_instances/owned/service_bindings/ob', { body: bindBody() });
    const owner = String((bound.json.credentials as Record<string, unknown>).username);
    n.databases.add('cf_lost');
    n.users.set('ulost0000000000', { name: 'cf_lost', password: 'x' });

    await g.gw.checkOrphans();
    const varz = g.varz();
    assert.equal(varz.orphan_databases, 1);
    assert.equal(varz.orphan_users, 1);
    assert.deepEqual((varz.orphans as { nodes: unknown }).nodes, { 'node-o': { databases: ['cf_lost'], users: ['ulost0000000000'] } });
    assert.ok(g.lines.some((l) => l.includes('orphans found')));

    assert.equal((await osb(g.url, 'POST', '/orphans/purge', { auth: null })).status, 401);
    const purged = await osb(g.url, 'POST', '/orphans/purge', { version: null });
    assert.equal(purged.status, 200);
    assert.deepEqual(purged.json.purged, { 'node-o': { databases: ['cf_lost'], users: ['ulost0000000000'] } });
    assert.deepEqual([...n.databases], ['cf_owned']);
    assert.deepEqual([...n.users.keys()], [owner]);
    assert.equal(g.varz().orphan_databases, 0);
  });

  it('runs the orphan check every DEVBOX_MYSQL_ORPHAN_MS', async () => {
    const n = await node({ id: 'node-t', capacity: 10 });
    n.databases.add('cf_stray');
    const g = await gateway(tempHome(), { DEVBOX_MYSQL_ORPHAN_MS: '200' });
    await waitFor('a periodic orphan check', () => g.varz().orphan_databases === 1, { timeoutMs: 3_000 });
  });

  it('registers itself with the controller in the background, retrying until the controller has broker endpoints', async () => {
    let brokerCalls = 0;
    const posted: unknown[] = [];
    const seen: string[] = [];
    const router = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const host = String(req.headers.host).split(':')[0];
        seen.push(`${host} ${req.method} ${req.url}`);
        const send = (status: number, body: unknown) => {
          res.writeHead(status, { 'content-type': 'application/json' });
          res.end(JSON.stringify(body));
        };
        if (host === 'uaa.localhost' && req.url === '/oauth/token') {
          const expected = `Basic ${Buffer.from('devbox_components:components-secret').toString('base64')}`;
          return req.headers.authorization === expected ? send(200, { access_token: 'tok', token_type: 'bearer' }) : send(401, {});
        }
        if (host === 'api.localhost' && req.url?.startsWith('/v3/service_brokers')) {
          brokerCalls++;
          // The first attempts find a controller without broker endpoints.
          if (brokerCalls <= 2) return send(404, { errors: [{ detail: 'Unknown request' }] });
          if (req.method === 'GET') return send(200, { resources: [] });
          if (req.method === 'POST') {
            posted.push(JSON.parse(Buffer.concat(chunks).toString('utf8')));
            return send(202, {});
          }
        }
        send(404, {});
      });
    });
    await new Promise<void>((resolve) => router.listen(0, '127.0.0.1', resolve));
    const routerPort = (router.address() as AddressInfo).port;
    try {
      const g = await gateway(tempHome(), { DEVBOX_MYSQL_REGISTER_BROKER: '1' }, routerPort);
      // Healthy at once, whatever the controller says.
      assert.equal(g.gw.healthy(), true);
      await waitFor('the broker to be registered', () => posted.length === 1, { timeoutMs: 8_000 });
      assert.deepEqual(posted[0], {
        name: 'p-mysql',
        url: `http://mysql-broker.localhost:${routerPort}`,
        authentication: { type: 'basic', credentials: { username: BROKER.username, password: BROKER.password } },
      });
      assert.ok(seen.some((s) => s.startsWith('api.localhost GET /v3/service_brokers?names=p-mysql')));
      await waitFor('the registration state', () => (g.varz().broker_registration as { state: string }).state === 'registered', { timeoutMs: 2_000 });
    } finally {
      router.closeAllConnections();
      await new Promise<void>((resolve) => router.close(() => resolve()));
    }
  });
});
