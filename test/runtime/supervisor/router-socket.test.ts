// The router's listening socket kept across a restart (issue 24, docs/router.md "Restarts"), with
// real router processes (`devbox component router`, dist/) on a real bus, this test in the
// supervisor's place: a router that bound its port hands the listening socket over IPC; it is
// killed with -9; a request that comes while no router runs waits in the kernel's backlog (it is not
// refused) and is answered by the next router, which is given the socket as fd 3 and binds nothing.
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess, type StdioOptions } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { JSONCodec, type NatsConnection } from 'nats';
import { freePort, waitFor } from '../../../src/runtime/common/net.js';
import { ROUTER_SOCKET_MESSAGE } from '../../../src/runtime/router/settings.js';
import { DEVBOX_BIN } from '../../../src/runtime/supervisor/supervisor.js';
import { busClient, request, startBackend, startTestBus, type Backend, type TestBus } from '../router/helpers.js';

/** What the supervisor receives: a raw listening handle, never listened on in this process. */
interface HeldSocket {
  fd: number;
  close(): void;
}

/** Every process that holds the listening socket of loopback port `port` (ss). */
function holders(port: number): Set<number> {
  const out = execFileSync('ss', ['-ltnpH', `sport = :${port}`], { encoding: 'utf8' });
  return new Set([...out.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1])));
}
/** Established connections to loopback port `port` held by a process other than this one (ss). */
function routerConnections(port: number): number {
  const out = execFileSync('ss', ['-tnpH', 'state', 'established', `sport = :${port}`], { encoding: 'utf8' });
  return out.split('\n').filter((line) => /pid=\d+/.test(line) && !line.includes(`pid=${process.pid},`)).length;
}
const others = (port: number) => [...holders(port)].filter((pid) => pid !== process.pid);

for (const workers of ['1', '2']) {
  describe(`supervisor: the router serves on a socket it did not bind (${workers === '1' ? 'one process' : 'two workers'})`, function () {
    this.timeout(60_000);
    let bus: TestBus;
    let nc: NatsConnection;
    let backend: Backend;
    let home: string;
    let port: number;
    const children: ChildProcess[] = [];
    let held: HeldSocket | undefined;

    /** `devbox component router` on `port`, with the listening socket at fd 3 when `inherited` is given. */
    const startRouter = (inherited?: number): ChildProcess => {
      const env: Record<string, string> = {
        ...process.env,
        DEVBOX_HOME: home,
        DEVBOX_ROUTER_WORKERS: workers,
        DEVBOX_ROUTER_TLS_PORT: '0',
        DEVBOX_ROUTER_HAND_OVER_SOCKETS: '1',
        DEVBOX_ROUTER_START_RESPONSE_DELAY_MS: '3000',
      };
      const stdio: StdioOptions = ['ignore', 'ignore', 'pipe'];
      if (inherited !== undefined) {
        env.DEVBOX_ROUTER_LISTEN_FDS = '3';
        stdio.push(inherited);
      }
      stdio.push('ipc');
      const child = spawn(process.execPath, [DEVBOX_BIN, 'component', 'router', '--nats-url', bus.url, '--port', String(port), '--status-port', '0'], { env, stdio });
      child.stderr?.resume();
      children.push(child);
      return child;
    };
    const exited = (child: ChildProcess) => new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));

    before(async () => {
      bus = await startTestBus('embedded');
      nc = await busClient(bus);
      backend = await startBackend('app', (req, res) => {
        const answer = () => res.writeHead(200, { 'Content-Type': 'text/plain' }).end(req.url === '/slow' ? 'slow' : 'app');
        if (req.url === '/slow') setTimeout(answer, 1_500);
        else answer();
      });
      home = fs.mkdtempSync(path.join(os.tmpdir(), 'devbox-router-socket-'));
      const init = spawnSync(process.execPath, [DEVBOX_BIN, 'component', '--init'], { env: { ...process.env, DEVBOX_HOME: home }, encoding: 'utf8', timeout: 30_000 });
      assert.equal(init.status, 0, `devbox component --init: ${init.stdout}${init.stderr}`);
      // A registrar as the DEAs are: registers now, and everything again on each router.start.
      const register = () => nc.publish('router.register', JSONCodec().encode({ host: '127.0.0.1', port: backend.port, uris: ['app.localhost'] }));
      nc.subscribe('router.start', { callback: () => register() });
      register();
      port = await freePort();
    });

    after(async () => {
      for (const child of children) {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGKILL');
          await exited(child);
        }
      }
      held?.close();
      await nc?.close();
      await backend?.close();
      await bus?.stop();
      if (home) fs.rmSync(home, { recursive: true, force: true });
    });

    it('hands its socket over, and after its kill -9 a waiting request is answered by the next router on that socket', async () => {
      // The first router binds the port itself and hands the listening socket over.
      const first = startRouter();
      held = await new Promise<HeldSocket>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('the router handed no socket over within 20 s')), 20_000);
        first.on('message', (message: { type?: string; which?: string }, handle: unknown) => {
          if (message?.type !== ROUTER_SOCKET_MESSAGE || message.which !== 'http') return;
          clearTimeout(timer);
          resolve(handle as HeldSocket);
        });
      });
      assert.ok(held.fd > 2, 'a listening socket came with the message');
      await waitFor('the first router serving the app', async () => (await request(port, { host: 'app.localhost', timeoutMs: 2_000 }).catch(() => undefined))?.status === 200, { timeoutMs: 20_000, intervalMs: 100 });

      first.kill('SIGKILL');
      await exited(first);
      // One worker's copy may still be finishing (docs/router.md): wait until nothing but this test holds it.
      await waitFor('no router process holding the port', () => others(port).length === 0, { timeoutMs: 10_000, intervalMs: 50 });
      assert.ok(holders(port).has(process.pid), 'the socket is held here meanwhile');

      // No router runs: the connection is accepted by the kernel into the held socket's backlog.
      const sentAt = Date.now();
      const waiting = request(port, { host: 'app.localhost', timeoutMs: 20_000 });
      const second = startRouter(held.fd);
      const res = await waiting;
      assert.equal(res.status, 200, res.text);
      assert.equal(res.text, 'app');
      assert.ok(Date.now() - sentAt < 20_000);

      // The second router listens on the socket it was given; it did not bind one of its own (it
      // hands nothing over: it bound nothing).
      let handedOver = false;
      second.on('message', (message: { type?: string }) => (handedOver ||= message?.type === ROUTER_SOCKET_MESSAGE));
      await waitFor('a router process listening on the port', () => others(port).length > 0, { timeoutMs: 10_000, intervalMs: 50 });
      assert.equal((await request(port, { host: 'app.localhost' })).status, 200);
      // An unknown host is answered 404 once the wait after the start is over.
      const unknown = await request(port, { host: 'nothing-here.localhost', timeoutMs: 10_000 });
      assert.equal(unknown.status, 404);
      assert.equal(handedOver, false, 'a router given its socket binds none and hands none over');
      second.kill('SIGKILL');
      await exited(second);
    });

    if (workers === '2') {
      it('a kill -9 of the router costs not even the connections its workers had accepted: they finish their requests, then exit', async () => {
        await waitFor('the last router\'s workers gone', () => others(port).length === 0, { timeoutMs: 10_000, intervalMs: 50 });
        const router = startRouter(held!.fd);
        await waitFor('the router serving the app', async () => (await request(port, { host: 'app.localhost', timeoutMs: 2_000 }).catch(() => undefined))?.status === 200, { timeoutMs: 20_000, intervalMs: 100 });
        const before = backend.requests.length;
        const slow = request(port, { host: 'app.localhost', path: '/slow', timeoutMs: 10_000 });
        await waitFor('the slow request at the app', () => backend.requests.slice(before).some((r) => r.url === '/slow'), { timeoutMs: 5_000, intervalMs: 10 });
        // A connection accepted whose request has not come yet: the worker waits for it (within its grace).
        const accepted = routerConnections(port);
        const early = net.connect(port, '127.0.0.1');
        await once(early, 'connect');
        await waitFor('the connection accepted by a worker', () => routerConnections(port) > accepted, { timeoutMs: 5_000, intervalMs: 10 });
        router.kill('SIGKILL');
        await exited(router);
        let answer = '';
        early.setEncoding('latin1');
        early.on('data', (chunk: string) => (answer += chunk));
        early.write('GET / HTTP/1.1\r\nHost: app.localhost\r\nConnection: close\r\n\r\n');
        await waitFor('the answer on the early connection', () => early.closed, { timeoutMs: 5_000, intervalMs: 10 });
        assert.match(answer, /^HTTP\/1\.1 200 [^]*\r\n\r\n3\r\napp\r\n0\r\n\r\n$/);
        early.destroy();
        const res = await slow;
        assert.equal(res.status, 200);
        assert.equal(res.text, 'slow');
        // The workers do not outlive their requests (bounded by the router's 3 s grace).
        await waitFor('the killed router\'s workers to exit', () => others(port).length === 0, { timeoutMs: 10_000, intervalMs: 50 });
      });
    }
  });
}
