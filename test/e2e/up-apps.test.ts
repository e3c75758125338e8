// `devbox up` on a box that has apps (issue 22): it returns only once every started app runs again
// and the router routes it, so the app answers right after `up` returns, with no 404 window; an
// app that crashes is named with the crash's reason, and `up` still exits 0 (the box is up). Both
// `up -d` and the foreground `up`, through the real executable, real processes and the router.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { statePaths } from '../../src/runtime/common/config.js';
import { request } from '../../src/runtime/common/http.js';
import { freePort } from '../../src/runtime/common/net.js';
import { waitFor } from '../../src/runtime/common/poll.js';
import { cleanupBox, DEVBOX_BIN, devbox, tempHome, type DevboxResult } from '../helpers/devbox.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const helloApp = path.join(root, 'templates/apps/hello-node');
const behaviours = path.join(root, 'test/fixtures/apps/behaviours');

describe('devbox up waits for the started apps', function () {
  this.timeout(180_000);
  let home: string;
  let routerPort: number;
  // Any free ssh port: 2222, the default, may be another box's on a machine running several.
  const env = { DEVBOX_SSH_PORT: '0' };
  const show = (r: DevboxResult) => `exit ${r.exitCode}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
  const cli = async (args: string[], { cwd = root, timeoutMs = 120_000 } = {}): Promise<DevboxResult> => {
    const r = await execa(process.execPath, [DEVBOX_BIN, ...args], { cwd, env: { DEVBOX_HOME: home, NO_COLOR: '1', ...env }, extendEnv: true, stdin: 'ignore', reject: false, timeout: timeoutMs });
    return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
  };
  /** One request through the router as a browser sends it: no retry, the route must be there. */
  const hello = () => request({ url: `http://hello.localhost:${routerPort}/`, timeoutMs: 5_000 });
  const down = async () => {
    const r = await cli(['down']);
    assert.equal(r.exitCode, 0, show(r));
  };

  before(async function () {
    this.timeout(240_000);
    home = tempHome('devbox-up-apps-');
    routerPort = await freePort();
    const up = await devbox(home, ['up', '-d', '--port', String(routerPort)], { timeoutMs: 90_000, env });
    assert.equal(up.exitCode, 0, show(up));
    // From the app's folder, as a cf user pushes: the manifest there names it hello.
    const push = await cli(['push'], { cwd: helloApp });
    assert.equal(push.exitCode, 0, show(push));
    // Started, and crashing: push says so (exit 1); the app's desired state stays STARTED.
    const crashy = await cli(['push', 'crashy', '-p', behaviours, '-b', 'binary', '-c', 'node crash.js']);
    assert.equal(crashy.exitCode, 1, show(crashy));
    assert.match(crashy.stderr, /Start unsuccessful/);
  });
  after(async () => cleanupBox(home));

  it('up -d returns once hello runs and is routed (200 at once), naming crashy with its reason', async () => {
    await down();
    const up = await devbox(home, ['up', '-d', '--port', String(routerPort)], { timeoutMs: 150_000, env });
    const res = await hello();
    assert.equal(up.exitCode, 0, show(up));
    assert.equal(res.status, 200, `right after up returned: ${res.status} ${res.text}\n${show(up)}`);
    assert.match(res.text, /Hello from hello/);
    assert.match(up.stdout, /^Waiting for 2 apps to start\.\.\.\n {3}1 of 2 running$/m);
    assert.match(up.stderr, /^App crashy is not running: process web crashed \(#0: APP\/PROC\/WEB: Exited with status 3\); use 'devbox logs crashy --recent' for more information\.$/m);
    assert.doesNotMatch(up.stderr, /App hello/);
    assert.ok(up.stdout.indexOf('Waiting for 2 apps') < up.stdout.indexOf('devbox is up'), 'the apps are waited for before up says it is up');
    assert.deepEqual(fs.readdirSync(statePaths(home).run).filter((f) => f.startsWith('up-session')), [], "up's own API session is gone");
  });

  it('the foreground up waits the same way before it says it is up', async () => {
    await down();
    const child = execa(process.execPath, [DEVBOX_BIN, 'up', '--port', String(routerPort)], {
      env: { DEVBOX_HOME: home, NO_COLOR: '1', DEVBOX_TLS_PORT: String(await freePort()), ...env },
      reject: false,
      timeout: 170_000,
    });
    let out = '';
    let err = '';
    child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
    try {
      await waitFor('devbox up to say it is up', () => /devbox is up/.test(out), { timeoutMs: 150_000, intervalMs: 20 });
      const res = await hello();
      assert.equal(res.status, 200, `right after up said it is up: ${res.status} ${res.text}\n${out}\n${err}`);
      assert.match(out, /^Waiting for 2 apps to start\.\.\.\n {3}1 of 2 running$/m);
      assert.ok(out.indexOf('Waiting for 2 apps') < out.indexOf('devbox is up'));
      assert.match(err, /App crashy is not running: process web crashed \(#0: APP\/PROC\/WEB: Exited with status 3\)/);
    } finally {
      child.kill('SIGINT');
    }
    const result = await child;
    assert.equal(result.exitCode, 0, err);
    assert.match(out, /devbox stopped/);
  });

  it("an up with no started app does not wait, says nothing about apps, and leaves the user's session as it is", async () => {
    // The foreground test stopped its box: one to stop the apps on, then the up that is looked at.
    const first = await devbox(home, ['up', '-d', '--port', String(routerPort)], { timeoutMs: 150_000, env });
    assert.equal(first.exitCode, 0, show(first));
    for (const app of ['hello', 'crashy']) {
      const stop = await cli(['stop', app]);
      assert.equal(stop.exitCode, 0, show(stop));
    }
    // Logged out: up asks the API as the box's admin in a session of its own, and does not log the user in.
    const logout = await cli(['logout']);
    assert.equal(logout.exitCode, 0, show(logout));
    await down();
    const up = await devbox(home, ['up', '-d', '--port', String(routerPort)], { timeoutMs: 90_000, env });
    assert.equal(up.exitCode, 0, show(up));
    assert.doesNotMatch(up.stdout + up.stderr, /Waiting for|App |Could not/);
    const apps = await cli(['apps']);
    assert.equal(apps.exitCode, 1, show(apps));
    assert.match(apps.stderr, /Not logged in/);
  });
});
