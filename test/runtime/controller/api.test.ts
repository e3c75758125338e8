// The controller's v3 API in the test process (helpers/controller.ts), on SQLite in memory and on
// MySQL: its real server, routes and database, tokens with uaa's claims. What needs a whole box
// (the database chosen by `up --db`, state across down and up) is in box.test.ts.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { request } from '../../../src/runtime/common/http.js';
import { controllerTestDatabases, startController, type ControllerHarness } from '../../helpers/controller.js';

for (const database of controllerTestDatabases()) {
  describe(`controller API (${database.name}, in-process)`, function () {
    this.timeout(30_000);
    let box: ControllerHarness;
    let spaceGuid: string;

    before(async () => {
      await database.start();
      box = await startController({ database });
      const spaces = (await box.call('GET', '/v3/spaces?names=dev')).json();
      spaceGuid = spaces.resources[0].guid;
    });
    after(async () => {
      await box?.stop();
      await database.stop();
    });

    const createApp = async (name: string, extra: Record<string, unknown> = {}) =>
      box.call('POST', '/v3/apps', { name, relationships: { space: { data: { guid: spaceGuid } } }, ...extra });

    it(`keeps its state in ${database.name}`, async () => {
      assert.equal(box.dialect, database.name);
    });

    it('describes its endpoints without a token', async () => {
      const root = JSON.parse((await request({ url: `${box.api}/` })).text);
      assert.equal(root.links.uaa.href, box.uaa);
      assert.equal(root.links.cloud_controller_v3.href, `${box.api}/v3`);
      assert.match(root.links.log_stream.href, /^http:\/\/logs\.localhost:\d+$/);
      const info = await request({ url: `${box.api}/v3/info` });
      assert.equal(info.status, 200);
      assert.equal(JSON.parse(info.text).links.uaa.href, box.uaa);
    });

    it('refuses requests without a token, with a bad one, a forged one or an expired one', async () => {
      const missing = await request({ url: `${box.api}/v3/apps` });
      assert.equal(missing.status, 401);
      assert.deepEqual(JSON.parse(missing.text).errors[0], { detail: 'Authentication error', title: 'CF-NotAuthenticated', code: 10002 });
      const garbage = await request({ url: `${box.api}/v3/apps`, headers: { authorization: 'bearer not.a.jwt' } });
      assert.equal(garbage.status, 401);
      assert.equal(JSON.parse(garbage.text).errors[0].title, 'CF-InvalidAuthToken');

      const claims = JSON.parse(Buffer.from(box.token.split('.')[1], 'base64url').toString());
      const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const forged = await box.mint({ ...claims }, { privateKey });
      const forgedRes = await request({ url: `${box.api}/v3/apps`, headers: { authorization: `bearer ${forged}` } });
      assert.equal(forgedRes.status, 401);
      assert.equal(JSON.parse(forgedRes.text).errors[0].title, 'CF-InvalidAuthToken');

      const past = Math.floor(Date.now() / 1000) - 3600;
      const expired = await box.mint({ ...claims, iat: past - 60, exp: past });
      const expiredRes = await request({ url: `${box.api}/v3/apps`, headers: { authorization: `bearer ${expired}` } });
      assert.equal(expiredRes.status, 401);
      assert.equal(JSON.parse(expiredRes.text).errors[0].title, 'CF-InvalidAuthToken');
    });

    it('lets read-only tokens read, and refuses them writes and tokens without a cloud_controller scope (403)', async () => {
      const reader = await box.mint({ scope: ['openid', 'cloud_controller.read'] });
      const read = await box.call('GET', '/v3/apps', undefined, { authorization: `bearer ${reader}` });
      assert.equal(read.status, 200, read.text);
      const write = await box.call('POST', '/v3/apps', { name: 'not-written', relationships: { space: { data: { guid: spaceGuid } } } }, { authorization: `bearer ${reader}` });
      assert.equal(write.status, 403);
      assert.deepEqual(write.json().errors[0], { detail: 'You are not authorized to perform the requested action', title: 'CF-NotAuthorized', code: 10003 });
      const none = await box.mint({ scope: ['openid'] });
      assert.equal((await box.call('GET', '/v3/apps', undefined, { authorization: `bearer ${none}` })).status, 403);
      assert.equal((await box.call('GET', '/v3/apps?names=not-written')).json().resources.length, 0);
    });

    it('has the default org, space and shared domain', async () => {
      const orgs = (await box.call('GET', '/v3/organizations')).json();
      assert.deepEqual(orgs.resources.map((o: { name: string }) => o.name), ['devbox']);
      const spaces = (await box.call('GET', `/v3/spaces?organization_guids=${orgs.resources[0].guid}`)).json();
      assert.deepEqual(spaces.resources.map((s: { name: string }) => s.name), ['dev']);
      const domains = (await box.call('GET', '/v3/domains')).json();
      assert.equal(domains.resources[0].name, 'localhost');
      assert.equal(domains.resources[0].relationships.organization.data, null, 'shared');
    });

    it('creates an app with the v3 shape and its web process', async () => {
      const res = await createApp('shape-app', { environment_variables: { GREETING: 'hi' }, metadata: { labels: { team: 'a' } } });
      assert.equal(res.status, 201, res.text);
      const app = res.json();
      assert.match(app.guid, /^[0-9a-f-]{36}$/);
      assert.equal(app.name, 'shape-app');
      assert.equal(app.state, 'STOPPED');
      assert.ok(Date.parse(app.created_at) && Date.parse(app.updated_at));
      assert.deepEqual(app.relationships, { space: { data: { guid: spaceGuid } } });
      assert.deepEqual(app.metadata.labels, { team: 'a' });
      assert.deepEqual(app.lifecycle, { type: 'buildpack', data: { buildpacks: [], stack: 'host' } });
      assert.equal(app.links.self.href, `${box.api}/v3/apps/${app.guid}`);
      assert.deepEqual(app.links.start, { href: `${box.api}/v3/apps/${app.guid}/actions/start`, method: 'POST' });

      const processes = (await box.call('GET', `/v3/apps/${app.guid}/processes`)).json();
      assert.equal(processes.resources.length, 1);
      const web = processes.resources[0];
      assert.equal(web.type, 'web');
      assert.equal(web.instances, 1);
      assert.equal(web.memory_in_mb, 256);
      assert.equal(web.disk_in_mb, 1024);
      assert.equal(web.health_check.type, 'port');
      const env = (await box.call('GET', `/v3/apps/${app.guid}/environment_variables`)).json();
      assert.deepEqual(env.var, { GREETING: 'hi' });
      assert.deepEqual(
        box.appLogs.filter((l) => l.appGuid === app.guid),
        [{ appGuid: app.guid, source: 'API', message: `Created app with guid ${app.guid}`, type: 'OUT' }],
        'one [API/0] line on the app log',
      );
    });

    it('answers bad requests with Cloud Controller errors', async () => {
      const duplicate = await createApp('shape-app');
      assert.equal(duplicate.status, 422);
      assert.equal(duplicate.json().errors[0].title, 'CF-UniquenessError');
      assert.equal(duplicate.json().errors[0].code, 10016);

      const unknownField = await createApp('other', { colour: 'red' });
      assert.equal(unknownField.status, 422);
      assert.deepEqual(unknownField.json().errors[0], { detail: "Unknown field(s): 'colour'", title: 'CF-UnprocessableEntity', code: 10008 });

      const wrongType = await box.call('POST', '/v3/apps', { name: 42, relationships: { space: { data: { guid: spaceGuid } } } });
      assert.equal(wrongType.status, 422);
      assert.match(wrongType.json().errors[0].detail, /Name must be a string/);

      const badJson = await box.call('POST', '/v3/apps', '{"name": ');
      assert.equal(badJson.status, 400);
      assert.equal(badJson.json().errors[0].title, 'CF-MessageParseError');

      const noSpace = await box.call('POST', '/v3/apps', { name: 'x', relationships: { space: { data: { guid: 'nope' } } } });
      assert.equal(noSpace.status, 422);
      assert.match(noSpace.json().errors[0].detail, /Invalid space/);

      const missing = await box.call('GET', '/v3/apps/00000000-0000-0000-0000-000000000000');
      assert.equal(missing.status, 404);
      assert.deepEqual(missing.json().errors[0], { detail: 'App not found', title: 'CF-ResourceNotFound', code: 10010 });

      const badPage = await box.call('GET', '/v3/apps?per_page=0');
      assert.equal(badPage.status, 400);
      assert.equal(badPage.json().errors[0].title, 'CF-BadQueryParameter');

      const unknownPath = await box.call('GET', '/v3/nothing-here');
      assert.equal(unknownPath.status, 404);
      assert.equal(unknownPath.json().errors[0].title, 'CF-NotFound');

      const noDroplet = await box.call('POST', `/v3/apps/${(await box.call('GET', '/v3/apps?names=shape-app')).json().resources[0].guid}/actions/start`);
      assert.equal(noDroplet.status, 422);
      assert.match(noDroplet.json().errors[0].detail, /Assign a droplet before starting this app/);
      assert.equal(box.runner.starts.length, 0, 'nothing was started');
    });

    it('paginates, filters and orders lists', async () => {
      for (const name of ['page-c', 'page-a', 'page-b']) assert.equal((await createApp(name)).status, 201);
      const first = (await box.call('GET', '/v3/apps?names=page-a,page-b,page-c&per_page=2&order_by=name')).json();
      assert.equal(first.pagination.total_results, 3);
      assert.equal(first.pagination.total_pages, 2);
      assert.deepEqual(first.resources.map((a: { name: string }) => a.name), ['page-a', 'page-b']);
      assert.equal(first.pagination.previous, null);
      const nextPath = new URL(first.pagination.next.href);
      assert.equal(nextPath.origin, box.api, 'links point at the API');
      const second = (await box.call('GET', `${nextPath.pathname}${nextPath.search}`)).json();
      assert.deepEqual(second.resources.map((a: { name: string }) => a.name), ['page-c']);
      assert.equal(second.pagination.next, null);
      const desc = (await box.call('GET', '/v3/apps?names=page-a,page-b,page-c&order_by=-name')).json();
      assert.deepEqual(desc.resources.map((a: { name: string }) => a.name), ['page-c', 'page-b', 'page-a']);
      const bySpace = (await box.call('GET', `/v3/apps?space_guids=${spaceGuid}&names=page-a`)).json();
      assert.equal(bySpace.resources.length, 1);
    });

    it('scales processes, changes env, maps routes, and records every change as an audit event', async () => {
      const app = (await createApp('event-app')).json();
      const scaled = await box.call('POST', `/v3/apps/${app.guid}/processes/web/actions/scale`, { instances: 3, memory_in_mb: 128 });
      assert.equal(scaled.status, 202, scaled.text);
      assert.equal(scaled.json().instances, 3);
      assert.equal(scaled.json().memory_in_mb, 128);
      const badScale = await box.call('POST', `/v3/apps/${app.guid}/processes/web/actions/scale`, { instances: -1 });
      assert.equal(badScale.status, 422);

      const env = await box.call('PATCH', `/v3/apps/${app.guid}/environment_variables`, { var: { A: '1', B: 'two' } });
      assert.deepEqual(env.json().var, { A: '1', B: 'two' });
      const unset = await box.call('PATCH', `/v3/apps/${app.guid}/environment_variables`, { var: { A: null } });
      assert.deepEqual(unset.json().var, { B: 'two' });
      const vcap = await box.call('PATCH', `/v3/apps/${app.guid}/environment_variables`, { var: { VCAP_X: '1' } });
      assert.equal(vcap.status, 422);

      const domain = (await box.call('GET', '/v3/domains?names=localhost')).json().resources[0];
      const route = await box.call('POST', '/v3/routes', { host: 'event-app', relationships: { domain: { data: { guid: domain.guid } }, space: { data: { guid: spaceGuid } } } });
      assert.equal(route.status, 201, route.text);
      assert.equal(route.json().url, 'event-app.localhost');
      const again = await box.call('POST', '/v3/routes', { host: 'event-app', relationships: { domain: { data: { guid: domain.guid } }, space: { data: { guid: spaceGuid } } } });
      assert.equal(again.status, 422);
      assert.equal(again.json().errors[0].title, 'CF-UniquenessError');
      const badHost = await box.call('POST', '/v3/routes', { host: 'bad host!', relationships: { domain: { data: { guid: domain.guid } }, space: { data: { guid: spaceGuid } } } });
      assert.equal(badHost.status, 422);
      const mapped = await box.call('POST', `/v3/routes/${route.json().guid}/destinations`, { destinations: [{ app: { guid: app.guid } }] });
      assert.equal(mapped.status, 200, mapped.text);
      assert.equal(mapped.json().destinations[0].app.guid, app.guid);
      const appRoutes = (await box.call('GET', `/v3/apps/${app.guid}/routes`)).json();
      assert.deepEqual(appRoutes.resources.map((r: { url: string }) => r.url), ['event-app.localhost']);
      const appEnv = (await box.call('GET', `/v3/apps/${app.guid}/env`)).json();
      assert.deepEqual(appEnv.application_env_json.VCAP_APPLICATION.uris, ['event-app.localhost']);
      assert.equal(appEnv.application_env_json.VCAP_APPLICATION.limits.mem, 128);

      const events = (await box.call('GET', `/v3/audit_events?target_guids=${app.guid}`)).json();
      const types = events.resources.map((e: { type: string }) => e.type);
      assert.deepEqual(types, ['audit.app.create', 'audit.app.process.scale', 'audit.app.update', 'audit.app.update', 'audit.app.map-route']);
      const event = events.resources[0];
      assert.equal(event.actor.type, 'user');
      assert.equal(event.actor.name, 'admin');
      assert.equal(event.target.name, 'event-app');
      assert.ok(!JSON.stringify(events).includes('two'), 'env values are not in events');
      assert.ok(!box.appLogs.some((l) => l.message.includes('two')), 'nor in the app log');
    });

    it('deletes apps with a job, and their routes outlive them unmapped', async () => {
      const before = (await box.call('GET', '/v3/apps?names=event-app')).json().resources[0];
      const processes = (await box.call('GET', `/v3/apps/${before.guid}/processes`)).json();
      assert.equal(processes.resources[0].instances, 3);
      box.runner.clear();

      const deleted = await box.call('DELETE', `/v3/apps/${before.guid}`);
      assert.equal(deleted.status, 202);
      const job = new URL(String(deleted.headers.location));
      assert.equal(job.origin, box.api);
      assert.equal((await box.call('GET', job.pathname)).json().state, 'COMPLETE');
      assert.equal((await box.call('GET', `/v3/apps/${before.guid}`)).status, 404);
      const route = (await box.call('GET', '/v3/routes?hosts=event-app')).json().resources[0];
      assert.deepEqual(route.destinations, [], 'routes outlive the app, unmapped');
      assert.deepEqual(box.runner.stops.map((s) => s.processGuid), [before.guid], 'its instances are stopped');
      assert.equal(box.runner.stops[0].filter?.indices, undefined, 'all of them');
    });
  });
}
