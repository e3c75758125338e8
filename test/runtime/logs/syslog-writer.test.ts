// One drain's writer against real servers of the test's own on loopback: messages arrive in order,
// octet-counted over TCP and TLS, one POST each over HTTP(S); the queue is bounded (the oldest go,
// counted); a drain that is down is retried with a growing backoff and gets the newest lines once it
// is back; a drain that reads nothing is cut at the write timeout; enqueueing never waits.
import assert from 'node:assert/strict';
import { freePort } from '../../../src/runtime/common/net.js';
import { waitFor } from '../../../src/runtime/common/poll.js';
import { parseDrainUrl, type DrainTarget } from '../../../src/runtime/logs/drain-url.js';
import type { GuardDecision } from '../../../src/runtime/logs/drain-guard.js';
import { BoundedQueue, DrainWriter, type DrainProblem, type DrainWriterOptions } from '../../../src/runtime/logs/syslog-writer.js';
import { HttpDrainServer, SyslogServer, testCerts, type TestCerts } from './drain-helpers.js';

const target = (raw: string): DrainTarget => {
  const parsed = parseDrainUrl(raw);
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.target;
};
/** Loopback, allowed: these tests are about the writer, not the guard. */
const allow = async (): Promise<GuardDecision> => ({ ok: true, address: '127.0.0.1', family: 4 });
const msg = (i: number | string) => Buffer.from(`<14>1 - h app [APP/PROC/WEB/0] - - line ${i}\n`);
const line = (i: number | string) => `<14>1 - h app [APP/PROC/WEB/0] - - line ${i}\n`;

describe('syslog drains: a drain’s writer', function () {
  this.timeout(20_000);
  let certs: TestCerts;
  const writers: DrainWriter[] = [];
  const servers: { close(): Promise<void> }[] = [];
  const writer = (raw: string, over: Partial<DrainWriterOptions> = {}) => {
    const problems: DrainProblem[] = [];
    const w = new DrainWriter({ target: target(raw), check: allow, queueLines: 1000, queueBytes: 1 << 20, tls: { rejectUnauthorized: true }, backoff: { initialMs: 20, maxMs: 80 }, onProblem: (p) => problems.push(p), ...over });
    writers.push(w);
    return { w, problems };
  };
  const syslog = async (tlsOptions?: ConstructorParameters<typeof SyslogServer>[0]) => {
    const s = new SyslogServer(tlsOptions);
    servers.push(s);
    await s.listen();
    return s;
  };
  const httpDrain = async (tlsOptions?: ConstructorParameters<typeof HttpDrainServer>[0]) => {
    const s = new HttpDrainServer(tlsOptions);
    servers.push(s);
    await s.listen();
    return s;
  };

  before(async () => {
    certs = await testCerts();
  });
  afterEach(async () => {
    for (const w of writers.splice(0)) w.close();
    for (const s of servers.splice(0)) await s.close();
  });
  after(() => certs.remove());

  it('bounds its queue by lines and by bytes, dropping the oldest and counting them', () => {
    const q = new BoundedQueue(3, 1000);
    assert.deepEqual([1, 2, 3, 4, 5].map((i) => q.push(Buffer.from(`m${i}`))), [0, 0, 0, 1, 1]);
    assert.deepEqual([q.shift(), q.shift(), q.shift(), q.shift()].map((b) => b?.toString()), ['m3', 'm4', 'm5', undefined]);
    const bytes = new BoundedQueue(100, 10);
    bytes.push(Buffer.alloc(4));
    bytes.push(Buffer.alloc(4));
    assert.equal(bytes.push(Buffer.alloc(4)), 1, 'a third 4-byte item needs the first one’s room');
    assert.equal(bytes.bytes, 8);
    assert.equal(bytes.push(Buffer.alloc(50)), 2, 'one item larger than the bound is kept alone');
    assert.equal(bytes.length, 1);
    const many = new BoundedQueue(100_000, 1 << 30);
    for (let i = 0; i < 5000; i++) many.push(Buffer.from(String(i)));
    for (let i = 0; i < 4000; i++) assert.equal(many.shift()?.toString(), String(i));
    assert.equal(many.length, 1000);
    assert.equal(many.peek()?.toString(), '4000');
  });

  it('syslog://: one connection, every message octet-counted, in order', async () => {
    const server = await syslog();
    const { w } = writer(`syslog://127.0.0.1:${server.port}`);
    for (let i = 0; i < 500; i++) w.enqueue(msg(i));
    await waitFor('500 messages at the server', () => server.messages.length >= 500, { timeoutMs: 5_000 });
    assert.deepEqual(server.messages, Array.from({ length: 500 }, (_, i) => line(i)));
    assert.deepEqual(server.framingErrors, []);
    assert.equal(server.connections, 1);
    assert.equal(w.counters.sent, 500);
    assert.equal(w.state, 'connected');
  });

  it('syslog-tls://: the same over TLS, the certificate checked against the name in the URL', async () => {
    const server = await syslog({ cert: certs.cert, key: certs.key });
    const { w } = writer(`syslog-tls://localhost:${server.port}`, { tls: { ca: [certs.ca], rejectUnauthorized: true } });
    w.enqueue(msg('tls'));
    await waitFor('the message over TLS', () => server.messages.length === 1, { timeoutMs: 5_000 });
    assert.equal(server.messages[0], line('tls'));

    // Not trusted (Node's roots only): refused, retried with backoff, nothing arrives.
    const untrusted = writer(`syslog-tls://localhost:${server.port}`, { tls: { rejectUnauthorized: true } });
    untrusted.w.enqueue(msg('x'));
    await waitFor('a TLS failure', () => untrusted.problems.some((p) => p.kind === 'failed'), { timeoutMs: 5_000 });
    const failed = untrusted.problems.find((p) => p.kind === 'failed') as Extract<DrainProblem, { kind: 'failed' }>;
    assert.match(failed.error, /certificate/i);
    assert.equal(server.messages.length, 1);

    // Skip verification (DEVBOX_LOGS_DRAIN_SKIP_CERT_VERIFY): taken.
    const skipping = writer(`syslog-tls://localhost:${server.port}`, { tls: { rejectUnauthorized: false } });
    skipping.w.enqueue(msg('skip'));
    await waitFor('the message without verification', () => server.messages.length === 2, { timeoutMs: 5_000 });
  });

  it('a drain that is down: retried with a growing backoff while the queue keeps the newest; they arrive once it is up', async () => {
    const port = await freePort();
    const { w, problems } = writer(`syslog://127.0.0.1:${port}`, { queueLines: 10 });
    const started = process.hrtime.bigint();
    for (let i = 0; i < 100; i++) w.enqueue(msg(i));
    const enqueueMs = Number(process.hrtime.bigint() - started) / 1e6;
    assert.ok(enqueueMs < 50, `enqueueing 100 lines for a dead drain took ${enqueueMs} ms`);
    assert.equal(w.counters.dropped, 90);
    assert.deepEqual(
      problems.filter((p) => p.kind === 'dropped').reduce((n, p) => n + (p as { count: number }).count, 0),
      90,
      'every drop is told',
    );
    await waitFor('four failed attempts', () => problems.filter((p) => p.kind === 'failed').length >= 4, { timeoutMs: 5_000 });
    const failures = problems.filter((p): p is Extract<DrainProblem, { kind: 'failed' }> => p.kind === 'failed');
    assert.deepEqual(
      failures.slice(0, 4).map((p) => p.retryInMs),
      [20, 40, 80, 80],
      'backoff doubles to its cap',
    );
    assert.match(failures[0].error, /ECONNREFUSED/);
    assert.equal(w.state, 'backoff');

    const server = new SyslogServer();
    servers.push(server);
    await server.listen(port);
    await waitFor('the queued lines after the drain came up', () => server.messages.length >= 10, { timeoutMs: 5_000 });
    assert.deepEqual(server.messages, Array.from({ length: 10 }, (_, i) => line(90 + i)), 'the newest 10, in order');
    await waitFor('the recovery to be told', () => problems.some((p) => p.kind === 'recovered'), { timeoutMs: 2_000 });

    // The drain drops the connection: the next line reconnects.
    server.dropConnections();
    await waitFor('the writer to see the connection go', () => w.state !== 'connected', { timeoutMs: 5_000 });
    w.enqueue(msg('after'));
    await waitFor('the line after a reconnect', () => server.messages.includes(line('after')), { timeoutMs: 5_000 });
    assert.equal(server.connections, 2);
  });

  it('a drain that reads nothing: enqueueing never waits, the oldest go, and the connection is cut at the write timeout', async () => {
    const server = await syslog();
    server.stuck = true;
    const { w, problems } = writer(`syslog://127.0.0.1:${server.port}`, { queueLines: 100_000, queueBytes: 8 << 20, writeTimeoutMs: 300 });
    const big = Buffer.alloc(64 * 1024, 'x');
    const started = process.hrtime.bigint();
    for (let i = 0; i < 1000; i++) w.enqueue(big);
    const enqueueMs = Number(process.hrtime.bigint() - started) / 1e6;
    assert.ok(enqueueMs < 500, `enqueueing 64 MB took ${enqueueMs} ms`);
    assert.ok(w.counters.dropped > 0, 'beyond 8 MiB queued the oldest are dropped');
    await waitFor('the write timeout', () => problems.some((p) => p.kind === 'failed' && /write timeout/.test(p.error)), { timeoutMs: 5_000 });
    assert.ok(w.queued * big.length <= 8 << 20);
  });

  it('refused by the guard: nothing connects, and it says why', async () => {
    const server = await syslog();
    const { w, problems } = writer(`syslog://127.0.0.1:${server.port}`, { check: async () => ({ ok: false, reason: 'port 1 is devbox’s own' }) });
    w.enqueue(msg(1));
    await waitFor('the refusal', () => problems.some((p) => p.kind === 'failed'), { timeoutMs: 5_000 });
    assert.deepEqual(problems[0], { kind: 'failed', error: 'port 1 is devbox’s own', refused: true, failures: 1, retryInMs: 20 });
    assert.equal(server.connections, 0);
  });

  it('https://: one POST per message, text/plain, in order, basic auth from the URL, the certificate checked', async () => {
    const server = await httpDrain({ cert: certs.cert, key: certs.key });
    const { w } = writer(`https://drain:s3cret@localhost:${server.port}/in?source=devbox`, { tls: { ca: [certs.ca], rejectUnauthorized: true } });
    for (let i = 0; i < 20; i++) w.enqueue(msg(i));
    await waitFor('20 POSTs', () => server.posts.length >= 20, { timeoutMs: 5_000 });
    assert.deepEqual(
      server.posts.map((p) => p.body),
      Array.from({ length: 20 }, (_, i) => line(i)),
    );
    const first = server.posts[0];
    assert.equal(first.path, '/in?source=devbox');
    assert.equal(first.headers['content-type'], 'text/plain');
    assert.equal(first.headers.authorization, `Basic ${Buffer.from('drain:s3cret').toString('base64')}`);
    assert.equal(first.headers.host, `localhost:${server.port}`);
    assert.equal(w.counters.sent, 20);

    const untrusted = writer(`https://localhost:${server.port}/in`);
    untrusted.w.enqueue(msg('x'));
    await waitFor('a TLS failure', () => untrusted.problems.some((p) => p.kind === 'failed'), { timeoutMs: 5_000 });
    assert.match((untrusted.problems[0] as { error: string }).error, /certificate/i);
    assert.equal(server.posts.length, 20);
  });

  it('http://: a message the drain keeps refusing is tried three times, then dropped; the next goes on', async () => {
    const server = await httpDrain();
    server.status = (body) => (body.includes('line bad') ? 500 : 204);
    const { w, problems } = writer(`http://127.0.0.1:${server.port}/`);
    w.enqueue(msg('bad'));
    w.enqueue(msg('good'));
    await waitFor('the good line', () => server.posts.some((p) => p.body === line('good')), { timeoutMs: 5_000 });
    assert.deepEqual(
      server.posts.map((p) => p.body),
      [line('bad'), line('bad'), line('bad'), line('good')],
    );
    assert.equal(w.counters.rejected, 1);
    assert.deepEqual(problems.find((p) => p.kind === 'rejected'), { kind: 'rejected', status: 500, attempts: 3 });

    // Down: kept and retried, not dropped.
    await server.close();
    w.enqueue(msg('later'));
    await waitFor('a failed POST', () => problems.some((p) => p.kind === 'failed'), { timeoutMs: 5_000 });
    assert.equal(w.queued, 1, 'the message waits for the drain');
  });

  it('close() stops at once: the connection goes and nothing more is sent', async () => {
    const server = await syslog();
    const { w } = writer(`syslog://127.0.0.1:${server.port}`);
    w.enqueue(msg(1));
    await waitFor('the first line', () => server.messages.length === 1, { timeoutMs: 5_000 });
    w.close();
    w.enqueue(msg(2));
    assert.equal(w.state, 'closed');
    assert.equal(w.queued, 0);
  });
});
