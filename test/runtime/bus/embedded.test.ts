// Embedded-server-only behaviour: counters, slow consumers, shutdown, logging hygiene, and a seeded
// fuzz run that throws malformed and random bytes at it over many connections.
import assert from 'node:assert/strict';
import { connect, type NatsConnection } from 'nats';
import { isListening, waitFor } from '../../../src/runtime/common/net.js';
import { BusServer } from '../../../src/runtime/bus/index.js';
import { prng, RawClients, startTestServer, type TestServer } from './helpers.js';

describe('bus embedded server', function () {
  this.timeout(20_000);
  const raw = new RawClients();
  const servers: TestServer[] = [];
  const natsConns: NatsConnection[] = [];

  const start = async (options: Parameters<typeof startTestServer>[1] = {}) => {
    const s = await startTestServer('embedded', options);
    servers.push(s);
    return s;
  };

  afterEach(async () => {
    raw.closeAll();
    await Promise.allSettled(natsConns.splice(0).map((nc) => nc.close()));
    await Promise.allSettled(servers.splice(0).map((s) => s.stop()));
  });

  it('listens on an OS-picked port and reports it', async () => {
    const bus = new BusServer();
    try {
      const { host, port } = await bus.listen();
      assert.equal(host, '127.0.0.1');
      assert.ok(port > 0);
      assert.equal(bus.port, port);
      assert.ok(await isListening(port));
    } finally {
      await bus.close();
    }
  });

  it('counts connections, subscriptions, messages and bytes', async () => {
    const s = await start();
    const a = await raw.open(s);
    const b = await raw.open(s);
    assert.equal(await a.exchange('SUB x 1\r\nSUB x q 2\r\n'), 'PONG\r\n');
    assert.equal(await b.exchange('SUB x 1\r\nPUB x 3\r\nabc\r\nPUB y 2\r\nzz\r\n'), 'MSG x 1 3\r\nabc\r\nPONG\r\n');
    assert.match(await a.exchange(''), /^(MSG x [12] 3\r\nabc\r\n){2}PONG\r\n$/);
    assert.deepEqual(s.stats!(), {
      connections: 2,
      total_connections: 2,
      subscriptions: 3,
      in_msgs: 2,
      out_msgs: 3,
      in_bytes: 5,
      out_bytes: 9,
      slow_consumers: 0,
    });
    b.close();
    await waitFor('connection gone', () => s.stats!().connections === 1, { timeoutMs: 2_000 });
    assert.equal(s.stats!().subscriptions, 2, "a closed connection's subscriptions are removed");
  });

  it('drops a slow consumer (pending bytes over the limit) and keeps serving the others', async () => {
    const s = await start({ maxPendingBytes: 256 * 1024 });
    const sub = await raw.open(s);
    assert.equal(await sub.exchange('SUB flood 1\r\n'), 'PONG\r\n');
    sub.socket.pause(); // never read again
    const pub = await raw.open(s);
    const payload = 'x'.repeat(16 * 1024);
    const batch = `PUB flood ${payload.length}\r\n${payload}\r\n`.repeat(64); // 1 MiB
    const deadline = Date.now() + 10_000;
    while (s.stats!().slow_consumers === 0) {
      assert.ok(Date.now() < deadline, 'no slow consumer detected within 10 s');
      assert.equal(await pub.exchange(batch), 'PONG\r\n');
    }
    assert.equal(s.stats!().slow_consumers, 1);
    await waitFor('slow consumer gone', () => s.stats!().connections === 1, { timeoutMs: 2_000 });
    assert.equal(await pub.exchange('SUB ok 2\r\nPUB ok 1\r\n!\r\n'), 'MSG ok 2 1\r\n!\r\nPONG\r\n');
  });

  it('closes stale connections quickly with a tiny ping interval', async () => {
    const s = await start({ pingIntervalMs: 50, maxPingsOut: 1 });
    const c = await raw.open(s);
    assert.equal(await c.expectClose(2_000), "PING\r\n-ERR 'Stale Connection'\r\n");
  });

  it('close() closes every client socket and the listener', async () => {
    const s = await start();
    const clients = await Promise.all([1, 2, 3].map(() => raw.open(s)));
    await s.stop();
    for (const c of clients) await c.expectClose(2_000);
    assert.equal(await isListening(s.port), false);
  });

  it('never logs the token or a password, and survives a throwing logger', async () => {
    const secret = 'TOPSECRET-12345';
    const lines: unknown[] = [];
    const s = await start({
      token: secret,
      log: (level, msg, fields) => {
        lines.push({ level, msg, fields });
        if (level === 'debug') throw new Error('logger failure');
      },
    });
    const good = await raw.open(s, { auth_token: secret, pass: 'p4ssw0rd-xyz', user: 'me' });
    assert.equal(await good.exchange(''), 'PONG\r\n');
    const bad = await raw.open(s, { auth_token: `${secret}-wrong`, pass: 'p4ssw0rd-xyz' });
    await bad.expectClose();
    assert.ok(lines.length > 0);
    const text = JSON.stringify(lines);
    assert.ok(!text.includes(secret), 'token leaked into the log');
    assert.ok(!text.includes('p4ssw0rd-xyz'), 'password leaked into the log');
    assert.equal(await good.exchange(''), 'PONG\r\n');
  });

  it('survives seeded malformed and random input on many connections; only the offenders are closed', async () => {
    const s = await start({ maxPayload: 64 * 1024 });
    const rand = prng(0xdeb0c5);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
    const randomBytes = (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(rand() * 256)));

    // Bystanders that must keep working throughout.
    const bystander = await raw.open(s);
    assert.equal(await bystander.exchange('SUB fuzz.> 1\r\n'), 'PONG\r\n');
    const nc = await connect({ servers: s.url, reconnect: false });
    natsConns.push(nc);
    const received: string[] = [];
    nc.subscribe('control', { callback: (_e, m) => received.push(m.string()) });
    await nc.flush();

    const opStart = new Set([...'PpHhSsUuCcIi+-'].map((ch) => ch.charCodeAt(0)));
    const fragments = [
      'PUB fuzz.a 3\r\nabc\r\n',
      'PUB fuzz.b 5\r\nab\r\n',
      'PUB fuzz.c 999999999\r\n',
      'SUB fuzz.* 9\r\n',
      'SUB fuzz..x 9\r\n',
      'UNSUB 9 1\r\n',
      'HPUB fuzz.h 12 14\r\nNATS/1.0\r\n\r\nhi\r\n',
      'PING\r\n',
      'PONG\r\n',
      'CONNECT {"verbose":true}\r\n',
      'CONNECT {"protocol":7}\r\n',
      'CONNECT {oops\r\n',
      `SUB ${'z'.repeat(5000)} 1\r\n`,
      '\r\n',
      'PUB\r\n',
      'PUB fuzz.d 2\r\n\r\n\r\n',
      '-ERR x\r\n',
    ];

    // Every random decision is made up front, so the run is the same whatever the timing.
    interface Plan {
      sendConnect: boolean;
      malformed: boolean;
      chunks: Buffer[];
      pauses: boolean[];
    }
    const plans: Plan[] = [];
    for (let i = 0; i < 80; i++) {
      const sendConnect = rand() < 0.5;
      if (i % 2 === 0) {
        // Malformed from the first byte: must get Unknown Protocol Operation and be closed.
        let first: number;
        do first = Math.floor(rand() * 256);
        while (opStart.has(first));
        plans.push({ sendConnect, malformed: true, chunks: [Buffer.concat([Buffer.from([first]), randomBytes(1 + Math.floor(rand() * 200))])], pauses: [false] });
        continue;
      }
      // Protocol fragments mixed with random bytes, cut into random chunks.
      const parts: Buffer[] = [];
      const count = 1 + Math.floor(rand() * 8);
      for (let k = 0; k < count; k++) parts.push(rand() < 0.7 ? Buffer.from(pick(fragments), 'latin1') : randomBytes(1 + Math.floor(rand() * 64)));
      const all = Buffer.concat(parts);
      const chunks: Buffer[] = [];
      const pauses: boolean[] = [];
      for (let at = 0; at < all.length; ) {
        const n = 1 + Math.floor(rand() * 64);
        chunks.push(all.subarray(at, at + n));
        pauses.push(rand() < 0.2);
        at += n;
      }
      plans.push({ sendConnect, malformed: false, chunks, pauses });
    }

    const attack = async (plan: Plan) => {
      const c = await raw.open(s, plan.sendConnect ? {} : false);
      for (let k = 0; k < plan.chunks.length && !c.closed; k++) {
        c.write(plan.chunks[k]);
        if (plan.pauses[k]) await new Promise((resolve) => setTimeout(resolve, 1));
      }
      if (plan.malformed) {
        assert.equal(await c.expectClose(3_000), "-ERR 'Unknown Protocol Operation'\r\n");
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
      c.close();
    };

    for (let wave = 0; wave < 8; wave++) {
      await Promise.all(plans.slice(wave * 10, wave * 10 + 10).map(attack));
      // Between waves, the bystanders still get service.
      nc.publish('control', String(wave));
      await nc.flush();
      assert.equal(bystander.closed, false);
      bystander.write('PING\r\n');
      await bystander.collectUntilPongOrClose();
    }
    await waitFor('control messages', () => received.length === 8, { timeoutMs: 2_000 });
    assert.deepEqual(received, ['0', '1', '2', '3', '4', '5', '6', '7']);
    await waitFor('fuzz connections closed', () => s.stats!().connections === 2, { timeoutMs: 5_000 });
    assert.equal(s.stats!().total_connections, 82);
    assert.ok(await isListening(s.port));
  });
});
