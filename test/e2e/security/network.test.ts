// What a running box exposes on the network, read from the system (ss, /proc) rather than from
// devbox's own config: every listening socket of devbox's processes is on loopback, the bus refuses
// a client without the token, and every status server (/varz, /healthz) wants its credentials.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import net from 'node:net';
import { connect, StringCodec } from 'nats';
import { request } from '../../../src/runtime/common/http.js';
import { readSupervisor } from '../../../src/runtime/supervisor/lock.js';
import { statePaths } from '../../../src/runtime/common/config.js';
import { appPids, basic, cmdline, descendants, securityBox, type SecurityBox } from './box.js';

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|\[::1\]|\[::ffff:127\.\d+\.\d+\.\d+\]):\d+$/;

/** One raw client of the bus: what it is sent back, until the server closes or `ms` pass. */
function rawBus(port: number, send: string, ms = 1_500): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    let text = '';
    let closed = false;
    const socket = net.connect({ host: '127.0.0.1', port }, () => socket.write(send));
    socket.on('data', (chunk) => (text += chunk.toString()));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      closed = true;
      clearTimeout(timer);
      resolve({ text, closed });
    });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ text, closed });
    }, ms);
  });
}

describe('security: the network surface of a box', function () {
  this.timeout(180_000);
  let box: SecurityBox;
  before(async () => (box = await securityBox()));

  // App instances are the user's code and bind where the app says (most Node apps listen on every
  // interface whatever they are told); keeping them off the network needs network isolation, which
  // devbox does not have (docs/security.md). Everything devbox runs itself, including the static
  // file server it puts in static sites, must listen on loopback only.
  it('has every listening socket of devbox (components, router workers, mariadbd, the static file server) on loopback', () => {
    const supervisor = readSupervisor(statePaths(box.home).pidFile)!;
    const apps = new Set(appPids(box));
    // The server itself, not the container processes whose command lines carry it (bwrap, setpriv).
    const staticServers = [...apps].filter((pid) => cmdline(pid).includes('.devbox-static/server.mjs') && !/^\S*(bwrap|setpriv) /.test(cmdline(pid)));
    assert.equal(staticServers.length, 1, 'the static site runs devbox\'s static file server');
    const ours = new Set([...descendants(supervisor.pid)].filter((pid) => !apps.has(pid) || staticServers.includes(pid)));
    assert.ok(ours.size >= 10, `the box's processes: ${ours.size}`);
    const sockets = execFileSync('ss', ['-Hltnup'], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map((line) => ({ line, local: line.split(/\s+/)[4], pids: [...line.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1])) }))
      .filter((s) => s.pids.some((pid) => ours.has(pid)));
    assert.ok(sockets.length >= 10, `listening sockets of the box: ${sockets.length}`);
    for (const socket of sockets) assert.match(socket.local, LOOPBACK, `not loopback: ${socket.line}`);
    // The ones that matter most are among them: the router's port, the bus, mariadbd, the static server.
    const locals = sockets.map((s) => s.local);
    for (const port of [box.routerPort, box.ports.bus_port, box.keys.db1.port]) assert.ok(locals.some((l) => l.endsWith(`:${port}`)), `port ${port} is listed`);
    assert.ok(sockets.some((s) => s.pids.includes(staticServers[0])), 'the static file server listens');
  });

  it('bus: refuses a client without the token or with a wrong one, and lets one with it in', async () => {
    const port = box.ports.bus_port!;
    const attempt = (token?: string) => connect({ servers: `127.0.0.1:${port}`, token, reconnect: false, timeout: 5_000 }).then((c) => c.close());
    await assert.rejects(attempt(), /AUTHORIZATION/i, 'no token');
    await assert.rejects(attempt('not-the-token'), /AUTHORIZATION/i, 'a wrong token');

    // What an app on this machine could try: a raw publish of a route to itself, without CONNECT's
    // token. The server answers -ERR and hangs up, and a subscriber with the token sees nothing.
    const sc = StringCodec();
    const watcher = await connect({ servers: `127.0.0.1:${port}`, token: box.config.bus.token, reconnect: false, timeout: 5_000 });
    try {
      const seen: string[] = [];
      watcher.subscribe('router.register', { callback: (_e, msg) => seen.push(sc.decode(msg.data)) });
      await watcher.flush();
      const forged = JSON.stringify({ host: '127.0.0.1', port: 1, uris: ['evil.localhost'] });
      for (const hello of ['', 'CONNECT {"verbose":false,"pedantic":false}\r\n', 'CONNECT {"auth_token":"guess"}\r\n']) {
        const answer = await rawBus(port, `${hello}PUB router.register ${Buffer.byteLength(forged)}\r\n${forged}\r\nPING\r\n`);
        assert.match(answer.text, /-ERR 'Authorization Violation'/, `answer to ${JSON.stringify(hello)}`);
        assert.doesNotMatch(answer.text, /PONG/, 'nothing after the refusal is processed');
        assert.equal(answer.closed, true, 'the server hangs up');
      }
      await watcher.flush();
      assert.equal(seen.some((m) => m.includes('evil.localhost')), false, 'the forged registration never reached the bus');
      // And the route does not exist.
      const res = await request({ url: `http://evil.localhost:${box.routerPort}/`, timeoutMs: 5_000 });
      assert.equal(res.status, 404);
      assert.equal(res.headers['x-cf-routererror'], 'unknown_route');
    } finally {
      await watcher.close();
    }
  });

  it('/varz and /healthz of every component want the status credentials', async () => {
    const { user, password } = box.config.status;
    assert.ok(box.components.length >= 9, `components: ${box.components.map((c) => c.name).join(', ')}`);
    for (const component of box.components) {
      for (const page of ['/varz', '/healthz']) {
        const url = `http://127.0.0.1:${component.status_port}${page}`;
        const get = (authorization?: string) => request({ url, headers: authorization ? { authorization } : {}, timeoutMs: 5_000 });
        const where = `${component.name} ${page}`;
        const none = await get();
        assert.equal(none.status, 401, `${where} without credentials`);
        assert.match(String(none.headers['www-authenticate']), /^Basic /, where);
        assert.equal((await get(basic(user, `${password}x`))).status, 401, `${where} with a wrong password`);
        assert.equal((await get(basic('admin', password))).status, 401, `${where} with another user`);
        assert.equal((await get(`Bearer ${password}`)).status, 401, `${where} with another scheme`);
        const good = await get(basic(user, password));
        assert.equal(good.status, 200, `${where} with the credentials`);
        if (page === '/varz') {
          assert.equal((JSON.parse(good.text) as { pid: number }).pid, component.pid, where);
          // What /varz shows (its own counters, settings, URLs) carries none of the box's secrets.
          for (const secret of box.secrets()) assert.ok(!good.text.includes(secret), `${where} shows a secret`);
        }
      }
    }
  });
});
