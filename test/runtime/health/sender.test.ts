// The sender on a real bus: message shapes, HEALTH log lines, de-duplication while pending.
import assert from 'node:assert/strict';
import type { NatsConnection } from 'nats';
import { BusServer } from '../../../src/runtime/bus/server.js';
import type { LogEnvelope } from '../../../src/runtime/common/bus-messages.js';
import type { HealthStart, HealthStop } from '../../../src/runtime/common/bus-messages.js';
import { createLogger } from '../../../src/runtime/common/log.js';
import type { ActualInstance, ActualSnapshot } from '../../../src/runtime/health/actual-state.js';
import type { Decision, StartDecision, StopDecision } from '../../../src/runtime/health/analyzer.js';
import { Sender } from '../../../src/runtime/health/sender.js';
import { connectTo, Recorder } from './helpers.js';

const PENDING_MS = 1_000;

const start = (app: string, index: number, over: Partial<StartDecision> = {}): StartDecision => ({
  kind: 'start',
  app,
  appGuid: app,
  version: 'v1',
  index,
  reason: 'MISSING',
  message: `Starting missing instance ${index}`,
  ...over,
});
const stop = (instance: string, over: Partial<StopDecision> = {}): StopDecision => ({
  kind: 'stop',
  app: 'A',
  appGuid: 'A',
  version: 'v1',
  instance,
  index: 1,
  reason: 'EXTRA',
  message: `Stopping extra instance ${instance}`,
  ...over,
});
const view = (...instances: Partial<ActualInstance>[]): ActualSnapshot => ({
  instances: instances.map((i) => ({ instance: 'x', app: 'A', version: 'v1', index: 0, state: 'RUNNING', dea: 'dea-0', firstSeenAt: 0, lastSeenAt: 0, ...i })),
  lastActiveAt: new Map(),
  complete: true,
  deas: ['dea-0'],
});

describe('health: sender', () => {
  let bus: BusServer;
  let nc: NatsConnection;
  let observer: NatsConnection;
  let starts: Recorder<HealthStart>;
  let stops: Recorder<HealthStop>;
  let logs: Recorder<LogEnvelope>;
  let sender: Sender;

  before(async () => {
    bus = new BusServer({ host: '127.0.0.1', port: 0 });
    const { port } = await bus.listen();
    nc = await connectTo(port);
    observer = await connectTo(port);
  });
  after(async () => {
    await nc.close();
    await observer.close();
    await bus.close();
  });
  beforeEach(async () => {
    starts = new Recorder(observer, 'health.start');
    stops = new Recorder(observer, 'health.stop');
    logs = new Recorder(observer, 'logs.>');
    await observer.flush();
    sender = new Sender({ nc, log: createLogger('health', { write: () => undefined }), pendingMs: PENDING_MS });
  });
  afterEach(() => {
    for (const r of [starts, stops, logs]) r.close();
  });

  const flushed = async () => {
    await nc.flush();
    await observer.flush();
  };

  it('sends the missing indices of an app in one health.start, and a HEALTH line for each', async () => {
    sender.send([start('A', 1), start('A', 2), start('B', 0, { version: 'v9' })], 1_000);
    await flushed();
    assert.deepEqual(
      starts.messages.map((m) => m.data),
      [
        { droplet: 'A', version: 'v1', indices: [1, 2], reason: 'MISSING' },
        { droplet: 'B', version: 'v9', indices: [0], reason: 'MISSING' },
      ],
    );
    assert.deepEqual(
      logs.messages.map((m) => [m.subject, m.data.source_type, m.data.source_instance, m.data.message_type, m.data.message]),
      [
        ['logs.A', 'HEALTH', '1', 'OUT', 'Starting missing instance 1'],
        ['logs.A', 'HEALTH', '2', 'OUT', 'Starting missing instance 2'],
        ['logs.B', 'HEALTH', '0', 'OUT', 'Starting missing instance 0'],
      ],
    );
    assert.equal(typeof logs.messages[0].data.timestamp, 'number');
    assert.equal(logs.messages[0].data.app_guid, 'A');
    assert.deepEqual(sender.stats, { starts_sent: 3, stops_sent: 0, start_messages: 2, stop_messages: 0, restarts_scheduled: 0, pending_start_timeouts: 0 });
  });

  it('sends each crash restart with its count', async () => {
    sender.send([start('A', 0, { reason: 'CRASHED', crashCount: 2, message: 'x' }), start('A', 1, { reason: 'CRASHED', crashCount: 5, message: 'y' })], 0);
    await flushed();
    assert.deepEqual(
      starts.messages.map((m) => m.data),
      [
        { droplet: 'A', version: 'v1', indices: [0], reason: 'CRASHED', crash_count: 2 },
        { droplet: 'A', version: 'v1', indices: [1], reason: 'CRASHED', crash_count: 5 },
      ],
    );
  });

  it('does not send the same start again while it is pending, and does after it timed out', async () => {
    sender.send([start('A', 1)], 1_000);
    sender.settle(view(), 1_500);
    sender.send([start('A', 1)], 1_500);
    assert.deepEqual(sender.pending().map((p) => [p.app, p.index, p.sentAt]), [['A', 1, 1_000]]);
    sender.settle(view(), 1_000 + PENDING_MS);
    assert.deepEqual(sender.pending(), []);
    assert.equal(sender.stats.pending_start_timeouts, 1);
    sender.send([start('A', 1)], 2_100);
    await flushed();
    assert.equal(starts.messages.length, 2);
    assert.equal(logs.messages.length, 2);
  });

  it('counts a start answered by an instance at that index, or by its crash', () => {
    sender.send([start('A', 0), start('A', 1), start('A', 2)], 0);
    sender.settle(view({ index: 0, state: 'STARTING' }, { index: 1, state: 'CRASHED' }, { index: 2, version: 'v0' }), 10);
    assert.deepEqual(sender.pending().map((p) => p.index), [1, 2], 'a CRASHED or other-version instance answers nothing');
    sender.crashed('A', 1);
    assert.deepEqual(sender.pending().map((p) => p.index), [2]);
    sender.retain((app) => app !== 'A');
    assert.deepEqual(sender.pending(), [], 'pending starts of an app no longer started are dropped');
  });

  it('groups stops per app, version and reason, and does not repeat them while pending', async () => {
    const decisions: Decision[] = [stop('i1'), stop('i2'), stop('i3', { reason: 'DUPLICATE', index: 0, message: 'dup' })];
    sender.send(decisions, 0);
    sender.send(decisions, 100);
    await flushed();
    assert.deepEqual(
      stops.messages.map((m) => m.data),
      [
        { droplet: 'A', version: 'v1', instances: ['i1', 'i2'], reason: 'EXTRA' },
        { droplet: 'A', version: 'v1', instances: ['i3'], reason: 'DUPLICATE' },
      ],
    );
    sender.settle(view({ instance: 'i1' }, { instance: 'i2', state: 'STOPPING' }), 200);
    assert.equal(sender.stats.stops_sent, 3);
    sender.send([stop('i1')], 300);
    await flushed();
    assert.equal(stops.messages.length, 2, 'i1 still running but its stop is pending');
    sender.settle(view({ instance: 'i1' }), PENDING_MS);
    sender.send([stop('i1')], PENDING_MS);
    await flushed();
    assert.deepEqual(stops.messages[2].data.instances, ['i1'], 'sent again once its stop timed out');
  });

  it('announces a scheduled crash restart once', async () => {
    const schedule: Decision = { kind: 'schedule', app: 'A', appGuid: 'A', version: 'v1', index: 0, crashCount: 4, delayMs: 30_000, dueAt: 31_000, key: 'A:0:4:1000', message: 'Instance 0 crashed 4 times; restart scheduled in 30 s' };
    sender.send([schedule], 1_000);
    sender.send([schedule], 2_000);
    sender.send([{ ...schedule, crashCount: 5, key: 'A:0:5:40000', dueAt: 100_000, message: 'Instance 0 crashed 5 times; restart scheduled in 60 s' }], 40_000);
    await flushed();
    assert.deepEqual(
      logs.messages.map((m) => m.data.message),
      ['Instance 0 crashed 4 times; restart scheduled in 30 s', 'Instance 0 crashed 5 times; restart scheduled in 60 s'],
    );
    assert.equal(sender.scheduledCount(50_000), 1);
    assert.equal(starts.messages.length, 0);
  });
});
