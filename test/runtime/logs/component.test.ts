// The logs component on a real bus, in this process: envelopes published by the test, recent lines
// over HTTP and new ones over WebSocket, tokens checked with a stand-in controller, the ring and the
// files bounded, persistence across a restart, and misbehaving publishers and clients.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { NatsConnection } from 'nats';
import { BusServer } from '../../../src/runtime/bus/server.js';
import { sleep, waitFor } from '../../../src/runtime/common/net.js';
import { connectTo, envelope, FakeController, get, OTHER_KEY, publish, recent, signToken, startLogs, StreamClient, stuckClient, tempHome, type RunningLogs } from './helpers.js';

describe('logs: the component on a real bus', function () {
  this.timeout(20_000);
  let bus: BusServer;
  let busPort: number;
  let nc: NatsConnection;
  let controller: FakeController;
  let routerPort: number;
  let home: string;
  let running: RunningLogs[] = [];
  let token: string;
  const APP = 'app-1111';
  const OTHER_APP = 'app-2222';

  const start = async (env: Record<string, string> = {}, port?: number) => {
    const r = await startLogs({ home, busPort, routerPort, env, port });
    running.push(r);
    return r;
  };
  /** Publishes and waits until the component has received everything published so far. */
  const publishAll = async (r: RunningLogs, ...envelopes: ReturnType<typeof envelope>[]) => {
    const before = r.varz().lines_received;
    for (const e of envelopes) publish(nc, e);
    await nc.flush();
    await waitFor('the component to receive the lines', () => r.varz().lines_received >= before + envelopes.length, { timeoutMs: 5_000 });
  };

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
  });
  afterEach(async function () {
    if (this.currentTest?.state === 'failed') for (const r of running) console.log(r.lines.join(''));
    for (const r of running) await r.stop();
    running = [];
    await controller.close();
    fs.rmSync(home, { recursive: true, force: true });
  });

  it('registers logs.<domain> and log-cache’s /api/v1 on the cf address with the router', async () => {
    const registered = new Promise<{ uris: string[]; port: number }>((resolve) => {
      const sub = nc.subscribe('router.register', { callback: (_e, m) => resolve(m.json()) });
      sub.unsubscribe(5);
    });
    const r = await start();
    const route = await registered;
    assert.deepEqual(route.uris, ['logs.localhost', '127.0.0.1/api/v1', 'localhost/api/v1'], 'its host, and log-cache on the cf address');
    assert.equal(route.port, r.port);
    assert.equal(r.component.healthy(), true);
  });

  it('keeps the lines of each app in order, with every field, and serves them oldest first', async () => {
    const r = await start();
    const sent = Array.from({ length: 50 }, (_, i) => envelope(APP, `line ${i}`, { message_type: i % 3 === 0 ? 'ERR' : 'OUT', source_instance: String(i % 2) }));
    const other = envelope(OTHER_APP, 'someone else');
    await publishAll(r, ...sent.slice(0, 25), other, ...sent.slice(25));
    assert.deepEqual(await recent(r.port, APP, token), sent);
    assert.deepEqual(await recent(r.port, OTHER_APP, token), [other]);
    assert.deepEqual(await recent(r.port, APP, token, '?limit=3'), sent.slice(-3));
    assert.deepEqual(await recent(r.port, APP, token, '?limit=0'), []);
    assert.equal((await get(r.port, `/apps/${APP}/recent?limit=x`, { authorization: `bearer ${token}` })).status, 400);
  });

  it('sorts recent lines by time when sources arrive out of order (each source keeps its own order)', async () => {
    const r = await start();
    const a = envelope(APP, 'app line');
    const b = envelope(APP, 'router line, published late', { source_type: 'RTR' });
    const c = envelope(APP, 'later app line');
    await publishAll(r, a, c, b);
    assert.deepEqual((await recent(r.port, APP, token)).map((e) => e.message), [a.message, b.message, c.message]);
  });

  it('bounds the ring (DEVBOX_LOGS_RING): the newest lines stay', async () => {
    const r = await start({ DEVBOX_LOGS_RING: '10' });
    const sent = Array.from({ length: 25 }, (_, i) => envelope(APP, `line ${i}`));
    await publishAll(r, ...sent);
    assert.deepEqual(await recent(r.port, APP, token), sent.slice(-10));
    assert.equal(r.varz().lines_stored, 25);
  });

  it('keeps the lines on disk: a restarted component serves what the previous one had', async () => {
    const first = await start({ DEVBOX_LOGS_RING: '20' });
    const sent = Array.from({ length: 30 }, (_, i) => envelope(APP, `before restart ${i}`, { source_type: i % 2 ? 'CELL' : 'APP/PROC/WEB' }));
    await publishAll(first, ...sent);
    await first.stop();
    const file = path.join(home, 'logs/apps', `${APP}.log`);
    assert.equal(fs.readFileSync(file, 'utf8').trim().split('\n').length, 30, 'every line appended, as JSON lines');
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);

    const second = await start({ DEVBOX_LOGS_RING: '20' });
    assert.deepEqual(await recent(second.port, APP, token), sent.slice(-20));
    const more = envelope(APP, 'after restart');
    await publishAll(second, more);
    assert.deepEqual(await recent(second.port, APP, token), [...sent.slice(-19), more]);
  });

  it('lines reach the disk within the flush interval, without a clean stop (as before a kill -9)', async () => {
    const r = await start({ DEVBOX_LOGS_FLUSH_MS: '20' });
    const sent = [envelope(APP, 'one'), envelope(APP, 'two')];
    await publishAll(r, ...sent);
    const file = path.join(home, 'logs/apps', `${APP}.log`);
    await waitFor('the lines on disk', () => fs.existsSync(file) && fs.readFileSync(file, 'utf8').split('\n').length === 3, { timeoutMs: 2_000 });
    assert.deepEqual(fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l)), sent);
  });

  it('rotates the files so that an app never has more than two of at most DEVBOX_LOGS_FILE_BYTES', async () => {
    const limit = 4096;
    const r = await start({ DEVBOX_LOGS_FILE_BYTES: String(limit), DEVBOX_LOGS_FLUSH_MS: '0' });
    const sent = Array.from({ length: 500 }, (_, i) => envelope(APP, `rotating line ${i} ${'x'.repeat(60)}`));
    await publishAll(r, ...sent);
    const dir = path.join(home, 'logs/apps');
    assert.deepEqual(fs.readdirSync(dir).sort(), [`${APP}.log`, `${APP}.log.1`]);
    for (const name of fs.readdirSync(dir)) assert.ok(fs.statSync(path.join(dir, name)).size <= limit, `${name} is ${fs.statSync(path.join(dir, name)).size} bytes`);
    assert.ok((r.varz().store as { rotations: number }).rotations > 10);
    await r.stop();
    // What survives a restart is the newest lines, in order, as many as the two files hold.
    const onDisk = fs.readdirSync(dir).reduce((n, name) => n + fs.readFileSync(path.join(dir, name), 'utf8').trim().split('\n').length, 0);
    assert.ok(onDisk >= limit / 250, `${onDisk} lines on disk`);
    const again = await start({ DEVBOX_LOGS_FILE_BYTES: String(limit) });
    const back = await recent(again.port, APP, token);
    assert.equal(back.length, onDisk);
    assert.deepEqual(back, sent.slice(-back.length));
  });

  it('streams new lines over WebSocket, in order, to every client of the app', async () => {
    const r = await start();
    const a = await StreamClient.open(r.port, APP, { authorization: `bearer ${token}` });
    const b = await StreamClient.open(r.port, APP, {}, `?access_token=${token}`);
    const other = await StreamClient.open(r.port, OTHER_APP, { authorization: `bearer ${token}` });
    await waitFor('3 clients', () => r.varz().clients_streaming === 3);
    const sent = Array.from({ length: 200 }, (_, i) => envelope(APP, `streamed ${i}`, { message_type: i % 2 ? 'ERR' : 'OUT' }));
    for (const e of sent) publish(nc, e);
    await waitFor('every line streamed', () => a.received.length === 200 && b.received.length === 200, { timeoutMs: 5_000 });
    assert.deepEqual(a.received, sent);
    assert.deepEqual(b.received, sent);
    assert.deepEqual(other.received, [], 'another app sees nothing of it');
    a.close();
    await waitFor('the client to be forgotten', () => r.varz().clients_streaming === 2);
    b.close();
    other.close();
  });

  it('refuses without a token or with a bad one (401), and an app the controller does not know (404)', async () => {
    const r = await start();
    await publishAll(r, envelope(APP, 'secret line'));
    const expired = await signToken(routerPort, { expiresIn: -60 });
    const forged = await signToken(routerPort, { key: OTHER_KEY });
    const unknownToController = await signToken(routerPort);
    for (const [what, headers, status] of [
      ['no token', {}, 401],
      ['not a bearer header', { authorization: 'Basic YWRtaW46YWRtaW4=' }, 401],
      ['garbage', { authorization: 'bearer not-a-jwt' }, 401],
      ['expired', { authorization: `bearer ${expired}` }, 401],
      ['forged', { authorization: `bearer ${forged}` }, 401],
      ['refused by the controller', { authorization: `bearer ${unknownToController}` }, 401],
    ] as [string, Record<string, string>, number][]) {
      const res = await get(r.port, `/apps/${APP}/recent`, headers);
      assert.equal(res.status, status, `${what}: ${res.text}`);
      assert.doesNotMatch(res.text, /secret line/);
      assert.match(JSON.parse(res.text).errors[0].title, /^CF-(NotAuthenticated|InvalidAuthToken)$/, what);
      await assert.rejects(StreamClient.open(r.port, APP, headers), { status }, `stream, ${what}`);
    }
    const unknown = await get(r.port, '/apps/no-such-app/recent', { authorization: `bearer ${token}` });
    assert.equal(unknown.status, 404);
    assert.equal(JSON.parse(unknown.text).errors[0].title, 'CF-ResourceNotFound');
    await assert.rejects(StreamClient.open(r.port, 'no-such-app', { authorization: `bearer ${token}` }), { status: 404 });
    assert.equal((await get(r.port, '/nothing/here', { authorization: `bearer ${token}` })).status, 404);
    assert.equal(r.varz().clients_streaming, 0);
  });

  it('asks the controller once per token and app, then remembers the answer briefly', async () => {
    const r = await start({ DEVBOX_LOGS_AUTH_CACHE_MS: '60000' });
    const before = controller.requests;
    for (let i = 0; i < 5; i++) await recent(r.port, APP, token);
    assert.equal(controller.requests - before, 1);
    // A no is not remembered: the app the controller did not know a moment ago is found once created.
    const fresh = 'app-3333';
    assert.equal((await get(r.port, `/apps/${fresh}/recent`, { authorization: `bearer ${token}` })).status, 404);
    controller.grant(token, fresh);
    assert.deepEqual(await recent(r.port, fresh, token), []);
  });

  it('counts and drops malformed messages; the good ones around them are kept', async () => {
    const r = await start();
    const good = [envelope(APP, 'good 1'), envelope(APP, 'good 2')];
    publish(nc, good[0]);
    const bad: [string, string][] = [
      [`logs.${APP}`, 'not json'],
      [`logs.${APP}`, '[1,2,3]'],
      [`logs.${APP}`, JSON.stringify({ ...envelope(APP, 'x'), message_type: 'DEBUG' })],
      [`logs.${APP}`, JSON.stringify({ ...envelope(APP, 'x'), timestamp: 'yesterday' })],
      [`logs.${APP}`, JSON.stringify(envelope(OTHER_APP, 'subject and app guid disagree'))],
      [`logs.${APP}.extra`, JSON.stringify(envelope(APP, 'subject with two tokens'))],
      ['logs.bad$guid', JSON.stringify(envelope('bad$guid', 'not a guid'))],
    ];
    for (const [subject, payload] of bad) nc.publish(subject, payload);
    publish(nc, good[1]);
    await nc.flush();
    await waitFor('every message', () => r.varz().lines_received === bad.length + 2);
    const varz = r.varz();
    assert.equal(varz.lines_dropped, bad.length);
    assert.equal(varz.lines_stored, 2);
    assert.deepEqual(await recent(r.port, APP, token), good);
    assert.equal(r.lines.filter((l) => l.includes('malformed')).length, 1, 'said once, not once per message');
  });

  it('drops a stream client that does not read, while a client that keeps up gets everything', async function () {
    this.timeout(30_000);
    const r = await start({ DEVBOX_LOGS_MAX_BUFFERED_BYTES: '65536', DEVBOX_LOGS_RING: '10' });
    const good = await StreamClient.open(r.port, APP, { authorization: `bearer ${token}` });
    const stuck = await stuckClient(r.port, APP, token);
    await waitFor('2 clients', () => r.varz().clients_streaming === 2);
    // Far more than the kernel's socket buffers hold: the stuck client's backlog must grow past the limit.
    const big = 'y'.repeat(60 * 1024);
    const count = 600;
    for (let i = 0; i < count; i++) {
      publish(nc, envelope(APP, `${i} ${big}`));
      if (i % 50 === 0) await nc.flush();
    }
    await waitFor('the stuck client dropped', () => (r.varz().streams as { slow_clients_dropped: number }).slow_clients_dropped === 1, { timeoutMs: 15_000 });
    await waitFor('every line at the good client', () => good.received.length === count, { timeoutMs: 15_000 });
    assert.deepEqual(good.received.map((e) => Number(e.message.split(' ')[0])), Array.from({ length: count }, (_, i) => i));
    assert.equal(r.varz().clients_streaming, 1);
    assert.ok(process.memoryUsage().rss < 1.5 * 1024 ** 3);
    stuck.destroy();
    good.close();
  });

  it('drops a client that stops answering pings', async () => {
    const r = await start({ DEVBOX_LOGS_PING_MS: '100' });
    const alive = await StreamClient.open(r.port, APP, { authorization: `bearer ${token}` });
    const stuck = await stuckClient(r.port, APP, token);
    await waitFor('the silent client dropped', () => (r.varz().streams as { dead_clients_dropped: number }).dead_clients_dropped === 1, { timeoutMs: 3_000 });
    await sleep(300);
    assert.equal(r.varz().clients_streaming, 1, 'the client answering pings stays');
    stuck.destroy();
    alive.close();
  });

  it('closes the streams when it stops', async () => {
    const r = await start();
    const client = await StreamClient.open(r.port, APP, { authorization: `bearer ${token}` });
    await r.stop();
    await waitFor('the close', () => client.closeCode !== undefined, { timeoutMs: 3_000 });
    assert.equal(client.closeCode, 1001);
  });
});
