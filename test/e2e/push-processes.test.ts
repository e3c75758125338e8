// `devbox push` with a manifest's `processes:`, end to end on a real box: the entries are applied
// through the controller's apply_manifest before staging (a worker with its own instances and
// memory runs and logs), a re-push scales the worker back to none and push says how to start it,
// and an entry the controller (or the manifest reader) refuses fails the push with a message naming
// the field, having created nothing.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from '../../src/runtime/common/http.js';
import { waitFor } from '../../src/runtime/common/poll.js';
import { startCfBox, type CfBox } from '../helpers/cf.js';
import { devbox, type DevboxResult } from '../helpers/devbox.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const webWorker = path.join(root, 'test/fixtures/apps/web-worker');

describe("devbox push with a manifest's processes", function () {
  this.timeout(180_000);
  let box: CfBox;
  let dir: string;
  const cli = (args: string[], timeoutMs = 120_000) => devbox(box.home, args, { timeoutMs });
  const show = (r: DevboxResult) => `exit ${r.exitCode}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
  const ok = async (args: string[], timeoutMs?: number) => {
    const r = await cli(args, timeoutMs);
    assert.equal(r.exitCode, 0, `devbox ${args.join(' ')}: ${show(r)}`);
    return r.stdout;
  };
  /** A manifest file for one app of the web-worker fixture. */
  const manifest = (file: string, app: string, rest: string) => {
    const at = path.join(dir, file);
    fs.writeFileSync(at, `applications:\n- name: ${app}\n  path: ${webWorker}\n${rest}`);
    return at;
  };
  /** The app's process block in `devbox app` (or push) output. */
  const processBlock = (out: string, type: string) => new RegExp(`type:\\s+${type}\\s*\\n\\s*instances:\\s+(\\d+)/(\\d+)\\s*\\n\\s*memory usage:\\s+(\\S+)`).exec(out);
  /** Nothing of the app on the box: no app of that name, no route with its host. */
  const assertNothingCreated = async (app: string) => {
    const apps = JSON.parse(await ok(['curl', `/v3/apps?names=${app}`])) as { resources: unknown[] };
    assert.deepEqual(apps.resources, [], `app ${app} was created`);
    const routes = JSON.parse(await ok(['curl', `/v3/routes?hosts=${app}`])) as { resources: unknown[] };
    assert.deepEqual(routes.resources, [], `a route for ${app} was created`);
  };

  before(async function () {
    this.timeout(240_000);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'devbox-push-processes-'));
    box = await startCfBox({ prefix: 'devbox-push-processes-' });
  });
  after(async function () {
    this.timeout(60_000);
    await box?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('applies web and worker entries before staging: the worker runs with 1 instance of 64M and logs as APP/PROC/WORKER/0', async () => {
    const file = manifest('pw.yml', 'pw', '  processes:\n  - type: web\n    instances: 1\n  - type: worker\n    instances: 1\n    memory: 64M\n');
    const r = await cli(['push', '-f', file]);
    assert.equal(r.exitCode, 0, show(r));
    assert.doesNotMatch(r.stderr, /processes/, 'no warning about processes');
    assert.match(r.stdout, /Applying processes web, worker\.\.\./);
    // The processes are set before the upload, so the staged app starts with them.
    assert.ok(r.stdout.indexOf('Applying processes') < r.stdout.indexOf('Uploading files'), r.stdout);
    assert.doesNotMatch(r.stdout, /TIP: process/);

    await waitFor('the worker to log', async () => /\[APP\/PROC\/WORKER\/0\] OUT worker tick \d+ \(process worker, instance 0\)/.test(await ok(['logs', 'pw', '--recent'])), { timeoutMs: 30_000, intervalMs: 500 });
    const shown = await waitFor('devbox app to show the worker running', async () => {
      const out = await ok(['app', 'pw']);
      return processBlock(out, 'worker')?.[1] === '1' && out;
    }, { timeoutMs: 20_000, intervalMs: 300 });
    assert.deepEqual(processBlock(shown, 'worker')?.slice(1), ['1', '1', '64M']);
    assert.deepEqual(processBlock(shown, 'web')?.slice(1), ['1', '1', '256M']);
    // Only web has the route.
    const res = await request({ url: `http://pw.localhost:${box.port}/`, timeoutMs: 5_000, routeWaitMs: 10_000 });
    assert.equal(res.status, 200, res.text);
    assert.match(res.text, /^web process web instance 0/);
  });

  it('a re-push that gives the worker no instances stops it, and push ends with a TIP on how to start one', async () => {
    const file = manifest('pw-idle.yml', 'pw', '  processes:\n  - type: worker\n    instances: 0\n');
    const out = await ok(['push', '-f', file]);
    assert.deepEqual(processBlock(out, 'worker')?.slice(1), ['0', '0', '64M']);
    const lines = out.trimEnd().split('\n');
    assert.equal(lines.at(-1), "TIP: process worker has no instances: 'devbox scale pw --process worker -i 1' starts one.");
    assert.equal(lines.filter((l) => l.startsWith('TIP:')).length, 1, out);
  });

  it("an entry the controller refuses (instances: -1) fails the push with its message naming the field, and creates nothing", async () => {
    const file = manifest('bad.yml', 'pw-bad', '  processes:\n  - type: web\n  - type: worker\n    instances: -1\n');
    const r = await cli(['push', '-f', file]);
    assert.equal(r.exitCode, 1, show(r));
    assert.match(r.stdout, /FAILED/);
    assert.match(r.stderr, /The processes of app pw-bad in the manifest cannot be applied:\n\s+For application 'pw-bad': Process "worker": Instances must be greater than or equal to 0/);
    await assertNothingCreated('pw-bad');
  });

  it('an entry without a type fails the push with the manifest reader\'s message, and creates nothing', async () => {
    const file = manifest('untyped.yml', 'pw-untyped', '  processes:\n  - type: web\n  - instances: 1\n');
    const r = await cli(['push', '-f', file]);
    assert.equal(r.exitCode, 1, show(r));
    assert.match(r.stderr, /applications\[0\]\.processes\[1\] has no type: every process needs one/);
    await assertNothingCreated('pw-untyped');
  });
});
