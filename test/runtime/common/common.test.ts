import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { parseNatsUrl, embeddedBusUrl } from '../../../src/runtime/common/bus.js';
import { ensureConfig, ensureStateDirs, secret, statePaths } from '../../../src/runtime/common/config.js';
import { createLogger, redactUrl } from '../../../src/runtime/common/log.js';
import { freePort } from '../../../src/runtime/common/net.js';
import { startStatusServer } from '../../../src/runtime/common/status.js';

describe('common', () => {
  let home: string;
  beforeEach(() => (home = fs.mkdtempSync(path.join(os.tmpdir(), 'devbox-common-'))));
  afterEach(() => fs.rmSync(home, { recursive: true, force: true }));

  describe('config', () => {
    it('generates secrets once, mode 0600, and keeps them on the next load', () => {
      const paths = statePaths(home);
      ensureStateDirs(paths);
      const first = ensureConfig(paths);
      assert.equal(fs.statSync(paths.config).mode & 0o777, 0o600);
      assert.equal(fs.statSync(paths.home).mode & 0o777, 0o700);
      assert.ok(first.bus.token.length >= 24);
      assert.notEqual(first.bus.token, first.status.password);
      assert.deepEqual(ensureConfig(paths), first);
    });

    it('fills settings a newer devbox added without touching chosen ones', () => {
      const paths = statePaths(home);
      ensureStateDirs(paths);
      fs.writeFileSync(paths.config, JSON.stringify({ version: 1, domain: 'example.test', bus: { token: 'kept' } }), { mode: 0o644 });
      const config = ensureConfig(paths);
      assert.equal(config.domain, 'example.test');
      assert.equal(config.bus.token, 'kept');
      assert.equal(config.router_port, 8080);
      assert.ok(config.status.password);
      assert.equal(fs.statSync(paths.config).mode & 0o777, 0o600, 'tightened to 0600');
    });

    it('never makes a secret that starts with a dash (it would read as a flag on a cf command line)', () => {
      // 1 in 64 base64url secrets would: 2000 of them meet one with near certainty.
      const made = Array.from({ length: 2000 }, () => secret(12));
      assert.ok(made.every((s) => /^[A-Za-z0-9_][A-Za-z0-9_-]{15}$/.test(s)), made.find((s) => s.startsWith('-')));
    });

    it('says which file is broken', () => {
      const paths = statePaths(home);
      fs.writeFileSync(paths.config, '{not json');
      assert.throws(() => ensureConfig(paths), /config\.json is not valid JSON.*fix or remove it/);
    });
  });

  describe('free ports', () => {
    it('picks a port the OS says is free, below the range it gives outgoing connections, never one excluded', async () => {
      const [low] = fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
      const ports = await Promise.all(Array.from({ length: 20 }, () => freePort()));
      for (const port of ports) assert.ok(port >= 10_000 && port < low, `${port} is below the ephemeral range (${low})`);
      const listening = net.createServer();
      await new Promise<void>((resolve) => listening.listen(ports[0], '127.0.0.1', resolve));
      await new Promise((resolve) => listening.close(resolve));
      const excluded = new Set(ports);
      for (let i = 0; i < 20; i++) assert.ok(!excluded.has(await freePort('127.0.0.1', { exclude: excluded })));
    });
  });

  describe('bus URLs', () => {
    it('reads a token, user/pass and clusters', () => {
      assert.deepEqual(parseNatsUrl('nats://tok@127.0.0.1:4222'), { servers: ['127.0.0.1:4222'], token: 'tok' });
      assert.deepEqual(parseNatsUrl('nats://u:p@a:1,nats://u:p@b:2'), { servers: ['a:1', 'b:2'], user: 'u', pass: 'p' });
      assert.deepEqual(parseNatsUrl('localhost'), { servers: ['localhost:4222'] });
      assert.equal(parseNatsUrl(embeddedBusUrl(4333, 'a/b+c')).token, 'a/b+c');
      assert.throws(() => parseNatsUrl('http://secret@host:1'), /not a NATS URL/);
      assert.throws(() => parseNatsUrl('http://secret@host:1'), (e: Error) => !e.message.includes('secret'));
    });
  });

  describe('logging', () => {
    it('writes JSON lines and never secrets', () => {
      const lines: string[] = [];
      const log = createLogger('test', { write: (l) => lines.push(l) });
      log.info('connected', { token: 'T0KEN', nested: { password: 'PW', ok: 1 }, url: redactUrl('nats://T0KEN@h:1') });
      const record = JSON.parse(lines[0]);
      assert.equal(record.component, 'test');
      assert.equal(record.msg, 'connected');
      assert.equal(record.nested.ok, 1);
      assert.doesNotMatch(lines[0], /T0KEN|PW/);
      log.debug('hidden at info level');
      assert.equal(lines.length, 1);
    });
  });

  describe('status server', () => {
    it('serves /healthz and /varz behind basic auth', async () => {
      let healthy = false;
      const server = await startStatusServer({ port: 0, user: 'u', password: 'p', healthy: () => healthy, varz: () => ({ type: 'Test', n: 1 }) });
      try {
        const url = `http://127.0.0.1:${server.port}`;
        const auth = { authorization: `Basic ${Buffer.from('u:p').toString('base64')}` };
        assert.equal((await fetch(`${url}/healthz`)).status, 401);
        assert.equal((await fetch(`${url}/varz`, { headers: { authorization: `Basic ${Buffer.from('u:x').toString('base64')}` } })).status, 401);
        assert.equal((await fetch(`${url}/healthz`, { headers: auth })).status, 503);
        healthy = true;
        const ok = await fetch(`${url}/healthz`, { headers: auth });
        assert.equal(ok.status, 200);
        assert.equal(await ok.text(), 'ok');
        assert.deepEqual(await (await fetch(`${url}/varz`, { headers: auth })).json(), { type: 'Test', n: 1 });
      } finally {
        await server.close();
      }
    });
  });
});
