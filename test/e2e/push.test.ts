// `devbox push` and its family end to end: the real built CLI against a real `devbox up -d` (one box
// for the suite), apps reached through the router with their Host header.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { request, type HttpResponse } from '../../src/runtime/common/http.js';
import { freePort } from '../../src/runtime/common/net.js';
import { boxApi, type BoxApi } from '../helpers/api.js';
import { untar } from '../helpers/archives.js';
import { cleanupBox, DEVBOX_BIN, tempHome, type DevboxResult } from '../helpers/devbox.js';
import { execa } from 'execa';

const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures');
const nodeHello = path.join(fixtures, 'apps/node-hello');
const behaviours = path.join(fixtures, 'apps/behaviours');

describe('devbox push, restage, start, app instances', function () {
  this.timeout(90_000);
  let home: string;
  let routerPort: number;
  let api: BoxApi;
  const scratch: string[] = [];

  /** `devbox ARGS` run in `cwd` (push reads manifest.yml and the app from there). */
  const cli = async (args: string[], { cwd = os.tmpdir(), timeoutMs = 60_000 } = {}): Promise<DevboxResult> => {
    const r = await execa(process.execPath, [DEVBOX_BIN, ...args], { cwd, env: { DEVBOX_HOME: home, NO_COLOR: '1' }, extendEnv: true, stdin: 'ignore', reject: false, timeout: timeoutMs });
    return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
  };
  const show = (r: DevboxResult) => `exit ${r.exitCode}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
  const ok = async (args: string[], options?: { cwd?: string }): Promise<string> => {
    const r = await cli(args, options);
    assert.equal(r.exitCode, 0, `devbox ${args.join(' ')}: ${show(r)}`);
    return r.stdout;
  };
  const fails = async (exitCode: number, args: string[], options?: { cwd?: string }): Promise<DevboxResult> => {
    const r = await cli(args, options);
    assert.equal(r.exitCode, exitCode, `devbox ${args.join(' ')}: ${show(r)}`);
    return r;
  };
  /** A request to an app through the router, as a browser would send it to http://HOST.localhost:PORT. */
  const visit = (host: string, urlPath = '/'): Promise<HttpResponse> => request({ url: `http://${host}.localhost:${routerPort}${urlPath}`, timeoutMs: 5_000 });
  const appEnv = async (host: string): Promise<Record<string, string>> => {
    const res = await visit(host, '/env');
    assert.equal(res.status, 200, res.text);
    return JSON.parse(res.text) as Record<string, string>;
  };
  const appGuid = async (name: string): Promise<string> => (await api.call('GET', `/v3/apps?names=${name}`)).json().resources[0].guid;
  /** A copy of an app in a scratch directory, to add files and links to. */
  const scratchApp = (from: string): string => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'devbox-push-app-'));
    scratch.push(dir);
    fs.cpSync(from, dir, { recursive: true });
    return dir;
  };

  before(async () => {
    home = tempHome('devbox-push-');
    routerPort = await freePort();
    const up = await cli(['up', '-d', '--port', String(routerPort)]);
    assert.equal(up.exitCode, 0, show(up));
    api = await boxApi(home, routerPort);
  });
  after(async () => {
    await cleanupBox(home);
    for (const dir of scratch) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('pushes a Node app, waits for it, shows the summary with instances, and the router reaches it', async () => {
    const out = await ok(['push', 'hello'], { cwd: nodeHello });
    const lines = out.split('\n');
    assert.equal(lines[0], 'Pushing app hello to org devbox / space dev as admin...');
    for (const step of ['Packaging files to upload...', 'Mapping routes...', 'Uploading files...', 'Waiting for app hello to start...']) assert.ok(lines.includes(step), `${step}\n${out}`);
    // With the logs component, push prints the buildpack's lines as cf does.
    assert.match(out, /^Staging app and tracing logs\.\.\.\n(?: {3}.*\n)*? {3}-----> Nodejs Buildpack \(devbox\)\n/m);
    assert.match(out, /^ {3}2 new files \([\d.]+K\) uploaded, 0 unchanged \(0\) not sent again$/m);
    assert.match(out, /^ {3}staged with nodejs$/m);
    assert.match(out, /^name: {14}hello$/m);
    assert.match(out, /^requested state: {3}started$/m);
    assert.match(out, /^routes: {12}hello\.localhost$/m);
    assert.match(out, /^buildpacks: {8}nodejs$/m);
    assert.match(out, /^instances: {7}1\/1$/m);
    assert.match(out, /^start command: {3}npm start$/m);
    assert.match(out, /^ {5}state {5}since +cpu +memory +disk +details$/m);
    assert.match(out, /^#0 {3}running {3}\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ {3}\d+\.\d% +[\d.]+[BKMG]? of 256M +[\d.]+[BKMG]? of 1G$/m);

    const res = await visit('hello');
    assert.equal(res.status, 200);
    assert.equal(res.text, 'hello from node-hello, instance 0\n');
  });

  it('re-pushing an unchanged app uploads nothing new and reuses its droplet; restage and a new env stage again', async () => {
    const dropletBefore = (await api.call('GET', `/v3/apps/${await appGuid('hello')}/droplets/current`)).json();
    const out = await ok(['push', 'hello'], { cwd: nodeHello });
    assert.match(out, /^ {3}0 new files \(0\) uploaded, 2 unchanged \([\d.]+K\) not sent again$/m);
    assert.doesNotMatch(out, /Mapping routes/, 'the app keeps its route');
    assert.match(out, /^ {3}Files, buildpacks and environment are unchanged: reusing the droplet staged /m);
    assert.doesNotMatch(out, /Nodejs Buildpack/, 'the buildpack did not run');
    assert.match(out, /^ {3}staged with nodejs$/m);
    assert.match(out, /^#0 {3}running /m);
    const dropletAfter = (await api.call('GET', `/v3/apps/${await appGuid('hello')}/droplets/current`)).json();
    assert.notEqual(dropletAfter.guid, dropletBefore.guid, 'a new droplet, as every build makes');
    assert.equal(dropletAfter.checksum.value, dropletBefore.checksum.value, 'with the same bits');
    assert.equal((await visit('hello')).text, 'hello from node-hello, instance 0\n');

    // Restage stages the same package anew; a changed environment is staged anew on push.
    assert.match(await ok(['restage', 'hello']), /-----> Nodejs Buildpack \(devbox\)/);
    await ok(['set-env', 'hello', 'REPUSH_MARK', '1']);
    const changed = await ok(['push', 'hello'], { cwd: nodeHello });
    assert.match(changed, /-----> Nodejs Buildpack \(devbox\)/);
    assert.doesNotMatch(changed, /reusing the droplet/);
    await ok(['unset-env', 'hello', 'REPUSH_MARK']);
  });

  it('-i 3 runs three instances; the router spreads requests over all of them; app shows each', async () => {
    await ok(['push', 'hello', '-i', '3'], { cwd: nodeHello });
    const seen = new Set<string>();
    for (let i = 0; i < 30 && seen.size < 3; i++) seen.add((await appEnv('hello')).CF_INSTANCE_INDEX);
    assert.deepEqual([...seen].sort(), ['0', '1', '2']);
    const out = await ok(['app', 'hello']);
    assert.match(out, /^instances: {7}3\/3$/m);
    for (const i of [0, 1, 2]) assert.match(out, new RegExp(`^#${i} {3}running {3}`, 'm'));
    const json = JSON.parse(await ok(['app', 'hello', '--json']));
    assert.deepEqual(json.processes[0].stats.map((s: { state: string }) => s.state), ['RUNNING', 'RUNNING', 'RUNNING']);
  });

  it('scale -m restarts a started app and waits for its instances', async () => {
    const out = await ok(['scale', 'hello', '-i', '1', '-m', '200M', '-f']);
    assert.match(out, /Waiting for app hello to start\.\.\./);
    assert.match(out, /^instances: {7}1\/1$/m);
    assert.match(out, /^#0 {3}running .* of 200M /m);
    assert.equal((await visit('hello')).status, 200);
  });

  it('pushes both apps of a manifest with their env, routes and health checks', async () => {
    const manifest = path.join(fixtures, 'manifests/two-apps/manifest.yml');
    const out = await ok(['push', '-f', manifest]);
    assert.match(out, /^Pushing apps twin-a, twin-b to org devbox \/ space dev as admin\.\.\.$/m);
    assert.match(out, new RegExp(`^Applying manifest file ${manifest.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\.\\.\\.$`, 'm'));
    assert.equal((await appEnv('twin-a')).TWIN, 'a');
    assert.equal((await appEnv('twin-b')).TWIN, 'b');
    assert.equal((await appEnv('other-b')).TWIN, 'b');
    assert.match(out, /^routes: {12}twin-b\.localhost, other-b\.localhost$/m);
    const process = (await api.call('GET', `/v3/apps/${await appGuid('twin-b')}/processes/web`)).json();
    assert.deepEqual(process.health_check, { type: 'http', data: { timeout: 30, invocation_timeout: null, endpoint: '/env' } });

    // Flags apply to one app of the manifest only.
    const refused = await fails(2, ['push', '-f', manifest, '-i', '2']);
    assert.match(refused.stderr, /Command line flags \(except -f and --no-start\) cannot be applied when pushing multiple apps from a manifest file\./);
    assert.match((await fails(1, ['push', 'nosuch', '-f', manifest])).stderr, /App 'nosuch' is not in the manifest .* \(it lists twin-a, twin-b\)/);
  });

  it('a manifest.yml in the current directory is used, and --no-manifest ignores it', async () => {
    const dir = scratchApp(nodeHello);
    fs.writeFileSync(path.join(dir, 'manifest.yml'), 'applications:\n- name: fromdir\n  env: {FROM: manifest}\n  colour: blue\n');
    const r = await cli(['push', '--no-start'], { cwd: dir });
    assert.equal(r.exitCode, 0, show(r));
    assert.match(r.stderr, /^Warning: applications\[0\] has fields devbox does not know, ignored: colour \(app 'fromdir'\)$/m);
    assert.match(r.stdout, /^name: {14}fromdir$/m);
    assert.match((await fails(2, ['push', '--no-manifest'], { cwd: dir })).stderr, /APP_NAME was not provided/);
  });

  it('a staging failure says why and exits 1', async () => {
    const r = await fails(1, ['push', 'nodetect', '-p', path.join(fixtures, 'push/undetectable')]);
    assert.match(r.stdout, /^Staging app and tracing logs\.\.\.\n(?: {3}.*\n)*FAILED$/m);
    assert.match(r.stderr, /^Error staging application: An app was not successfully detected by any available buildpack$/m);
    assert.match(r.stderr, /^TIP: 'devbox buildpacks' lists devbox's buildpacks \(java, ruby, nodejs, go, python, php, staticfile, binary\)/m);
    assert.match(r.stderr, /^TIP: Use 'devbox logs nodetect --recent' for more information$/m);
  });

  it('an app that crashes: Start unsuccessful, the crash, a TIP, exit 1', async () => {
    const r = await fails(1, ['push', 'crasher', '-p', behaviours, '-b', 'binary', '-c', 'node crash.js']);
    assert.match(r.stdout, /Waiting for app crasher to start\.\.\.\nFAILED$/);
    assert.match(r.stderr, /^Start unsuccessful\n\n {3}#0 crashed: .*status 3.*\n\nTIP: Use 'devbox logs crasher --recent' for more information$/m);
  });

  it('an http health check that never passes: never routed, push fails with the reason', async () => {
    const r = await fails(1, ['push', 'unhealthy', '-p', behaviours, '-b', 'binary', '-c', 'node unhealthy.js', '-u', 'http', '--endpoint', '/health', '-t', '2']);
    assert.match(r.stderr, /^Start unsuccessful/);
    assert.match(r.stderr, /#0 crashed: /);
    assert.equal((await visit('unhealthy')).status, 404, 'an unhealthy instance is never routed');
  });

  it('--no-start uploads without staging; start stages and starts it; restage picks up env changes', async () => {
    const out = await ok(['push', 'later', '--no-start'], { cwd: nodeHello });
    assert.doesNotMatch(out, /Staging app/);
    assert.match(out, /^requested state: {3}stopped$/m);
    assert.match(out, /^last uploaded:$/m);
    const guid = await appGuid('later');
    assert.equal((await api.call('GET', `/v3/apps/${guid}/droplets/current`)).status, 404);

    const started = await ok(['start', 'later']);
    assert.match(started, /^Staging app and tracing logs\.\.\.$/m);
    assert.match(started, /^Waiting for app later to start\.\.\.$/m);
    assert.match(started, /^#0 {3}running /m);
    assert.equal((await visit('later')).status, 200);

    const set = await ok(['set-env', 'later', 'GREETING', 'hi there']);
    assert.match(set, /TIP: Use 'devbox restage later' to ensure your env variable changes take effect$/);
    assert.equal((await appEnv('later')).GREETING, undefined);
    const restaged = await ok(['restage', 'later']);
    assert.match(restaged, /^Restaging app later in org devbox \/ space dev as admin\.\.\.$/m);
    assert.match(restaged, /^ {3}staged with nodejs$/m);
    assert.equal((await appEnv('later')).GREETING, 'hi there');

    // --no-start on a started app stops it, as cf does.
    assert.match(await ok(['push', 'later', '--no-start'], { cwd: nodeHello }), /^Stopping app later\.\.\.$/m);
    assert.match(await ok(['restart', 'later']), /^#0 {3}running /m);
  });

  it('uploads what .cfignore leaves, keeps links inside, refuses links that point out', async () => {
    const dir = scratchApp(nodeHello);
    fs.writeFileSync(path.join(dir, '.cfignore'), 'secret.txt\nlogs/\n');
    fs.writeFileSync(path.join(dir, 'secret.txt'), 'password');
    fs.mkdirSync(path.join(dir, 'logs'));
    fs.writeFileSync(path.join(dir, 'logs/today.log'), 'x');
    fs.writeFileSync(path.join(dir, 'run.sh'), '#!/bin/sh\n', { mode: 0o755 });
    fs.symlinkSync('server.js', path.join(dir, 'alias.js'));
    await ok(['push', 'ignored', '--no-start', '-p', dir]);
    const guid = await appGuid('ignored');
    const pkg = (await api.call('GET', `/v3/packages?app_guids=${guid}&order_by=-created_at`)).json().resources[0];
    const tgz = await new Promise<Buffer>((resolve, reject) => {
      const headers = { host: `api.localhost:${routerPort}`, authorization: `bearer ${api.token}` };
      http
        .get({ host: '127.0.0.1', port: routerPort, path: `/v3/packages/${pkg.guid}/download`, headers }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => (res.statusCode === 200 ? resolve(Buffer.concat(chunks)) : reject(new Error(`download: HTTP ${res.statusCode}`))));
        })
        .on('error', reject);
    });
    const entries = await untar(tgz);
    assert.deepEqual([...entries.keys()].sort(), ['alias.js', 'package.json', 'run.sh', 'server.js']);
    assert.equal(entries.get('alias.js')?.linkpath, 'server.js');

    fs.symlinkSync('/etc/hostname', path.join(dir, 'escape'));
    const r = await fails(1, ['push', 'escaping', '-p', dir]);
    assert.match(r.stderr, /The link escape points outside the app directory \(to \/etc\/hostname\)/);
    assert.equal((await api.call('GET', '/v3/apps?names=escaping')).json().resources.length, 0, 'nothing was created');
  });

  it('bad manifests and bad flags give clear errors', async () => {
    const badTypes = await fails(1, ['push', '-f', path.join(fixtures, 'manifests/bad-types/manifest.yml')]);
    assert.match(badTypes.stdout, /^FAILED$/m);
    assert.match(badTypes.stderr, /bad-types\/manifest\.yml cannot be used:\n/);
    assert.match(badTypes.stderr, /^ {2}applications\[0\]\.instances must be a whole number, got "three" \(app 'badtypes'\)$/m);
    assert.match(badTypes.stderr, /applications\[0\]\.memory must be a size with a unit, like 256M or 1G, got 256/);
    assert.match(badTypes.stderr, /applications\[0\]\.no-route must be true or false, got "maybe"/);
    const badYaml = await fails(1, ['push', '-f', path.join(fixtures, 'manifests/bad-yaml/manifest.yml')]);
    assert.match(badYaml.stderr, /it is not valid YAML:\n {4}line \d+, column \d+: /);
    assert.match((await fails(1, ['push', '-f', path.join(fixtures, 'manifests/none.yml')])).stderr, /none\.yml does not exist/);

    assert.match((await fails(2, ['push', 'x', '-m', '256'], { cwd: nodeHello })).stderr, /invalid argument for flag '-m'/);
    assert.match((await fails(2, ['push', 'x', '--no-route', '--random-route'], { cwd: nodeHello })).stderr, /--no-route, --random-route/);
    assert.match((await fails(2, ['push', 'x', '-u', 'tcp'], { cwd: nodeHello })).stderr, /tcp/);
    assert.match((await fails(2, ['push', 'x', '-u', 'port', '--endpoint', '/h'], { cwd: nodeHello })).stderr, /--endpoint needs the http health check/);
    assert.match((await fails(2, ['push', '-i', '1'], { cwd: nodeHello })).stderr, /APP_NAME was not provided/);
  });
});
