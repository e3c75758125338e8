// Service bindings reach a running app: user-provided services bound by the manifest at push, or with
// bind-service and a restart, show up in the app's VCAP_SERVICES (under `user-provided`) and the first
// mysql uri as DATABASE_URL (mysql2://).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { request } from '../../src/runtime/common/http.js';
import { freePort } from '../../src/runtime/common/net.js';
import { cleanupBox, DEVBOX_BIN, tempHome, type DevboxResult } from '../helpers/devbox.js';

const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/apps');

describe('service bindings in a running app', function () {
  this.timeout(120_000);
  let home: string;
  let routerPort: number;
  const scratch: string[] = [];
  const appEnv = async () => {
    const res = await request({ url: `http://envapp.localhost:${routerPort}/env`, timeoutMs: 5_000 });
    assert.equal(res.status, 200, res.text);
    return JSON.parse(res.text) as Record<string, string>;
  };

  const cli = async (args: string[]): Promise<DevboxResult> => {
    const r = await execa(process.execPath, [DEVBOX_BIN, ...args], { cwd: os.tmpdir(), env: { DEVBOX_HOME: home, NO_COLOR: '1' }, extendEnv: true, stdin: 'ignore', reject: false, timeout: 90_000 });
    return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
  };
  const ok = async (args: string[]) => {
    const r = await cli(args);
    assert.equal(r.exitCode, 0, `devbox ${args.join(' ')}: exit ${r.exitCode}\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  };

  before(async () => {
    home = tempHome('devbox-services-');
    routerPort = await freePort();
    await ok(['up', '-d', '--port', String(routerPort)]);
  });
  after(async () => {
    await cleanupBox(home);
    for (const dir of scratch) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('binds the manifest\'s services at push, and bind-service + restart adds more', async () => {
    await ok(['create-user-provided-service', 'db', '-p', '{"uri":"mysql://u:p@db.example:3306/d","hostname":"db.example"}']);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'devbox-services-manifest-'));
    scratch.push(dir);
    fs.writeFileSync(path.join(dir, 'manifest.yml'), `applications:\n- name: envapp\n  path: ${path.join(fixtures, 'node-hello')}\n  services: [db]\n`);
    const pushed = await ok(['push', '-f', path.join(dir, 'manifest.yml')]);
    assert.match(pushed, /Binding service instance db to app envapp/);
    const env = await appEnv();
    const services = JSON.parse(env.VCAP_SERVICES);
    assert.equal(services['user-provided'][0].name, 'db');
    assert.equal(services['user-provided'][0].credentials.hostname, 'db.example');
    assert.equal(env.DATABASE_URL, 'mysql2://u:p@db.example:3306/d');

    const credentialsFile = path.join(dir, 'other.json');
    fs.writeFileSync(credentialsFile, '{"token":"t"}');
    const created = await cli(['create-user-provided-service', 'other', '-p', credentialsFile, '-t', 'api, v2', '-l', 'syslog://127.0.0.1:5140', '-r', 'https://rs.example.com']);
    assert.equal(created.exitCode, 0, created.stderr);
    assert.match(created.stderr, /Warning: devbox's router has no route services/);
    const noTerminal = await cli(['create-user-provided-service', 'asked', '-p', 'username, password']);
    assert.equal(noTerminal.exitCode, 2);
    assert.match(noTerminal.stderr, /asks for each value at a terminal, and there is none: give the credentials as JSON instead/);
    const bound = await ok(['bind-service', 'envapp', 'other']);
    assert.match(bound, /OK\n\nTIP: Use 'devbox restage envapp' to ensure your env variable changes take effect/);
    await ok(['restart', 'envapp']);
    const after = JSON.parse((await appEnv()).VCAP_SERVICES);
    assert.deepEqual(after['user-provided'].map((e: { name: string }) => e.name).sort(), ['db', 'other']);
    const other = after['user-provided'].find((e: { name: string }) => e.name === 'other');
    assert.deepEqual(other.credentials, { token: 't' });
    assert.deepEqual(other.tags, ['api', 'v2']);
    assert.equal(other.syslog_drain_url, 'syslog://127.0.0.1:5140');
    assert.match(await ok(['env', 'envapp']), /VCAP_SERVICES/);
  });
});
