// The real cf CLI (cf 8, $DEVBOX_CF_CLI) pushes to a real box: `cf push` without a manifest (cf
// zips the app, apply_manifest creates it and its default route), with a manifest (env, instances,
// a route, a service binding: manifest_diff, then apply_manifest), a bad manifest (CF's errors,
// nothing created), and the app-level commands after a push: restage, restart, rename,
// restart-app-instance, set-/get-health-check, create-app-manifest, rename-service, delete-space.
// Each app is asked through the router, as a user's browser would. The steps run in order on one
// box and one cf login (harness: test/helpers/cf.ts).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { statePaths, type PortsFile } from '../../src/runtime/common/config.js';
import { request } from '../../src/runtime/common/http.js';
import { freePort } from '../../src/runtime/common/net.js';
import { waitFor } from '../../src/runtime/common/poll.js';
import { cfFor, table, type Cf } from '../helpers/cf.js';
import { cleanupBox, devbox, tempHome } from '../helpers/devbox.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const helloApp = path.join(root, 'templates/apps/hello-node');

describe('the cf CLI: cf push and the app commands against devbox', function () {
  this.timeout(180_000);
  let home: string;
  let cf: Cf;
  let routerPort: number;
  let work: string;

  before(async function () {
    this.timeout(240_000);
    home = tempHome('devbox-cf-push-');
    const up = await devbox(home, ['up', '-d', '--port', String(await freePort())], { timeoutMs: 90_000 });
    assert.equal(up.exitCode, 0, `devbox up: exit ${up.exitCode}\n${up.stdout}\n${up.stderr}`);
    routerPort = (JSON.parse(fs.readFileSync(statePaths(home).portsFile, 'utf8')) as PortsFile).router_port;
    cf = await cfFor({ home });
    await cf.login();
    work = fs.mkdtempSync(path.join(home, 'manifests-'));
  });

  after(async function () {
    this.timeout(60_000);
    cf?.cleanup();
    if (home) await cleanupBox(home);
  });

  /** GET through the router with the app's host name, as a browser would. */
  const visit = (host: string, routeWaitMs = 10_000) => request({ url: `http://${host}.localhost:${routerPort}/`, timeoutMs: 5_000, routeWaitMs });
  const appRow = async (name: string) => table(await cf.ok(['apps']), 'name').find((r) => r.name === name);
  const writeManifest = (name: string, text: string) => {
    const file = path.join(work, name);
    fs.writeFileSync(file, text);
    return file;
  };

  it('cf push NAME -p DIR (no manifest): zips, creates, stages and starts the app on its default route', async () => {
    const out = await cf.ok(['push', 'hello', '-p', helloApp]);
    assert.match(out, /requested state:\s+started/);
    assert.match(out, /routes:\s+hello\.localhost/);
    assert.match(out, /#0\s+running\s/);
    const res = await visit('hello');
    assert.equal(res.status, 200, res.text);
    assert.match(res.text, /Hello from hello/);
  });

  it('cf push -f manifest.yml: env, instances, a route and a service binding, shown as a diff first', async () => {
    await cf.ok(['create-user-provided-service', 'shop-db', '-p', '{"uri":"mysql://u:p@db.example:3306/shop"}']);
    const manifest = writeManifest(
      'shop.yml',
      `applications:
- name: shop
  path: ${helloApp}
  instances: 2
  memory: 128M
  env:
    GREETING: hello from the manifest
  routes:
  - route: shop-front.localhost
  services:
  - shop-db
`,
    );
    const out = await cf.ok(['push', '-f', manifest]);
    assert.match(out, /Updating with these attributes/);
    assert.match(out, /\+\s+instances: 2/);
    assert.match(out, /routes:\s+shop-front\.localhost/);
    assert.match(out, /instances:\s+2\/2/);
    assert.equal((await appRow('shop'))?.processes, 'web:2/2');
    const res = await visit('shop-front');
    assert.equal(res.status, 200, res.text);
    const env = await cf.ok(['env', 'shop']);
    assert.match(env, /GREETING: hello from the manifest/);
    assert.match(env, /"name": "shop-db"/);

    // The same manifest again: nothing to change, and the app keeps answering.
    const again = await cf.ok(['push', '-f', manifest]);
    assert.match(again, /instances:\s+2\/2/);
    assert.equal(table(await cf.ok(['routes']), 'space').filter((r) => r.host === 'shop-front').length, 1);
  });

  it('a bad manifest gets CF\'s errors, each naming its field, and nothing is created', async () => {
    const manifest = writeManifest('bad.yml', `applications:\n- name: broken\n  path: ${helloApp}\n  instances: -1\n  colour: blue\n  services: [no-such-db]\n`);
    const r = await cf.run(['push', '-f', manifest]);
    assert.equal(r.exitCode, 1, `${r.stdout}\n${r.stderr}`);
    const said = r.stdout + r.stderr;
    assert.match(said, /For application 'broken': Unknown field\(s\): 'colour'/);
    assert.match(said, /For application 'broken': Instances must be greater than or equal to 0/);
    assert.equal(await appRow('broken'), undefined);

    const missing = writeManifest('missing.yml', `applications:\n- name: broken\n  path: ${helloApp}\n  services: [no-such-db]\n`);
    const m = await cf.run(['push', '-f', missing]);
    assert.equal(m.exitCode, 1, `${m.stdout}\n${m.stderr}`);
    assert.match(m.stdout + m.stderr, /For application 'broken': Service instance 'no-such-db' not found/);
    assert.equal(await appRow('broken'), undefined);
  });

  it('restage, restart and rename keep the app answering', async () => {
    assert.match(await cf.ok(['restage', 'shop']), /instances:\s+2\/2/);
    assert.match(await cf.ok(['restart', 'shop']), /instances:\s+2\/2/);
    await cf.ok(['rename', 'shop', 'store']);
    assert.equal(await appRow('shop'), undefined);
    assert.equal((await appRow('store'))?.routes, 'shop-front.localhost');
    assert.equal((await visit('shop-front')).status, 200);
  });

  it('restart-app-instance stops one instance, and it comes back', async () => {
    /** Instance `index`'s state and since (cf computes it from the uptime: it may move by a second). */
    const instance = async (index: number) => {
      const m = new RegExp(`#${index}\\s+(\\S+)\\s+(\\S+)`).exec(await cf.ok(['app', 'store']));
      return { state: m?.[1], since: Date.parse(m?.[2] ?? '') };
    };
    const before = await instance(1);
    const other = await instance(0);
    assert.equal(before.state, 'running');
    await cf.ok(['restart-app-instance', 'store', '1']);
    await waitFor('instance 1 to run again, restarted', async () => {
      const now = await instance(1);
      return now.state === 'running' && now.since - before.since > 2_000 ? true : undefined;
    }, { timeoutMs: 60_000, intervalMs: 1_000 });
    assert.ok(Math.abs((await instance(0)).since - other.since) <= 2_000, 'instance 0 kept running');
    assert.match(await cf.ok(['events', 'store']), /audit\.app\.process\.terminate_instance/);
  });

  it('set-health-check and get-health-check', async () => {
    await cf.ok(['set-health-check', 'store', 'http', '--endpoint', '/']);
    const rows = table(await cf.ok(['get-health-check', 'store']), 'process');
    assert.equal(rows[0]['health check'], 'http');
    assert.equal(rows[0]['endpoint (for http)'], '/');
  });

  it('create-app-manifest writes the app\'s manifest: env, services, routes, processes', async () => {
    const file = path.join(work, 'store.yml');
    await cf.ok(['create-app-manifest', 'store', '-p', file]);
    const [store] = (parse(fs.readFileSync(file, 'utf8')) as { applications: Record<string, unknown>[] }).applications;
    assert.equal(store.name, 'store');
    assert.deepEqual(store.services, ['shop-db']);
    assert.deepEqual(store.routes, [{ route: 'shop-front.localhost', protocol: 'http1' }]);
    assert.deepEqual(store.env, { GREETING: 'hello from the manifest' });
    assert.equal((store.processes as Record<string, unknown>[])[0].instances, 2);
    assert.equal((store.processes as Record<string, unknown>[])[0]['health-check-type'], 'http');
  });

  it('rename-service renames the instance; the app stays bound', async () => {
    await cf.ok(['rename-service', 'shop-db', 'store-db']);
    const row = table(await cf.ok(['services']), 'name').find((r) => r.name === 'store-db');
    assert.ok(row, 'the renamed instance is listed');
    assert.equal(row['bound apps'], 'store');
  });

  it('delete-space deletes a space with its apps, routes and services', async () => {
    await cf.run(['create-space', 'scratch']);
    await cf.ok(['target', '-s', 'scratch']);
    await cf.ok(['create-user-provided-service', 'scratch-db']);
    const manifest = writeManifest('scratch.yml', `applications:\n- name: scratch\n  path: ${helloApp}\n  services: [scratch-db]\n`);
    await cf.ok(['push', '-f', manifest]);
    assert.equal((await visit('scratch')).status, 200);
    await cf.ok(['target', '-s', 'dev']);
    await cf.ok(['delete-space', 'scratch', '-f']);
    assert.equal(table(await cf.ok(['spaces']), 'name').some((r) => r.name === 'scratch'), false);
    await waitFor('the router to forget the deleted app', async () => ((await visit('scratch', 0)).status === 404 ? true : undefined), { timeoutMs: 15_000, intervalMs: 200 });
  });
});
