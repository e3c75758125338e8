// The DEA's pieces on their own: archives, line splitting, /proc parsing, the environment apps see,
// buildpack resolution, settings and the token client.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { StartMessage } from '../../../src/runtime/common/bus-messages.js';
import { extractTarball } from '../../../src/runtime/dea/archive.js';
import { databaseUrl, instanceEnv, vcapServices } from '../../../src/runtime/dea/instances/env.js';
import { findCgroupParent } from '../../../src/runtime/dea/instances/limits.js';
import { parseStat } from '../../../src/runtime/common/procfs.js';
import { LineSplitter } from '../../../src/runtime/dea/lines.js';
import { BUILTIN_BUILDPACKS_DIR } from '../../../src/runtime/dea/paths.js';
import { deaSettings } from '../../../src/runtime/dea/settings.js';
import { readProcfile, resolveBuildpack } from '../../../src/runtime/dea/staging/buildpacks.js';
import { StagingFailure } from '../../../src/runtime/dea/staging/errors.js';
import { uaaTokenSource } from '../../../src/runtime/dea/uaa-client.js';
import { tarball } from '../../helpers/archives.js';

describe('dea units', () => {
  let tmp: string;
  before(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'devbox-dea-unit-'))));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('extracts with the umask applied', async () => {
    const file = path.join(tmp, 'a.tgz');
    fs.writeFileSync(
      file,
      tarball([
        { path: 'app/', type: 'Directory', mode: 0o755 },
        { path: 'app/run.sh', content: 'echo hi', mode: 0o755 },
        { path: 'app/data.txt', content: 'x', mode: 0o644 },
      ]),
    );
    const out = path.join(tmp, 'out');
    await extractTarball(file, out, { umask: 0o027 });
    assert.equal(fs.statSync(path.join(out, 'app/run.sh')).mode & 0o777, 0o750);
    assert.equal(fs.statSync(path.join(out, 'app/data.txt')).mode & 0o777, 0o640);
  });

  it('refuses entries that escape, and writes nothing outside', async () => {
    const file = path.join(tmp, 'evil.tgz');
    fs.writeFileSync(
      file,
      tarball([
        { path: 'app/', type: 'Directory', mode: 0o755 },
        { path: '../evil.txt', content: 'no' },
        { path: '/abs-evil.txt', content: 'no' },
        { path: 'app/dev', type: 'CharacterDevice' },
      ]),
    );
    const out = path.join(tmp, 'out-evil');
    // Whether the archive as a whole is refused or the bad entries skipped, nothing lands outside.
    await extractTarball(file, out).catch(() => undefined);
    assert.equal(fs.existsSync(path.join(tmp, 'evil.txt')), false);
    assert.equal(fs.existsSync('/abs-evil.txt'), false);
    assert.equal(fs.existsSync(path.join(out, 'app/dev')), false);
  });

  it('splits lines across chunks, UTF-8 safe, with \\r\\n and a cap on length', () => {
    const lines: string[] = [];
    const s = new LineSplitter((l) => lines.push(l), 10);
    const euro = Buffer.from('€');
    s.push(Buffer.concat([Buffer.from('ab\r\nc'), euro.subarray(0, 1)]));
    s.push(Buffer.concat([euro.subarray(1), Buffer.from('d\n0123456789012345')]));
    s.push('\nlast');
    s.end();
    assert.deepEqual(lines, ['ab', 'c€d', '0123456789', '012345', 'last']);
  });

  it('parses /proc/<pid>/stat with spaces and parentheses in the command', () => {
    const fields = Array.from({ length: 52 }, (_, i) => String(i + 1));
    const stat = parseStat(`1234 (my (odd) cmd) ${fields.slice(2).join(' ')}`)!;
    assert.equal(stat.pid, 1234);
    assert.equal(stat.ppid, 4);
    assert.equal(stat.pgrp, 5);
    assert.equal(stat.session, 6);
    assert.equal(stat.ticks, 14 + 15 + 16 + 17);
    assert.equal(stat.starttime, 22);
    const own = parseStat(fs.readFileSync('/proc/self/stat', 'utf8'))!;
    assert.equal(own.pid, process.pid);
    assert.ok(own.rssBytes > 1024 * 1024);
  });

  it('shapes VCAP_SERVICES and DATABASE_URL as Cloud Foundry does', () => {
    const services = vcapServices([
      { name: 'up', label: '', credentials: { uri: 'https://example.com' } },
      { name: 'db', label: 'p-mysql', plan: 'small', tags: ['mysql'], credentials: { uri: 'mysql://u:p@h:3306/d' } },
    ]);
    assert.deepEqual(Object.keys(services), ['user-provided', 'p-mysql']);
    assert.deepEqual(services['p-mysql'][0].volume_mounts, []);
    assert.equal(services['p-mysql'][0].syslog_drain_url, null);
    assert.equal(databaseUrl(services), 'mysql2://u:p@h:3306/d');
    assert.equal(databaseUrl(vcapServices([])), undefined);
  });

  it('builds the instance environment: platform variables win, the user\'s DATABASE_URL wins', () => {
    const start = {
      droplet: 'app-1',
      version: 'v9',
      name: 'myapp',
      index: 3,
      uris: ['myapp.localhost'],
      limits: { mem: 512, disk: 1024, fds: 100 },
      env: { PORT: '1', VCAP_APPLICATION: 'x', DATABASE_URL: 'mine', CUSTOM: 'yes' },
      services: [{ name: 'db', label: 'p-mysql', credentials: { uri: 'mysql://a' } }],
      executableUri: 'http://x',
    } as StartMessage;
    const env = instanceEnv(start, { instanceGuid: 'g-1', port: 61000, appDir: '/i/app', depsDir: '/i/deps', tmpDir: '/i/tmp' });
    assert.equal(env.PORT, '61000');
    assert.equal(env.CUSTOM, 'yes');
    assert.equal(env.DATABASE_URL, 'mine');
    assert.equal(env.MEMORY_LIMIT, '512m');
    assert.equal(env.HOME, '/i/app');
    const vcap = JSON.parse(env.VCAP_APPLICATION);
    assert.equal(vcap.application_name, 'myapp');
    assert.equal(vcap.application_version, 'v9');
    assert.equal(vcap.instance_index, 3);
    assert.deepEqual(vcap.limits, { mem: 512, disk: 1024, fds: 100 });
    assert.equal(vcap.users, null);
  });

  it('resolves buildpacks by name, alias or absolute path', () => {
    assert.equal(resolveBuildpack('nodejs_buildpack', BUILTIN_BUILDPACKS_DIR).name, 'nodejs');
    assert.equal(resolveBuildpack('staticfile', BUILTIN_BUILDPACKS_DIR).builtin, true);
    assert.throws(() => resolveBuildpack('https://github.com/x/y', BUILTIN_BUILDPACKS_DIR), (e: StagingFailure) => e.id === 'NoSuchBuildpack' && /cannot download/.test(e.message));
    assert.throws(() => resolveBuildpack(path.join(tmp, 'nope'), BUILTIN_BUILDPACKS_DIR), (e: StagingFailure) => e.id === 'NoSuchBuildpack');
    fs.mkdirSync(path.join(tmp, 'empty-bp', 'bin'), { recursive: true });
    assert.throws(() => resolveBuildpack(path.join(tmp, 'empty-bp'), BUILTIN_BUILDPACKS_DIR), /is not a buildpack/);
    for (const name of ['nodejs', 'python', 'staticfile', 'binary']) {
      for (const step of ['detect', 'compile', 'release']) fs.accessSync(path.join(BUILTIN_BUILDPACKS_DIR, name, 'bin', step), fs.constants.X_OK);
    }
  });

  it('reads a Procfile', () => {
    fs.writeFileSync(path.join(tmp, 'Procfile'), 'web: node web.js --port $PORT\nworker: node worker.js\n# comment\n');
    assert.deepEqual(readProcfile(tmp), { web: 'node web.js --port $PORT', worker: 'node worker.js' });
  });

  it('reads settings from the environment', () => {
    const s = deaSettings(tmp, { DEVBOX_DEA_ADVERTISE_MS: '100', DEVBOX_DEA_MEMORY_MB: '2048', DEVBOX_LOG_RATE_LIMIT: '0', DEVBOX_DEA_MEMORY_ENFORCEMENT: 'rss', DEVBOX_DEA_HEARTBEAT_MS: 'junk' });
    assert.equal(s.advertiseMs, 100);
    assert.equal(s.heartbeatMs, 2000);
    assert.equal(s.memoryMb, 2048);
    assert.equal(s.logRateLimit, 0);
    assert.equal(s.memoryEnforcement, 'sampling', 'rss, the old name, is read as sampling');
    const d = deaSettings(tmp, {});
    assert.equal(d.memoryMb, Math.floor((os.totalmem() * 0.8) / (1024 * 1024)));
  });

  it('finds no cgroup parent in a directory without the memory controller', () => {
    const fake = path.join(tmp, 'cg');
    fs.mkdirSync(fake);
    fs.writeFileSync(path.join(fake, 'cgroup.controllers'), 'cpu io\n');
    assert.equal(findCgroupParent(fake).dir, undefined);
    fs.writeFileSync(path.join(fake, 'cgroup.controllers'), 'cpu io memory\n');
    fs.writeFileSync(path.join(fake, 'cgroup.subtree_control'), 'memory\n');
    assert.equal(findCgroupParent(fake).dir, fake);
  });

  it('gets a components token from uaa (client_credentials, basic auth) and caches it', async () => {
    let calls = 0;
    const server = http.createServer((req, res) => {
      calls += 1;
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const ok = req.url === '/oauth/token' && body === 'grant_type=client_credentials' && req.headers.authorization === `Basic ${Buffer.from('comp:s3cret').toString('base64')}`;
        res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' }).end(JSON.stringify(ok ? { access_token: `tok-${calls}`, expires_in: 1200 } : { error: 'unauthorized' }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    try {
      const port = (server.address() as { port: number }).port;
      const source = uaaTokenSource({ uaaUrl: `http://127.0.0.1:${port}`, clientId: 'comp', clientSecret: 's3cret' });
      assert.equal(await source.token(), 'tok-1');
      assert.equal(await source.token(), 'tok-1');
      source.invalidate();
      assert.equal(await source.token(), 'tok-2');
      const bad = uaaTokenSource({ uaaUrl: `http://127.0.0.1:${port}`, clientId: 'comp', clientSecret: 'wrong' });
      await assert.rejects(bad.token(), /uaa answered 401/);
    } finally {
      server.close();
    }
  });
});
