// Faults of the whole box (issue 8): every process of a box killed with -9 at once (the supervisor,
// the components, the router's workers, the private mysqld, the app instances), then `devbox up`
// brings every started app back with its data; and `devbox down` in the middle of a push, which must
// fail cleanly and leave nothing half-made that looks like a running app.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { request } from '../../../src/runtime/common/http.js';
import { freePort, waitFor } from '../../../src/runtime/common/net.js';
import { statePaths } from '../../../src/runtime/common/config.js';
import { processTree } from '../../../src/runtime/common/procfs.js';
import { readSupervisor } from '../../../src/runtime/supervisor/lock.js';
import { boxApi, type BoxApi } from '../../helpers/api.js';
import { appInstances, boxCli, brokerRows, controllerRows, missing, nodeRows, readBox, table, varz, waitForRestart } from '../../helpers/box-probe.js';
import { cleanupBox, DEVBOX_BIN, isPidAlive, tempHome } from '../../helpers/devbox.js';

const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/apps');

describe('faults: the whole box', function () {
  this.timeout(120_000);
  let home: string;
  let routerPort: number;
  let api: BoxApi;
  const scratch: string[] = [];
  const figures: (string | number)[][] = [];

  const { cli, ok } = boxCli(() => home);
  const visit = (host: string, urlPath = '/') => request({ url: `http://${host}.localhost:${routerPort}${urlPath}`, timeoutMs: 5_000 });

  before(async function () {
    this.timeout(120_000);
    home = tempHome('devbox-faults-box-');
    routerPort = await freePort();
    await ok(['up', '-d', '--port', String(routerPort)]);
    api = await boxApi(home, routerPort);
  });
  after(async function () {
    this.timeout(60_000);
    if (figures.length > 0) console.log(`\n${table(['fault', 'back after (s)'], figures)}\n`);
    await cleanupBox(home);
    for (const dir of scratch) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('kill -9 of the whole tree, then `devbox up`: every started app back, data intact', async () => {
    await waitFor('the broker to provision notes-db', async () => (await cli(['create-service', 'p-mysql', 'small', 'notes-db'])).exitCode === 0, { timeoutMs: 60_000, intervalMs: 500 });
    await ok(['push', '-i', '2'], { cwd: path.join(fixtures, 'mysql-app') });
    await ok(['push', 'hello', '-p', path.join(fixtures, 'node-hello')]);
    await ok(['push', 'resting', '-p', path.join(fixtures, 'node-hello'), '--no-start']);
    for (const text of ['one', 'two', 'three']) assert.equal((await visit('notes', `/write?text=${text}`)).status, 200);
    const box = readBox(home);
    const rows = { controller: controllerRows(home), broker: brokerRows(home), node: await nodeRows(box) };
    const notesGuid = (await api.call('GET', '/v3/apps?names=notes')).json().resources[0].guid as string;
    assert.equal((await appInstances(box, notesGuid)).filter((i) => i.state === 'RUNNING').length, 2);

    const supervisor = readSupervisor(statePaths(home).pidFile)!;
    const tree = processTree(supervisor.pid);
    // The supervisor, 9 components, the router's workers, mysqld and three instances at least.
    assert.ok(tree.length >= 14, `the box's processes: ${tree.join(' ')}`);
    for (const pid of tree) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // exited between the scan and the kill (an instance's short-lived child, say)
      }
    }
    await waitFor('every process of the box gone', () => tree.every((pid) => !isPidAlive(pid)), { timeoutMs: 15_000, intervalMs: 50 });

    const upAt = Date.now();
    await ok(['up', '-d', '--port', String(routerPort)]);
    figures.push(['kill -9 of the whole tree: `devbox up` done', ((Date.now() - upAt) / 1000).toFixed(1)]);
    await waitFor('notes back with its rows', async () => {
      const res = await visit('notes', '/read').catch(() => undefined);
      return res?.status === 200 && (JSON.parse(res.text) as { notes: string[] }).notes.join() === 'one,two,three';
    }, { timeoutMs: 60_000, intervalMs: 200 });
    await waitFor('hello back', async () => (await visit('hello').catch(() => undefined))?.status === 200, { timeoutMs: 30_000, intervalMs: 200 });
    const after = readBox(home);
    await waitFor('both instances of notes running', async () => (await appInstances(after, notesGuid)).filter((i) => i.state === 'RUNNING').length === 2, { timeoutMs: 30_000, intervalMs: 200 });
    figures.push(['kill -9 of the whole tree: every app back after up', ((Date.now() - upAt) / 1000).toFixed(1)]);

    assert.match(await ok(['apps']), /resting\s+stopped/, 'an app that was stopped stays stopped');
    assert.deepEqual(missing(rows.controller.keys(), controllerRows(home)), [], 'controller rows');
    assert.deepEqual(missing(rows.broker, brokerRows(home)), [], 'broker records');
    assert.deepEqual(missing(rows.node, await nodeRows(after)), [], "the mysql-node's bookkeeping");
  });

  /** A buildpack that takes its time, so that a fault surely lands while the app stages; and an app for it. */
  const slowBuildpack = (): { buildpack: string; app: string } => {
    const buildpack = fs.mkdtempSync(path.join(os.tmpdir(), 'devbox-slow-buildpack-'));
    const app = fs.mkdtempSync(path.join(os.tmpdir(), 'devbox-slow-app-'));
    scratch.push(buildpack, app);
    fs.mkdirSync(path.join(buildpack, 'bin'));
    const script = (name: string, body: string) => fs.writeFileSync(path.join(buildpack, 'bin', name), `#!/usr/bin/env bash\nset -e\n${body}\n`, { mode: 0o755 });
    script('detect', 'echo slow');
    // The sleeping shell names the buildpack on its command line, so that a survivor can be found.
    script('compile', `echo "compiling slowly"\nbash -c 'sleep 60; :' "$0"\ncp -r ${path.join(fixtures, 'node-hello')}/. "$1"/`);
    script('release', 'printf -- "---\\ndefault_process_types:\\n  web: node server.js\\n"');
    fs.writeFileSync(path.join(app, 'server.js'), '// replaced by the buildpack\n');
    return { buildpack, app };
  };

  it('kill -9 of the controller during a push: the build is failed when it is back, and the push says so', async () => {
    const { buildpack, app } = slowBuildpack();
    const push = execa(process.execPath, [DEVBOX_BIN, 'push', 'cutoff', '-p', app, '-b', buildpack], { env: { DEVBOX_HOME: home, NO_COLOR: '1' }, extendEnv: true, stdin: 'ignore', reject: false, timeout: 60_000 });
    try {
      const appGuid = await waitFor('the app to exist', async () => (await api.call('GET', '/v3/apps?names=cutoff')).json().resources[0]?.guid as string | undefined, { timeoutMs: 30_000, intervalMs: 100 });
      await waitFor('the app staging', async () => (await api.call('GET', `/v3/builds?app_guids=${appGuid}`)).json().resources.some((b: { state: string }) => b.state === 'STAGING'), { timeoutMs: 30_000, intervalMs: 100 });
      const box = readBox(home);
      const controller = (await varz(box, 'controller'))!.pid;
      const killedAt = Date.now();
      process.kill(controller, 'SIGKILL');
      await waitForRestart(box, 'controller', controller);
      const result = await push;
      figures.push(['controller killed while staging: push ended after (s)', ((Date.now() - killedAt) / 1000).toFixed(1)]);
      assert.equal(result.exitCode, 1, `the push fails: ${result.stdout}\n${result.stderr}`);
      assert.match(String(result.stderr), /staging was cut off: the controller staging it stopped\. Push or restage again\./);
      assert.ok(Date.now() - killedAt < 30_000, 'long before the 15-minute staging timeout');
      const builds = (await api.call('GET', `/v3/builds?app_guids=${appGuid}`)).json().resources as { state: string }[];
      assert.deepEqual(builds.map((b) => b.state), ['FAILED']);
    } finally {
      if (push.exitCode === null) push.kill('SIGKILL');
      await push;
    }
    // The same app pushed again with a quick buildpack stages and runs.
    await ok(['push', 'cutoff', '-p', path.join(fixtures, 'node-hello'), '-b', 'nodejs']);
    assert.equal((await visit('cutoff')).status, 200);
  });

  it('`devbox down` during a push: the push fails cleanly, nothing half-made looks like a running app', async () => {
    const { buildpack, app } = slowBuildpack();

    const push = execa(process.execPath, [DEVBOX_BIN, 'push', 'slow', '-p', app, '-b', buildpack], { env: { DEVBOX_HOME: home, NO_COLOR: '1' }, extendEnv: true, stdin: 'ignore', reject: false, timeout: 60_000 });
    try {
      const appGuid = await waitFor('the app to exist', async () => (await api.call('GET', '/v3/apps?names=slow')).json().resources[0]?.guid as string | undefined, { timeoutMs: 30_000, intervalMs: 100 });
      await waitFor('the app staging', async () => (await api.call('GET', `/v3/builds?app_guids=${appGuid}`)).json().resources.some((b: { state: string }) => b.state === 'STAGING'), { timeoutMs: 30_000, intervalMs: 100 });
      const downAt = Date.now();
      await ok(['down']);
      const result = await push;
      figures.push(['devbox down during a push: push ended after (s)', ((Date.now() - downAt) / 1000).toFixed(1)]);
      assert.equal(result.exitCode, 1, `the push fails: ${result.stdout}\n${result.stderr}`);
      assert.match(`${result.stdout}\n${result.stderr}`, /FAILED/);
      console.log(`    the push said: ${String(result.stderr).trim().split('\n').join(' / ')}`);
      assert.doesNotMatch(String(result.stderr), /\n\s+at .+:\d+:\d+/, 'no stack trace');
    } finally {
      if (push.exitCode === null) push.kill('SIGKILL');
      await push;
    }
    // Nothing of the staging is left running: its processes were in the DEA's care.
    const leftovers = fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p) && (() => {
      try {
        return fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(buildpack);
      } catch {
        return false;
      }
    })());
    assert.deepEqual(leftovers, [], 'no buildpack process outlives the box');

    await ok(['up', '-d', '--port', String(routerPort)]);
    api = await boxApi(home, routerPort);
    const apps = await ok(['apps']);
    const line = apps.split('\n').find((l) => /^slow\s/.test(l));
    // Either the app is gone or it says it is not running; never `started` with nothing behind it.
    if (line) {
      assert.doesNotMatch(line, /started/, `devbox apps:\n${apps}`);
      const guid = (await api.call('GET', '/v3/apps?names=slow')).json().resources[0].guid as string;
      const builds = (await api.call('GET', `/v3/builds?app_guids=${guid}`)).json().resources as { state: string }[];
      assert.deepEqual(builds.map((b) => b.state), ['FAILED'], 'the build is recorded as failed');
    }
    assert.equal((await visit('slow')).status, 404, 'no route to a half-made app');
    await waitFor('the apps that were running back', async () => (await visit('hello').catch(() => undefined))?.status === 200, { timeoutMs: 30_000, intervalMs: 200 });
  });
});
