// A router that has just started (issue 24): its route table is empty until the registrants answer
// its router.start, so a request for a host it has not heard of yet waits for that host's
// registration (bounded) instead of getting a 404 for a route that exists (gorouter's
// start_response_delay_interval). In this process (the mechanics), then the component on a real bus,
// with one process and with worker processes.
import assert from 'node:assert/strict';
import type { NatsConnection } from 'nats';
import { waitFor } from '../../../src/runtime/common/net.js';
import { WARM_UNTIL_ANNOUNCED } from '../../../src/runtime/router/proxy.js';
import { busClient, publishJson, registration, request, startBackend, startRouter, startRouterComponent, startTestBus, type Backend, type RunningRouter, type TestBus, type TestRouter } from './helpers.js';

const timed = async <T>(work: Promise<T>): Promise<[T, number]> => {
  const started = Date.now();
  const value = await work;
  return [value, Date.now() - started];
};

describe('router warm-up after a start, in this process', function () {
  this.timeout(20_000);
  let router: TestRouter;
  const backends: Backend[] = [];
  const backend = async (name: string) => {
    const b = await startBackend(name);
    backends.push(b);
    return b;
  };

  beforeEach(async () => (router = await startRouter({ startResponseDelayMs: 600 })));
  afterEach(async () => {
    await router.close();
    await Promise.all(backends.splice(0).map((b) => b.close()));
  });

  it('without a warm-up (a router not started by the component) answers an unknown host 404 at once', async () => {
    const [res, ms] = await timed(request(router.port, { host: 'nowhere.localhost' }));
    assert.equal(res.status, 404);
    assert.ok(ms < 300, `${ms} ms`);
  });

  it('before router.start a request waits; it is served once the answers are in, or gets its 404 after startResponseDelayMs', async () => {
    const b = await backend('late');
    router.router.warmUp({ until: WARM_UNTIL_ANNOUNCED, settled: false });
    const waiting = timed(request(router.port, { host: 'late.localhost', path: '/x' }));
    const unknown = timed(request(router.port, { host: 'unknown.localhost' }));
    // As the component does it: announced (the window starts), the registration, then settled.
    setTimeout(() => router.router.warmUp({ until: Date.now() + 5_000, settled: false }), 100);
    setTimeout(() => router.register(registration(b, ['late.localhost'])), 200);
    setTimeout(() => router.router.warmUp({ until: Date.now() + 5_000, settled: true }), 300);
    const [res, ms] = await waiting;
    assert.equal(res.status, 200);
    assert.equal(res.text, 'late');
    assert.ok(ms >= 250 && ms < 550, `served once settled: ${ms} ms`);
    // The window runs 5 s, but no request waits longer than startResponseDelayMs (600 ms).
    const [missing, missingMs] = await unknown;
    assert.equal(missing.status, 404);
    assert.equal(missing.headers['x-cf-routererror'], 'unknown_route');
    assert.ok(missingMs >= 550 && missingMs < 1_500, `404 after the delay: ${missingMs} ms`);
    assert.equal(router.router.stats.snapshot().held_at_start, 2);
  });

  it('until the answers to router.start are in, a request waits even when a route matches (its path route may be next)', async () => {
    const root = await backend('root');
    const api = await backend('api');
    router.register(registration(root, ['shop.localhost']));
    router.router.warmUp({ until: Date.now() + 5_000, settled: false });
    const pending = timed(request(router.port, { host: 'shop.localhost', path: '/api/items' }));
    setTimeout(() => router.register(registration(api, ['shop.localhost/api'])), 100);
    setTimeout(() => router.router.warmUp({ until: Date.now() + 5_000, settled: true }), 250);
    const [res, ms] = await pending;
    assert.equal(res.text, 'api', 'the path route, which came after the root route');
    assert.ok(ms >= 200, `${ms} ms`);
    // Settled: a matching request goes at once; an unknown host still waits for the warm-up's end.
    const [now, nowMs] = await timed(request(router.port, { host: 'shop.localhost' }));
    assert.equal(now.text, 'root');
    assert.ok(nowMs < 200, `${nowMs} ms`);
  });

  it('after the warm-up, and when the router closes, nothing waits', async () => {
    router.router.warmUp({ until: Date.now() + 150, settled: true });
    const held = timed(request(router.port, { host: 'unknown.localhost' }));
    const [res, ms] = await held;
    assert.equal(res.status, 404);
    assert.ok(ms >= 100 && ms < 500, `until the end of the warm-up: ${ms} ms`);
    const [after, afterMs] = await timed(request(router.port, { host: 'unknown.localhost' }));
    assert.equal(after.status, 404);
    assert.ok(afterMs < 100, `at once: ${afterMs} ms`);

    router.router.warmUp({ until: Date.now() + 10_000, settled: false });
    const atClose = request(router.port, { host: 'unknown.localhost', headers: { connection: 'close' } });
    await waitFor('the request to wait', () => router.router.stats.snapshot().held_at_start === 2);
    await router.router.close(500);
    assert.equal((await atClose).status, 404, 'a router that stops answers what waits');
  });
});

for (const workers of ['1', '2']) {
  describe(`router component after a start (${workers === '1' ? 'one process' : 'two worker processes'})`, function () {
    this.timeout(30_000);
    let bus: TestBus;
    let client: NatsConnection;
    let router: RunningRouter | undefined;
    const backends: Backend[] = [];

    beforeEach(async () => {
      bus = await startTestBus('embedded');
      client = await busClient(bus);
    });
    afterEach(async () => {
      await router?.stop();
      router = undefined;
      await client.close();
      await Promise.all(backends.splice(0).map((b) => b.close()));
      await bus.stop();
    });

    it('serves the routes registered in answer to router.start instead of 404s, and 404s unknown hosts after the window', async () => {
      const app = await startBackend('app');
      const root = await startBackend('root');
      const api = await startBackend('api');
      backends.push(app, root, api);
      // A registrant that answers router.start a little late, and a path route later still.
      client.subscribe('router.start', {
        callback: () => {
          setTimeout(() => {
            publishJson(client, 'router.register', registration(app, ['app.localhost']));
            publishJson(client, 'router.register', registration(root, ['shop.localhost']));
          }, 150);
          setTimeout(() => publishJson(client, 'router.register', registration(api, ['shop.localhost/api'])), 250);
        },
      });
      await client.flush();
      const started = Date.now();
      router = await startRouterComponent(bus, { DEVBOX_ROUTER_WORKERS: workers, DEVBOX_ROUTER_START_RESPONSE_DELAY_MS: '1500', DEVBOX_ROUTER_START_SETTLE_MS: '200' });
      const [appRes, shopRes, unknownRes] = await Promise.all([
        request(router.port, { host: 'app.localhost' }),
        request(router.port, { host: 'shop.localhost', path: '/api/x' }),
        timed(request(router.port, { host: 'unknown.localhost' })),
      ]);
      assert.equal(appRes.status, 200, 'not a 404 for a route its registrant was about to send');
      assert.equal(appRes.text, 'app');
      assert.equal(shopRes.text, 'api', 'the path route, registered after the root route');
      assert.equal(unknownRes[0].status, 404);
      const unknownAt = started + unknownRes[1];
      assert.ok(Date.now() - started >= 1_300 && unknownAt - started < 4_000, `the unknown host got its 404 after the window: ${unknownAt - started} ms`);
      // The warm-up is over: at once now.
      const [late, lateMs] = await timed(request(router.port, { host: 'unknown.localhost' }));
      assert.equal(late.status, 404);
      assert.ok(lateMs < 300, `${lateMs} ms`);
      await waitFor('the counters', () => (router!.varz() as { held_at_start?: number }).held_at_start === 3, { timeoutMs: 3_000 });
    });
  });
}
