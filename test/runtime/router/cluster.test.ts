// The router component with worker processes (DEVBOX_ROUTER_WORKERS=2): the route table reaches
// every worker, /varz adds them up, a dead worker is replaced with the table, stop ends them all.
import assert from 'node:assert/strict';
import { StringCodec, type NatsConnection } from 'nats';
import { waitFor } from '../../../src/runtime/common/net.js';
import { isPidAlive } from '../../helpers/devbox.js';
import { busClient, publishJson, registration, request, startBackend, startRouterComponent, startTestBus, type Backend, type RunningRouter, type TestBus } from './helpers.js';

interface WorkerVarz {
  slot: number;
  pid: number;
  routes: number;
  requests: number;
}

const sc = StringCodec();

describe('router with worker processes', function () {
  this.timeout(40_000);
  let bus: TestBus;
  let router: RunningRouter | undefined;
  let client: NatsConnection;
  let backend: Backend;

  const workers = () => (router!.varz().per_worker ?? []) as WorkerVarz[];

  beforeEach(async () => {
    bus = await startTestBus('embedded');
    client = await busClient(bus);
    backend = await startBackend('b');
    router = await startRouterComponent(bus, { DEVBOX_ROUTER_WORKERS: '2', DEVBOX_ROUTER_PRUNE_INTERVAL_MS: '100' });
  });
  afterEach(async () => {
    await router?.stop();
    router = undefined;
    await client.close();
    await backend.close();
    await bus.stop();
  });

  it('shares the port between two workers that all have the routes, and adds up their counters', async () => {
    assert.equal(router!.component.healthy(), true);
    publishJson(client, 'router.register', registration(backend, ['cluster.localhost']));
    await waitFor('the route', async () => (await request(router!.port, { host: 'cluster.localhost' })).status === 200);
    // Fresh connections are spread over the workers; each must know the route.
    const statuses = await Promise.all(Array.from({ length: 40 }, () => request(router!.port, { host: 'cluster.localhost' }).then((r) => r.status)));
    assert.ok(statuses.every((s) => s === 200), statuses.join(','));
    await waitFor('reports from both workers', () => workers().length === 2 && workers().every((w) => w.requests > 0), { timeoutMs: 5_000 });
    const [a, b] = workers();
    assert.notEqual(a.pid, b.pid);
    assert.ok(a.pid !== process.pid && isPidAlive(a.pid) && isPidAlive(b.pid));
    assert.deepEqual(workers().map((w) => w.routes), [1, 1]);
    await waitFor('the totals to add up', () => {
      const v = router!.varz() as unknown as { requests: number; responses_2xx: number };
      return v.requests === workers().reduce((s, w) => s + w.requests, 0) && v.responses_2xx >= 41;
    }, { timeoutMs: 5_000 });
  });

  it('publishes the workers’ access-log lines on the bus', async () => {
    const lines: string[] = [];
    client.subscribe('logs.app-guid-1', { callback: (_e, m) => lines.push(String(JSON.parse(sc.decode(m.data)).message)) });
    await client.flush();
    publishJson(client, 'router.register', registration(backend, ['cluster.localhost']));
    await waitFor('the route', async () => (await request(router!.port, { host: 'cluster.localhost' })).status === 200);
    for (let i = 0; i < 10; i++) await request(router!.port, { host: 'cluster.localhost', path: `/line-${i}` });
    await waitFor('ten lines', () => lines.filter((l) => l.includes('/line-')).length === 10, { timeoutMs: 5_000 });
  });

  it('replaces a worker that dies and gives it the route table; stopping ends every worker', async () => {
    publishJson(client, 'router.register', registration(backend, ['cluster.localhost']));
    await waitFor('the route', async () => (await request(router!.port, { host: 'cluster.localhost' })).status === 200);
    await waitFor('two workers reporting', () => workers().length === 2);
    const victim = workers()[0].pid;
    process.kill(victim, 'SIGKILL');
    await waitFor('a replacement worker', () => workers().length === 2 && !workers().some((w) => w.pid === victim) && router!.component.healthy(), { timeoutMs: 10_000 });
    assert.equal(router!.varz().worker_restarts, 1);
    assert.deepEqual(workers().map((w) => w.routes), [1, 1], 'the new worker got the table');
    const statuses = await Promise.all(Array.from({ length: 20 }, () => request(router!.port, { host: 'cluster.localhost' }).then((r) => r.status)));
    assert.ok(statuses.every((s) => s === 200));

    const pids = workers().map((w) => w.pid);
    await router!.stop();
    router = undefined;
    await waitFor('the workers to exit', () => pids.every((pid) => !isPidAlive(pid)), { timeoutMs: 10_000 });
  });
});
