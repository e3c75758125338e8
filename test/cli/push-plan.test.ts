// Which apps a push pushes with which settings (manifest, then flags), what it changes on an existing
// process, and how routes are named.
import assert from 'node:assert/strict';
import type { Domain, Process } from '../../src/cli/api/resources.js';
import type { Manifest } from '../../src/cli/manifest.js';
import { hostFromName, MULTIPLE_APPS_WITH_FLAGS, planPush, processUpdate, randomHost, resolveRoute, scaleUpdate } from '../../src/cli/push.js';

const manifest = (apps: Manifest['apps']): Manifest => ({ file: '/m/manifest.yml', apps, warnings: [] });
const usage = (code: number, pattern: RegExp) => (error: Error & { exitCode?: number }) => error.exitCode === code && pattern.test(error.message);

const web = (overrides: Partial<Process> = {}): Process => ({
  guid: 'p',
  created_at: '',
  updated_at: '',
  type: 'web',
  command: null,
  instances: 1,
  memory_in_mb: 256,
  disk_in_mb: 1024,
  health_check: { type: 'port', data: { timeout: null, invocation_timeout: null } },
  relationships: { app: { data: { guid: 'a' } } },
  ...overrides,
});

describe('push planning', () => {
  it('pushes the named app with the flags when there is no manifest; the path defaults to the current directory', () => {
    assert.deepEqual(planPush({ name: 'a', overrides: { memory: 128 }, cwd: '/here' }), [{ name: 'a', memory: 128, path: '/here' }]);
    assert.throws(() => planPush({ overrides: {}, cwd: '/' }), usage(2, /APP_NAME was not provided/));
  });

  it('pushes every app of a manifest, or the one named; flags override the manifest for one app', () => {
    const m = manifest([
      { name: 'a', path: '/m/a', memory: 512, instances: 2 },
      { name: 'b', path: '/m/b' },
    ]);
    assert.deepEqual(planPush({ manifest: m, overrides: {}, cwd: '/' }).map((p) => p.name), ['a', 'b']);
    assert.deepEqual(planPush({ manifest: m, name: 'a', overrides: { instances: 3, path: '/elsewhere' }, cwd: '/' }), [{ name: 'a', path: '/elsewhere', memory: 512, instances: 3 }]);
    assert.throws(() => planPush({ manifest: m, overrides: { instances: 3 }, cwd: '/' }), (e: Error & { exitCode?: number }) => e.exitCode === 2 && e.message === MULTIPLE_APPS_WITH_FLAGS);
    assert.throws(() => planPush({ manifest: m, name: 'c', overrides: {}, cwd: '/' }), usage(1, /App 'c' is not in the manifest \/m\/manifest\.yml \(it lists a, b\)/));
  });

  it('gives a single unnamed manifest app the name from the command line, and refuses unnamed apps otherwise', () => {
    const m = manifest([{ memory: 64 }]);
    assert.deepEqual(planPush({ manifest: m, name: 'x', overrides: {}, cwd: '/c' }), [{ name: 'x', memory: 64, path: '/c' }]);
    assert.throws(() => planPush({ manifest: m, overrides: {}, cwd: '/' }), usage(2, /applications\[0\] in the manifest \/m\/manifest\.yml has no name/));
  });

  it('lets route and health check flags replace the manifest choices as a whole', () => {
    const m = manifest([{ name: 'a', routes: ['a.localhost'], healthCheckType: 'http', healthCheckEndpoint: '/health' }]);
    const [noRoute] = planPush({ manifest: m, overrides: { noRoute: true }, cwd: '/' });
    assert.equal(noRoute.routes, undefined);
    assert.equal(noRoute.noRoute, true);
    const [random] = planPush({ manifest: manifest([{ name: 'a', noRoute: true }]), overrides: { randomRoute: true }, cwd: '/' });
    assert.equal(random.noRoute, undefined);
    const [port] = planPush({ manifest: m, overrides: { healthCheckType: 'port' }, cwd: '/' });
    assert.equal(port.healthCheckEndpoint, undefined);
    assert.throws(() => planPush({ name: 'a', overrides: { noRoute: true, randomRoute: true }, cwd: '/' }), usage(2, /--no-route, --random-route/));
    assert.throws(() => planPush({ name: 'a', overrides: { healthCheckType: 'port', healthCheckEndpoint: '/h' }, cwd: '/' }), usage(2, /--endpoint needs the http health check/));
    assert.throws(
      () => planPush({ manifest: manifest([{ name: 'a', healthCheckType: 'process' }]), overrides: { healthCheckEndpoint: '/h' }, cwd: '/' }),
      usage(2, /endpoint \/h needs the http health check, not process/),
    );
  });

  it('changes only what differs on the process, and says when that restarts instances', () => {
    assert.deepEqual(processUpdate(web(), {}), { change: undefined, restarts: false });
    assert.deepEqual(processUpdate(web({ command: 'x' }), { command: 'x' }), { change: undefined, restarts: false });
    assert.deepEqual(processUpdate(web(), { command: 'node s.js' }), { change: { command: 'node s.js' }, restarts: true });
    assert.deepEqual(processUpdate(web({ command: 'x' }), { command: null }), { change: { command: null }, restarts: true });
    assert.deepEqual(processUpdate(web(), { timeout: 90 }), { change: { health_check: { type: 'port', data: { timeout: 90 } } }, restarts: false });
    assert.deepEqual(processUpdate(web(), { healthCheckType: 'http', healthCheckEndpoint: '/ready' }), {
      change: { health_check: { type: 'http', data: { endpoint: '/ready' } } },
      restarts: true,
    });
    const http = web({ health_check: { type: 'http', data: { timeout: 30, invocation_timeout: null, endpoint: '/ready' } } });
    assert.deepEqual(processUpdate(http, { healthCheckType: 'http', healthCheckEndpoint: '/ready', timeout: 30 }), { change: undefined, restarts: false });
  });

  it('scales only what differs', () => {
    assert.equal(scaleUpdate(web(), { instances: 1, memory: 256 }), undefined);
    assert.deepEqual(scaleUpdate(web(), { instances: 3, memory: 256, disk: 512 }), { instances: 3, disk_in_mb: 512 });
  });

  it('names routes like cf: hosts from app names, random routes, routes split on the longest domain', () => {
    assert.equal(hostFromName('My_App.v2'), 'my-app-v2');
    assert.equal(hostFromName('___'), 'app');
    assert.equal(hostFromName('x'.repeat(80)).length, 63);
    assert.equal(randomHost('Shop', () => 0), 'shop-agile-badger-aa');
    assert.match(randomHost('shop'), /^shop-[a-z]+-[a-z]+-[a-z]{2}$/);
    const domains = [{ guid: 'd1', name: 'localhost' }, { guid: 'd2', name: 'apps.localhost' }] as Domain[];
    assert.deepEqual(resolveRoute('Shop.localhost', domains), { host: 'shop', domain: domains[0], path: '' });
    assert.deepEqual(resolveRoute('shop.apps.localhost/api/', domains), { host: 'shop', domain: domains[1], path: '/api' });
    assert.deepEqual(resolveRoute('apps.localhost', domains), { host: '', domain: domains[1], path: '' });
    assert.throws(() => resolveRoute('shop.example.com', domains), /The route shop\.example\.com is not on a domain of this devbox \(localhost, apps\.localhost\)/);
  });
});
