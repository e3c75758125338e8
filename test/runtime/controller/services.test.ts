// The controller as an Open Service Broker API platform, in the test process
// (helpers/controller.ts) on SQLite and MySQL, against a small broker (helpers.ts) with switches to
// fail: registration and catalog through the API, and orphan mitigation after failed provisions.
// Provision, bind, VCAP_SERVICES, keys and user-provided services through the CLI are in box.test.ts.
import assert from 'node:assert/strict';
import { controllerTestDatabases, startController, type ControllerHarness } from '../../helpers/controller.js';
import { startTestBroker } from './helpers.js';

for (const database of controllerTestDatabases()) {
  describe(`controller as an OSBAPI platform (${database.name}, in-process)`, function () {
    this.timeout(30_000);
    let box: ControllerHarness;
    let spaceGuid: string;
    let brokerUrl: string;
    let timeoutBefore: string | undefined;
    const broker = startTestBroker('broker-user', 'broker-s3cret');

    before(async () => {
      // The controller reads its broker timeout at each call: 1.5 s here, as box.test.ts gives its box
      // (not CF's 60), shorter still for the provision that times out.
      timeoutBefore = process.env.DEVBOX_BROKER_TIMEOUT_MS;
      process.env.DEVBOX_BROKER_TIMEOUT_MS = '1500';
      brokerUrl = `http://127.0.0.1:${await broker.listen()}`;
      await database.start();
      box = await startController({ database });
      spaceGuid = (await box.call('GET', '/v3/spaces?names=dev')).json().resources[0].guid;
    });
    after(async () => {
      if (timeoutBefore === undefined) delete process.env.DEVBOX_BROKER_TIMEOUT_MS;
      else process.env.DEVBOX_BROKER_TIMEOUT_MS = timeoutBefore;
      await box?.stop();
      await database.stop();
      broker.close();
    });

    const instanceByName = async (name: string) => (await box.call('GET', `/v3/service_instances?names=${name}`)).json().resources[0];
    const deletesOf = (id: string) => broker.seen.filter((s) => s.method === 'DELETE' && s.path.includes(id));

    it('registers a broker through the API, fetching its catalog, and never shows its password', async () => {
      const created = await box.call('POST', '/v3/service_brokers', { name: 'test-broker', url: brokerUrl, authentication: { type: 'basic', credentials: { username: 'broker-user', password: 'broker-s3cret' } } });
      assert.equal(created.status, 202, created.text);
      const job = new URL(String(created.headers.location));
      assert.equal((await box.call('GET', job.pathname)).json().state, 'COMPLETE');
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

      const refused = await box.call('POST', '/v3/service_brokers', { name: 'bad', url: brokerUrl, authentication: { type: 'basic', credentials: { username: 'x', password: 'y' } } });
      assert.equal(refused.status, 502);
      assert.equal(refused.json().errors[0].title, 'CF-ServiceBrokerBadResponse');
    });

    for (const mode of ['500', 'timeout', 'garbage'] as const) {
      it(`sends the matching DELETE after a provision that ${mode === '500' ? 'failed with 500' : mode === 'timeout' ? 'timed out' : 'answered an unreadable 201'} (orphan mitigation)`, async () => {
        broker.modes.provision = mode;
        if (mode === 'timeout') process.env.DEVBOX_BROKER_TIMEOUT_MS = '500';
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
          process.env.DEVBOX_BROKER_TIMEOUT_MS = '1500';
        }
      });
    }

    it('four creates of one name at once: one provisions and is created, three are refused before the broker hears of them (nothing leaked)', async () => {
      const plan = (await box.call('GET', '/v3/service_plans?names=tiny')).json().resources[0];
      const puts = () => broker.seen.filter((s) => s.method === 'PUT' && /^\/v2\/service_instances\/[^/]+$/.test(s.path)).length;
      const before = puts();
      const body = { type: 'managed', name: 'racing-db', relationships: { space: { data: { guid: spaceGuid } }, service_plan: { data: { guid: plan.guid } } } };
      const answers = await Promise.all([1, 2, 3, 4].map(() => box.call('POST', '/v3/service_instances', body)));
      assert.deepEqual(answers.map((r) => r.status).sort(), [201, 422, 422, 422], answers.map((r) => r.text).join('\n'));
      for (const lost of answers.filter((r) => r.status === 422)) assert.equal(lost.json().errors[0].detail, 'The service instance name is taken: racing-db.');
      assert.equal(puts() - before, 1, "the broker provisioned once: its instance count equals devbox's");
      const created = await instanceByName('racing-db');
      assert.equal(created.last_operation.state, 'succeeded');
    });

    it('withdraws the name when the broker fails to provision: it can be used again', async () => {
      const plan = (await box.call('GET', '/v3/service_plans?names=tiny')).json().resources[0];
      broker.modes.provision = '500';
      try {
        const res = await box.call('POST', '/v3/service_instances', { type: 'managed', name: 'withdrawn-db', relationships: { space: { data: { guid: spaceGuid } }, service_plan: { data: { guid: plan.guid } } } });
        assert.equal(res.status, 502, res.text);
      } finally {
        broker.modes.provision = 'ok';
      }
      assert.equal(await instanceByName('withdrawn-db'), undefined, 'the name is free again');
      const again = await box.call('POST', '/v3/service_instances', { type: 'managed', name: 'withdrawn-db', relationships: { space: { data: { guid: spaceGuid } }, service_plan: { data: { guid: plan.guid } } } });
      assert.equal(again.status, 201, again.text);
    });
  });
}
