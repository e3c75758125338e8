// Asynchronous service operations end to end: a real box, the real cf CLI (cf 8) and devbox's own,
// against a broker of the test's own (test/runtime/controller/helpers.ts) registered with
// create-service-broker. A broker slower than the old 30 s cliff (once, for both CLIs at the same
// time), cf create-service with and without --wait against a broker that answers asynchronously,
// cf service and cf services showing the last operation, delete and bind the same way, and
// concurrent creates of one name from both CLIs (the broker ends up with as many instances as devbox),
// and a controller killed mid-operation taking its jobs up again once restarted.
import assert from 'node:assert/strict';
import { waitFor } from '../../src/runtime/common/poll.js';
import { freePort } from '../../src/runtime/common/net.js';
import { boxApi, type BoxApi } from '../helpers/api.js';
import { readBox, varz, waitForRestart } from '../helpers/box-probe.js';
import { cfFor, cfCliPath, table, type Cf } from '../helpers/cf.js';
import { cleanupBox, devbox, tempHome } from '../helpers/devbox.js';
import { startTestBroker } from '../runtime/controller/helpers.js';

/** How long the slow broker takes to answer: longer than the 30 s the CLI used to give up after. */
const SLOW_BROKER_MS = 31_000;

describe('asynchronous service operations with cf and devbox (a broker of the test\'s own)', function () {
  this.timeout(120_000);
  let home: string;
  let cf: Cf;
  let api: BoxApi;
  let brokerUrl: string;
  const broker = startTestBroker('async-user', 'async-pw');
  const cli = (args: string[], timeoutMs = 60_000) => devbox(home, args, { timeoutMs });
  const instance = async (name: string) => (await api.call('GET', `/v3/service_instances?names=${name}`)).json().resources[0];
  const operationOf = async (name: string) => {
    const found = await instance(name);
    return found ? `${found.last_operation.type} ${found.last_operation.state}` : 'gone';
  };

  before(async function () {
    this.timeout(180_000);
    cfCliPath();
    home = tempHome('devbox-services-async-');
    const port = await freePort();
    // Asynchronous brokers polled every 200 ms at most (devbox's default: up to 30 s between polls).
    const up = await devbox(home, ['up', '-d', '--port', String(port)], { timeoutMs: 120_000, env: { DEVBOX_BROKER_POLL_INTERVAL_MS: '200' } });
    assert.equal(up.exitCode, 0, up.stdout + up.stderr);
    api = await boxApi(home, port);
    cf = await cfFor({ home });
    await cf.login();
    brokerUrl = `http://127.0.0.1:${await broker.listen()}`;
    const registered = await cli(['create-service-broker', 'async-broker', 'async-user', 'async-pw', brokerUrl]);
    assert.equal(registered.exitCode, 0, registered.stdout + registered.stderr);
  });
  after(async function () {
    this.timeout(60_000);
    cf?.cleanup();
    if (home) await cleanupBox(home);
    await broker.close();
  });

  it(`a broker that takes ${SLOW_BROKER_MS / 1000} s: cf create-service --wait, devbox create-service and cf create-service-broker (its catalog that slow) all wait it out, no 30 s cliff`, async function () {
    this.timeout(SLOW_BROKER_MS + 60_000);
    broker.settings.delayMs = SLOW_BROKER_MS;
    const slowCatalog = startTestBroker('catalog-user', 'catalog-pw', { offering: 'slow-catalog-db' });
    slowCatalog.settings.catalogDelayMs = SLOW_BROKER_MS;
    const slowCatalogUrl = `http://127.0.0.1:${await slowCatalog.listen()}`;
    const started = Date.now();
    let viaCf, viaDevbox, registered;
    try {
      [viaCf, viaDevbox, registered] = await Promise.all([
        cf.run(['create-service', 'test-db', 'tiny', 'slow-cf', '--wait']),
        cli(['create-service', 'test-db', 'tiny', 'slow-devbox'], SLOW_BROKER_MS + 30_000),
        cf.run(['create-service-broker', 'slow-catalog', 'catalog-user', 'catalog-pw', slowCatalogUrl]),
      ]);
    } finally {
      broker.settings.delayMs = 0;
    }
    try {
      assert.equal(registered.exitCode, 0, registered.stdout + registered.stderr);
      assert.ok(table(await cf.ok(['marketplace']), 'offering').some((r) => r.offering === 'slow-catalog-db'), 'its catalog is in the marketplace');
      assert.equal((await cli(['delete-service-broker', 'slow-catalog', '-f'])).exitCode, 0);
    } finally {
      await slowCatalog.close();
    }
    assert.ok(Date.now() - started >= SLOW_BROKER_MS, 'the broker was that slow');
    assert.equal(viaCf.exitCode, 0, viaCf.stdout + viaCf.stderr);
    assert.match(viaCf.stdout, /Service instance slow-cf created\.\nOK/);
    assert.equal(viaDevbox.exitCode, 0, viaDevbox.stdout + viaDevbox.stderr);
    assert.match(viaDevbox.stdout, /Service instance slow-devbox created\.\nOK$/);
    assert.equal(await operationOf('slow-cf'), 'create succeeded');
    assert.equal(await operationOf('slow-devbox'), 'create succeeded');
    assert.equal(broker.instances.size, 2, 'one each, nothing left over');
  });

  it('a broker whose catalog cannot be had: devbox create-service-broker says why and how to mend or remove it', async () => {
    const refused = await cli(['create-service-broker', 'wrong-pw', 'async-user', 'not-the-password', brokerUrl]);
    assert.equal(refused.exitCode, 1, refused.stdout + refused.stderr);
    assert.match(refused.stderr, /Authentication failed for the service broker API/);
    assert.match(refused.stderr, /Service broker wrong-pw is registered, but its catalog could not be fetched: mend it with 'devbox update-service-broker wrong-pw USERNAME PASSWORD URL', or remove it with 'devbox delete-service-broker wrong-pw'/);
    const removed = await cli(['delete-service-broker', 'wrong-pw', '-f']);
    assert.equal(removed.exitCode, 0, removed.stdout + removed.stderr);
  });

  it('an asynchronous broker: cf create-service returns "Create in progress", cf service and cf services show it; with --wait it is created', async () => {
    broker.modes.provision = 'async';
    broker.settings.asyncPolls = 1_000;
    try {
      const quick = await cf.ok(['create-service', 'test-db', 'tiny', 'async-db']);
      assert.match(quick, /Create in progress\. Use 'cf services' or 'cf service async-db' to check operation status\.\nOK/);
      await waitFor("the broker's first answer to a poll", async () => /polls to go/.test((await instance('async-db')).last_operation.description), { timeoutMs: 10_000 });
      const shown = await cf.ok(['service', 'async-db']);
      assert.match(shown, /Showing status of last operation:\n\s+status:\s+create in progress\n\s+message:\s+\d+ polls to go\n/);
      const listed = table(await cf.ok(['services']), 'name').find((r) => r.name === 'async-db');
      assert.equal(listed?.['last operation'], 'create in progress');
      broker.settle();
      await waitFor('async-db to be created', async () => (await operationOf('async-db')) === 'create succeeded', { timeoutMs: 20_000 });

      broker.settings.asyncPolls = 3;
      const waited = await cf.ok(['create-service', 'test-db', 'tiny', 'waited-db', '--wait']);
      assert.match(waited, /Waiting for the operation to complete\.*\n\nService instance waited-db created\.\nOK/);
      assert.equal(await operationOf('waited-db'), 'create succeeded');
    } finally {
      broker.modes.provision = 'ok';
      broker.settings.asyncPolls = 2;
    }
  });

  it('cf bind-service and unbind-service against an asynchronous broker; devbox sees the binding once it is made', async () => {
    const app = (await api.call('POST', '/v3/apps', { name: 'bound-app', relationships: { space: { data: { guid: (await instance('async-db')).relationships.space.data.guid } } } })).json();
    broker.modes.bind = 'async';
    broker.settings.asyncPolls = 3;
    try {
      const bound = await cf.ok(['bind-service', 'bound-app', 'async-db', '--wait']);
      assert.match(bound, /OK/);
      const env = (await api.call('GET', `/v3/apps/${app.guid}/env`)).json();
      assert.equal(env.system_env_json.VCAP_SERVICES['test-db'][0].instance_name, 'async-db');
      const shown = await cli(['service', 'async-db']);
      assert.match(shown.stdout, /bound-app\s+create succeeded/);
    } finally {
      broker.modes.bind = 'ok';
    }
    broker.modes.unbind = 'async';
    broker.settings.asyncPolls = 1_000;
    try {
      const quick = await cf.ok(['unbind-service', 'bound-app', 'async-db']);
      assert.match(quick, /Unbinding in progress\. Use 'cf service async-db' to check operation status\./);
      broker.settle();
      await waitFor('the binding to be gone', async () => (await api.call('GET', `/v3/service_credential_bindings?app_guids=${app.guid}`)).json().resources.length === 0, { timeoutMs: 20_000 });
    } finally {
      broker.modes.unbind = 'ok';
      broker.settings.asyncPolls = 2;
    }
  });

  it('cf delete-service: "Delete in progress" without --wait, deleted with it; a refused delete says delete failed; cf purge-service-instance', async () => {
    broker.modes.deprovision = 'async';
    broker.settings.asyncPolls = 1_000;
    try {
      const quick = await cf.ok(['delete-service', 'async-db', '-f']);
      assert.match(quick, /Delete in progress\. Use 'cf services' or 'cf service async-db' to check operation status\.\nOK/);
      assert.match(await cf.ok(['service', 'async-db']), /status:\s+delete in progress/);
      broker.settle();
      await waitFor('async-db to be gone', async () => (await operationOf('async-db')) === 'gone', { timeoutMs: 20_000 });
      broker.settings.asyncPolls = 2;
      const waited = await cf.ok(['delete-service', 'waited-db', '-f', '--wait']);
      assert.match(waited, /Service instance waited-db deleted\.\nOK/);
    } finally {
      broker.modes.deprovision = 'ok';
      broker.settings.asyncPolls = 2;
    }
    broker.modes.deprovision = '400';
    try {
      const refused = await cf.run(['delete-service', 'slow-cf', '-f', '--wait']);
      assert.equal(refused.exitCode, 1, refused.stdout + refused.stderr);
      assert.match(refused.stdout + refused.stderr, /deprovision could not be completed: Service broker 'async-broker' refused DELETE \S+ with status 400 \(BadRequest\): plan says no/);
      const shown = await cf.ok(['service', 'slow-cf']);
      assert.match(shown, /status:\s+delete failed\n/);
      assert.doesNotMatch(shown, /create succeeded/);
    } finally {
      broker.modes.deprovision = 'ok';
    }
    // A broker that will not let go: cf purge-service-instance forgets it without asking the broker.
    const seen = broker.seen.length;
    const purged = (await instance('slow-cf')).guid as string;
    assert.match(await cf.ok(['purge-service-instance', 'slow-cf', '-f']), /Service instance slow-cf purged\./);
    assert.equal(await operationOf('slow-cf'), 'gone');
    assert.equal(broker.seen.length, seen, 'the broker was not asked');
    // What purge assumes: the broker has lost it too.
    broker.instances.delete(purged);
  });

  it('the controller killed mid-operation: restarted, it takes up its jobs (a poll goes on, a provision in flight is sent again)', async () => {
    const box = readBox(home);
    const space = (await api.call('GET', '/v3/spaces?names=dev')).json().resources[0].guid;
    const plan = (await api.call('GET', '/v3/service_plans?names=tiny')).json().resources[0].guid;
    broker.modes.provision = 'async';
    broker.settings.asyncPolls = 1_000;
    try {
      assert.match((await cli(['create-service', 'test-db', 'tiny', 'polling-db'])).stdout, /Create in progress/);
      broker.modes.provision = 'ok';
      broker.settings.delayMs = 5_000;
      const accepted = await api.call('POST', '/v3/service_instances', { type: 'managed', name: 'inflight-db', relationships: { space: { data: { guid: space } }, service_plan: { data: { guid: plan } } } });
      assert.equal(accepted.status, 202, accepted.text);
      const id = (await instance('inflight-db')).guid;
      const puts = () => broker.seen.filter((s) => s.method === 'PUT' && s.path === `/v2/service_instances/${id}`).length;
      await waitFor('the provision to reach the broker', () => puts() === 1, { timeoutMs: 10_000 });
      const pid = (await varz(box, 'controller'))!.pid;
      process.kill(pid, 'SIGKILL');
      await waitForRestart(box, 'controller', pid, 60_000);
      broker.settings.delayMs = 0;
      broker.settle();
      await waitFor('both creates to finish', async () => (await operationOf('polling-db')) === 'create succeeded' && (await operationOf('inflight-db')) === 'create succeeded', { timeoutMs: 30_000 });
      assert.equal(puts(), 2, 'the provision cut off was sent again');
    } finally {
      broker.modes.provision = 'ok';
      broker.settings.asyncPolls = 2;
      broker.settings.delayMs = 0;
    }
    const ours = (await api.call('GET', '/v3/service_instances?type=managed&per_page=5000')).json().resources as { guid: string }[];
    assert.deepEqual([...broker.instances].sort(), ours.map((i) => i.guid).sort());
  });

  it("concurrent creates of one name from cf and devbox: one instance, at the broker as in devbox", async () => {
    broker.settings.delayMs = 300;
    try {
      const runs = await Promise.all([
        ...[1, 2, 3].map(() => cf.run(['create-service', 'test-db', 'tiny', 'contested'])),
        ...[1, 2, 3].map(() => cli(['create-service', 'test-db', 'tiny', 'contested'])),
      ]);
      const said = runs.map((r) => `exit ${r.exitCode}\n${r.stdout}${r.stderr}`).join('\n---\n');
      assert.equal(runs.filter((r) => r.exitCode === 0 && /Service instance contested created\./.test(r.stdout)).length, 1, said);
      // The others are told the name is taken: devbox's CLI says it exists (OK), cf 8 fails with
      // Cloud Controller's words (as it does against Cloud Foundry: it maps no v3 error to "already exists").
      const [cfRuns, devboxRuns] = [runs.slice(0, 3), runs.slice(3)];
      for (const r of cfRuns.filter((r) => !/created\./.test(r.stdout))) assert.match(r.stdout + r.stderr, /The service instance name is taken: contested\./, said);
      for (const r of devboxRuns.filter((r) => !/created\./.test(r.stdout))) assert.match(r.stdout, /Service instance contested already exists\nOK$/, said);
    } finally {
      broker.settings.delayMs = 0;
    }
    const ours = (await api.call('GET', '/v3/service_instances?type=managed&per_page=5000')).json().resources as { guid: string }[];
    assert.deepEqual([...broker.instances].sort(), ours.map((i) => i.guid).sort(), "the broker's instances are devbox's");
  });
});
