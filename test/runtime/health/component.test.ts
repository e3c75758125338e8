// The health component end to end on a real bus: a fake controller serves the desired state (and
// a components token) over HTTP, simulated DEAs publish heartbeats and exits, and stand-ins for the
// controller answer health.start / health.stop by starting or stopping instances on those DEAs.
// Timings are shortened through the environment (heartbeat 100 ms, grace 300 ms, crash base 200 ms).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { NatsConnection } from 'nats';
import { BusServer } from '../../../src/runtime/bus/server.js';
import type { LogEnvelope } from '../../../src/runtime/common/bus-messages.js';
import type { HealthStart, HealthStop } from '../../../src/runtime/common/bus-messages.js';
import type { Component } from '../../../src/runtime/common/component.js';
import { sleep, waitFor } from '../../../src/runtime/common/net.js';
import health from '../../../src/runtime/health/component.js';
import { connectTo, desiredProcess, FakeController, FakeDea, Recorder, testContext } from './helpers.js';

const HEARTBEAT_MS = 100;
const GRACE_MS = 300;
const CRASH_BASE_MS = 200;
const PENDING_MS = 1_500;
const ENV = {
  DEVBOX_HEALTH_POLL_MS: '100',
  DEVBOX_HEALTH_GRACE_MS: String(GRACE_MS),
  DEVBOX_DEA_HEARTBEAT_MS: String(HEARTBEAT_MS),
  DEVBOX_HEALTH_CRASH_BASE_MS: String(CRASH_BASE_MS),
  DEVBOX_HEALTH_CRASH_CAP_MS: '800',
  DEVBOX_HEALTH_PENDING_MS: String(PENDING_MS),
};

type Varz = Record<string, unknown>;

describe('health: the component on a real bus', function () {
  this.timeout(15_000);
  let bus: BusServer;
  let busPort: number;
  let nc: NatsConnection;
  let controller: FakeController;
  let routerPort: number;
  let component: Component | undefined;
  let healthNc: NatsConnection | undefined;
  let deas: FakeDea[] = [];
  let recorders: Recorder<unknown>[] = [];
  let logLines: string[] = [];
  const savedEnv: Record<string, string | undefined> = {};

  before(async () => {
    for (const [k, v] of Object.entries(ENV)) {
      savedEnv[k] = process.env[k];
      process.env[k] = v;
    }
    bus = new BusServer({ host: '127.0.0.1', port: 0 });
    busPort = (await bus.listen()).port;
    nc = await connectTo(busPort);
  });
  after(async () => {
    await nc.close();
    await bus.close();
    for (const [k, v] of Object.entries(savedEnv)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  beforeEach(async () => {
    controller = new FakeController();
    routerPort = await controller.listen();
    logLines = [];
  });
  afterEach(async function () {
    if (this.currentTest?.state === 'failed') console.log(logLines.join(''));
    for (const dea of deas) dea.silence();
    deas = [];
    for (const r of recorders) r.close();
    recorders = [];
    await component?.stop();
    component = undefined;
    await healthNc?.close();
    healthNc = undefined;
    await controller.close();
  });

  const dea = (id: string) => {
    const d = new FakeDea(nc, id, HEARTBEAT_MS).start();
    deas.push(d);
    return d;
  };
  const record = async <T>(subject: string) => {
    const r = new Recorder<T>(nc, subject);
    recorders.push(r as Recorder<unknown>);
    await nc.flush();
    return r;
  };
  const startHealth = async () => {
    component = health.create(testContext(routerPort, logLines));
    healthNc = await connectTo(busPort);
    await component.start(healthNc);
    return component;
  };
  const varz = (): Varz => component!.varz();
  const acting = () => waitFor('the health manager to act', () => varz().acting === true, { timeoutMs: 3_000 });
  const healthLines = (r: Recorder<LogEnvelope>) => r.messages.filter((m) => m.data.source_type === 'HEALTH').map((m) => m.data.message);

  it('is a HealthManager, healthy once started, and reports its counters in /varz', async () => {
    assert.equal(health.type, 'HealthManager');
    const app = randomUUID();
    controller.set(desiredProcess(app, { instances: 2 }));
    dea('dea-0').add(app, 0);
    dea('dea-1').add(app, 1, { state: 'STARTING' });
    const c = await startHealth();
    assert.equal(c.healthy(), true);
    await acting();
    const v = varz();
    assert.equal(v.desired_apps, 1);
    assert.equal(v.desired_instances, 2);
    assert.equal(v.actual_instances, 2);
    assert.deepEqual(v.actual_instances_by_state, { RUNNING: 1, STARTING: 1 });
    assert.equal(v.deas, 2);
    assert.equal(v.last_desired_fetch_ok, true);
    assert.match(String(v.last_desired_fetch), /^\d{4}-\d\d-\d\dT/);
    for (const key of ['starts_sent', 'stops_sent', 'crashes_seen', 'heartbeats_received', 'pending_starts', 'scheduled_restarts']) assert.equal(typeof v[key], 'number', key);
    assert.equal(v.starts_sent, 0);
    assert.equal(v.not_acting_because, null);
    await c.stop();
    assert.equal(c.healthy(), false);
  });

  it('starts a missing instance after the grace period, once while pending, and not again once it runs', async () => {
    const app = randomUUID();
    controller.set(desiredProcess(app, { instances: 2 }));
    const dea0 = dea('dea-0');
    dea0.add(app, 0);
    const starts = await record<HealthStart>('health.start');
    const logs = await record<LogEnvelope>(`logs.${app}`);
    const t0 = Date.now();
    await startHealth();
    await waitFor('health.start', () => starts.messages.length > 0, { timeoutMs: 5_000 });
    const [first] = starts.messages;
    assert.deepEqual(first.data, { droplet: app, version: 'v1', indices: [1], reason: 'MISSING' });
    assert.ok(first.at - t0 >= GRACE_MS, `started ${first.at - t0} ms after the health manager came up`);
    await waitFor('the HEALTH line', () => healthLines(logs).length > 0);
    assert.deepEqual(healthLines(logs), ['Starting missing instance 1']);
    assert.equal(logs.messages[0].data.source_instance, '1');

    await sleep(PENDING_MS / 2);
    assert.equal(starts.messages.length, 1, 'not sent again while pending');
    assert.equal(varz().pending_starts, 1);

    // The controller places it; it starts, then runs.
    const guid = dea0.add(app, 1, { state: 'STARTING' });
    await sleep(200);
    dea0.setState(guid, 'RUNNING');
    await sleep(PENDING_MS - 200);
    assert.equal(starts.messages.length, 1, 'answered: no retry');
    assert.equal(varz().pending_starts, 0);
    assert.equal(varz().starts_sent, 1);
  });

  it('restarts a crash loop at once three times, then with a doubling delay, and says so', async function () {
    const app = randomUUID();
    controller.set(desiredProcess(app));
    const dea0 = dea('dea-0');
    const first = dea0.add(app, 0);
    const starts = await record<HealthStart>('health.start');
    const logs = await record<LogEnvelope>(`logs.${app}`);
    const crashedAt: number[] = [];
    const CRASHES = 5;
    // The controller's stand-in: every restart starts an instance that crashes 30 ms later, five times.
    const sub = nc.subscribe('health.start', {
      callback: () => {
        const guid = dea0.add(app, 0, { state: 'STARTING' });
        if (crashedAt.length < CRASHES) {
          setTimeout(() => {
            crashedAt.push(Date.now());
            dea0.crash(guid);
          }, 30);
        }
      },
    });
    try {
      await startHealth();
      await acting();
      crashedAt.push(Date.now());
      dea0.crash(first);
      await waitFor(`${CRASHES} restarts`, () => starts.messages.length >= CRASHES, { timeoutMs: 5_000 });
      await sleep(300);
    } finally {
      sub.unsubscribe();
    }
    assert.equal(starts.messages.length, CRASHES, 'the last restart ran: nothing more');
    assert.deepEqual(
      starts.messages.map((m) => [m.data.reason, m.data.crash_count, m.data.indices]),
      [1, 2, 3, 4, 5].map((n) => ['CRASHED', n, [0]]),
    );
    const waited = starts.messages.map((m, i) => m.at - crashedAt[i]);
    const expected = [0, 0, 0, CRASH_BASE_MS, 2 * CRASH_BASE_MS];
    for (const [i, ms] of waited.entries()) {
      assert.ok(ms >= expected[i] - 5 && ms <= expected[i] + 250, `restart ${i + 1} came ${ms} ms after its crash; expected about ${expected[i]} ms (all: ${waited.join(', ')})`);
    }
    assert.deepEqual(healthLines(logs), [
      'Instance 0 crashed 1 time; restarting it now',
      'Instance 0 crashed 2 times; restarting it now',
      'Instance 0 crashed 3 times; restarting it now',
      'Instance 0 crashed 4 times; restart scheduled in 0.2 s',
      'Restarting instance 0 (crashed 4 times; waited 0.2 s)',
      'Instance 0 crashed 5 times; restart scheduled in 0.4 s',
      'Restarting instance 0 (crashed 5 times; waited 0.4 s)',
    ]);
    assert.equal(varz().crashes_seen, CRASHES);
    assert.equal(varz().restarts_scheduled, 2);
  });

  it('stops extra instances, duplicates, other versions and instances of stopped or unknown apps', async () => {
    const [a, b, c, d, gone] = ['a', 'b', 'c', 'd', 'gone'].map((n) => `${n}-${randomUUID()}`);
    controller.set(desiredProcess(a), desiredProcess(b, { state: 'STOPPED' }), desiredProcess(c), desiredProcess(d, { version: 'v2' }));
    const dea0 = dea('dea-0');
    const dea1 = dea('dea-1');
    const keep = [dea0.add(a, 0), dea0.add(c, 0), dea0.add(d, 0, { version: 'v2' })];
    const extra = dea1.add(a, 1);
    const stopped = dea1.add(b, 0);
    await sleep(20);
    const duplicate = dea1.add(c, 0);
    const oldVersion = dea1.add(d, 0, { version: 'v1' });
    const unknown = dea1.add(gone, 0, { state: 'STARTING' });
    const stops = await record<HealthStop>('health.stop');
    const logs = await record<LogEnvelope>('logs.>');
    const sub = nc.subscribe('health.stop', { callback: (_e, m) => setTimeout(() => (m.json() as HealthStop).instances.forEach((i) => dea1.stop(i)), 50) });
    try {
      await startHealth();
      await waitFor('five stops', () => stops.messages.reduce((n, m) => n + m.data.instances.length, 0) >= 5, { timeoutMs: 5_000 });
      await sleep(600);
    } finally {
      sub.unsubscribe();
    }
    const byApp = Object.fromEntries(stops.messages.map((m) => [m.data.droplet, m.data]));
    assert.deepEqual(byApp[a], { droplet: a, version: 'v1', instances: [extra], reason: 'EXTRA' });
    assert.deepEqual(byApp[b], { droplet: b, version: 'v1', instances: [stopped], reason: 'EXTRA' });
    assert.deepEqual(byApp[c], { droplet: c, version: 'v1', instances: [duplicate], reason: 'DUPLICATE' });
    assert.deepEqual(byApp[d], { droplet: d, version: 'v1', instances: [oldVersion], reason: 'EXTRA' });
    assert.deepEqual(byApp[gone], { droplet: gone, version: 'v1', instances: [unknown], reason: 'EXTRA' });
    assert.equal(stops.messages.length, 5, 'each stop sent once');
    for (const guid of keep) assert.ok(dea0.instances.has(guid));
    const lines = healthLines(logs as Recorder<LogEnvelope>);
    assert.ok(lines.includes(`Stopping extra instance ${extra} (index 1; the app has 1 instance)`), lines.join('\n'));
    assert.ok(lines.includes(`Stopping extra instance ${stopped} (index 0; the app is stopped)`));
    assert.ok(lines.includes(`Stopping duplicate instance ${duplicate} (index 0; keeping ${keep[1]})`));
    assert.ok(lines.includes(`Stopping extra instance ${oldVersion} (index 0, version v1; the app runs version v2)`));
    assert.ok(lines.includes(`Stopping extra instance ${unknown} (index 0; the app does not exist)`));
    assert.equal(varz().stops_sent, 5);
  });

  it('restarts the instances of a DEA that went silent', async () => {
    const app = randomUUID();
    controller.set(desiredProcess(app, { instances: 2 }));
    const dea0 = dea('dea-0');
    const dea1 = dea('dea-1');
    dea0.add(app, 0);
    dea1.add(app, 1);
    const starts = await record<HealthStart>('health.start');
    const logs = await record<LogEnvelope>(`logs.${app}`);
    await startHealth();
    await acting();
    await sleep(300);
    assert.equal(starts.messages.length, 0);
    const silentAt = Date.now();
    dea0.silence();
    await waitFor('health.start', () => starts.messages.length > 0, { timeoutMs: 5_000 });
    const [start] = starts.messages;
    assert.deepEqual(start.data, { droplet: app, version: 'v1', indices: [0], reason: 'MISSING' });
    const after = start.at - silentAt;
    assert.ok(after >= 3 * HEARTBEAT_MS + GRACE_MS - 100, `restarted ${after} ms after the DEA went silent: before 3 heartbeats + grace`);
    assert.ok(after <= 3 * HEARTBEAT_MS + GRACE_MS + 1_000, `restarted ${after} ms after the DEA went silent`);
    dea1.add(app, 0);
    await sleep(400);
    assert.equal(starts.messages.length, 1);
    assert.deepEqual(healthLines(logs), ['Starting missing instance 0']);
    assert.ok(logLines.some((l) => l.includes('DEAs went silent') && l.includes('dea-0')));
  });

  it('takes no action on stale or empty desired state, and acts again once the controller answers', async () => {
    const [a, b, unknown] = [randomUUID(), randomUUID(), randomUUID()];
    controller.set(desiredProcess(a, { instances: 2 }), desiredProcess(b));
    const dea0 = dea('dea-0');
    dea0.add(a, 0);
    const a1 = dea0.add(a, 1);
    dea0.add(b, 0);
    const starts = await record<HealthStart>('health.start');
    const stops = await record<HealthStop>('health.stop');
    await startHealth();
    await acting();

    // The controller stops answering: the last good snapshot goes stale, then nothing is done.
    controller.mode = 'reset';
    await waitFor('the desired state to go stale', () => varz().not_acting_because === 'desired state is stale', { timeoutMs: 3_000 });
    assert.equal(varz().last_desired_fetch_ok, false);
    dea0.stop(a1);
    dea0.add(unknown, 0);
    await sleep(700);
    controller.mode = 'error';
    await sleep(300);

    // It answers an empty list (a controller in trouble): still no mass stop.
    controller.mode = 'empty';
    await waitFor('the empty desired state', () => varz().not_acting_because === 'desired state is empty', { timeoutMs: 3_000 });
    await sleep(700);
    assert.equal(starts.messages.length, 0, 'no start on stale or empty state');
    assert.equal(stops.messages.length, 0, 'no stop on stale or empty state');
    assert.ok(logLines.some((l) => l.includes('not acting') && l.includes('stale')));

    // Back to normal: the missing instance is started and the unknown app's instance stopped.
    controller.mode = 'ok';
    await waitFor('a start and a stop', () => starts.messages.length > 0 && stops.messages.length > 0, { timeoutMs: 3_000 });
    assert.deepEqual(starts.messages[0].data, { droplet: a, version: 'v1', indices: [1], reason: 'MISSING' });
    assert.deepEqual(stops.messages.map((m) => m.data.droplet), [unknown]);
    assert.equal(varz().acting, true);
  });
});
