// The controller in a whole box, for what crosses processes: `devbox up --db` choosing its database
// (seen in /varz through the supervisor's status), its state across down and up, and the CLI's
// service commands against a small broker (helpers.ts). One box per database. Everything else of
// the API is tested in the test process (helpers/controller.ts: api, packages, runner, services).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { statePaths, type DevboxConfig } from '../../../src/runtime/common/config.js';
import { freePort } from '../../../src/runtime/common/net.js';
import { boxApi, type BoxApi } from '../../helpers/api.js';
import { controllerTestDatabases } from '../../helpers/controller.js';
import { execa } from 'execa';
import { waitFor } from '../../../src/runtime/common/poll.js';
import { cleanupBox, DEVBOX_BIN, devbox, tempHome } from '../../helpers/devbox.js';
import { startTestBroker } from './helpers.js';

for (const database of controllerTestDatabases()) {
  describe(`controller in a box (${database.name})`, function () {
    this.timeout(60_000);
    let home: string;
    let routerPort: number;
    let box: BoxApi;
    let spaceGuid: string;
    let config: DevboxConfig;

    const up = async () => {
      // A broker that never answers is given up on after 1.5 s, not CF's 60.
      // Asynchronous brokers are polled every 100 ms at most (not every 30 s).
      const result = await devbox(home, ['up', '-d', '--port', String(routerPort), ...database.upArgs()], { env: { DEVBOX_BROKER_TIMEOUT_MS: '1500', DEVBOX_BROKER_POLL_INTERVAL_MS: '100' } });
      assert.equal(result.exitCode, 0, result.stdout + result.stderr);
      box = await boxApi(home, routerPort);
    };

    before(async () => {
      await database.start();
      home = tempHome();
      routerPort = await freePort();
      await up();
      config = JSON.parse(fs.readFileSync(statePaths(home).config, 'utf8')) as DevboxConfig;
      const spaces = (await box.call('GET', '/v3/spaces?names=dev')).json();
      spaceGuid = spaces.resources[0].guid;
    });
    after(async () => {
      await cleanupBox(home);
      await database.stop();
    });

    it(`keeps its state in ${database.name} (up ${database.name === 'mysql' ? '--db mysql://…' : 'without --db'})`, async () => {
      const status = JSON.parse((await devbox(home, ['status', '--json'])).stdout) as { components: { name: string; status_port: number }[] };
      const port = status.components.find((c) => c.name === 'controller')!.status_port;
      const auth = Buffer.from(`${config.status.user}:${config.status.password}`).toString('base64');
      const varz = (await (await fetch(`http://127.0.0.1:${port}/varz`, { headers: { authorization: `Basic ${auth}` } })).json()) as { db_dialect: string };
      assert.equal(varz.db_dialect, database.name);
    });

    it('keeps everything across down and up, and deletes apps with a job', async () => {
      // What api.test.ts's audit-event test leaves behind: an app scaled to 3 with a route mapped.
      const app = (await box.call('POST', '/v3/apps', { name: 'event-app', relationships: { space: { data: { guid: spaceGuid } } } })).json();
      assert.equal((await box.call('POST', `/v3/apps/${app.guid}/processes/web/actions/scale`, { instances: 3, memory_in_mb: 128 })).status, 202);
      const domain = (await box.call('GET', '/v3/domains?names=localhost')).json().resources[0];
      const created = (await box.call('POST', '/v3/routes', { host: 'event-app', relationships: { domain: { data: { guid: domain.guid } }, space: { data: { guid: spaceGuid } } } })).json();
      assert.equal((await box.call('POST', `/v3/routes/${created.guid}/destinations`, { destinations: [{ app: { guid: app.guid } }] })).status, 200);

      const before = (await box.call('GET', '/v3/apps?names=event-app')).json().resources[0];
      const down = await devbox(home, ['down']);
      assert.equal(down.exitCode, 0);
      await up();
      const after = (await box.call('GET', `/v3/apps/${before.guid}`)).json();
      assert.deepEqual(after, before);
      const processes = (await box.call('GET', `/v3/apps/${before.guid}/processes`)).json();
      assert.equal(processes.resources[0].instances, 3);
      const mappedAfter = (await box.call('GET', `/v3/apps/${before.guid}/routes`)).json();
      assert.deepEqual(mappedAfter.resources.map((r: { url: string }) => r.url), ['event-app.localhost'], 'the mapping too');

      const deleted = await box.call('DELETE', `/v3/apps/${before.guid}`);
      assert.equal(deleted.status, 202);
      const job = new URL(String(deleted.headers.location));
      assert.equal((await box.call('GET', job.pathname)).json().state, 'COMPLETE');
      assert.equal((await box.call('GET', `/v3/apps/${before.guid}`)).status, 404);
      const route = (await box.call('GET', '/v3/routes?hosts=event-app')).json().resources[0];
      assert.deepEqual(route.destinations, [], 'routes outlive the app, unmapped');
    });

    // The CLI's service commands on one database (the API under them: services.test.ts, on both).
    if (database.name === 'sqlite') {
      describe('as an OSBAPI platform, through the CLI', () => {
        let brokerUrl: string;
        const broker = startTestBroker('broker-user', 'broker-s3cret');
        const cli = (args: string[]) => devbox(home, args);

        before(async () => {
          brokerUrl = `http://127.0.0.1:${await broker.listen()}`;
        });
        after(() => broker.close());

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

          const refused = await cli(['create-service-broker', 'bad', 'x', 'y', brokerUrl]);
          assert.equal(refused.exitCode, 1);
          assert.match(refused.stderr, /Authentication failed for the service broker API/);
          assert.match(refused.stderr, /Service broker bad is registered, but its catalog could not be fetched/);
          assert.equal((await cli(['delete-service-broker', 'bad', '-f'])).exitCode, 0);
        });

        it('provisions with create-service, binds with bind-service, and the credentials reach VCAP_SERVICES', async () => {
          const created = await cli(['create-service', 'test-db', 'tiny', 'mydb', '-c', '{"size":"s"}']);
          assert.equal(created.exitCode, 0, created.stdout + created.stderr);
          assert.match(created.stdout, /^Creating service instance mydb in org devbox \/ space dev as admin\.\.\.\n\nService instance mydb created\.\nOK$/);
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
          assert.match(one.stdout, /Showing status of last operation:\n\s+status:\s+create succeeded\n\s+message:\s*\n\s+started:\s+\d{4}-/);
          assert.match(one.stdout, /Showing bound apps:\n\s+name\s+binding name\s+status\s+message\n\s+svc-app\s+create succeeded/);

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

        it("surfaces a broker's 4xx status and description and sends no DELETE; services shows create failed", async () => {
          broker.modes.provision = '400';
          try {
            const res = await cli(['create-service', 'test-db', 'tiny', 'rejected']);
            assert.equal(res.exitCode, 1);
            assert.match(res.stdout, /FAILED/);
            assert.match(res.stderr, /^provision could not be completed: Service broker 'test-broker' refused PUT \/v2\/service_instances\/\S+ with status 400 \(BadRequest\): plan says no$/);
            const listed = await cli(['services']);
            assert.match(listed.stdout, /rejected\s+test-db\s+tiny\s+create failed\s+test-broker/);
            const id = broker.seen.filter((s) => s.method === 'PUT').at(-1)!.path.split('/').pop()!;
            assert.equal(deletesOf(id).length, 0);
          } finally {
            broker.modes.provision = 'ok';
          }
        });

        const waitForOperation = (name: string, operation: string) =>
          waitFor(`${name} to be ${operation}`, async () => {
            const instance = await instanceByName(name);
            return instance && `${instance.last_operation.type} ${instance.last_operation.state}` === operation;
          }, { timeoutMs: 10_000 });

        it('an asynchronous broker: create-service says the create is in progress and returns, service shows it; --wait waits until created', async () => {
          broker.modes.provision = 'async';
          broker.settings.asyncPolls = 1_000;
          try {
            const quick = await cli(['create-service', 'test-db', 'tiny', 'slowdb']);
            assert.equal(quick.exitCode, 0, quick.stdout + quick.stderr);
            assert.match(quick.stdout, /\n\nCreate in progress\. Use 'devbox services' or 'devbox service slowdb' to check operation status\.\nOK$/);
            const shown = await cli(['service', 'slowdb']);
            assert.match(shown.stdout, /Showing status of last operation:\n\s+status:\s+create in progress\n\s+message:\s+\d+ polls to go\n/);
            assert.match((await cli(['services'])).stdout, /slowdb\s+test-db\s+tiny\s+create in progress\s+test-broker/);
            broker.settle();
            await waitForOperation('slowdb', 'create succeeded');

            broker.settings.asyncPolls = 3;
            const waited = await cli(['create-service', 'test-db', 'tiny', 'waitdb', '--wait']);
            assert.equal(waited.exitCode, 0, waited.stdout + waited.stderr);
            assert.match(waited.stdout, /\n\nWaiting for the operation to complete\.\.\.\n\s+done\nService instance waitdb created\.\nOK$/);
            assert.equal((await instanceByName('waitdb')).last_operation.state, 'succeeded');
          } finally {
            broker.modes.provision = 'ok';
            broker.settings.asyncPolls = 2;
          }
        });

        it('stopped waiting (Ctrl-C, or the limit), the CLI says where the operation stands and that it goes on', async () => {
          broker.modes.provision = 'async';
          broker.settings.asyncPolls = 1_000;
          try {
            const child = execa(process.execPath, [DEVBOX_BIN, 'create-service', 'test-db', 'tiny', 'ctrlc-db', '--wait'], { env: { DEVBOX_HOME: home, NO_COLOR: '1' }, extendEnv: true, stdin: 'ignore', reject: false, timeout: 30_000 });
            let out = '';
            child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
            await waitFor('the CLI to wait for the operation', () => out.includes('Waiting for the operation to complete'), { timeoutMs: 15_000 });
            // The job is being polled: the instance says so.
            await waitFor('a poll', async () => /polls to go/.test((await instanceByName('ctrlc-db'))?.last_operation.description ?? ''), { timeoutMs: 10_000 });
            child.kill('SIGINT');
            const result = await child;
            assert.equal(result.exitCode, 130, String(result.stdout) + String(result.stderr));
            assert.match(String(result.stderr), /^Stopped waiting: the operation goes on in the background, and it is create in progress \(\d+ polls to go\)\. 'devbox service ctrlc-db' shows how it ends\.$/);

            const limited = await devbox(home, ['create-service', 'test-db', 'tiny', 'limited-db', '-w'], { env: { DEVBOX_SERVICE_WAIT_MS: '1500' } });
            assert.equal(limited.exitCode, 1, limited.stdout + limited.stderr);
            assert.match(limited.stderr, /^Stopped waiting after 2 s: the operation goes on in the background, and it is create in progress/);
            broker.settle();
            await waitForOperation('ctrlc-db', 'create succeeded');
            await waitForOperation('limited-db', 'create succeeded');
          } finally {
            broker.modes.provision = 'ok';
            broker.settings.asyncPolls = 2;
          }
        });

        it('update-service (plan, parameters, tags), rename-service, service-keys and update-user-provided-service', async () => {
          const updated = await cli(['update-service', 'waitdb', '-c', '{"size":"l"}', '-t', 'a, b', '--wait']);
          assert.equal(updated.exitCode, 0, updated.stdout + updated.stderr);
          assert.match(updated.stdout, /Update of service instance waitdb complete\.\nOK$/);
          assert.deepEqual(broker.seen.filter((s) => s.method === 'PATCH').at(-1)!.body.parameters, { size: 'l' });
          assert.deepEqual((await instanceByName('waitdb')).tags, ['a', 'b']);
          const plan = await cli(['update-service', 'waitdb', '-p', 'big']);
          assert.equal(plan.exitCode, 1, 'test-db plans are not updateable');
          assert.match(plan.stderr, /^The service does not support changing plans\./);
          assert.match((await cli(['update-service', 'waitdb'])).stdout, /No flags specified\. No changes were made\.\nOK$/);

          const renamed = await cli(['rename-service', 'waitdb', 'orders-db']);
          assert.equal(renamed.exitCode, 0, renamed.stdout + renamed.stderr);
          assert.match(renamed.stdout, /^Renaming service waitdb to orders-db in org devbox \/ space dev as admin\.\.\.\nOK$/);
          assert.equal((await instanceByName('orders-db')).tags.length, 2);

          assert.equal((await cli(['create-service-key', 'orders-db', 'k2', '--wait'])).exitCode, 0);
          assert.equal((await cli(['create-service-key', 'orders-db', 'k1'])).exitCode, 0);
          const keys = await cli(['service-keys', 'orders-db']);
          assert.equal(keys.exitCode, 0, keys.stderr);
          assert.match(keys.stdout, /^Getting keys for service instance orders-db as admin\.\.\.\n\nname\s+last operation\s+message\nk1\s+create succeeded\s*\nk2\s+create succeeded/);
          assert.deepEqual(JSON.parse((await cli(['service-keys', 'orders-db', '--json'])).stdout).map((k: { name: string }) => k.name), ['k1', 'k2']);
          for (const key of ['k1', 'k2']) assert.equal((await cli(['delete-service-key', 'orders-db', key, '-f', '--wait'])).exitCode, 0);
          assert.match((await cli(['service-keys', 'orders-db'])).stdout, /No service keys for service instance orders-db/);

          assert.equal((await cli(['create-user-provided-service', 'my-ups', '-p', '{"a":"1"}'])).exitCode, 0);
          const ups = await cli(['update-user-provided-service', 'my-ups', '-p', '{"a":"2"}', '-l', 'syslog://logs.example:514', '-t', 'x']);
          assert.equal(ups.exitCode, 0, ups.stdout + ups.stderr);
          const upsRow = await instanceByName('my-ups');
          assert.deepEqual((await box.call('GET', `/v3/service_instances/${upsRow.guid}/credentials`)).json(), { a: '2' });
          assert.equal(upsRow.syslog_drain_url, 'syslog://logs.example:514');
          assert.deepEqual(upsRow.tags, ['x']);
          assert.match((await cli(['update-user-provided-service', 'orders-db', '-p', '{}'])).stderr, /is not user-provided/);
        });

        it('delete-service: in progress without --wait, deleted with it; a refused delete says delete failed; --purge forgets without the broker', async () => {
          broker.modes.deprovision = 'async';
          broker.settings.asyncPolls = 1_000;
          try {
            const quick = await cli(['delete-service', 'slowdb', '-f']);
            assert.equal(quick.exitCode, 0, quick.stdout + quick.stderr);
            assert.match(quick.stdout, /Delete in progress\. Use 'devbox services' or 'devbox service slowdb' to check operation status\.\nOK$/);
            assert.match((await cli(['service', 'slowdb'])).stdout, /status:\s+delete in progress/);
            broker.settle();
            await waitFor('slowdb to be gone', async () => (await instanceByName('slowdb')) === undefined, { timeoutMs: 10_000 });
          } finally {
            broker.modes.deprovision = 'ok';
            broker.settings.asyncPolls = 2;
          }
          broker.modes.deprovision = '400';
          try {
            const refused = await cli(['delete-service', 'orders-db', '-f']);
            assert.equal(refused.exitCode, 1);
            assert.match(refused.stderr, /^deprovision could not be completed: Service broker 'test-broker' refused DELETE \S+ with status 400 \(BadRequest\): plan says no$/);
            const shown = await cli(['service', 'orders-db']);
            assert.match(shown.stdout, /status:\s+delete failed\n\s+message:\s+Service broker 'test-broker' refused DELETE/);
          } finally {
            broker.modes.deprovision = 'ok';
          }
          const deleted = await cli(['delete-service', 'orders-db', '-f', '-w']);
          assert.match(deleted.stdout, /Service instance orders-db deleted\.\nOK$/);

          const seen = broker.seen.length;
          const purged = await cli(['delete-service', 'ctrlc-db', '-f', '--purge']);
          assert.equal(purged.exitCode, 0, purged.stdout + purged.stderr);
          assert.match(purged.stdout, /^Purging service instance ctrlc-db in org devbox \/ space dev as admin\.\.\.\n\nService instance ctrlc-db purged\.\nOK$/);
          assert.equal(await instanceByName('ctrlc-db'), undefined);
          assert.equal(broker.seen.length, seen, 'the broker was not asked');
          assert.match((await cli(['delete-service', 'ctrlc-db', '-f'])).stdout, /Service instance ctrlc-db did not exist\./);
        });

        it('two brokers offering one name: create-service needs -b, marketplace -b shows one; update-service-broker, delete-service-broker', async () => {
          const second = startTestBroker('second-user', 'second-pw');
          try {
            const url = `http://127.0.0.1:${await second.listen()}`;
            assert.equal((await cli(['create-service-broker', 'second-broker', 'second-user', 'second-pw', url])).exitCode, 0);
            const ambiguous = await cli(['create-service', 'test-db', 'tiny', 'which-db']);
            assert.equal(ambiguous.exitCode, 1);
            assert.match(ambiguous.stderr, /^Service offering 'test-db' is provided by multiple service brokers \(second-broker, test-broker|test-broker, second-broker\)\. Specify a broker by using the '-b' flag\.$/);
            const chosen = await cli(['create-service', 'test-db', 'tiny', 'which-db', '-b', 'second-broker']);
            assert.equal(chosen.exitCode, 0, chosen.stdout + chosen.stderr);
            assert.equal(second.instances.size, 1, "the second broker's");
            const market = await cli(['marketplace', '-b', 'second-broker']);
            assert.match(market.stdout, /all service offerings from service broker second-broker/);
            assert.match(market.stdout, /test-db\s+tiny, big\s+A database for tests\s+second-broker/);
            assert.doesNotMatch(market.stdout, /test-broker/);
            assert.match((await cli(['marketplace', '-b', 'nobody'])).stderr, /Service broker 'nobody' not found/);

            const stillUsed = await cli(['delete-service-broker', 'second-broker', '-f']);
            assert.equal(stillUsed.exitCode, 1);
            assert.match(stillUsed.stderr, /associated service instances: which-db/);
            const moved = startTestBroker('second-user', 'n3w-pw');
            try {
              const newUrl = `http://127.0.0.1:${await moved.listen()}`;
              const updated = await cli(['update-service-broker', 'second-broker', 'second-user', 'n3w-pw', newUrl]);
              assert.equal(updated.exitCode, 0, updated.stdout + updated.stderr);
              assert.equal((await box.call('GET', '/v3/service_brokers?names=second-broker')).json().resources[0].url, newUrl);
              // The instance now lives with the new broker: gone for good from the old one's view.
              assert.equal((await cli(['delete-service', 'which-db', '-f', '--purge'])).exitCode, 0);
            } finally {
              await moved.close();
            }
            const gone = await cli(['delete-service-broker', 'second-broker', '-f']);
            assert.equal(gone.exitCode, 0, gone.stdout + gone.stderr);
            assert.match(gone.stdout, /^Deleting service broker second-broker as admin\.\.\.\nOK$/);
            assert.match((await cli(['delete-service-broker', 'second-broker', '-f'])).stdout, /Service broker second-broker does not exist\./);
          } finally {
            await second.close();
          }
        });

        it('sends the matching DELETE after a bind that failed with 500', async () => {
          assert.equal((await cli(['create-service', 'test-db', 'tiny', 'binddb'])).exitCode, 0);
          await createApp('bind-fail-app');
          broker.modes.bind = '500';
          try {
            const res = await cli(['bind-service', 'bind-fail-app', 'binddb']);
            assert.equal(res.exitCode, 1);
            assert.match(res.stderr, /^bind could not be completed: Service broker 'test-broker' failed PUT \S+ with status 500: the broker broke$/);
            const put = broker.seen.filter((s) => s.method === 'PUT' && s.path.includes('/service_bindings/')).at(-1)!;
            assert.equal(broker.seen.filter((s) => s.method === 'DELETE' && s.path === put.path).length, 1);
            const app = (await box.call('GET', '/v3/apps?names=bind-fail-app')).json().resources[0];
            const [binding] = (await box.call('GET', `/v3/service_credential_bindings?app_guids=${app.guid}`)).json().resources;
            assert.deepEqual([binding.last_operation.type, binding.last_operation.state], ['create', 'failed']);
            const shown = await cli(['service', 'binddb']);
            assert.match(shown.stdout, /bind-fail-app\s+create failed\s+bind could not be completed|bind-fail-app\s+create failed\s+Service broker 'test-broker' failed PUT/);
          } finally {
            broker.modes.bind = 'ok';
          }
          // Bound again, the failed binding is replaced.
          const again = await cli(['bind-service', 'bind-fail-app', 'binddb']);
          assert.equal(again.exitCode, 0, again.stdout + again.stderr);
          const app = (await box.call('GET', '/v3/apps?names=bind-fail-app')).json().resources[0];
          const bindings = (await box.call('GET', `/v3/service_credential_bindings?app_guids=${app.guid}`)).json().resources;
          assert.deepEqual(bindings.map((b: { last_operation: { state: string } }) => b.last_operation.state), ['succeeded']);
        });
      });
    }
  });
}
