// The router component on a real bus (devbox's embedded bus, and nats-server when installed):
// router.start / router.greet, register / unregister / prune, access logs, a bus restart.
import assert from 'node:assert/strict';
import { StringCodec, type NatsConnection } from 'nats';
import { sleep, waitFor } from '../../../src/runtime/common/net.js';
import { performance } from 'node:perf_hooks';
import { AccessLogPublisher, accessLogMessage, escapeForJson, unescapeMessage } from '../../../src/runtime/router/handlers/access-log.js';
import type { RequestInfo } from '../../../src/runtime/router/handlers/types.js';
import { reservedUris } from '../../../src/runtime/router/bus.js';
import { isReservedRouteHost } from '../../../src/runtime/common/config.js';
import {
  busClient,
  natsServerAvailable,
  publishJson,
  rawExchange,
  registration,
  request,
  startBackend,
  startRouter,
  startRouterComponent,
  startTestBus,
  type Backend,
  type RunningRouter,
  type TestBus,
} from './helpers.js';

const sc = StringCodec();
const kinds: TestBus['kind'][] = natsServerAvailable() ? ['embedded', 'nats-server'] : ['embedded'];

for (const kind of kinds) {
  describe(`router on the bus (${kind})`, function () {
    this.timeout(30_000);
    let bus: TestBus;
    let router: RunningRouter | undefined;
    let client: NatsConnection;
    const backends: Backend[] = [];

    beforeEach(async () => {
      bus = await startTestBus(kind);
      client = await busClient(bus);
    });
    afterEach(async () => {
      await router?.stop();
      router = undefined;
      await client.close().catch(() => undefined);
      await Promise.all(backends.splice(0).map((b) => b.close()));
      await bus.stop();
    });

    it('publishes a batch of access-log lines as one message per line, each as JSON.stringify would write it', async () => {
      const publisherConnection = await busClient(bus);
      try {
        const received: [string, string][] = [];
        const sub = client.subscribe('logs.>', { callback: (_error, msg) => received.push([msg.subject, sc.decode(msg.data)]) });
        await client.flush();
        const publisher = new AccessLogPublisher(publisherConnection, '3');
        // Quotes, multi-byte UTF-8 (byte and character counts differ), a whole access line with
        // escaped quotes, a backslash and a tab, a line longer than the framing's reserve, and an app
        // guid that is no subject token (dropped, not misframed).
        const lines = [
          'first "line"',
          'second ü € 😀 line',
          'app.localhost - [2026-01-01T00:00:00.000Z] "GET /\\"quoted\\" HTTP/1.1" 200 0 1 "-" "ü \\ back\tslash"',
          `fourth \\ ${'x'.repeat(70_000)}`,
          'for a bad guid',
        ];
        const apps = ['app-a', 'app-b', 'guid-1', 'app-a', 'bad guid.*'];
        const published = lines.length - 1;
        // As the router logs them: one at a time; the batch goes out on its own within 20 ms.
        lines.forEach((line, i) => publisher.add(apps[i], escapeForJson(line), 1000 + i));
        await sleep(60);
        await publisherConnection.flush();
        await waitFor('the access-log messages', () => received.length >= published, { timeoutMs: 5_000 });
        await client.flush();
        sub.unsubscribe();
        assert.deepEqual(
          received,
          lines.slice(0, published).map((line, i) => [`logs.${apps[i]}`, JSON.stringify({ timestamp: 1000 + i, app_guid: apps[i], source_type: 'RTR', source_instance: '3', message_type: 'OUT', message: line })]),
        );
      } finally {
        await publisherConnection.close();
      }
    });

    it("frames a finished request's line into the batch as the envelope the logs component reads", async () => {
      const publisherConnection = await busClient(bus);
      try {
        const received: { subject: string; envelope: Record<string, unknown> }[] = [];
        const sub = client.subscribe('logs.>', { callback: (_error, msg) => received.push({ subject: msg.subject, envelope: JSON.parse(sc.decode(msg.data)) as Record<string, unknown> }) });
        await client.flush();
        const publisher = new AccessLogPublisher(publisherConnection, '1');
        const finishedHr = performance.now();
        const req = {
          id: 'req-id',
          startedAt: Date.now(),
          startedHr: finishedHr - 1.5,
          finishedHr,
          host: 'app.localhost',
          clientIp: '127.0.0.1',
          clientPort: 40000,
          status: 201,
          bytesIn: 3,
          bytesOut: 4,
          routerError: '',
          endpoint: { key: '127.0.0.1:61001', app: 'app-guid', index: '0', privateInstanceId: 'inst' },
          head: { method: 'POST', target: '/ü"\\', minor: 1, userAgent: 'agent "x"' },
        } as unknown as RequestInfo;
        publisher.addRequest(req);
        publisher.addRequest({ ...req, status: 500 } as RequestInfo);
        await sleep(60);
        await publisherConnection.flush();
        await waitFor('the access-log messages', () => received.length >= 2, { timeoutMs: 5_000 });
        sub.unsubscribe();
        const expectedNs = (performance.timeOrigin + finishedHr) * 1e6;
        for (const [i, { subject, envelope }] of received.entries()) {
          assert.equal(subject, 'logs.app-guid');
          assert.ok(Math.abs((envelope.timestamp as number) - expectedNs) < 2_000, `timestamp ${String(envelope.timestamp)} vs ${expectedNs}`);
          assert.deepEqual({ ...envelope, timestamp: 0 }, {
            timestamp: 0,
            app_guid: 'app-guid',
            source_type: 'RTR',
            source_instance: '1',
            message_type: 'OUT',
            message: unescapeMessage(accessLogMessage(i === 0 ? req : ({ ...req, status: 500 } as RequestInfo))),
          });
        }
        assert.match(received[0].envelope.message as string, /"POST \/ü"\\ HTTP\/1\.1" 201 3 4 "-" "agent \\"x\\"" /);
      } finally {
        await publisherConnection.close();
      }
    });

    it('announces router.start when it starts and answers router.greet with the same', async () => {
      const starts: unknown[] = [];
      client.subscribe('router.start', { callback: (_e, m) => starts.push(JSON.parse(sc.decode(m.data))) });
      await client.flush();
      router = await startRouterComponent(bus, { DEVBOX_ROUTER_WORKERS: '1' });
      const expected = { id: router.uuid, hosts: ['127.0.0.1'], minimumRegisterIntervalInSeconds: 20, pruneThresholdInSeconds: 120 };
      await waitFor('router.start', () => starts.length > 0);
      assert.deepEqual(starts[0], expected);
      const reply = await client.request('router.greet', sc.encode(''), { timeout: 2_000 });
      assert.deepEqual(JSON.parse(sc.decode(reply.data)), expected);
    });

    it('follows router.register and router.unregister, and prunes endpoints not refreshed', async () => {
      router = await startRouterComponent(bus, { DEVBOX_ROUTER_WORKERS: '1', DEVBOX_ROUTER_PRUNE_INTERVAL_MS: '50' });
      const b = await startBackend('b');
      backends.push(b);
      const msg = registration(b, ['myapp.localhost']);
      publishJson(client, 'router.register', msg);
      await waitFor('the route', async () => (await request(router!.port, { host: 'myapp.localhost' })).status === 200);
      assert.equal(router.varz().routes, 1);
      publishJson(client, 'router.unregister', msg);
      await waitFor('the route to go', async () => (await request(router!.port, { host: 'myapp.localhost' })).status === 404);

      // Registered with a 1 s threshold and never refreshed: pruned.
      publishJson(client, 'router.register', { ...msg, uris: ['short.localhost'], stale_threshold_in_seconds: 1 });
      await waitFor('the short-lived route', async () => (await request(router!.port, { host: 'short.localhost' })).status === 200);
      const t0 = Date.now();
      await waitFor('the stale route to be pruned', async () => (await request(router!.port, { host: 'short.localhost' })).status === 404, { timeoutMs: 5_000 });
      assert.ok(Date.now() - t0 < 2_500);
      assert.equal(router.varz().routes, 0);
    });

    it('publishes an RTR access-log line per request on logs.<app guid>', async () => {
      router = await startRouterComponent(bus, { DEVBOX_ROUTER_WORKERS: '1' });
      const b = await startBackend('b');
      backends.push(b);
      const envelopes: Record<string, unknown>[] = [];
      client.subscribe('logs.app-guid-logs', { callback: (_e, m) => envelopes.push(JSON.parse(sc.decode(m.data))) });
      await client.flush();
      publishJson(client, 'router.register', registration(b, ['mylogs.localhost'], { app: 'app-guid-logs' }));
      await waitFor('the route', async () => (await request(router!.port, { host: 'mylogs.localhost', path: '/first' })).status === 200);
      await request(router.port, { host: 'mylogs.localhost', path: '/second' });
      await waitFor('two access-log lines', () => envelopes.filter((e) => /"GET \/(first|second)/.test(String(e.message))).length >= 2);
      const env = envelopes.find((e) => String(e.message).includes('/second'))!;
      assert.equal(env.app_guid, 'app-guid-logs');
      assert.equal(env.source_type, 'RTR');
      assert.equal(env.source_instance, '0');
      assert.equal(env.message_type, 'OUT');
      assert.equal(typeof env.timestamp, 'number');
      assert.match(String(env.message), /^mylogs\.localhost - \[.+\] "GET \/second HTTP\/1\.1" 200 0 1 /);
    });

    it('refuses app instances the platform host names, and routes the cf address to platform components by path', async () => {
      router = await startRouterComponent(bus, { DEVBOX_ROUTER_WORKERS: '1' });
      const api = await startBackend('api', (req, res) => res.end(`api ${req.url}`));
      const uaa = await startBackend('uaa', (req, res) => res.end(`uaa ${req.url}`));
      const app = await startBackend('app', (req, res) => res.end(`app ${req.url}`));
      backends.push(api, uaa, app);
      // Platform components register without `app` (with tags.component), as RouteRegistrar does.
      const platform = (b: Backend, uris: string[], component: string) => ({ host: '127.0.0.1', port: b.port, uris, tags: { component }, private_instance_id: component });
      publishJson(client, 'router.register', platform(api, ['api.localhost', '127.0.0.1', 'localhost'], 'CloudController'));
      publishJson(client, 'router.register', platform(uaa, ['uaa.localhost', '127.0.0.1/uaa', 'localhost/uaa'], 'uaa'));
      // An app instance (it carries `app`) that asks for platform hosts next to its own route.
      publishJson(client, 'router.register', registration(app, ['myapp.localhost', 'API.localhost', 'uaa.localhost', 'log-cache.localhost', '127.0.0.1/uaa/oauth', 'localhost', 'ssh.localhost']));
      publishJson(client, 'router.register', registration(app, ['login.localhost'], { app: 'another-app' }));
      await waitFor('the routes', async () => (await request(router!.port, { host: 'myapp.localhost' })).status === 200);
      await client.flush();

      const get = async (host: string, path = '/') => {
        const r = await request(router!.port, { host, path });
        return `${r.status} ${r.text}`;
      };
      const address = `127.0.0.1:${router.port}`;
      assert.equal(await get('myapp.localhost', '/x'), '200 app /x', "the app's own route is kept");
      // Each platform host has only the platform's endpoint: requests never reach the app.
      for (let i = 0; i < 4; i++) {
        assert.equal(await get('api.localhost'), '200 api /');
        assert.equal(await get('uaa.localhost', '/oauth/token'), '200 uaa /oauth/token');
        assert.equal(await get(address, '/uaa/oauth/token'), '200 uaa /uaa/oauth/token', 'the router forwards the path as it came (gorouter does not strip)');
        assert.equal(await get(`localhost:${router.port}`, '/v3/apps'), '200 api /v3/apps');
      }
      assert.equal(await get(address, '/v3'), '200 api /v3');
      assert.equal(await get(address, '/uaax'), '200 api /uaax', 'paths match on segment boundaries');
      assert.equal((await request(router.port, { host: 'log-cache.localhost' })).status, 404);
      assert.equal((await request(router.port, { host: 'ssh.localhost' })).status, 404);
      assert.equal((await request(router.port, { host: 'login.localhost' })).status, 404);
      assert.equal(router.varz().bus?.rejected, 2, 'each refused registration is counted');
    });

    it('drops malformed registrations and keeps working', async () => {
      router = await startRouterComponent(bus, { DEVBOX_ROUTER_WORKERS: '1' });
      const b = await startBackend('b');
      backends.push(b);
      client.publish('router.register', sc.encode('{not json'));
      publishJson(client, 'router.register', { host: '127.0.0.1', port: 'eighty', uris: ['bad.localhost'] });
      publishJson(client, 'router.register', registration(b, ['good.localhost']));
      await waitFor('the good route', async () => (await request(router!.port, { host: 'good.localhost' })).status === 200);
      assert.equal(router.varz().bus?.rejected, 2, 'both counted');
      assert.equal((await request(router.port, { host: 'bad.localhost' })).status, 404);
    });

    it('takes 10,000 routes over the bus and still routes at once', async () => {
      router = await startRouterComponent(bus, { DEVBOX_ROUTER_WORKERS: '1' });
      const b = await startBackend('b', (req, res) => res.end(req.headers.host));
      backends.push(b);
      for (let i = 0; i < 10_000; i++) publishJson(client, 'router.register', registration(b, [`app-${i}.localhost`]));
      await client.flush();
      await waitFor('10,000 routes', () => router!.varz().routes === 10_000, { timeoutMs: 15_000 });
      for (const i of [0, 5_000, 9_999]) assert.equal((await request(router.port, { host: `app-${i}.localhost` })).text, `app-${i}.localhost`);
    });

    it('survives a bus restart and announces router.start again', async () => {
      const b = await startBackend('b');
      backends.push(b);
      // The router reconnects more slowly than the test's clients, so that they are back in time
      // to see its announcement.
      router = await startRouterComponent(bus, { DEVBOX_ROUTER_WORKERS: '1' }, { reconnectTimeWait: 500 });
      const starts: string[] = [];
      client.subscribe('router.start', { callback: (_e, m) => starts.push(sc.decode(m.data)) });
      publishJson(client, 'router.register', registration(b, ['survivor.localhost']));
      await waitFor('the route', async () => (await request(router!.port, { host: 'survivor.localhost' })).status === 200);
      const announcedBefore = router.varz().bus!.announcements;

      const port = bus.port;
      await bus.stop();
      await sleep(300);
      assert.equal((await request(router.port, { host: 'survivor.localhost' })).status, 200, 'routes are kept while the bus is away');
      bus = await startTestBus(kind, port, bus.token);
      const fresh = await busClient(bus);
      const freshStarts: string[] = [];
      fresh.subscribe('router.start', { callback: (_e, m) => freshStarts.push(sc.decode(m.data)) });
      await fresh.flush();

      await waitFor('router.start after the reconnect', () => router!.varz().bus!.announcements > announcedBefore, { timeoutMs: 10_000 });
      await waitFor('a client to see it', () => freshStarts.length + starts.length > 0, { timeoutMs: 5_000 });
      assert.equal(JSON.parse((freshStarts[0] ?? starts[0])!).id, router.uuid);

      // And it takes registrations on the new bus.
      publishJson(fresh, 'router.register', registration(b, ['after.localhost']));
      await waitFor('a route registered after the restart', async () => (await request(router!.port, { host: 'after.localhost' })).status === 200);
      await fresh.close();
    });
  });
}

describe('router access-log envelope', () => {
  it('escapes what clients send', async () => {
    const router = await startRouter();
    const b = await startBackend('b');
    try {
      router.register(registration(b, ['app.localhost']));
      await rawExchange(router.port, 'GET /a"b\\c HTTP/1.1\r\nHost: app.localhost\r\nUser-Agent: evil" \\ "agent\r\nConnection: close\r\n\r\n');
      const [, line] = router.accessLog[0];
      assert.match(line, /"GET \/a"b\\c HTTP\/1\.1" 200 0 1 "-" "evil\\" \\ \\"agent" /);
    } finally {
      await router.close();
      await b.close();
    }
  });
});

describe('reserved platform host names', () => {
  it('names the platform hosts under the domain and the cf address, for app registrations only', () => {
    for (const host of ['api.localhost', 'UAA.localhost', 'login.localhost', 'logs.localhost', 'log-cache.localhost', 'doppler.localhost', 'ssh.localhost', 'mysql-broker.localhost', 'redis-broker.localhost', 'localhost', '127.0.0.1']) {
      assert.equal(isReservedRouteHost(host, 'localhost'), true, host);
    }
    for (const host of ['myapp.localhost', 'api.myapp.localhost', 'apix.localhost', 'api.example.com', '127.0.0.2', '*.localhost']) {
      assert.equal(isReservedRouteHost(host, 'localhost'), false, host);
    }
    assert.equal(isReservedRouteHost('api.dev.example', 'dev.example'), true);
    const app = { host: '127.0.0.1', port: 1, app: 'guid', uris: ['a.localhost', 'api.localhost/v3', 'localhost:8080', 'b.localhost/p'] };
    assert.deepEqual(reservedUris(app, 'localhost'), ['api.localhost/v3', 'localhost:8080']);
    assert.deepEqual(reservedUris({ ...app, app: undefined, tags: { component: 'CloudController' } }, 'localhost'), [], 'platform components may');
  });
});
