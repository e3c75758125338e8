// The gateway and its mysql-nodes (docs/services-protocol.md): node choice by capacity (also under
// concurrent provisions), no node, a node that never answers or fails, nodes dropped when silent,
// the record across a restart, orphans, and the registration with the controller.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { sleep, waitFor } from '../../../src/runtime/common/net.js';
import { PLANS, SERVICE_ID } from '../../../src/runtime/mysql-gateway/catalog.js';
import { recordsFile } from '../../../src/runtime/mysql-gateway/component.js';
import { BROKER, dbName, gatewaySuite, guid, osb, tempHome } from './helpers.js';

const SMALL = PLANS.find((p) => p.name === 'small')!.id;
const MEDIUM = PLANS.find((p) => p.name === 'medium')!.id;
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
    assert.equal((await osb(g.url, 'PUT', `/v2/service_instances/${guid(1)}`, { body: provisionBody() })).status, 201);
    assert.deepEqual([...big.databases], [dbName(guid(1))]);
    // 4 more at once: capacity left is 2 + 2; a sixth has nowhere to go.
    const results = await Promise.all([11, 12, 13, 14].map((n) => osb(g.url, 'PUT', `/v2/service_instances/${guid(n)}`, { body: provisionBody() })));
    assert.deepEqual(results.map((r) => r.status), [201, 201, 201, 201]);
    assert.equal(big.databases.size, 3);
    assert.equal(small.databases.size, 2);
    const full = await osb(g.url, 'PUT', `/v2/service_instances/${guid(15)}`, { body: provisionBody() });
    assert.equal(full.status, 503);
    assert.match(String(full.json.description), /no mysql-node is available for plan 'small'/);
    assert.equal((await osb(g.url, 'GET', `/v2/service_instances/${guid(15)}`)).status, 404);
    const varzNodes = g.varz().nodes;
    assert.deepEqual(varzNodes.map((n) => [n.id, n.plans.sort(), n.available_capacity]), [['node-big', ['medium', 'small'], 0], ['node-small', ['medium', 'small'], 0]]);
  });

  it('answers 503 saying no node is available when none announced, and drops nodes silent past the timeout', async () => {
    const g = await gateway(tempHome(), { DEVBOX_MYSQL_NODE_TIMEOUT_MS: '300' });
    const none = await osb(g.url, 'PUT', `/v2/service_instances/${guid(1)}`, { body: provisionBody() });
    assert.equal(none.status, 503);
    assert.match(String(none.json.description), /no mysql-node is available/);
    await node({ id: 'node-quiet', capacity: 5 });
    await seesNodes(g, 'node-quiet');
    await sleep(400);
    assert.deepEqual(g.varz().nodes, []);
    assert.equal((await osb(g.url, 'PUT', `/v2/service_instances/${guid(1)}`, { body: provisionBody() })).status, 503);
  });

  it('turns a node that never answers into a timeout error (504), and a node failure into a 502, state unchanged', async () => {
    const silent = await node({ id: 'node-silent', capacity: 9, silent: true });
    const g = await gateway(tempHome(), { DEVBOX_MYSQL_REQUEST_TIMEOUT_MS: '300' });
    await seesNodes(g, 'node-silent');
    const started = Date.now();
    const slow = `/v2/service_instances/${guid(1)}`;
    const pending = osb(g.url, 'PUT', slow, { body: provisionBody() });
    await waitFor('the node to get the provision', () => silent.requests.length === 1, { timeoutMs: 2_000 });
    // spec.md "Blocking Operations": the same instance while its provision runs → 422 ConcurrencyError;
    // "Provisioning": one being provisioned with other attributes → 409.
    const busy = await osb(g.url, 'PUT', slow, { body: provisionBody() });
    assert.equal(busy.status, 422);
    assert.equal(busy.json.error, 'ConcurrencyError');
    const other = await osb(g.url, 'PUT', slow, { body: { ...provisionBody(), space_guid: 'space-2' } });
    assert.equal(other.status, 409);
    assert.match(String(other.json.description), /being created with other attributes/);
    assert.equal((await osb(g.url, 'GET', slow)).status, 404, 'not there while it is provisioned');
    const res = await pending;
    assert.equal(res.status, 504);
    assert.match(String(res.json.description), /mysql-node 'node-silent' did not answer provision within 0\.3 s/);
    assert.ok(Date.now() - started < 2_000);
    assert.equal(silent.requests.length, 1);
    assert.equal((await osb(g.url, 'GET', slow)).status, 404);
    await silent.stop();

    await node({ id: 'node-failing', capacity: 50, failProvision: 'disk full' });
    await seesNodes(g, 'node-failing');
    const failed = await osb(g.url, 'PUT', `/v2/service_instances/${guid(2)}`, { body: provisionBody() });
    assert.equal(failed.status, 502);
    assert.match(String(failed.json.description), /mysql-node 'node-failing' failed to provision: disk full/);
    assert.equal((await osb(g.url, 'GET', `/v2/service_instances/${guid(2)}`)).status, 404);
    // The failure gave the capacity back.
    assert.equal(g.varz().nodes.find((n) => n.id === 'node-failing')?.available_capacity, 50);
  });

  it("sends the platform's orphan-mitigation DELETE of a provision that timed out on to its node (it may have made it late), then 410", async () => {
    const slow = await node({ id: 'node-slow', capacity: 5, silent: ['provision'] });
    const g = await gateway(tempHome(), { DEVBOX_MYSQL_REQUEST_TIMEOUT_MS: '300' });
    await seesNodes(g, 'node-slow');
    const target = `/v2/service_instances/${guid(21)}`;
    assert.equal((await osb(g.url, 'PUT', target, { body: provisionBody() })).status, 504);
    assert.equal((await osb(g.url, 'GET', target)).status, 404, 'not recorded');
    slow.databases.add(dbName(guid(21))); // the node made it after the gateway gave up
    const res = await osb(g.url, 'DELETE', `${target}${Q}`);
    assert.deepEqual([res.status, res.json], [200, {}]);
    assert.deepEqual(slow.requests.map((r) => [r.op, r.body.name]), [['provision', dbName(guid(21))], ['unprovision', dbName(guid(21))]]);
    assert.equal(slow.databases.size, 0, 'nothing left on the node');
    assert.equal((await osb(g.url, 'DELETE', `${target}${Q}`)).status, 410);
    // An instance nobody provisioned is a 410 at once: the node is not asked.
    assert.equal((await osb(g.url, 'DELETE', `/v2/service_instances/${guid(22)}${Q}`)).status, 410);
    assert.equal(slow.requests.length, 2);
  });

  it('keeps its record in records.json (0600) so a restart loses nothing', async () => {
    const n = await node({ id: 'node-r', capacity: 5 });
    const home = tempHome();
    const g1 = await gateway(home);
    await seesNodes(g1, 'node-r');
    const keep = `/v2/service_instances/${guid(7)}`;
    assert.equal((await osb(g1.url, 'PUT', keep, { body: provisionBody() })).status, 201);
    const bound = await osb(g1.url, 'PUT', `${keep}/service_bindings/kb`, { body: bindBody() });
    assert.equal(bound.status, 201);
    await g1.stop();
    assert.equal(fs.statSync(recordsFile(home)).mode & 0o777, 0o600);

    const g2 = await gateway(home);
    assert.equal(g2.varz().instances, 1);
    assert.equal((await osb(g2.url, 'PUT', keep, { body: provisionBody() })).status, 200);
    const fetched = await osb(g2.url, 'GET', `${keep}/service_bindings/kb`);
    assert.equal(fetched.status, 200);
    assert.deepEqual(fetched.json.credentials, bound.json.credentials);
    // The node and the database are the record's own, never the credentials'.
    const saved = JSON.parse(fs.readFileSync(recordsFile(home), 'utf8')) as { instances: Record<string, Record<string, unknown>>; bindings: Record<string, Record<string, unknown>> };
    assert.deepEqual([saved.instances[guid(7)].node_id, saved.instances[guid(7)].name], ['node-r', dbName(guid(7))]);
    assert.deepEqual([saved.bindings.kb.node_id, saved.bindings.kb.name], ['node-r', dbName(guid(7))]);
    assert.equal('node_id' in (saved.bindings.kb.credentials as object), false);
    // Operations after the restart go to the node that holds the instance.
    assert.equal((await osb(g2.url, 'DELETE', `${keep}/service_bindings/kb${Q}`)).status, 200);
    assert.equal((await osb(g2.url, 'DELETE', `${keep}${Q}`)).status, 200);
    assert.equal(n.databases.size, 0);
  });

  it('serves an instance and binding recorded before cf-mysql\'s names and credentials (a box upgraded in place) by their remembered names', async () => {
    const n = await node({ id: 'node-old', capacity: 5 });
    const home = tempHome();
    const id = guid(8);
    const oldName = `cf_${id.replaceAll('-', '')}`;
    const username = 'u0123456789abcd';
    const oldCredentials = { name: oldName, hostname: '127.0.0.1', host: '127.0.0.1', port: 3306, node_id: 'node-old', username, password: 'pw', uri: `mysql://${username}:pw@127.0.0.1:3306/${oldName}?reconnect=true`, jdbcUrl: `jdbc:mysql://127.0.0.1:3306/${oldName}?user=${username}&password=pw` };
    // records.json as the gateway before this change wrote it: the node's reply kept whole, no binding `name`.
    fs.mkdirSync(path.dirname(recordsFile(home)), { recursive: true });
    fs.writeFileSync(recordsFile(home), JSON.stringify({
      version: 1,
      instances: { [id]: { id, service_id: SERVICE_ID, plan_id: SMALL, plan: 'small', organization_guid: 'org-1', space_guid: 'space-1', node_id: 'node-old', name: oldName, credentials: { name: oldName, hostname: '127.0.0.1', host: '127.0.0.1', port: 3306, node_id: 'node-old' }, created_at: '2026-01-01T00:00:00.000Z' } },
      bindings: { ob: { id: 'ob', instance_id: id, service_id: SERVICE_ID, plan_id: SMALL, app_guid: 'app-1', node_id: 'node-old', username, credentials: oldCredentials, created_at: '2026-01-01T00:00:00.000Z' } },
    }), { mode: 0o600 });
    n.databases.add(oldName);
    n.users.set(username, { name: oldName, password: 'pw' });
    const g = await gateway(home);
    await seesNodes(g, 'node-old');
    const base = `/v2/service_instances/${id}`;

    // What apps see is cf-mysql's shape, whatever the record holds.
    const expected = { hostname: '127.0.0.1', port: 3306, name: oldName, username, password: 'pw', uri: oldCredentials.uri, jdbcUrl: oldCredentials.jdbcUrl };
    assert.deepEqual((await osb(g.url, 'GET', `${base}/service_bindings/ob`)).json.credentials, expected);
    const again = await osb(g.url, 'PUT', `${base}/service_bindings/ob`, { body: bindBody() });
    assert.deepEqual([again.status, again.json.credentials], [200, expected]);
    // A new binding of the old instance gets its database, by the remembered name.
    const fresh = await osb(g.url, 'PUT', `${base}/service_bindings/nb`, { body: bindBody() });
    assert.equal(fresh.status, 201);
    assert.equal((fresh.json.credentials as Record<string, unknown>).name, oldName);
    assert.equal(n.requests.find((r) => r.op === 'bind')?.body.name, oldName);
    // Plan changes, unbinding and deprovisioning go to the recorded node and name the recorded database.
    assert.equal((await osb(g.url, 'PATCH', base, { body: { service_id: SERVICE_ID, plan_id: MEDIUM } })).status, 200);
    assert.deepEqual(n.requests.find((r) => r.op === 'update')?.body, { name: oldName, plan: 'medium' });
    const MQ = `?service_id=${SERVICE_ID}&plan_id=${MEDIUM}`;
    assert.equal((await osb(g.url, 'DELETE', `${base}/service_bindings/ob${MQ}`)).status, 200);
    assert.deepEqual(n.requests.find((r) => r.op === 'unbind')?.body, { credentials: { name: oldName, username } });
    assert.equal((await osb(g.url, 'DELETE', `${base}${MQ}`)).status, 200);
    assert.equal(n.requests.find((r) => r.op === 'unprovision')?.body.name, oldName);
    assert.equal(n.databases.size, 0);
  });

  it('update: a plan change the node refuses (the data does not fit) is a 422 with why, nothing changed; the instance cannot be fetched while it is updated', async () => {
    const refusing = await node({ id: 'node-full', capacity: 5, failUpdate: { code: 422, description: 'the database holds 14.2 MB, more than plan small allows (10 MB); drop or truncate tables until it fits' } });
    const g = await gateway();
    await seesNodes(g, 'node-full');
    const base = `/v2/service_instances/${guid(9)}`;
    assert.equal((await osb(g.url, 'PUT', base, { body: { ...provisionBody(), plan_id: MEDIUM } })).status, 201);
    const refused = await osb(g.url, 'PATCH', `${base}?accepts_incomplete=true`, { body: { service_id: SERVICE_ID, plan_id: SMALL } });
    assert.equal(refused.status, 422);
    assert.match(String(refused.json.description), /cannot move to plan small: the database holds 14\.2 MB, more than plan small allows \(10 MB\)/);
    assert.equal(refused.json.instance_usable, true);
    assert.equal((await osb(g.url, 'GET', base)).json.plan_id, MEDIUM, 'nothing changed');
    assert.equal(refusing.requests.filter((r) => r.op === 'update').length, 1);
    await refusing.stop();

    // A node that takes its time over the update: the instance answers 422 ConcurrencyError meanwhile.
    const slow = await node({ id: 'node-slow', capacity: 5, silent: ['update'] });
    const g2 = await gateway(tempHome(), { DEVBOX_MYSQL_REQUEST_TIMEOUT_MS: '500' });
    await seesNodes(g2, 'node-slow');
    const other = `/v2/service_instances/${guid(10)}`;
    assert.equal((await osb(g2.url, 'PUT', other, { body: provisionBody() })).status, 201);
    const pending = osb(g2.url, 'PATCH', other, { body: { service_id: SERVICE_ID, plan_id: MEDIUM } });
    await waitFor('the node to get the update', () => slow.requests.some((r) => r.op === 'update'), { timeoutMs: 2_000 });
    const fetching = await osb(g2.url, 'GET', other);
    assert.deepEqual([fetching.status, fetching.json.error], [422, 'ConcurrencyError']);
    const binding = await osb(g2.url, 'PUT', `${other}/service_bindings/b1`, { body: bindBody() });
    assert.deepEqual([binding.status, binding.json.error], [422, 'ConcurrencyError']);
    assert.equal((await pending).status, 504);
    assert.equal((await osb(g2.url, 'GET', other)).json.plan_id, SMALL, 'a failed update changes nothing');
  });

  it('finds orphans (counted in /varz, logged) and purges them on request, keeping what the record owns', async () => {
    const n = await node({ id: 'node-o', capacity: 10 });
    const g = await gateway();
    await seesNodes(g, 'node-o');
    const owned = `/v2/service_instances/${guid(11)}`;
    assert.equal((await osb(g.url, 'PUT', owned, { body: provisionBody() })).status, 201);
    const bound = await osb(g.url, 'PUT', `${owned}/service_bindings/ob`, { body: bindBody() });
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
    assert.deepEqual([...n.databases], [dbName(guid(11))]);
    assert.deepEqual([...n.users.keys()], [owner]);
    assert.equal(g.varz().orphan_databases, 0);
  });

  it('runs the orphan check every DEVBOX_MYSQL_ORPHAN_MS', async () => {
    const n = await node({ id: 'node-t', capacity: 10 });
    n.databases.add('cf_stray');
    const g = await gateway(tempHome(), { DEVBOX_MYSQL_ORPHAN_MS: '200' });
    await waitFor('a periodic orphan check', () => g.varz().orphan_databases === 1, { timeoutMs: 3_000 });
  });

  it("registers itself with the controller in the background, retrying until the controller has broker endpoints and its catalog job completes; an existing registration is PATCHed (the catalog fetched again)", async () => {
    let brokerCalls = 0;
    const posted: unknown[] = [];
    const patched: unknown[] = [];
    // The registration's job: the first fails (the catalog could not be fetched), the next completes.
    const jobs: string[] = [];
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
          if (req.method === 'GET') return send(200, { resources: posted.length < 2 ? [] : [{ guid: 'b1', name: 'p-mysql', url: 'http://elsewhere' }] });
          const job = `/v3/jobs/j${jobs.length}`;
          jobs.push(jobs.length === 0 ? 'FAILED' : 'COMPLETE');
          if (req.method === 'POST') posted.push(JSON.parse(Buffer.concat(chunks).toString('utf8')));
          if (req.method === 'PATCH' && req.url === '/v3/service_brokers/b1') patched.push(JSON.parse(Buffer.concat(chunks).toString('utf8')));
          res.writeHead(202, { location: `http://api.localhost:${routerPort}${job}` });
          return res.end();
        }
        const job = /^\/v3\/jobs\/j(\d+)$/.exec(req.url ?? '');
        if (host === 'api.localhost' && job) {
          const state = jobs[Number(job[1])];
          return send(200, { state, errors: state === 'FAILED' ? [{ detail: 'The service broker rejected the request' }] : [] });
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
      await waitFor('the broker to be registered', () => posted.length === 2, { timeoutMs: 8_000 });
      await waitFor('the registration state', () => (g.varz().broker_registration as { state: string }).state === 'registered', { timeoutMs: 4_000 });
      assert.ok(g.lines.some((l) => l.includes('could not fetch the catalog: The service broker rejected the request')), 'the failed job was retried, saying why');
      assert.deepEqual(posted[1], {
        name: 'p-mysql',
        url: `http://mysql-broker.localhost:${routerPort}`,
        authentication: { type: 'basic', credentials: { username: BROKER.username, password: BROKER.password } },
      });
      assert.ok(seen.some((s) => s.startsWith('api.localhost GET /v3/service_brokers?names=p-mysql')));
      assert.ok(seen.some((s) => s === 'api.localhost GET /v3/jobs/j1'), 'the completed job was followed');
      await g.stop();

      // A later start finds it registered (at another URL here) and PATCHes it: the catalog is fetched again.
      const again = await gateway(tempHome(), { DEVBOX_MYSQL_REGISTER_BROKER: '1' }, routerPort);
      await waitFor('the registration to be updated', () => patched.length === 1 && (again.varz().broker_registration as { state: string }).state === 'registered', { timeoutMs: 8_000 });
      assert.deepEqual(patched[0], { url: `http://mysql-broker.localhost:${routerPort}`, authentication: { type: 'basic', credentials: { username: BROKER.username, password: BROKER.password } } });
    } finally {
      router.closeAllConnections();
      await new Promise<void>((resolve) => router.close(() => resolve()));
    }
  });
});
