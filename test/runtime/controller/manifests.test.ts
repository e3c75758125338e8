// What `cf push` and the app-level cf commands ask of the controller, in the test process
// (helpers/controller.ts), on SQLite and on MySQL: space manifests (apply_manifest as a job,
// manifest_diff, an app's manifest), zip packages as cf uploads them (and the zips that must be
// refused), restart-app-instance, delete-space and updating a service instance.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { request } from '../../../src/runtime/common/http.js';
import { resource, tarball, untar, uploadBody } from '../../helpers/archives.js';
import { controllerTestDatabases, startController, type ControllerHarness } from '../../helpers/controller.js';
import { zipArchive } from '../../helpers/zip.js';
import { jobIn, startTestBroker } from './helpers.js';

const LIMIT = 1024 * 1024;
const YAML = { 'content-type': 'application/x-yaml' };

for (const database of controllerTestDatabases()) {
  describe(`controller: cf push and the app commands (manifests, zip packages, instances; ${database.name}, in-process)`, function () {
    this.timeout(30_000);
    let box: ControllerHarness;
    let spaceGuid: string;
    let upsGuid: string;

    before(async () => {
      await database.start();
      box = await startController({ database, maxPackageBytes: LIMIT });
      spaceGuid = (await box.call('GET', '/v3/spaces?names=dev')).json().resources[0].guid;
      const ups = await box.call('POST', '/v3/service_instances', { type: 'user-provided', name: 'my-db', credentials: { uri: 'mysql://u:p@db:3306/x' }, relationships: { space: { data: { guid: spaceGuid } } } });
      assert.equal(ups.status, 201, ups.text);
      upsGuid = ups.json().guid;
    });
    after(async () => {
      await box?.stop();
      await database.stop();
    });

    const apply = (manifest: string, space = spaceGuid) => box.call('POST', `/v3/spaces/${space}/actions/apply_manifest`, manifest, YAML);
    const job = async (location: string | undefined) => {
      assert.ok(location, 'a 202 names its job in Location');
      return (await box.call('GET', new URL(location).pathname)).json();
    };
    const appNamed = async (name: string) => (await box.call('GET', `/v3/apps?names=${name}&space_guids=${spaceGuid}`)).json().resources[0];
    const web = async (appGuid: string) => (await box.call('GET', `/v3/apps/${appGuid}/processes/web`)).json();
    const routeUrls = async (appGuid: string) => ((await box.call('GET', `/v3/apps/${appGuid}/routes`)).json().resources as { url: string }[]).map((r) => r.url).sort();
    const counts = async () => ({
      apps: (await box.call('GET', '/v3/apps')).json().pagination.total_results,
      routes: (await box.call('GET', '/v3/routes')).json().pagination.total_results,
      bindings: (await box.call('GET', '/v3/service_credential_bindings')).json().pagination.total_results,
    });

    describe('apply_manifest', () => {
      const manifest = `---
applications:
- name: shop
  path: /somewhere/on/the/client
  instances: 2
  memory: 128M
  disk_quota: 512M
  log-rate-limit-per-second: 16K
  command: node server.js
  health-check-type: http
  health-check-http-endpoint: /health
  timeout: 30
  env:
    GREETING: hello
    COUNT: 3
  routes:
  - route: shop.localhost
  - route: shop-api.localhost/v1
  services:
  - my-db
`;

      it('creates the app, its process, env, routes and binding, and answers a COMPLETE job', async () => {
        const res = await apply(manifest);
        assert.equal(res.status, 202, res.text);
        const done = await job(res.headers.location as string);
        assert.equal(done.state, 'COMPLETE', JSON.stringify(done.errors));
        assert.equal(done.operation, 'space.apply_manifest');

        const app = await appNamed('shop');
        assert.ok(app, 'the app exists');
        assert.equal(app.state, 'STOPPED');
        const env = (await box.call('GET', `/v3/apps/${app.guid}/environment_variables`)).json().var;
        assert.deepEqual(env, { GREETING: 'hello', COUNT: '3' });
        const process = await web(app.guid);
        assert.equal(process.instances, 2);
        assert.equal(process.memory_in_mb, 128);
        assert.equal(process.disk_in_mb, 512);
        assert.equal(process.log_rate_limit_in_bytes_per_second, 16 * 1024);
        assert.equal(process.command, 'node server.js');
        assert.deepEqual(process.health_check, { type: 'http', data: { timeout: 30, invocation_timeout: null, endpoint: '/health' } });
        assert.deepEqual(await routeUrls(app.guid), ['shop-api.localhost/v1', 'shop.localhost']);
        const bindings = (await box.call('GET', `/v3/service_credential_bindings?app_guids=${app.guid}`)).json().resources;
        assert.equal(bindings.length, 1);
        assert.equal(bindings[0].relationships.service_instance.data.guid, upsGuid);
        const events = (await box.call('GET', `/v3/audit_events?target_guids=${app.guid}`)).json().resources.map((e: { type: string }) => e.type);
        assert.ok(events.includes('audit.app.create') && events.includes('audit.app.apply_manifest'), events.join(', '));
      });

      it('applies the same manifest again without changing or duplicating anything', async () => {
        const app = await appNamed('shop');
        const before = await web(app.guid);
        const counted = await counts();
        const res = await apply(manifest);
        assert.equal(res.status, 202, res.text);
        assert.equal((await job(res.headers.location as string)).state, 'COMPLETE');
        assert.equal((await appNamed('shop')).guid, app.guid);
        const after = await web(app.guid);
        assert.equal(after.version, before.version, 'nothing changed, so the instances keep running');
        assert.deepEqual(await counts(), counted);
      });

      it('changes what a new manifest changes and keeps the rest (a new instance count is no restart)', async () => {
        const app = await appNamed('shop');
        const before = await web(app.guid);
        const res = await apply('applications:\n- name: shop\n  instances: 3\n  env:\n    GREETING: bye\n');
        assert.equal(res.status, 202, res.text);
        const after = await web(app.guid);
        assert.equal(after.instances, 3);
        assert.equal(after.memory_in_mb, 128, 'what the manifest leaves out stays');
        assert.equal(after.version, before.version, 'a new instance count is no restart');
        const env = (await box.call('GET', `/v3/apps/${app.guid}/environment_variables`)).json().var;
        assert.deepEqual(env, { GREETING: 'bye', COUNT: '3' }, 'env is merged, as CC patches it');
        assert.deepEqual(await routeUrls(app.guid), ['shop-api.localhost/v1', 'shop.localhost'], 'routes are only ever added by a manifest');
      });

      it('maps the default route when the manifest asks for none and the app has none; no-route unmaps', async () => {
        const res = await apply('applications:\n- name: Plain_App\n  default-route: true\n');
        assert.equal(res.status, 202, res.text);
        const app = await appNamed('Plain_App');
        assert.deepEqual(await routeUrls(app.guid), ['plain-app.localhost']);
        assert.equal((await web(app.guid)).instances, 1);

        await apply('applications:\n- name: Plain_App\n');
        assert.deepEqual(await routeUrls(app.guid), ['plain-app.localhost'], 'an app with a route gets no second default');

        await apply('applications:\n- name: Plain_App\n  no-route: true\n');
        assert.deepEqual(await routeUrls(app.guid), []);
        const routes = (await box.call('GET', '/v3/routes?hosts=plain-app')).json().resources;
        assert.equal(routes.length, 1, 'no-route unmaps the route and keeps it');

        await apply('applications:\n- name: lucky\n  random-route: true\n');
        const [random] = await routeUrls((await appNamed('lucky')).guid);
        assert.match(random, /^lucky-[a-z]+-[a-z]+-\d+\.localhost$/);
      });

      it('refuses a bad manifest with every problem named, and creates nothing', async () => {
        const counted = await counts();
        const res = await apply(`applications:
- name: broken
  instances: -1
  memory: lots
  colour: blue
  health-check-type: tcp
- name: fine
  services: [no-such-service]
  routes:
  - route: x.not-a-domain.example
`);
        assert.equal(res.status, 422, res.text);
        const details = (res.json().errors as { detail: string; title: string }[]).map((e) => e.detail);
        assert.ok(res.json().errors.every((e: { title: string }) => e.title === 'CF-UnprocessableEntity'));
        assert.ok(details.includes("For application 'broken': Unknown field(s): 'colour'"), details.join('\n'));
        assert.ok(details.includes("For application 'broken': Instances must be greater than or equal to 0"), details.join('\n'));
        assert.ok(details.includes("For application 'broken': Memory is not a number"), details.join('\n'));
        assert.ok(details.some((d) => d.startsWith("For application 'broken': Health check type must be")), details.join('\n'));
        // The first app is bad, so the second's references are not even looked at; alone, they are.
        const second = await apply('applications:\n- name: fine\n  services: [no-such-service]\n  routes:\n  - route: x.not-a-domain.example\n');
        assert.equal(second.status, 422, second.text);
        const more = (second.json().errors as { detail: string }[]).map((e) => e.detail);
        assert.deepEqual(more.sort(), ["For application 'fine': Service instance 'no-such-service' not found", "For application 'fine': The route 'x.not-a-domain.example' did not match any existing domains."]);
        assert.deepEqual(await counts(), counted, 'nothing was created');
        assert.equal(await appNamed('fine'), undefined);
      });

      it('refuses what is not a manifest: not YAML, not yaml content, no applications, another space', async () => {
        assert.equal((await apply('applications: [unclosed')).status, 400);
        assert.equal((await box.call('POST', `/v3/spaces/${spaceGuid}/actions/apply_manifest`, 'applications: []', { 'content-type': 'application/json' })).status, 400);
        const none = await apply('version: 1\n');
        assert.equal(none.status, 422);
        assert.match(none.json().errors[0].detail, /no 'applications' field/);
        assert.equal((await apply('version: 2\napplications:\n- name: x\n')).status, 422);
        assert.equal((await apply('applications:\n- name: x\n', 'no-such-space')).status, 404);
        const control = await apply('applications:\n- name: "bad\\e[31mname"\n');
        assert.equal(control.status, 422);
        assert.equal(control.json().errors[0].detail, 'For application at index 0: Name must not contain control characters (line breaks, tabs, NUL, escapes): use printable characters only');
        const docker = await apply('applications:\n- name: dock\n  docker:\n    image: nginx\n');
        assert.equal(docker.status, 422);
        assert.match(docker.json().errors[0].detail, /^For application 'dock': Docker apps are not supported/);
      });

      it('refuses a route that belongs to another space', async () => {
        const org = (await box.call('GET', '/v3/organizations')).json().resources[0].guid;
        const other = (await box.call('POST', '/v3/spaces', { name: 'other', relationships: { organization: { data: { guid: org } } } })).json().guid;
        const res = await apply('applications:\n- name: intruder\n  routes:\n  - route: shop.localhost\n', other);
        assert.equal(res.status, 422, res.text);
        assert.match(res.json().errors[0].detail, /route is not in this space/);
      });
    });

    describe('a managed service (a broker)', () => {
      const broker = startTestBroker('broker-user', 'broker-s3cret');
      let instanceGuid: string;
      before(async () => {
        const url = `http://127.0.0.1:${await broker.listen()}`;
        const created = await box.call('POST', '/v3/service_brokers', { name: 'manifest-broker', url, authentication: { type: 'basic', credentials: { username: 'broker-user', password: 'broker-s3cret' } } });
        assert.equal((await jobIn(box.call, created)).state, 'COMPLETE', created.text);
        const plan = (await box.call('GET', '/v3/service_plans?names=tiny')).json().resources[0];
        const instance = await box.call('POST', '/v3/service_instances', { type: 'managed', name: 'tiny-db', relationships: { space: { data: { guid: spaceGuid } }, service_plan: { data: { guid: plan.guid } } } });
        assert.equal((await jobIn(box.call, instance)).state, 'COMPLETE');
        instanceGuid = (await box.call('GET', '/v3/service_instances?names=tiny-db')).json().resources[0].guid;
      });
      after(() => broker.close());

      it('a binding the broker refuses fails the job with its error (the binding says create failed); the rest is applied, and applied again it binds', async () => {
        broker.modes.bind = '400';
        try {
          const res = await apply('applications:\n- name: needs-db\n  instances: 2\n  services: [tiny-db]\n');
          assert.equal(res.status, 202, res.text);
          const failed = await job(res.headers.location as string);
          assert.equal(failed.state, 'FAILED');
          assert.match(failed.errors[0].detail, /^For application 'needs-db': For service 'tiny-db': bind could not be completed: .*plan says no$/);
          const app = await appNamed('needs-db');
          assert.equal((await web(app.guid)).instances, 2);
          const bindings = (await box.call('GET', `/v3/service_credential_bindings?app_guids=${app.guid}`)).json().resources;
          assert.deepEqual(bindings.map((b: { last_operation: { type: string; state: string } }) => `${b.last_operation.type} ${b.last_operation.state}`), ['create failed']);
        } finally {
          broker.modes.bind = 'ok';
        }
        const again = await apply('applications:\n- name: needs-db\n  services: [tiny-db]\n');
        assert.equal((await job(again.headers.location as string)).state, 'COMPLETE');
        const bound = (await box.call('GET', `/v3/service_credential_bindings?app_guids=${(await appNamed('needs-db')).guid}`)).json().resources;
        assert.deepEqual(bound.map((b: { last_operation: { state: string } }) => b.last_operation.state), ['succeeded']);
      });

      it('a managed instance is renamed and retagged; a plan its offering does not let change is refused', async () => {
        const renamed = await box.call('PATCH', `/v3/service_instances/${instanceGuid}`, { name: 'small-db', tags: ['t'] });
        assert.equal(renamed.status, 200, renamed.text);
        assert.equal(renamed.json().name, 'small-db');
        const big = (await box.call('GET', '/v3/service_plans?names=big')).json().resources[0];
        const plan = await box.call('PATCH', `/v3/service_instances/${instanceGuid}`, { relationships: { service_plan: { data: { guid: big.guid } } } });
        assert.equal(plan.status, 422);
        assert.equal(plan.json().errors[0].detail, 'The service does not support changing plans.');
        const credentials = await box.call('PATCH', `/v3/service_instances/${instanceGuid}`, { credentials: { a: 1 } });
        assert.equal(credentials.status, 422);
        assert.equal(broker.seen.filter((s) => s.method === 'PATCH').length, 0, 'the broker was not asked');
      });
    });

    describe('manifest_diff and the app manifest', () => {
      it('diffs a manifest against the space as CC does', async () => {
        const res = await box.call('POST', `/v3/spaces/${spaceGuid}/manifest_diff`, 'applications:\n- name: shop\n  instances: 5\n  env:\n    GREETING: bye\n    NEW: x\n- name: brand-new\n  instances: 1\n', YAML);
        assert.equal(res.status, 201, res.text);
        const diff = res.json().diff as { op: string; path: string; value?: unknown; was?: unknown }[];
        assert.deepEqual(diff.find((d) => d.path === '/applications/0/instances'), { op: 'replace', path: '/applications/0/instances', value: 5, was: 3 });
        assert.deepEqual(diff.find((d) => d.path === '/applications/0/env/NEW'), { op: 'add', path: '/applications/0/env/NEW', value: 'x' });
        assert.deepEqual(diff.find((d) => d.path === '/applications/0/env/COUNT'), { op: 'remove', path: '/applications/0/env/COUNT', was: '3' });
        assert.equal(diff.some((d) => d.path === '/applications/0/env/GREETING'), false, 'unchanged keys are not in the diff');
        assert.deepEqual(diff.find((d) => d.path === '/applications/1/name'), { op: 'add', path: '/applications/1/name', value: 'brand-new' });
        assert.equal(await appNamed('brand-new'), undefined, 'a diff changes nothing');
        const bad = await box.call('POST', `/v3/spaces/${spaceGuid}/manifest_diff`, 'applications:\n- name: shop\n  instances: many\n', YAML);
        assert.equal(bad.status, 422);
      });

      it('renders an app as the manifest cf create-app-manifest writes, and it applies back unchanged', async () => {
        const app = await appNamed('shop');
        const res = await box.call('GET', `/v3/apps/${app.guid}/manifest`);
        assert.equal(res.status, 200, res.text);
        assert.match(String(res.headers['content-type']), /^application\/x-yaml/);
        const doc = parse(res.text);
        const [shop] = doc.applications;
        assert.equal(shop.name, 'shop');
        assert.deepEqual(shop.env, { GREETING: 'bye', COUNT: '3' });
        assert.deepEqual(shop.services, ['my-db']);
        assert.deepEqual(shop.routes, [{ route: 'shop-api.localhost/v1', protocol: 'http1' }, { route: 'shop.localhost', protocol: 'http1' }]);
        assert.deepEqual(shop.processes[0], { type: 'web', instances: 3, memory: '128M', disk_quota: '512M', 'log-rate-limit-per-second': '16K', command: 'node server.js', 'health-check-type': 'http', 'health-check-http-endpoint': '/health', timeout: 30 });
        const diff = (await box.call('POST', `/v3/spaces/${spaceGuid}/manifest_diff`, res.text, YAML)).json().diff;
        assert.deepEqual(diff, [], 'its own manifest is no change');
        const before = await web(app.guid);
        assert.equal((await apply(res.text)).status, 202);
        assert.equal((await web(app.guid)).version, before.version);
      });
    });

    describe('zip packages (what cf uploads)', () => {
      let appGuid: string;
      before(async () => {
        appGuid = (await appNamed('shop')).guid;
      });
      const newPackage = async () => (await box.call('POST', '/v3/packages', { type: 'bits', relationships: { app: { data: { guid: appGuid } } } })).json().guid as string;
      const upload = async (guid: string, resources: unknown[], bits?: Buffer) => {
        const { body, contentType } = uploadBody(resources, bits);
        return request({ url: `${box.api}/v3/packages/${guid}/upload`, method: 'POST', headers: { authorization: `bearer ${box.token}`, 'content-type': contentType }, body });
      };
      const download = async (guid: string) => {
        const res = await fetch(`http://127.0.0.1:${new URL(box.api).port}/v3/packages/${guid}/download`, { headers: { authorization: `bearer ${box.token}` }, signal: AbortSignal.timeout(10_000) });
        assert.equal(res.status, 200);
        return untar(Buffer.from(await res.arrayBuffer()));
      };
      const spooled = () => fs.readdirSync(path.join(box.blobsDir, 'tmp'));

      it('stores a zip: files with their modes, directories, links inside the app, and matched resources', async () => {
        const guid = await newPackage();
        const known = await newPackage();
        // One file the blobstore gets first, so that the zip upload can match it.
        assert.equal((await upload(known, [], zipArchive([{ path: 'lib/shared.js', content: 'module.exports = 42' }]))).status, 200);
        const zip = zipArchive([
          { path: 'bin/', type: 'directory' },
          { path: 'bin/start', content: '#!/bin/sh\nexec node server.js\n', mode: 0o755 },
          { path: 'server.js', content: 'require("http").createServer((q, s) => s.end("zip")).listen(process.env.PORT)' },
          { path: 'big.txt', content: 'x'.repeat(100_000) },
          { path: 'current', type: 'symlink', content: 'bin/start' },
        ]);
        const res = await upload(guid, [resource('lib/shared.js', 'module.exports = 42')], zip);
        assert.equal(res.status, 200, res.text);
        assert.equal(JSON.parse(res.text).state, 'READY');
        const files = await download(guid);
        assert.equal(files.get('server.js')?.content, 'require("http").createServer((q, s) => s.end("zip")).listen(process.env.PORT)');
        assert.equal(files.get('big.txt')?.content.length, 100_000);
        assert.equal(files.get('lib/shared.js')?.content, 'module.exports = 42');
        assert.equal(files.get('current')?.type, 'SymbolicLink');
        assert.equal(files.get('current')?.linkpath, 'bin/start');
        assert.deepEqual(spooled(), [], 'the spooled zip is removed');
      });

      const refused: [string, () => Buffer, number, RegExp][] = [
        ['a ../ entry', () => zipArchive([{ path: 'ok.txt', content: 'ok' }, { path: '../escape.txt', content: 'out' }]), 422, /outside the app directory/],
        ['an entry that climbs out midway', () => zipArchive([{ path: 'a/../../escape.txt', content: 'out' }]), 422, /outside the app directory/],
        ['an absolute path', () => zipArchive([{ path: '/etc/cron.d/evil', content: 'out' }]), 422, /outside the app directory/],
        ['a link pointing out', () => zipArchive([{ path: 'passwd', type: 'symlink', content: '../../../etc/passwd' }]), 422, /points outside the app directory/],
        ['an absolute link', () => zipArchive([{ path: 'passwd', type: 'symlink', content: '/etc/passwd' }]), 422, /points outside the app directory/],
        ['a link out through another link', () => zipArchive([{ path: 'a/up', type: 'symlink', content: '..' }, { path: 'b', type: 'symlink', content: 'a/up/..' }]), 422, /through other links/],
        ['a fifo', () => zipArchive([{ path: 'pipe', type: 'fifo' }]), 422, /only files, directories and links/],
        ['a zip bomb (honest sizes)', () => zipArchive([{ path: 'bomb.txt', content: Buffer.alloc(LIMIT * 4) }]), 413, /larger than the limit/],
        ['a zip bomb that lies about its size', () => zipArchive([{ path: 'bomb.txt', content: Buffer.alloc(LIMIT * 4), declaredSize: 1000 }]), 0, /./],
        ['a truncated zip', () => zipArchive([{ path: 'a.txt', content: 'hello' }]).subarray(0, 40), 422, /zip/],
      ];
      for (const [what, build, status, detail] of refused) {
        it(`refuses ${what}, stores no package, and keeps it ready for a good upload`, async () => {
          const guid = await newPackage();
          const res = await upload(guid, [], build());
          if (status === 0) assert.ok(res.status === 413 || res.status === 422, `${res.status} ${res.text}`);
          else assert.equal(res.status, status, res.text);
          assert.match(JSON.parse(res.text).errors[0].detail, detail);
          assert.equal((await box.call('GET', `/v3/packages/${guid}`)).json().state, 'AWAITING_UPLOAD');
          assert.deepEqual(spooled(), [], 'the spooled zip is removed');
          const good = await upload(guid, [], zipArchive([{ path: 'ok.txt', content: 'ok' }]));
          assert.equal(good.status, 200, good.text);
        });
      }

      it('still takes devbox\'s gzipped tarball', async () => {
        const guid = await newPackage();
        const res = await upload(guid, [], tarball([{ path: 'tar.txt', content: 'from tar' }]));
        assert.equal(res.status, 200, res.text);
        assert.equal((await download(guid)).get('tar.txt')?.content, 'from tar');
      });
    });

    describe('restart-app-instance, delete-space, update-service', () => {
      it('stops one instance of a started app (the health manager starts it again), 404 for an index it does not have', async () => {
        const app = await appNamed('shop');
        const process = await web(app.guid);
        await box.db.updateTable('apps').set({ state: 'STARTED' }).where('guid', '=', app.guid).execute();
        box.runner.clear();
        const res = await box.call('DELETE', `/v3/processes/${process.guid}/instances/1`);
        assert.equal(res.status, 204, res.text);
        assert.deepEqual(box.runner.stops, [{ processGuid: app.guid, filter: { indices: [1] } }]);
        const byApp = await box.call('DELETE', `/v3/apps/${app.guid}/processes/web/instances/0`);
        assert.equal(byApp.status, 204, byApp.text);
        assert.deepEqual(box.runner.stops[1], { processGuid: app.guid, filter: { indices: [0] } });
        for (const index of ['3', '99', '-1', 'x']) assert.equal((await box.call('DELETE', `/v3/processes/${process.guid}/instances/${index}`)).status, 404, index);
        assert.equal((await box.call('DELETE', '/v3/processes/no-such-process/instances/0')).status, 404);
        const events = (await box.call('GET', `/v3/audit_events?types=audit.app.process.terminate_instance&target_guids=${app.guid}`)).json().resources;
        assert.equal(events.length, 2);
        await box.db.updateTable('apps').set({ state: 'STOPPED' }).where('guid', '=', app.guid).execute();
      });

      it('renames a service instance and updates a user-provided one\'s credentials (its bindings follow); refuses plan changes', async () => {
        const res = await box.call('PATCH', `/v3/service_instances/${upsGuid}`, { name: 'renamed-db', tags: ['sql'], credentials: { uri: 'mysql://new' } });
        assert.equal(res.status, 200, res.text);
        assert.equal(res.json().name, 'renamed-db');
        assert.deepEqual(res.json().tags, ['sql']);
        const app = await appNamed('shop');
        const env = (await box.call('GET', `/v3/apps/${app.guid}/env`)).json();
        assert.deepEqual(env.system_env_json.VCAP_SERVICES['user-provided'][0].credentials, { uri: 'mysql://new' });
        const plan = await box.call('PATCH', `/v3/service_instances/${upsGuid}`, { parameters: { size: 'big' } });
        assert.equal(plan.status, 422);
        assert.equal((await box.call('PATCH', `/v3/service_instances/${upsGuid}`, { colour: 'blue' })).status, 422);
        const other = await box.call('POST', '/v3/service_instances', { type: 'user-provided', name: 'taken', relationships: { space: { data: { guid: spaceGuid } } } });
        assert.equal(other.status, 201);
        const clash = await box.call('PATCH', `/v3/service_instances/${upsGuid}`, { name: 'taken' });
        assert.equal(clash.status, 422);
        assert.equal(clash.json().errors[0].title, 'CF-UniquenessError');
      });

      it('deletes a space with everything in it', async () => {
        const org = (await box.call('GET', '/v3/organizations')).json().resources[0].guid;
        const doomed = (await box.call('POST', '/v3/spaces', { name: 'doomed', relationships: { organization: { data: { guid: org } } } })).json().guid;
        const ups = (await box.call('POST', '/v3/service_instances', { type: 'user-provided', name: 'doomed-db', relationships: { space: { data: { guid: doomed } } } })).json();
        assert.equal((await apply('applications:\n- name: doomed-app\n  services: [doomed-db]\n', doomed)).status, 202);
        const res = await box.call('DELETE', `/v3/spaces/${doomed}`);
        assert.equal(res.status, 202, res.text);
        assert.equal((await job(res.headers.location as string)).state, 'COMPLETE');
        assert.equal((await box.call('GET', `/v3/spaces/${doomed}`)).status, 404);
        assert.equal((await box.call('GET', `/v3/service_instances/${ups.guid}`)).status, 404);
        assert.equal((await box.call('GET', `/v3/apps?space_guids=${doomed}`)).json().pagination.total_results, 0);
        assert.equal((await box.call('GET', `/v3/routes?space_guids=${doomed}`)).json().pagination.total_results, 0);
        assert.equal((await box.call('DELETE', `/v3/spaces/${doomed}`)).status, 404);
      });
    });
  });
}
