// The controller as an Open Service Broker API platform, in the test process
// (helpers/controller.ts) on SQLite and MySQL, against a small broker (helpers.ts) with switches to
// fail: registration and catalog through the API, the 202 and job of a managed instance's create,
// orphan mitigation in each case of the spec's table (the broker's instances always equal devbox's),
// names claimed before the broker hears of them, and the words of a broker's failures.
// Asynchronous brokers, bindings, deletes, purge and a controller's restart: services-async.test.ts.
// Provision, bind, VCAP_SERVICES, keys and user-provided services through the CLI: box.test.ts.
import assert from 'node:assert/strict';
import { waitFor } from '../../../src/runtime/common/poll.js';
import { controllerTestDatabases, startController, type ControllerHarness } from '../../helpers/controller.js';
import { jobIn, startTestBroker, type Mode } from './helpers.js';

for (const database of controllerTestDatabases()) {
  describe(`controller as an OSBAPI platform (${database.name}, in-process)`, function () {
    this.timeout(30_000);
    let box: ControllerHarness;
    let spaceGuid: string;
    let brokerUrl: string;
    let planGuid: string;
    const saved: Record<string, string | undefined> = {};
    const broker = startTestBroker('broker-user', 'broker-s3cret');

    before(async () => {
      // The controller reads these at each call: a broker that never answers is given up on after
      // 1.5 s here (not CF's 60), and asynchronous brokers are polled every 50 ms at most.
      for (const [name, value] of Object.entries({ DEVBOX_BROKER_TIMEOUT_MS: '1500', DEVBOX_BROKER_POLL_INTERVAL_MS: '50' })) {
        saved[name] = process.env[name];
        process.env[name] = value;
      }
      brokerUrl = `http://127.0.0.1:${await broker.listen()}`;
      await database.start();
      box = await startController({ database });
      spaceGuid = (await box.call('GET', '/v3/spaces?names=dev')).json().resources[0].guid;
    });
    after(async () => {
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
      await box?.stop();
      await database.stop();
      await broker.close();
    });

    const instanceByName = async (name: string) => (await box.call('GET', `/v3/service_instances?names=${name}`)).json().resources[0];
    const deletesOf = (id: string) => broker.seen.filter((s) => s.method === 'DELETE' && s.path === `/v2/service_instances/${id}`);
    const create = (name: string, extra: Record<string, unknown> = {}) =>
      box.call('POST', '/v3/service_instances', { type: 'managed', name, relationships: { space: { data: { guid: spaceGuid } }, service_plan: { data: { guid: planGuid } } }, ...extra });
    /** devbox's managed instances whose create succeeded: what the broker must hold, no more. */
    const kept = async () => (await box.call('GET', '/v3/service_instances?type=managed&per_page=5000')).json().resources.filter((i: { last_operation: { type: string; state: string } }) => !(i.last_operation.type === 'create' && i.last_operation.state === 'failed')).length;

    it('registers a broker through the API, fetching its catalog, and never shows its password', async () => {
      const created = await box.call('POST', '/v3/service_brokers', { name: 'test-broker', url: brokerUrl, authentication: { type: 'basic', credentials: { username: 'broker-user', password: 'broker-s3cret' } } });
      assert.equal(created.status, 202, created.text);
      assert.equal((await jobIn(box.call, created)).state, 'COMPLETE');
      const brokers = await box.call('GET', '/v3/service_brokers?names=test-broker');
      assert.equal(brokers.json().resources.length, 1);
      assert.equal(brokers.json().resources[0].url, brokerUrl);
      assert.doesNotMatch(brokers.text, /broker-s3cret/);
      assert.ok(!box.log.some((line) => line.includes('broker-s3cret')), 'nor does its log');

      const catalog = broker.seen.find((s) => s.path === '/v2/catalog')!;
      assert.equal(catalog.headers['x-broker-api-version'], '2.17');
      assert.match(String(catalog.headers['x-broker-api-originating-identity']), /^cloudfoundry /);
      const identity = JSON.parse(Buffer.from(String(catalog.headers['x-broker-api-originating-identity']).split(' ')[1], 'base64').toString());
      assert.equal(identity.user_id, JSON.parse(Buffer.from(box.token.split('.')[1], 'base64url').toString()).user_id, "the token's user");
      assert.ok(catalog.headers['x-broker-api-request-identity']);

      const offering = (await box.call('GET', '/v3/service_offerings?names=test-db')).json().resources[0];
      assert.equal(offering.broker_catalog.id, 'svc-1');
      assert.deepEqual(offering.tags, ['testing', 'db']);
      assert.equal(offering.broker_catalog.features.bindable, true);
      const plans = (await box.call('GET', `/v3/service_plans?service_offering_guids=${offering.guid}`)).json().resources;
      assert.deepEqual(plans.map((p: { name: string }) => p.name).sort(), ['big', 'tiny']);
      planGuid = plans.find((p: { name: string }) => p.name === 'tiny').guid;
      assert.equal((await box.call('GET', '/v3/service_plans?service_broker_names=test-broker&names=tiny')).json().resources[0].guid, planGuid, 'plans filter by broker name');
      assert.equal((await box.call('GET', '/v3/service_plans?service_broker_names=other')).json().resources.length, 0);

    });

    it('registers a broker as a job, as Cloud Controller: a catalog refused fails the job with the broker\'s error, the broker stays SYNCHRONIZATION_FAILED until updated or deleted', async () => {
      const refused = await box.call('POST', '/v3/service_brokers', { name: 'bad', url: brokerUrl, authentication: { type: 'basic', credentials: { username: 'x', password: 'y' } } });
      assert.equal(refused.status, 202, refused.text);
      const failed = await jobIn(box.call, refused);
      assert.equal(failed.state, 'FAILED');
      assert.equal(failed.operation, 'service_broker.catalog.synchronize');
      assert.equal(failed.errors[0].title, 'CF-ServiceBrokerBadResponse');
      assert.match(failed.errors[0].detail, /Authentication failed for the service broker API/);
      const bad = (await box.call('GET', '/v3/service_brokers?names=bad')).json().resources[0];
      assert.ok(bad, 'the broker stays, as in Cloud Controller');
      assert.equal((await box.call('GET', `/v3/service_offerings?service_broker_guids=${bad.guid}`)).json().resources.length, 0);
      const retaken = await box.call('POST', '/v3/service_brokers', { name: 'bad', url: brokerUrl, authentication: { type: 'basic', credentials: { username: 'x', password: 'y' } } });
      assert.equal(retaken.status, 422);
      assert.equal(retaken.json().errors[0].title, 'CF-UniquenessError');

      // An update with a wrong password changes nothing; one with the right credentials fetches the catalog.
      const wrong = await jobIn(box.call, await box.call('PATCH', `/v3/service_brokers/${bad.guid}`, { name: 'bad-renamed', authentication: { type: 'basic', credentials: { username: 'x', password: 'z' } } }));
      assert.equal(wrong.state, 'FAILED');
      assert.equal((await box.call('GET', `/v3/service_brokers/${bad.guid}`)).json().name, 'bad', 'a failed update keeps the name');
      const fixed = await jobIn(box.call, await box.call('PATCH', `/v3/service_brokers/${bad.guid}`, { authentication: { type: 'basic', credentials: { username: 'broker-user', password: 'broker-s3cret' } } }));
      assert.equal(fixed.state, 'COMPLETE', JSON.stringify(fixed.errors));
      assert.equal(fixed.operation, 'service_broker.update');
      assert.equal((await box.call('GET', `/v3/service_offerings?service_broker_guids=${bad.guid}`)).json().resources.length, 1);
      assert.equal((await jobIn(box.call, await box.call('DELETE', `/v3/service_brokers/${bad.guid}`))).state, 'COMPLETE');
    });

    it('answers a registration 202 at once while a slow broker is asked for its catalog; updating or deleting it meanwhile is refused', async () => {
      broker.settings.catalogDelayMs = 800;
      try {
        const started = Date.now();
        const created = await box.call('POST', '/v3/service_brokers', { name: 'slow-broker', url: brokerUrl, authentication: { type: 'basic', credentials: { username: 'broker-user', password: 'broker-s3cret' } } });
        assert.equal(created.status, 202, created.text);
        assert.ok(Date.now() - started < 500, `answered in ${Date.now() - started} ms, before the broker`);
        const slow = (await box.call('GET', '/v3/service_brokers?names=slow-broker')).json().resources[0];
        const busy = await box.call('PATCH', `/v3/service_brokers/${slow.guid}`, { url: brokerUrl });
        assert.equal(busy.status, 422);
        assert.match(busy.json().errors[0].detail, /Cannot update a broker when other operation is already in progress/);
        assert.equal((await box.call('DELETE', `/v3/service_brokers/${slow.guid}`)).status, 422);
        assert.equal((await jobIn(box.call, created)).state, 'COMPLETE');
        assert.equal((await jobIn(box.call, await box.call('DELETE', `/v3/service_brokers/${slow.guid}`))).state, 'COMPLETE');
      } finally {
        broker.settings.catalogDelayMs = 0;
      }
    });

    it('answers a managed create 202 with its job at once, while the broker is still working; the job ends COMPLETE', async () => {
      broker.settings.delayMs = 600;
      let res;
      const started = Date.now();
      try {
        res = await create('slow-db', { parameters: { size: 's' } });
        assert.ok(Date.now() - started < 500, `answered in ${Date.now() - started} ms, before the broker`);
        assert.equal(res.status, 202, res.text);
        assert.equal(res.text, '', 'no body, as Cloud Controller');
        const instance = await instanceByName('slow-db');
        assert.deepEqual([instance.last_operation.type, instance.last_operation.state], ['create', 'in progress']);
        const processing = (await box.call('GET', new URL(String(res.headers.location)).pathname)).json();
        assert.equal(processing.state, 'PROCESSING');
        assert.equal(processing.operation, 'service_instance.create');
        const job = await jobIn(box.call, res);
        assert.equal(job.state, 'COMPLETE');
      } finally {
        broker.settings.delayMs = 0;
      }
      const instance = await instanceByName('slow-db');
      assert.deepEqual([instance.last_operation.type, instance.last_operation.state], ['create', 'succeeded']);
      assert.equal(instance.dashboard_url, `http://dash.example/${instance.guid}`);
      const put = broker.seen.find((s) => s.method === 'PUT' && s.path === `/v2/service_instances/${instance.guid}`)!;
      assert.equal(put.query.get('accepts_incomplete'), 'true');
      assert.deepEqual(put.body.parameters, { size: 's' });
      assert.equal(put.body.space_guid, spaceGuid);
      const events = (await box.call('GET', `/v3/audit_events?target_guids=${instance.guid}`)).json().resources;
      assert.deepEqual(events.map((e: { type: string }) => e.type), ['audit.service_instance.create']);
      assert.equal(events[0].data.request.parameters, '[PRIVATE DATA HIDDEN]');
    });

    // The OSBAPI table: which answers to a provision leave something the platform must clean up.
    const table: [Mode, boolean, RegExp][] = [
      ['500', true, /^provision could not be completed: Service broker 'test-broker' failed PUT \/v2\/service_instances\/[^ ]+ with status 500: the broker broke$/],
      ['timeout', true, /^provision could not be completed: The service broker 'test-broker' at http:\/\/127\.0\.0\.1:\d+ did not answer PUT \/v2\/service_instances\/[^ ]+ within 1\.5 s$/],
      ['garbage', true, /with status 201 and a body that is not what the Open Service Broker API says: <html>not json$/],
      ['200-garbage', true, /with status 200 and a body that is not what the Open Service Broker API says/],
      ['204', true, /with status 204, which the Open Service Broker API does not allow there$/],
      ['408', true, /refused PUT \/v2\/service_instances\/[^ ]+ with status 408: too slow$/],
      ['400', false, /refused PUT \/v2\/service_instances\/[^ ]+ with status 400 \(BadRequest\): plan says no$/],
      ['422-empty', false, /refused PUT \/v2\/service_instances\/[^ ]+ with status 422: \(an empty body\)$/],
    ];
    for (const [mode, orphan, detail] of table) {
      it(`a provision answered ${mode}: the job fails saying so, the instance says create failed, ${orphan ? 'and the matching DELETE is sent once (orphan mitigation)' : 'and no DELETE is sent'}`, async () => {
        broker.modes.provision = mode;
        const name = `orphan-${mode}`;
        try {
          const job = await jobIn(box.call, await create(name));
          assert.equal(job.state, 'FAILED');
          assert.equal(job.errors[0].title, 'CF-UnableToPerform');
          assert.equal(job.errors[0].code, 10009);
          assert.match(job.errors[0].detail, detail);
        } finally {
          broker.modes.provision = 'ok';
        }
        const instance = await instanceByName(name);
        assert.deepEqual([instance.last_operation.type, instance.last_operation.state], ['create', 'failed']);
        assert.match(instance.last_operation.description, new RegExp(detail.source.replace('^provision could not be completed: ', '^')));
        assert.equal(deletesOf(instance.guid).length, orphan ? 1 : 0);
        assert.equal(broker.instances.size, await kept(), "the broker's instances are devbox's");
      });
    }

    it('a failed create keeps its name until a create of the same name replaces it (its broker asked to forget it once more)', async () => {
      const failed = await instanceByName('orphan-500');
      const before = deletesOf(failed.guid).length;
      const again = await jobIn(box.call, await create('orphan-500'));
      assert.equal(again.state, 'COMPLETE');
      const replaced = await instanceByName('orphan-500');
      assert.notEqual(replaced.guid, failed.guid);
      assert.equal(replaced.last_operation.state, 'succeeded');
      assert.equal((await box.call('GET', `/v3/service_instances/${failed.guid}`)).status, 404);
      await waitForDeletes(failed.guid, before + 1);
      assert.equal(broker.instances.size, await kept());
    });

    const waitForDeletes = (id: string, count: number) => waitFor(`${count} DELETEs of ${id} at the broker`, () => deletesOf(id).length === count, { timeoutMs: 5_000 });

    it('four creates of one name at once: one is accepted and provisions, three are refused before the broker hears of them (nothing leaked)', async () => {
      const puts = () => broker.seen.filter((s) => s.method === 'PUT' && /^\/v2\/service_instances\/[^/]+$/.test(s.path)).length;
      const before = puts();
      const answers = await Promise.all([1, 2, 3, 4].map(() => create('racing-db')));
      assert.deepEqual(answers.map((r) => r.status).sort(), [202, 422, 422, 422], answers.map((r) => r.text).join('\n'));
      for (const lost of answers.filter((r) => r.status === 422)) assert.equal(lost.json().errors[0].detail, 'The service instance name is taken: racing-db.');
      assert.equal((await jobIn(box.call, answers.find((r) => r.status === 202)!)).state, 'COMPLETE');
      assert.equal(puts() - before, 1, 'the broker provisioned once');
      assert.equal((await instanceByName('racing-db')).last_operation.state, 'succeeded');
      assert.equal(broker.instances.size, await kept(), "the broker's instance count equals devbox's");
    });

    it('a name being created is taken; a user-provided instance is created at once (201), as Cloud Controller', async () => {
      broker.settings.delayMs = 300;
      try {
        const first = await create('claimed-db');
        assert.equal(first.status, 202);
        const second = await create('claimed-db');
        assert.equal(second.status, 422);
        assert.equal(second.json().errors[0].title, 'CF-UniquenessError');
        await jobIn(box.call, first);
      } finally {
        broker.settings.delayMs = 0;
      }
      const ups = await box.call('POST', '/v3/service_instances', { type: 'user-provided', name: 'ups', relationships: { space: { data: { guid: spaceGuid } } }, credentials: { a: 1 } });
      assert.equal(ups.status, 201, ups.text);
      assert.equal(ups.json().last_operation.state, 'succeeded');
    });

    it('reaches a broker registered under a *.localhost name (the built-in one is, through the router) at 127.0.0.1; deletes a broker without instances', async () => {
      const url = brokerUrl.replace('127.0.0.1', 'other-broker.localhost');
      const created = await box.call('POST', '/v3/service_brokers', { name: 'localhost-broker', url, authentication: { type: 'basic', credentials: { username: 'broker-user', password: 'broker-s3cret' } } });
      assert.equal((await jobIn(box.call, created)).state, 'COMPLETE', created.text);
      assert.equal(broker.seen.at(-1)!.headers.host, new URL(url).host, 'the name is kept in the Host header');
      const guid = (await box.call('GET', '/v3/service_brokers?names=localhost-broker')).json().resources[0].guid;
      assert.equal((await jobIn(box.call, await box.call('DELETE', `/v3/service_brokers/${guid}`))).state, 'COMPLETE');
      assert.equal((await box.call('GET', '/v3/service_offerings?service_broker_names=localhost-broker')).json().resources.length, 0);
    });

    it('a broker that is not there: the job says which broker, where and what happened; no DELETE for a request it never had', async () => {
      await broker.close();
      try {
        const job = await jobIn(box.call, await create('nobody-home'));
        assert.equal(job.state, 'FAILED');
        assert.match(job.errors[0].detail, new RegExp(`^provision could not be completed: The service broker 'test-broker' could not be reached at ${brokerUrl.replace(/\./g, '\\.')}: connection refused \\(ECONNREFUSED\\)$`));
        assert.doesNotMatch(job.errors[0].detail, /devbox up/);
      } finally {
        await broker.listen(Number(new URL(brokerUrl).port));
      }
      const instance = await instanceByName('nobody-home');
      assert.match(instance.last_operation.description, /could not be reached/);
      assert.equal(deletesOf(instance.guid).length, 0);
    });
  });
}
