// log-cache's read API in the logs component, on a real bus, as the cf CLI 8 (go-log-cache) reads
// it: /api/v1/info, and /api/v1/read/:source_id with start_time (inclusive), end_time (exclusive,
// default now), envelope_types, limit (default 100, at most 1000) and descending, answering
// protojson envelopes (timestamps as strings, payloads in base64), behind the app's tokens.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import type { NatsConnection } from 'nats';
import { BusServer } from '../../../src/runtime/bus/server.js';
import { waitFor } from '../../../src/runtime/common/net.js';
import { connectTo, envelope, FakeController, get, OTHER_KEY, publish, signToken, startLogs, tempHome, type Reply, type RunningLogs } from './helpers.js';

interface ProtoEnvelope {
  timestamp: string;
  source_id: string;
  instance_id: string;
  tags: Record<string, string>;
  log: { payload: string; type: 'OUT' | 'ERR' };
}

describe('logs: log-cache read API', function () {
  this.timeout(20_000);
  let bus: BusServer;
  let busPort: number;
  let routerPort: number;
  let nc: NatsConnection;
  let controller: FakeController;
  let home: string;
  let r: RunningLogs;
  let token: string;
  const APP = 'app-lc-1111';
  const OTHER_APP = 'app-lc-2222';

  const publishAll = async (...envelopes: ReturnType<typeof envelope>[]) => {
    const before = r.varz().lines_received;
    for (const e of envelopes) publish(nc, e);
    await nc.flush();
    await waitFor('the component to receive the lines', () => r.varz().lines_received >= before + envelopes.length, { timeoutMs: 5_000 });
  };
  const readRaw = (app: string, query = '', headers: Record<string, string> = { authorization: `bearer ${token}` }): Promise<Reply> => get(r.port, `/api/v1/read/${app}${query}`, headers);
  const read = async (app: string, query = ''): Promise<ProtoEnvelope[]> => {
    const res = await readRaw(app, query);
    assert.equal(res.status, 200, res.text);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    const body = JSON.parse(res.text) as { envelopes: { batch: ProtoEnvelope[] } };
    return body.envelopes.batch;
  };
  const messages = (batch: ProtoEnvelope[]) => batch.map((e) => Buffer.from(e.log.payload, 'base64').toString('utf8'));

  before(async () => {
    bus = new BusServer({ host: '127.0.0.1', port: 0 });
    busPort = (await bus.listen()).port;
    nc = await connectTo(busPort);
  });
  after(async () => {
    await nc.close();
    await bus.close();
  });
  beforeEach(async () => {
    home = tempHome();
    controller = new FakeController();
    routerPort = await controller.listen();
    token = await signToken(routerPort);
    controller.grant(token, APP, OTHER_APP);
    r = await startLogs({ home, busPort, routerPort });
  });
  afterEach(async function () {
    if (this.currentTest?.state === 'failed') console.log(r.lines.join(''));
    await r.stop();
    await controller.close();
    fs.rmSync(home, { recursive: true, force: true });
  });

  it('GET /api/v1/info answers log-cache’s version and uptime, without a token', async () => {
    const res = await get(r.port, '/api/v1/info');
    assert.equal(res.status, 200, res.text);
    const info = JSON.parse(res.text) as { version: string; vm_uptime: string };
    assert.equal(info.version, '2.11.4');
    assert.match(info.vm_uptime, /^\d+$/);
    assert.equal((await get(r.port, '/api/v1/meta', { authorization: `bearer ${token}` })).status, 404, 'only info and read are served');
  });

  it('answers each line as a protojson envelope: timestamp string, source, instance, source_type tag, base64 payload, type', async () => {
    const app = envelope(APP, 'listening on 8081 — ünïcode', { source_instance: '2' });
    const err = envelope(APP, 'oops\twith a tab', { message_type: 'ERR' });
    const stg = envelope(APP, '-----> Nodejs Buildpack', { source_type: 'STG' });
    const rtr = envelope(APP, 'hello.localhost - "GET / HTTP/1.1" 200', { source_type: 'RTR' });
    const api = envelope(APP, 'Created app', { source_type: 'API' });
    const cell = envelope(APP, 'Container became healthy', { source_type: 'CELL' });
    await publishAll(app, err, stg, rtr, api, cell, envelope(OTHER_APP, 'not this app'));
    const batch = await read(APP);
    assert.deepEqual(batch[0], {
      timestamp: BigInt(app.timestamp).toString(),
      source_id: APP,
      instance_id: '2',
      tags: { source_type: 'APP/PROC/WEB' },
      log: { payload: Buffer.from('listening on 8081 — ünïcode').toString('base64'), type: 'OUT' },
    });
    assert.deepEqual(
      batch.map((e) => [e.tags.source_type, e.log.type]),
      [
        ['APP/PROC/WEB', 'OUT'],
        ['APP/PROC/WEB', 'ERR'],
        ['STG', 'OUT'],
        ['RTR', 'OUT'],
        ['API', 'OUT'],
        ['CELL', 'OUT'],
      ],
    );
    assert.deepEqual(messages(batch), [app, err, stg, rtr, api, cell].map((e) => e.message));
    for (const e of batch) assert.match(e.timestamp, /^\d{19}$/);
  });

  it('reads oldest first by time, 100 by default, at most 1000; descending with a limit gives the newest, newest first (cf logs --recent)', async () => {
    const sent = Array.from({ length: 150 }, (_, i) => envelope(APP, `line ${i}`));
    await publishAll(...sent.slice(0, 75), envelope(APP, 'router line published late', { source_type: 'RTR', timestamp: sent[10].timestamp + 500 }), ...sent.slice(75));
    const all = await read(APP, '?limit=1000');
    assert.equal(all.length, 151);
    assert.equal(messages(all)[11], 'router line published late', 'sorted by time, not arrival');
    const timestamps = all.map((e) => BigInt(e.timestamp));
    assert.ok(timestamps.every((t, i) => i === 0 || t >= timestamps[i - 1]));

    assert.deepEqual(messages(await read(APP)), messages(all).slice(0, 100));
    assert.deepEqual(messages(await read(APP, '?limit=0')), messages(all).slice(0, 100), 'limit 0 is the default, as in protobuf');
    assert.deepEqual(messages(await read(APP, '?limit=3')), ['line 0', 'line 1', 'line 2']);
    // What cf logs --recent sends (then it reverses the batch).
    assert.deepEqual(messages(await read(APP, '?start_time=-6795364578871345152&envelope_types=LOG&limit=1000&descending=true')), messages(all).reverse());
    assert.deepEqual(messages(await read(APP, '?descending=true&limit=3')), ['line 149', 'line 148', 'line 147']);
    assert.deepEqual(messages(await read(APP, '?descending=false&limit=1')), ['line 0']);

    for (const bad of ['?limit=1001', '?limit=-1', '?limit=x', '?descending=maybe', '?descending=']) {
      const res = await readRaw(APP, bad);
      assert.equal(res.status, 400, `${bad}: ${res.text}`);
      const body = JSON.parse(res.text) as { code: number; message: string };
      assert.equal(body.code, 3);
      assert.ok(body.message.length > 0);
    }
  });

  it('selects [start_time, end_time): start inclusive, end exclusive, end defaulting to now; cf’s polling sees only newer lines', async () => {
    const sent = Array.from({ length: 5 }, (_, i) => envelope(APP, `line ${i}`));
    const future = envelope(APP, 'from the future', { timestamp: (Date.now() + 600_000) * 1e6 });
    await publishAll(...sent, future);
    const ts = (await read(APP, '?limit=10&end_time=9000000000000000000')).map((e) => e.timestamp);
    assert.equal(ts.length, 6);
    assert.deepEqual(messages(await read(APP)), sent.map((e) => e.message), 'the future line is past the default end (now)');
    assert.deepEqual(messages(await read(APP, `?start_time=${ts[1]}&end_time=${ts[3]}`)), ['line 1', 'line 2']);
    assert.deepEqual(messages(await read(APP, `?start_time=${ts[1]}&end_time=0`)), ['line 1', 'line 2', 'line 3', 'line 4'], 'end_time 0 is now');
    assert.deepEqual(messages(await read(APP, `?start_time=${ts[4]}&end_time=${ts[4]}`)), [], 'an empty range');

    // Streaming cf: read the newest, then poll from just after the last one seen.
    const [latest] = await read(APP, '?limit=1&descending=true');
    assert.equal(messages([latest])[0], 'line 4');
    assert.deepEqual(await read(APP, `?start_time=${BigInt(latest.timestamp) + 1n}&envelope_types=LOG`), []);
    const next = envelope(APP, 'a new line');
    await publishAll(next);
    assert.deepEqual(messages(await read(APP, `?start_time=${BigInt(latest.timestamp) + 1n}&envelope_types=LOG`)), ['a new line']);

    for (const bad of [`?start_time=${ts[3]}&end_time=${ts[1]}`, '?start_time=yesterday', '?end_time=1.5', '?start_time=99999999999999999999']) {
      assert.equal((await readRaw(APP, bad)).status, 400, bad);
    }
  });

  it('envelope_types: LOG and ANY select the lines; other types select none (devbox keeps logs only); unknown types are refused', async () => {
    await publishAll(envelope(APP, 'one'), envelope(APP, 'two'));
    assert.equal((await read(APP, '?envelope_types=LOG')).length, 2);
    assert.equal((await read(APP, '?envelope_types=ANY')).length, 2);
    assert.equal((await read(APP, '?envelope_types=GAUGE&envelope_types=LOG')).length, 2);
    assert.equal((await read(APP, '?envelope_types=GAUGE')).length, 0);
    assert.equal((await read(APP, '?envelope_types=COUNTER&envelope_types=TIMER&envelope_types=EVENT')).length, 0);
    assert.equal((await readRaw(APP, '?envelope_types=LOGS')).status, 400);
  });

  it('needs a token that may read the app: 401 without one or with a forged one, 404 for an app it may not see or that does not exist', async () => {
    await publishAll(envelope(APP, 'secret'));
    const none = await readRaw(APP, '', {});
    assert.equal(none.status, 401);
    assert.equal((JSON.parse(none.text) as { errors: { title: string }[] }).errors[0].title, 'CF-NotAuthenticated');
    const forged = await readRaw(APP, '', { authorization: `bearer ${await signToken(routerPort, { key: OTHER_KEY })}` });
    assert.equal(forged.status, 401);
    assert.equal((JSON.parse(forged.text) as { errors: { title: string }[] }).errors[0].title, 'CF-InvalidAuthToken');

    const stranger = await signToken(routerPort);
    controller.grant(stranger, OTHER_APP);
    const refused = await readRaw(APP, '', { authorization: `bearer ${stranger}` });
    assert.equal(refused.status, 404);
    assert.doesNotMatch(refused.text, /secret/);
    assert.equal((await readRaw('no-such-app')).status, 404);
    assert.equal((await readRaw('bad%2Fguid')).status, 404);
    // A bad query from someone who may not read the app is still refused for the token first.
    assert.equal((await readRaw(APP, '?limit=5000', {})).status, 401);
    assert.equal(r.varz().lines_received, 1);
    assert.ok((r.varz().http as { read_requests: number }).read_requests >= 6);
  });
});
