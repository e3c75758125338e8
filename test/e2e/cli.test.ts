// The cf-like commands of issue 4 end to end: the real built CLI against a real `devbox up -d`, one
// box for the whole suite. Apps are created through the API (there is no push yet).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { freePort } from '../../src/runtime/common/net.js';
import { boxApi, type BoxApi } from '../helpers/api.js';
import { cleanupBox, devbox, tempHome, type DevboxResult } from '../helpers/devbox.js';

describe('devbox CLI: apps, env, scale, routes, events, spaces, curl', function () {
  this.timeout(60_000);
  let home: string;
  let routerPort: number;
  let api: BoxApi;
  let spaceGuid: string;

  const cli = (...args: string[]): Promise<DevboxResult> => devbox(home, args);
  const show = (r: DevboxResult) => `exit ${r.exitCode}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
  /** Runs a command that must succeed; its stdout. */
  const ok = async (...args: string[]): Promise<string> => {
    const r = await cli(...args);
    assert.equal(r.exitCode, 0, `devbox ${args.join(' ')}: ${show(r)}`);
    return r.stdout;
  };
  const fails = async (exitCode: number, ...args: string[]): Promise<DevboxResult> => {
    const r = await cli(...args);
    assert.equal(r.exitCode, exitCode, `devbox ${args.join(' ')}: ${show(r)}`);
    return r;
  };
  const createApp = async (name: string) => {
    const res = await api.call('POST', '/v3/apps', { name, relationships: { space: { data: { guid: spaceGuid } } } });
    assert.equal(res.status, 201, res.text);
    return res.json().guid as string;
  };

  before(async () => {
    home = tempHome('devbox-cli-');
    routerPort = await freePort();
    const up = await devbox(home, ['up', '-d', '--port', String(routerPort)]);
    assert.equal(up.exitCode, 0, show(up));
    api = await boxApi(home, routerPort);
    spaceGuid = (await api.call('GET', '/v3/spaces?names=dev')).json().resources[0].guid;
  });
  after(async () => cleanupBox(home));

  it('is logged in and targeted at devbox/dev right after up, without asking', async () => {
    assert.equal(fs.existsSync(path.join(home, 'cli.json')), false, 'no session before the first command');
    const r = await cli('apps');
    assert.equal(r.exitCode, 0, show(r));
    assert.equal(r.stdout, 'Getting apps in org devbox / space dev as admin...\n\nNo apps found');
    assert.equal(fs.statSync(path.join(home, 'cli.json')).mode & 0o777, 0o600, 'cli.json holds tokens: mode 0600');
  });

  it('target shows the API, user, org and space', async () => {
    const out = await ok('target');
    assert.match(out, new RegExp(`^API endpoint:   http://api\\.localhost:${routerPort}\\n`));
    assert.match(out, /^API version: {4}3\.\d+\.\d+$/m);
    assert.match(out, /^user: {11}admin$/m);
    assert.match(out, /^org: {12}devbox$/m);
    assert.match(out, /^space: {10}dev$/m);
    const json = JSON.parse(await ok('target', '--json'));
    assert.equal(json.user, 'admin');
    assert.equal(json.space.guid, spaceGuid);
  });

  it('lists apps created through the API and through curl, as a table and as JSON', async () => {
    await createApp('alpha');
    const body = JSON.stringify({ name: 'beta', relationships: { space: { data: { guid: spaceGuid } } } });
    const created = JSON.parse(await ok('curl', '/v3/apps', '-X', 'POST', '-d', body));
    assert.equal(created.name, 'beta');

    const out = await ok('apps');
    const lines = out.split('\n');
    assert.equal(lines[0], 'Getting apps in org devbox / space dev as admin...');
    assert.match(lines[2], /^name\s+requested state\s+processes\s+routes$/);
    assert.match(out, /^alpha {3}stopped {11}web:0\/1$/m);
    assert.match(out, /^beta {4}stopped {11}web:0\/1$/m);
    // columns line up: every row's second column starts where the header's does
    const column = lines[2].indexOf('requested state');
    for (const line of lines.slice(3).filter(Boolean)) assert.equal(line.indexOf('stopped'), column, line);

    const json = JSON.parse(await ok('apps', '--json'));
    assert.deepEqual(
      json.map((a: { name: string; requested_state: string; processes: unknown; routes: unknown }) => [a.name, a.requested_state, a.processes, a.routes]),
      [
        ['alpha', 'stopped', [{ type: 'web', instances: 1, running: 0 }], []],
        ['beta', 'stopped', [{ type: 'web', instances: 1, running: 0 }], []],
      ],
    );
  });

  it('app NAME shows the summary without inventing instances', async () => {
    const out = await ok('app', 'alpha');
    assert.equal(
      out,
      [
        'Showing health and status for app alpha in org devbox / space dev as admin...',
        '',
        'name:              alpha',
        'requested state:   stopped',
        'routes:',
        'last uploaded:',
        'stack:             host',
        'buildpacks:',
        '',
        'type:            web',
        'instances:       0/1',
        'memory usage:    256M',
        'start command:',
      ].join('\n'),
    );
    const json = JSON.parse(await ok('app', 'alpha', '--json'));
    assert.equal(json.processes[0].memory_in_mb, 256);
    assert.equal(json.last_uploaded, null);
  });

  it('says clearly when an app does not exist (exit 1) or an argument is missing (exit 2)', async () => {
    const unknown = await fails(1, 'app', 'nosuch');
    assert.match(unknown.stdout, /^FAILED$/m);
    assert.match(unknown.stderr, /App 'nosuch' not found\. 'devbox apps' lists the apps in org devbox \/ space dev\./);
    for (const args of [['env', 'nosuch'], ['events', 'nosuch'], ['start', 'nosuch'], ['set-env', 'nosuch', 'K', 'V'], ['scale', 'nosuch', '-i', '2']]) {
      assert.match((await fails(1, ...args)).stderr, /App 'nosuch' not found/);
    }

    const missing = await fails(2, 'app');
    assert.match(missing.stderr, /the required argument APP_NAME was not provided/);
    assert.doesNotMatch(missing.stdout, /FAILED/);
    assert.match((await fails(2, 'set-env', 'alpha')).stderr, /ENV_VAR_NAME/);
    assert.match((await fails(2, 'map-route', 'alpha')).stderr, /DOMAIN/);
    assert.match((await fails(2, 'apps', '--bogus')).stderr, /bogus/);
  });

  it('env, set-env and unset-env round trip', async () => {
    const set = await ok('set-env', 'alpha', 'GREETING', 'hello world');
    assert.equal(set, "Setting env variable GREETING for app alpha in org devbox / space dev as admin...\nOK\nTIP: Use 'devbox restage alpha' to ensure your env variable changes take effect");
    await ok('set-env', 'alpha', 'EMPTY', '');

    const env = await ok('env', 'alpha');
    assert.match(env, /^Getting env variables for app alpha in org devbox \/ space dev as admin\.\.\.\nSystem-Provided:\nVCAP_SERVICES: \{\}\n\nVCAP_APPLICATION: \{\n "/);
    assert.match(env, /^ "application_name": "alpha",$/m);
    assert.match(env, /^User-Provided:\nEMPTY: \nGREETING: hello world\n/m);
    assert.match(env, /^No running env variables have been set$/m);
    const json = JSON.parse(await ok('env', 'alpha', '--json'));
    assert.deepEqual(json.environment_variables, { GREETING: 'hello world', EMPTY: '' });
    assert.equal(json.application_env_json.VCAP_APPLICATION.name, 'alpha');

    const unset = await ok('unset-env', 'alpha', 'GREETING');
    assert.match(unset, /^Removing env variable GREETING from app alpha in org devbox \/ space dev as admin\.\.\.\nOK\nTIP: /);
    assert.match(await ok('unset-env', 'alpha', 'GREETING'), /Env variable GREETING was not set\.\nOK/);
    const guid = JSON.parse(await ok('app', 'alpha', '--json')).guid;
    assert.deepEqual((await api.call('GET', `/v3/apps/${guid}/environment_variables`)).json().var, { EMPTY: '' });

    const refused = await fails(1, 'set-env', 'alpha', 'VCAP_X', '1');
    assert.match(refused.stderr, /cannot start with VCAP_/);
  });

  it('scale sets instances, memory and disk; bad sizes are usage errors', async () => {
    const out = await ok('scale', 'alpha', '-i', '3', '-m', '512M', '-k', '2G');
    assert.match(out, /^Scaling app alpha in org devbox \/ space dev as admin\.\.\.\nOK\n/);
    assert.match(out, /^instances: {3}3$/m);
    const guid = JSON.parse(await ok('app', 'alpha', '--json')).guid;
    const process = (await api.call('GET', `/v3/apps/${guid}/processes/web`)).json();
    assert.deepEqual([process.instances, process.memory_in_mb, process.disk_in_mb], [3, 512, 2048]);
    await ok('scale', 'alpha', '-m', '1gb');
    assert.equal((await api.call('GET', `/v3/apps/${guid}/processes/web`)).json().memory_in_mb, 1024);

    assert.match(await ok('scale', 'alpha'), /^memory: {6}1G\ndisk: {8}2G$/m);
    assert.match(await ok('apps'), /^alpha {3}stopped {11}web:0\/3$/m);
    assert.match(await ok('app', 'alpha'), /^memory usage: {4}1G$/m);

    for (const bad of ['256', '1.5G', '12K', 'lots', '0M']) {
      const r = await fails(2, 'scale', 'alpha', '-m', bad);
      assert.match(r.stderr, /Incorrect Usage: invalid argument for flag '-m'/);
    }
    await fails(2, 'scale', 'alpha', '-i', '-1');
    await fails(2, 'scale', 'alpha', '-i', 'many');
  });

  it('map-route, routes and unmap-route', async () => {
    const mapped = await ok('map-route', 'alpha', 'localhost', '--hostname', 'alpha');
    assert.equal(
      mapped,
      'Creating route alpha.localhost for org devbox / space dev as admin...\nOK\nMapping route alpha.localhost to app alpha in org devbox / space dev as admin...\nOK',
    );
    assert.match(await ok('map-route', 'alpha', 'localhost', '-n', 'alpha'), /App 'alpha' is already mapped to route 'alpha\.localhost'\.\nOK/);
    await ok('map-route', 'alpha', 'localhost', '--hostname', 'shop', '--path', 'api');
    await ok('map-route', 'beta', 'localhost', '--hostname', 'shop', '--path', '/api');

    const routes = await ok('routes');
    assert.match(routes, /^Getting routes for org devbox \/ space dev as admin\.\.\.\n\nspace\s+host\s+domain\s+path\s+apps\n/);
    assert.match(routes, /^dev {5}alpha {3}localhost {10}alpha$/m);
    assert.match(routes, /^dev {5}shop {4}localhost {3}\/api {3}alpha, beta$/m);
    const json = JSON.parse(await ok('routes', '--json'));
    assert.deepEqual(json.map((r: { url: string; apps: string[] }) => [r.url, r.apps]).sort(), [['alpha.localhost', ['alpha']], ['shop.localhost/api', ['alpha', 'beta']]]);
    assert.match(await ok('apps'), /^alpha {3}stopped {11}web:0\/3 {5}alpha\.localhost, shop\.localhost\/api$/m);
    assert.match(await ok('app', 'alpha'), /^routes: {12}alpha\.localhost, shop\.localhost\/api$/m);

    assert.match((await fails(1, 'map-route', 'alpha', 'localhost')).stderr, /Missing host/);
    assert.match((await fails(1, 'map-route', 'alpha', 'nodomain.test', '-n', 'x')).stderr, /Domain 'nodomain\.test' not found/);

    assert.equal(await ok('unmap-route', 'beta', 'localhost', '--hostname', 'shop', '--path', '/api'), 'Removing route shop.localhost/api from app beta in org devbox / space dev as admin...\nOK');
    assert.match(await ok('unmap-route', 'beta', 'localhost', '--hostname', 'shop', '--path', '/api'), /Route to be unmapped is not currently mapped to the application\.\nOK/);
    assert.match((await fails(1, 'unmap-route', 'beta', 'localhost', '--hostname', 'nope')).stderr, /Route with host 'nope' and domain 'localhost' not found/);
    assert.match(await ok('routes'), /^dev {5}shop {4}localhost {3}\/api {3}alpha$/m);
  });

  it('start without a droplet shows the API error; stop is a state change', async () => {
    const start = await fails(1, 'start', 'beta');
    assert.equal(start.stdout, 'Starting app beta in org devbox / space dev as admin...\nFAILED');
    assert.equal(start.stderr, 'Assign a droplet before starting this app.');
    assert.match((await fails(1, 'restart', 'beta')).stderr, /Assign a droplet before starting this app\./);
    assert.match(await ok('stop', 'beta'), /App 'beta' is already stopped\.\nOK/);
  });

  it('events NAME shows the changes, newest first', async () => {
    const out = await ok('events', 'alpha');
    const lines = out.split('\n');
    assert.equal(lines[0], 'Getting events for app alpha in org devbox / space dev as admin...');
    assert.match(lines[2], /^time\s+event\s+actor\s+description$/);
    const rows = lines.slice(3).filter(Boolean);
    for (const row of rows) assert.match(row, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d\d[+-]\d{4} {3}audit\.app\.\S+\s+admin/);
    const types = rows.map((r) => r.split(/\s+/)[1]);
    // what this suite did to alpha, oldest last
    assert.deepEqual(types.slice().reverse(), [
      'audit.app.create',
      'audit.app.update', // set-env GREETING
      'audit.app.update', // set-env EMPTY
      'audit.app.update', // unset-env GREETING
      'audit.app.process.scale',
      'audit.app.process.scale',
      'audit.app.map-route',
      'audit.app.map-route',
    ]);
    assert.match(out, /audit\.app\.process\.scale\s+admin\s+instances: 3, memory_in_mb: 512, disk_in_mb: 2048/);
    assert.match(out, /audit\.app\.update\s+admin\s+environment_variables: \[PRIVATE DATA HIDDEN\]/);
    const json = JSON.parse(await ok('events', 'alpha', '--json'));
    assert.equal(json[0].event, 'audit.app.map-route');
    assert.ok(Date.parse(json[0].time) >= Date.parse(json[json.length - 1].time));
  });

  it('delete refuses without a terminal unless -f; -r also deletes the routes only this app had', async () => {
    const refused = await fails(2, 'delete', 'alpha');
    assert.match(refused.stderr, /no terminal to ask 'Really delete the app alpha\?'.*devbox delete alpha -f/);

    // shop.localhost/api is mapped to alpha only now; alpha.localhost too
    await ok('map-route', 'beta', 'localhost', '--hostname', 'shop', '--path', '/api');
    const shared = await fails(1, 'delete', 'alpha', '-f', '-r');
    assert.match(shared.stderr, /Route shop\.localhost\/api is also mapped to another app/);
    assert.match(await ok('apps'), /^alpha /m, 'nothing was deleted');
    await ok('unmap-route', 'beta', 'localhost', '--hostname', 'shop', '--path', '/api');

    const deleted = await ok('delete', 'alpha', '-f', '-r');
    assert.match(deleted, /^Deleting app alpha in org devbox \/ space dev as admin\.\.\.\n/);
    assert.match(deleted, /OK$/);
    assert.match(await ok('routes'), /No routes found\./);
    assert.doesNotMatch(await ok('apps'), /alpha/);

    await ok('map-route', 'beta', 'localhost', '--hostname', 'beta');
    await ok('delete', 'beta', '-f');
    assert.match(await ok('apps'), /No apps found/);
    assert.match(await ok('routes'), /^dev +beta +localhost$/m, 'without -r the route stays');

    // as cf: deleting an app that is not there is not an error
    const again = await cli('delete', 'beta', '-f');
    assert.equal(again.exitCode, 0, show(again));
    assert.match(again.stdout, /OK$/);
    assert.match(again.stderr, /App 'beta' does not exist\./);
  });

  it('orgs, spaces, create-space and target -s', async () => {
    assert.equal(await ok('orgs'), 'Getting orgs as admin...\n\nname\ndevbox');
    assert.deepEqual(JSON.parse(await ok('orgs', '--json')).map((o: { name: string }) => o.name), ['devbox']);

    const created = await ok('create-space', 'staging');
    assert.equal(created, `Creating space staging in org devbox as admin...\nOK\n\nTIP: Use 'devbox target -o "devbox" -s "staging"' to target new space`);
    const exists = await cli('create-space', 'staging');
    assert.equal(exists.exitCode, 0);
    assert.match(exists.stderr, /Space staging already exists/);
    assert.equal(await ok('spaces'), 'Getting spaces in org devbox as admin...\n\nname\ndev\nstaging');

    assert.match(await ok('target', '-s', 'staging'), /^space: {10}staging$/m);
    assert.match(await ok('apps'), /^Getting apps in org devbox \/ space staging as admin\.\.\.\n\nNo apps found$/m);
    assert.match((await fails(1, 'target', '-s', 'nosuch')).stderr, /Space 'nosuch' not found in org devbox/);
    assert.match((await fails(1, 'target', '-o', 'nosuch')).stderr, /Organization 'nosuch' not found/);
    // an org with several spaces: -o alone leaves the space untargeted, as cf does
    assert.match(await ok('target', '-o', 'devbox'), /No space targeted, use 'devbox target -s SPACE'/);
    assert.match((await fails(1, 'apps')).stderr, /No space targeted, use 'devbox target -s SPACE'/);
    await ok('target', '-o', 'devbox', '-s', 'dev');
  });

  it("curl prints the API's JSON as cf curl does; HTTP errors exit 0 unless --fail", async () => {
    const out = await ok('curl', '/v3/apps');
    assert.deepEqual(JSON.parse(out), (await api.call('GET', '/v3/apps')).json());
    assert.match(out, /^\{\n {3}"pagination": \{\n {6}"total_results": 0,/);

    const notFound = await ok('curl', '/v3/apps/nosuch');
    assert.equal(JSON.parse(notFound).errors[0].title, 'CF-ResourceNotFound');
    const failing = await fails(1, 'curl', '/v3/apps/nosuch', '--fail');
    assert.match(failing.stderr, /returned error: 404/);

    const withHeaders = await ok('curl', '-i', '-H', 'Accept: application/json', '-H', 'X-Extra: 1', '/v3/info');
    assert.match(withHeaders, /^HTTP\/1\.1 200 OK\n/);
    assert.match(withHeaders, /^content-type: application\/json/m);

    const file = path.join(home, 'space.json');
    fs.writeFileSync(file, JSON.stringify({ name: 'from-file', relationships: { organization: { data: { guid: JSON.parse(await ok('target', '--json')).org.guid } } } }));
    assert.equal(JSON.parse(await ok('curl', '/v3/spaces', '-d', `@${file}`)).name, 'from-file');
    assert.match((await fails(2, 'curl', '/v3/apps', '-H', 'no-colon')).stderr, /-H expects 'Name: value'/);
  });
});
