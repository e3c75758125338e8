// Asynchronous service operations in the controller, in the test process (helpers/controller.ts) on
// SQLite and MySQL, against the test broker (helpers.ts) answering 202 and last_operation: instances
// created, updated and deleted as jobs that poll their broker (its description shown as it goes),
// bindings and keys the same, failures and what is cleaned up at the broker, operations refused while
// another is in progress, a delete that overtakes a create, purge for a broker that is gone, and jobs
// that a new controller run takes up where the last one left them; migration 0013 on older rows.
import assert from 'node:assert/strict';
import { Migrator, sql } from 'kysely';
import { waitFor } from '../../../src/runtime/common/poll.js';
import { ServiceJobs } from '../../../src/runtime/controller/actions/service-jobs.js';
import { now } from '../../../src/runtime/controller/context.js';
import { IN_MEMORY, openDatabase } from '../../../src/runtime/controller/db/index.js';
import { migrations } from '../../../src/runtime/controller/db/migrations.js';
import { controllerTestDatabases, startController, type ControllerHarness } from '../../helpers/controller.js';
import { jobIn, jobPath, startTestBroker } from './helpers.js';

for (const database of controllerTestDatabases()) {
  describe(`asynchronous service operations (${database.name}, in-process)`, function () {
    this.timeout(30_000);
    let box: ControllerHarness;
    let spaceGuid: string;
    let brokerUrl: string;
    let tiny: string;
    let big: string;
    const saved: Record<string, string | undefined> = {};
    const broker = startTestBroker('broker-user', 'broker-s3cret', { planUpdateable: true });
    /** The runner that replaced the harness's (which its server stops). */
    let restarted: ServiceJobs | undefined;

    before(async () => {
      for (const [name, value] of Object.entries({ DEVBOX_BROKER_TIMEOUT_MS: '1500', DEVBOX_BROKER_POLL_INTERVAL_MS: '50' })) {
        saved[name] = process.env[name];
        process.env[name] = value;
      }
      brokerUrl = `http://127.0.0.1:${await broker.listen()}`;
      await database.start();
      box = await startController({ database });
      spaceGuid = (await box.call('GET', '/v3/spaces?names=dev')).json().resources[0].guid;
      const registered = await box.call('POST', '/v3/service_brokers', { name: 'async-broker', url: brokerUrl, authentication: { type: 'basic', credentials: { username: 'broker-user', password: 'broker-s3cret' } } });
      assert.equal((await jobIn(box.call, registered)).state, 'COMPLETE');
      const plan = async (name: string) => (await box.call('GET', `/v3/service_plans?names=${name}`)).json().resources[0].guid as string;
      tiny = await plan('tiny');
      big = await plan('big');
    });
    after(async () => {
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
      restarted?.stop();
      await box?.stop();
      await database.stop();
      await broker.close();
    });

    const get = async (path: string) => (await box.call('GET', path)).json();
    const instanceByName = async (name: string) => (await get(`/v3/service_instances?names=${name}`)).resources[0];
    const operation = (resource: { last_operation: { type: string; state: string } }) => `${resource.last_operation.type} ${resource.last_operation.state}`;
    const create = (name: string, plan = tiny) => box.call('POST', '/v3/service_instances', { type: 'managed', name, relationships: { space: { data: { guid: spaceGuid } }, service_plan: { data: { guid: plan } } } });
    const created = async (name: string) => {
      assert.equal((await jobIn(box.call, await create(name))).state, 'COMPLETE');
      return instanceByName(name);
    };
    const newApp = async (name: string) => (await box.call('POST', '/v3/apps', { name, relationships: { space: { data: { guid: spaceGuid } } } })).json();
    const bind = (instance: string, target: { app: string } | { key: string }) =>
      box.call('POST', '/v3/service_credential_bindings', {
        type: 'app' in target ? 'app' : 'key',
        ...('key' in target ? { name: target.key } : {}),
        relationships: { service_instance: { data: { guid: instance } }, ...('app' in target ? { app: { data: { guid: target.app } } } : {}) },
      });
    const vcap = async (app: string) => (await get(`/v3/apps/${app}/env`)).system_env_json.VCAP_SERVICES;
    const deletes = (path: string) => broker.seen.filter((s) => s.method === 'DELETE' && s.path === path).length;
    /** devbox's managed instances whose create did not fail: what the broker must hold, no more. */
    const kept = async () => (await get('/v3/service_instances?type=managed&per_page=5000')).resources.filter((i: { last_operation: { type: string; state: string } }) => operation(i) !== 'create failed').length;

    it('an asynchronous provision: the job is POLLING, the instance create in progress with the broker\'s description, then both done', async () => {
      broker.modes.provision = 'async';
      broker.settings.asyncPolls = 3;
      try {
        const res = await create('async-db');
        const polling = await jobIn(box.call, res, ['POLLING', 'COMPLETE', 'FAILED']);
        assert.equal(polling.state, 'POLLING', 'as cf create-service without --wait sees it');
        const during = await instanceByName('async-db');
        assert.equal(operation(during), 'create in progress');
        const done = await jobIn(box.call, res);
        assert.equal(done.state, 'COMPLETE');
      } finally {
        broker.modes.provision = 'ok';
        broker.settings.asyncPolls = 2;
      }
      const instance = await instanceByName('async-db');
      assert.equal(operation(instance), 'create succeeded');
      assert.equal(instance.last_operation.description, 'done');
      const polls = broker.seen.filter((s) => s.method === 'GET' && s.path === `/v2/service_instances/${instance.guid}/last_operation`);
      assert.equal(polls.length, 4);
      assert.match(polls[0].query.get('operation') ?? '', /^op-\d+$/, "the broker's operation is sent back");
      assert.equal(polls[0].query.get('plan_id'), 'plan-tiny');
      const events = (await get(`/v3/audit_events?target_guids=${instance.guid}`)).resources.map((e: { type: string }) => e.type);
      assert.deepEqual(events, ['audit.service_instance.start_create', 'audit.service_instance.create']);
    });

    it('a provision whose last_operation says failed: create failed with its description, and the broker is asked to forget it', async () => {
      broker.modes.provision = 'async-fail';
      try {
        const job = await jobIn(box.call, await create('gave-up-db'));
        assert.equal(job.state, 'FAILED');
        assert.equal(job.errors[0].detail, 'provision could not be completed: the broker gave up');
      } finally {
        broker.modes.provision = 'ok';
      }
      const instance = await instanceByName('gave-up-db');
      assert.equal(operation(instance), 'create failed');
      assert.equal(instance.last_operation.description, 'the broker gave up');
      assert.equal(deletes(`/v2/service_instances/${instance.guid}`), 1);
      assert.equal(broker.instances.size, await kept());
    });

    it('a last_operation that fails is asked again (the job polls on); a plan\'s maximum_polling_duration ends it, with orphan mitigation', async () => {
      broker.modes.provision = 'async';
      broker.modes.lastOperation = '500';
      try {
        const res = await create('unanswered-db');
        await jobIn(box.call, res, ['POLLING']);
        const instance = await instanceByName('unanswered-db');
        const polls = () => broker.seen.filter((s) => s.path === `/v2/service_instances/${instance.guid}/last_operation`).length;
        await waitFor('three polls', () => polls() >= 3, { timeoutMs: 5_000 });
        assert.equal((await get(jobPath(res))).state, 'POLLING', 'still polling');
        // The deadline, as a plan's maximum_polling_duration or DEVBOX_BROKER_POLL_MS sets it: here, now.
        process.env.DEVBOX_BROKER_POLL_MS = '1';
        try {
          const other = await create('deadline-db');
          const job = await jobIn(box.call, other);
          assert.equal(job.state, 'FAILED');
          assert.equal(job.errors[0].detail, "provision could not be completed: Service broker 'async-broker' failed to provision within the required time.");
          const late = await instanceByName('deadline-db');
          assert.equal(deletes(`/v2/service_instances/${late.guid}`), 1, 'orphan mitigation');
        } finally {
          delete process.env.DEVBOX_BROKER_POLL_MS;
        }
        broker.modes.lastOperation = 'ok';
        assert.equal((await jobIn(box.call, res)).state, 'COMPLETE');
      } finally {
        broker.modes.provision = 'ok';
        broker.modes.lastOperation = 'ok';
      }
      assert.equal(broker.instances.size, await kept());
    });

    it('a broker busy with the instance (422 ConcurrencyError) is asked again later, not taken for a refusal', async () => {
      broker.modes.provision = 'busy';
      let res;
      try {
        res = await create('busy-broker-db');
        const id = () => broker.seen.filter((s) => s.method === 'PUT' && s.path.startsWith('/v2/service_instances/') && !s.path.includes('/service_bindings/')).at(-1)!.path;
        await waitFor('two tries', () => broker.seen.filter((s) => s.method === 'PUT' && s.path === id()).length >= 2, { timeoutMs: 5_000 });
        assert.equal((await get(jobPath(res))).state, 'PROCESSING');
      } finally {
        broker.modes.provision = 'ok';
      }
      assert.equal((await jobIn(box.call, res)).state, 'COMPLETE');
      assert.equal(operation(await instanceByName('busy-broker-db')), 'create succeeded');
    });

    it('binds an app asynchronously: the credentials are fetched once the broker is done, and only then reach VCAP_SERVICES', async () => {
      const instance = await created('bind-db');
      const app = await newApp('async-app');
      broker.modes.bind = 'async';
      broker.settings.asyncPolls = 3;
      try {
        const res = await bind(instance.guid, { app: app.guid });
        assert.equal(res.status, 202, res.text);
        await jobIn(box.call, res, ['POLLING']);
        const binding = (await get(`/v3/service_credential_bindings?app_guids=${app.guid}`)).resources[0];
        assert.equal(operation(binding), 'create in progress');
        assert.deepEqual(await vcap(app.guid), {}, 'no credentials yet');
        assert.equal((await jobIn(box.call, res)).state, 'COMPLETE');
      } finally {
        broker.modes.bind = 'ok';
        broker.settings.asyncPolls = 2;
      }
      const binding = (await get(`/v3/service_credential_bindings?app_guids=${app.guid}`)).resources[0];
      assert.equal(operation(binding), 'create succeeded');
      const put = broker.seen.find((s) => s.method === 'PUT' && s.path.endsWith(`/service_bindings/${binding.guid}`))!;
      assert.equal(put.query.get('accepts_incomplete'), 'true');
      assert.ok(broker.seen.some((s) => s.method === 'GET' && s.path === `/v2/service_instances/${instance.guid}/service_bindings/${binding.guid}`), 'the binding was fetched');
      assert.equal((await vcap(app.guid))['test-db'][0].credentials.username, `u-${binding.guid.slice(0, 8)}`);
      assert.ok(box.appLogs.some((l) => l.appGuid === app.guid && l.message === 'Bound service instance bind-db to app async-app'));
    });

    it('a bind that fails after the broker may have made it: unbound at the broker, create failed, not in VCAP_SERVICES; a new bind replaces it', async () => {
      const instance = await instanceByName('bind-db');
      const app = await newApp('failing-app');
      for (const mode of ['500', 'async-fail'] as const) {
        broker.modes.bind = mode;
        try {
          const job = await jobIn(box.call, await bind(instance.guid, { app: app.guid }));
          assert.equal(job.state, 'FAILED');
          assert.match(job.errors[0].detail, mode === '500' ? /^bind could not be completed: Service broker 'async-broker' failed PUT .* with status 500: the broker broke$/ : /^bind could not be completed: the broker gave up$/);
        } finally {
          broker.modes.bind = 'ok';
        }
        const binding = (await get(`/v3/service_credential_bindings?app_guids=${app.guid}`)).resources[0];
        assert.equal(operation(binding), 'create failed');
        assert.equal(deletes(`/v2/service_instances/${instance.guid}/service_bindings/${binding.guid}`), 1, 'orphan mitigation');
        assert.deepEqual(await vcap(app.guid), {});
      }
      const again = await jobIn(box.call, await bind(instance.guid, { app: app.guid }));
      assert.equal(again.state, 'COMPLETE');
      const bindings = (await get(`/v3/service_credential_bindings?app_guids=${app.guid}`)).resources;
      assert.equal(bindings.length, 1);
      assert.equal(operation(bindings[0]), 'create succeeded');
      assert.equal(broker.bindings.has(bindings[0].guid), true);
      const dup = await bind(instance.guid, { app: app.guid });
      assert.equal(dup.status, 422);
      assert.equal(dup.json().errors[0].detail, 'The app is already bound to the service instance.');
    });

    it('keys and unbinding asynchronously; an unbind the broker answers with a malformed 200 fails (delete failed) and keeps the key', async () => {
      const instance = await instanceByName('bind-db');
      const key = await jobIn(box.call, await bind(instance.guid, { key: 'k1' }));
      assert.equal(key.state, 'COMPLETE');
      const row = (await get(`/v3/service_credential_bindings?names=k1&service_instance_guids=${instance.guid}`)).resources[0];
      assert.equal((await get(`/v3/service_credential_bindings/${row.guid}/details`)).credentials.username, `u-${row.guid.slice(0, 8)}`);
      broker.modes.unbind = '200-garbage';
      try {
        const job = await jobIn(box.call, await box.call('DELETE', `/v3/service_credential_bindings/${row.guid}`));
        assert.equal(job.state, 'FAILED');
        assert.match(job.errors[0].detail, /^unbind could not be completed: .*status 200 and a body that is not what the Open Service Broker API says/);
      } finally {
        broker.modes.unbind = 'ok';
      }
      assert.equal(operation(await get(`/v3/service_credential_bindings/${row.guid}`)), 'delete failed');
      broker.modes.unbind = 'async';
      try {
        const res = await box.call('DELETE', `/v3/service_credential_bindings/${row.guid}`);
        await jobIn(box.call, res, ['POLLING']);
        assert.equal(operation(await get(`/v3/service_credential_bindings/${row.guid}`)), 'delete in progress');
        const busy = await box.call('DELETE', `/v3/service_credential_bindings/${row.guid}`);
        assert.equal(busy.status, 409);
        assert.equal(busy.json().errors[0].title, 'CF-AsyncServiceBindingOperationInProgress');
        assert.equal((await jobIn(box.call, res)).state, 'COMPLETE');
      } finally {
        broker.modes.unbind = 'ok';
      }
      assert.equal((await box.call('GET', `/v3/service_credential_bindings/${row.guid}`)).status, 404);
    });

    it('operations on an instance with one in progress are refused (409), bindings too; a delete overtakes a create that is polling', async () => {
      broker.modes.provision = 'async';
      broker.settings.asyncPolls = 1_000;
      try {
        const res = await create('busy-db');
        await jobIn(box.call, res, ['POLLING']);
        const instance = await instanceByName('busy-db');
        const update = await box.call('PATCH', `/v3/service_instances/${instance.guid}`, { name: 'renamed' });
        assert.equal(update.status, 409);
        assert.deepEqual(update.json().errors[0], { detail: 'An operation for service instance busy-db is in progress.', title: 'CF-AsyncServiceInstanceOperationInProgress', code: 60016 });
        const app = await newApp('busy-app');
        const binding = await bind(instance.guid, { app: app.guid });
        assert.equal(binding.status, 422);
        assert.equal(binding.json().errors[0].detail, 'There is an operation in progress for the service instance');
        const deleted = await box.call('DELETE', `/v3/service_instances/${instance.guid}`);
        assert.equal((await jobIn(box.call, deleted)).state, 'COMPLETE');
        const overtaken = await jobIn(box.call, res);
        assert.equal(overtaken.state, 'FAILED');
        assert.equal(overtaken.errors[0].detail, 'provision could not be completed: the service instance was deleted before its create finished');
        assert.equal((await box.call('GET', `/v3/service_instances/${instance.guid}`)).status, 404);
      } finally {
        broker.modes.provision = 'ok';
        broker.settings.asyncPolls = 2;
      }
      assert.equal(broker.instances.size, await kept());
    });

    it('an asynchronous update changes the plan when its broker is done; a refused one says update failed and keeps the plan', async () => {
      const instance = await created('update-db');
      broker.modes.update = 'async';
      try {
        const res = await box.call('PATCH', `/v3/service_instances/${instance.guid}`, { relationships: { service_plan: { data: { guid: big } } }, parameters: { size: 'xl' }, tags: ['t1'] });
        await jobIn(box.call, res, ['POLLING']);
        const during = await get(`/v3/service_instances/${instance.guid}`);
        assert.equal(operation(during), 'update in progress');
        assert.equal(during.relationships.service_plan.data.guid, tiny, 'the plan changes when the broker is done');
        assert.deepEqual(during.tags, ['t1'], 'tags are devbox\'s own: at once');
        assert.equal((await jobIn(box.call, res)).state, 'COMPLETE');
      } finally {
        broker.modes.update = 'ok';
      }
      const after = await get(`/v3/service_instances/${instance.guid}`);
      assert.equal(operation(after), 'update succeeded');
      assert.equal(after.relationships.service_plan.data.guid, big);
      const patch = broker.seen.filter((s) => s.method === 'PATCH').at(-1)!;
      assert.deepEqual(patch.body.parameters, { size: 'xl' });
      assert.equal(broker.seen.filter((s) => s.path === `/v2/service_instances/${instance.guid}/last_operation`).at(-1)!.query.get('plan_id'), 'plan-big');

      broker.modes.update = '400';
      try {
        const job = await jobIn(box.call, await box.call('PATCH', `/v3/service_instances/${instance.guid}`, { relationships: { service_plan: { data: { guid: tiny } } } }));
        assert.equal(job.state, 'FAILED');
        assert.match(job.errors[0].detail, /^update could not be completed: .*status 400 \(BadRequest\): plan says no$/);
      } finally {
        broker.modes.update = 'ok';
      }
      const refused = await get(`/v3/service_instances/${instance.guid}`);
      assert.equal(operation(refused), 'update failed');
      assert.match(refused.last_operation.description, /plan says no/);
      assert.equal(refused.relationships.service_plan.data.guid, big);
    });

    it('deletes: asynchronously, and a refused delete says delete failed (not create succeeded) and keeps the instance', async () => {
      const instance = await instanceByName('update-db');
      broker.modes.deprovision = '400';
      try {
        const job = await jobIn(box.call, await box.call('DELETE', `/v3/service_instances/${instance.guid}`));
        assert.equal(job.state, 'FAILED');
        assert.match(job.errors[0].detail, /^deprovision could not be completed: .*plan says no$/);
      } finally {
        broker.modes.deprovision = 'ok';
      }
      const failed = await get(`/v3/service_instances/${instance.guid}`);
      assert.equal(operation(failed), 'delete failed');
      assert.match(failed.last_operation.description, /plan says no/);
      broker.modes.deprovision = '200-garbage';
      try {
        assert.equal((await jobIn(box.call, await box.call('DELETE', `/v3/service_instances/${instance.guid}`))).state, 'FAILED', 'a malformed 200 is no success');
      } finally {
        broker.modes.deprovision = 'ok';
      }
      broker.modes.deprovision = 'async';
      try {
        const res = await box.call('DELETE', `/v3/service_instances/${instance.guid}`);
        await jobIn(box.call, res, ['POLLING']);
        assert.equal(operation(await get(`/v3/service_instances/${instance.guid}`)), 'delete in progress');
        assert.equal((await jobIn(box.call, res)).state, 'COMPLETE');
      } finally {
        broker.modes.deprovision = 'ok';
      }
      assert.equal((await box.call('GET', `/v3/service_instances/${instance.guid}`)).status, 404);
      assert.equal(broker.instances.has(instance.guid), false);
    });

    it('a new controller run takes up the jobs the last one left: a provision never sent is sent, a poll goes on', async () => {
      const first = box.context.serviceJobs as ServiceJobs;
      first.stop();
      try {
        // Left by a controller that stopped: one job it never ran, one that was polling.
        broker.modes.provision = 'async';
        broker.settings.asyncPolls = 1;
        const polling = await create('left-polling');
        await box.context.serviceJobs!.run(jobPath(polling).split('/').pop()!);
        assert.equal((await get(jobPath(polling))).state, 'PROCESSING', 'a stopped runner runs nothing');
        broker.modes.provision = 'ok';
        const waiting = await create('left-waiting');
        assert.equal((await get(jobPath(waiting))).state, 'PROCESSING');
        // As a controller that died mid-step leaves its lease: held by someone gone, run out.
        await box.db.updateTable('jobs').set({ lease_owner: 'gone-controller', lease_until: new Date(Date.now() - 1_000).toISOString() }).where('guid', '=', jobPath(waiting).split('/').pop()!).execute();
        // On a shared database (MySQL, several controllers) a lease is taken over once it has run out.
        box.context.sharedDatabase = true;
        const next = new ServiceJobs(box.context);
        box.context.serviceJobs = next;
        next.start();
        try {
          broker.modes.provision = 'async';
          assert.equal((await jobIn(box.call, polling)).state, 'COMPLETE');
          assert.equal((await jobIn(box.call, waiting)).state, 'COMPLETE');
        } finally {
          next.stop();
          box.context.sharedDatabase = undefined;
        }
      } finally {
        broker.modes.provision = 'ok';
        broker.settings.asyncPolls = 2;
        restarted = new ServiceJobs(box.context);
        box.context.serviceJobs = restarted;
        restarted.start();
      }
      assert.equal(operation(await instanceByName('left-polling')), 'create succeeded');
      assert.equal(operation(await instanceByName('left-waiting')), 'create succeeded');
      assert.ok(box.log.some((line) => line.includes('taking up a service job another run left') && line.includes('gone-controller')));
      assert.equal(broker.instances.size, await kept());
    });

    it('purge (admins only) forgets an instance whose broker is gone, with its bindings and keys, asking nobody', async () => {
      const instance = await created('orphaned-db');
      const app = await newApp('purge-app');
      assert.equal((await jobIn(box.call, await bind(instance.guid, { app: app.guid }))).state, 'COMPLETE');
      assert.equal((await jobIn(box.call, await bind(instance.guid, { key: 'pk' }))).state, 'COMPLETE');
      const port = Number(new URL(brokerUrl).port);
      await broker.close();
      try {
        const seen = broker.seen.length;
        const refused = await box.call('DELETE', `/v3/service_instances/${instance.guid}`);
        assert.equal(refused.status, 422, 'bindings first');
        const notAdmin = await box.mint({ scope: ['cloud_controller.read', 'cloud_controller.write'] });
        const forbidden = await box.call('DELETE', `/v3/service_instances/${instance.guid}?purge=true`, undefined, { authorization: `bearer ${notAdmin}` });
        assert.equal(forbidden.status, 403);
        assert.equal((await box.call('DELETE', `/v3/service_instances/${instance.guid}?purge=maybe`)).status, 422);
        const purged = await box.call('DELETE', `/v3/service_instances/${instance.guid}?purge=true`);
        assert.equal(purged.status, 204, purged.text);
        assert.equal((await box.call('GET', `/v3/service_instances/${instance.guid}`)).status, 404);
        assert.equal((await get(`/v3/service_credential_bindings?service_instance_guids=${instance.guid}`)).resources.length, 0);
        assert.deepEqual(await vcap(app.guid), {});
        assert.equal(broker.seen.length, seen, 'the broker was not asked');
        const event = (await get(`/v3/audit_events?types=audit.service_instance.purge&target_guids=${instance.guid}`)).resources;
        assert.equal(event.length, 1);
      } finally {
        await broker.listen(port);
      }
    });
  });
}

describe('controller: migration 0013 (service jobs) on rows made before it', function () {
  this.timeout(30_000);
  for (const database of controllerTestDatabases()) {
    it(`bindings get their claims (a duplicate keeps one of its own), jobs their empty live columns (${database.name})`, async () => {
      await database.start();
      const opened = await openDatabase(database.upArgs()[1] ?? IN_MEMORY);
      try {
        const { db } = opened;
        const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations } });
        const down = await migrator.migrateTo('0012_ssh');
        assert.equal(down.error, undefined, String(down.error));
        // As a controller before 0013 wrote them: two bindings of one app (a race it let through), a key, a job.
        const at = now();
        const [org, space, app, instance] = ['0ld00000-0000-4000-8000-00000000000a', '0ld00000-0000-4000-8000-00000000000b', '0ld00000-0000-4000-8000-00000000000c', '0ld00000-0000-4000-8000-00000000000d'];
        await sql`insert into organizations (guid, name, suspended, metadata, created_at, updated_at) values (${org}, 'old', 0, '{}', ${at}, ${at})`.execute(db);
        await sql`insert into spaces (guid, name, organization_guid, metadata, allow_ssh, created_at, updated_at) values (${space}, 'old', ${org}, '{}', 1, ${at}, ${at})`.execute(db);
        await sql`insert into apps (guid, name, space_guid, state, lifecycle_type, buildpacks, stack, environment_variables, droplet_guid, metadata, created_at, updated_at)
          values (${app}, 'old', ${space}, 'STOPPED', 'buildpack', '[]', 'host', '{}', null, '{}', ${at}, ${at})`.execute(db);
        await sql`insert into service_instances (guid, name, type, space_guid, plan_guid, credentials, tags, syslog_drain_url, route_service_url, dashboard_url, last_operation, metadata, created_at, updated_at)
          values (${instance}, 'old', 'user-provided', ${space}, null, '{}', '[]', null, null, null, '{}', '{}', ${at}, ${at})`.execute(db);
        for (const [guid, type, name, appGuid] of [['b1', 'app', null, app], ['b2', 'app', null, app], ['k1', 'key', 'mykey', null]] as const) {
          await sql`insert into service_bindings (guid, type, name, instance_guid, app_guid, credentials, syslog_drain_url, last_operation, metadata, created_at, updated_at)
            values (${guid}, ${type}, ${name}, ${instance}, ${appGuid}, '{}', null, '{}', '{}', ${at}, ${at})`.execute(db);
        }
        await sql`insert into jobs (guid, operation, state, resource_guid, resource_type, errors, created_at, updated_at) values ('j1', 'app.delete', 'COMPLETE', null, null, '[]', ${at}, ${at})`.execute(db);
        const up = await migrator.migrateToLatest();
        assert.equal(up.error, undefined, String(up.error));
        const claims = await db.selectFrom('service_bindings').select(['guid', 'claim']).orderBy('guid').execute();
        assert.deepEqual(claims, [
          { guid: 'b1', claim: `app:${app}` },
          { guid: 'b2', claim: 'duplicate:b2' },
          { guid: 'k1', claim: 'key:mykey' },
        ]);
        assert.deepEqual(await db.selectFrom('jobs').select(['payload', 'run_at', 'lease_owner', 'lease_until']).execute(), [{ payload: null, run_at: null, lease_owner: null, lease_until: null }]);
        // The claim is a unique key now.
        await assert.rejects(sql`update service_bindings set claim = ${`app:${app}`} where guid = 'b2'`.execute(db));
      } finally {
        await opened.close();
        await database.stop();
      }
    });
  }
});
