// The drain manager against a stand-in for the controller and uaa (one HTTP server told apart by Host,
// as the router would) serving Cloud Controller's /internal/v4/syslog_drain_urls page by page, and
// real drain servers of the test's own: drains are read at start and at each poll, lines reach each
// drain of their app only, drains go when the controller stops listing them, a controller that is
// down is said once and the known drains go on, unusable URLs and drain trouble are said in the app's
// own logs (LGR lines) at most once a minute. Then the logs component itself on a real bus, with a
// "supervisor" process of its own whose port no drain may reach; and the DEVBOX_LOGS_DRAIN_* settings.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { BusServer } from '../../../src/runtime/bus/server.js';
import type { LogEnvelope } from '../../../src/runtime/common/bus-messages.js';
import { createLogger } from '../../../src/runtime/common/log.js';
import { freePort } from '../../../src/runtime/common/net.js';
import { waitFor } from '../../../src/runtime/common/poll.js';
import { processStartTime } from '../../../src/runtime/supervisor/lock.js';
import { DrainManager, parseSyslogDrainUrls, type AppDrainUrls } from '../../../src/runtime/logs/drains.js';
import type { GuardDecision } from '../../../src/runtime/logs/drain-guard.js';
import { drainSettings } from '../../../src/runtime/logs/settings.js';
import { connectTo, envelope, publish, startLogs, tempHome, type RunningLogs } from './helpers.js';
import { HttpDrainServer, SyslogServer } from './drain-helpers.js';

/** The controller and uaa as the drain manager sees them, behind one "router" port. */
class FakePlatform {
  /** app guid → what the controller lists for it. */
  apps = new Map<string, AppDrainUrls>();
  /** While set, the API answers this status (503: the controller is away). */
  apiStatus: number | undefined;
  tokens = 0;
  pages: string[] = [];
  private readonly server = http.createServer((req, res) => this.handle(req, res));
  private valid = new Set<string>();

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Forgets every token issued (as uaa restarted with a new key). */
  revokeTokens(): void {
    this.valid.clear();
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const host = (req.headers.host ?? '').split(':')[0];
    const url = new URL(req.url ?? '/', 'http://x');
    if (host === 'uaa.localhost' && req.method === 'POST' && url.pathname === '/oauth/token') {
      req.resume();
      assert.equal(req.headers.authorization, `Basic ${Buffer.from('devbox_components:components-secret').toString('base64')}`);
      const token = `token-${++this.tokens}`;
      this.valid.add(token);
      return send(200, { access_token: token, token_type: 'bearer', expires_in: 600 });
    }
    if (host === 'api.localhost' && url.pathname === '/internal/v4/syslog_drain_urls') {
      if (!this.valid.has((req.headers.authorization ?? '').replace(/^bearer /, ''))) return send(401, { errors: [{ code: 1000, title: 'CF-InvalidAuthToken', detail: 'Invalid Auth Token' }] });
      if (this.apiStatus) return send(this.apiStatus, { errors: [{ code: 10001, title: 'CF-ServerError', detail: 'away' }] });
      this.pages.push(url.search);
      const offset = Number(url.searchParams.get('next_id') ?? 0);
      const size = Number(url.searchParams.get('batch_size') ?? 50);
      const page = [...this.apps.keys()].sort().slice(offset, offset + size);
      return send(200, { results: Object.fromEntries(page.map((g) => [g, this.apps.get(g)])), next_id: page.length ? offset + size : null });
    }
    send(404, { message: 'unknown route' });
  }
}

const APP = 'aaaa-1111';
const OTHER = 'bbbb-2222';
const THIRD = 'cccc-3333';
const allow = async (): Promise<GuardDecision> => ({ ok: true, address: '127.0.0.1', family: 4 });

describe('syslog drains: the drain manager', function () {
  this.timeout(20_000);
  let platform: FakePlatform;
  let routerPort: number;
  let manager: DrainManager | undefined;
  let logLines: string[];
  let emitted: { app: string; message: string }[];
  const servers: { close(): Promise<void> }[] = [];

  const start = (over: Partial<ConstructorParameters<typeof DrainManager>[0]> = {}) => {
    manager = new DrainManager({
      apiUrl: `http://api.localhost:${routerPort}`,
      uaaUrl: `http://uaa.localhost:${routerPort}`,
      clientId: 'devbox_components',
      clientSecret: 'components-secret',
      pollMs: 100,
      timeoutMs: 2_000,
      perApp: 5,
      queueLines: 1000,
      queueBytes: 1 << 20,
      tls: { rejectUnauthorized: true },
      check: allow,
      log: createLogger('logs', { write: (l) => void logLines.push(l), level: 'debug' }),
      emit: (app, message) => void emitted.push({ app, message }),
      writer: { backoff: { initialMs: 20, maxMs: 100 } },
      ...over,
    });
    manager.start();
    return manager;
  };
  const syslog = async () => {
    const s = new SyslogServer();
    servers.push(s);
    await s.listen();
    return s;
  };
  const polled = async (n = 1) => {
    const before = (manager!.varz().polls as number) + n;
    await waitFor('the next polls', () => (manager!.varz().polls as number) > before, { timeoutMs: 5_000 });
  };
  const varz = () => manager!.varz() as { drains: number; apps: number; poll_failures: number; last_poll_ok: boolean; list: { url: string; sent: number }[] };

  beforeEach(async () => {
    platform = new FakePlatform();
    routerPort = await platform.listen();
    logLines = [];
    emitted = [];
  });
  afterEach(async function () {
    if (this.currentTest?.state === 'failed') console.log(logLines.join(''));
    manager?.stop();
    manager = undefined;
    for (const s of servers.splice(0)) await s.close();
    await platform.close();
  });

  it('reads the controller’s list (every page, with a components token) and forwards each app’s lines to its own drains', async () => {
    const a = await syslog();
    const b = await syslog();
    platform.apps.set(APP, { drains: [`syslog://127.0.0.1:${a.port}`, `syslog://127.0.0.1:${b.port}`], hostname: 'devbox.dev.app' });
    platform.apps.set(OTHER, { drains: [`syslog://127.0.0.1:${b.port}`], hostname: 'devbox.dev.other' });
    platform.apps.set(THIRD, { drains: [], hostname: 'devbox.dev.third' });
    start({ batchSize: 2 });
    await waitFor('three drains', () => varz().drains === 3, { timeoutMs: 5_000 });
    assert.deepEqual(platform.pages.slice(0, 3), ['?batch_size=2&next_id=0', '?batch_size=2&next_id=2', '?batch_size=2&next_id=4'], 'paged by next_id until null');
    assert.equal(platform.tokens, 1, 'one token, reused');

    manager!.forward(envelope(APP, 'from app') as LogEnvelope);
    manager!.forward(envelope(OTHER, 'from other', { source_type: 'RTR', message_type: 'ERR' }) as LogEnvelope);
    manager!.forward(envelope('dddd-4444', 'from an app without drains') as LogEnvelope);
    await waitFor('the lines at both servers', () => a.messages.length === 1 && b.messages.length === 2, { timeoutMs: 5_000 });
    assert.match(a.messages[0], /^<14>1 \S+ devbox\.dev\.app aaaa-1111 \[APP\/PROC\/WEB\/0\] - \[tags@47450 source_type="APP\/PROC\/WEB"\] from app\n$/);
    assert.deepEqual(b.messages.map((m) => m.replace(/^<\d+>1 \S+ /, '')).sort(), ['devbox.dev.app aaaa-1111 [APP/PROC/WEB/0] - [tags@47450 source_type="APP/PROC/WEB"] from app\n', 'devbox.dev.other bbbb-2222 [RTR/0] - [tags@47450 source_type="RTR"] from other\n']);
    assert.match(b.messages.find((m) => m.includes('from other'))!, /^<11>1 /);
  });

  it('follows the controller: a drain bound later is added, one unbound is closed, a renamed app’s hostname changes', async () => {
    const a = await syslog();
    const url = `syslog://127.0.0.1:${a.port}`;
    start();
    await polled();
    assert.equal(varz().drains, 0);
    platform.apps.set(APP, { drains: [url], hostname: 'o.s.before' });
    await waitFor('the new drain', () => varz().drains === 1, { timeoutMs: 5_000 });
    manager!.forward(envelope(APP, 'one') as LogEnvelope);
    await waitFor('line one', () => a.messages.length === 1, { timeoutMs: 5_000 });
    const writer = manager!.drainsOf(APP)[0];

    platform.apps.set(APP, { drains: [url], hostname: 'o.s.after' });
    await polled(2);
    assert.equal(manager!.drainsOf(APP)[0], writer, 'the same drain (and connection) goes on');
    manager!.forward(envelope(APP, 'two') as LogEnvelope);
    await waitFor('line two', () => a.messages.length === 2, { timeoutMs: 5_000 });
    assert.match(a.messages[1], / o\.s\.after aaaa-1111 /);

    platform.apps.delete(APP);
    await waitFor('the drain to go', () => varz().drains === 0, { timeoutMs: 5_000 });
    assert.equal(writer.state, 'closed');
    manager!.forward(envelope(APP, 'three') as LogEnvelope);
    assert.equal(manager!.drainsOf(APP).length, 0);
    assert.equal(a.messages.length, 2);
    assert.ok(logLines.some((l) => l.includes('syslog drain removed')));
  });

  it('a controller that is away is said once; the known drains go on; it is read again when back', async () => {
    const a = await syslog();
    platform.apps.set(APP, { drains: [`syslog://127.0.0.1:${a.port}`], hostname: 'h' });
    start();
    await waitFor('the drain', () => varz().drains === 1, { timeoutMs: 5_000 });
    platform.apiStatus = 503;
    await polled(4);
    const warnings = logLines.filter((l) => l.includes('cannot read the syslog drains'));
    assert.equal(warnings.length, 1, `said once:\n${warnings.join('')}`);
    assert.match(warnings[0], /answered 503/);
    assert.ok(varz().poll_failures >= 4);
    manager!.forward(envelope(APP, 'meanwhile') as LogEnvelope);
    await waitFor('the line through the known drain', () => a.messages.length === 1, { timeoutMs: 5_000 });

    platform.apiStatus = undefined;
    await waitFor('a good read again', () => varz().last_poll_ok === true, { timeoutMs: 5_000 });
    assert.ok(logLines.some((l) => l.includes('syslog drains readable again')));

    // Nobody at all at the address: the same, and the manager lives on.
    await platform.close();
    await polled(2);
    assert.equal(varz().drains, 1);
    assert.equal(logLines.filter((l) => l.includes('cannot read the syslog drains')).length, 2, 'a new reason is said once more');
    platform = new FakePlatform(); // afterEach closes it
    await platform.listen();
  });

  it('while the box starts, a controller not there yet is waited for quietly and asked again soon, not every poll', async () => {
    platform.apiStatus = 503;
    const a = await syslog();
    platform.apps.set(APP, { drains: [`syslog://127.0.0.1:${a.port}`], hostname: 'h' });
    start({ pollMs: 60_000 });
    await waitFor('three early reads', () => (manager!.varz().polls as number) >= 3, { timeoutMs: 5_000 });
    platform.apiStatus = undefined;
    await waitFor('the drain, long before a poll interval', () => varz().drains === 1, { timeoutMs: 5_000 });
    assert.deepEqual(
      logLines.filter((l) => /syslog drains|list the syslog drains/.test(l)).map((l) => [JSON.parse(l).level, JSON.parse(l).msg]),
      [
        ['info', 'waiting for the controller to list the syslog drains'],
        ['info', 'syslog drains read'],
      ],
    );
  });

  it('asks uaa for a new token when the controller refuses the old one', async () => {
    start();
    await polled();
    assert.equal(platform.tokens, 1);
    platform.revokeTokens();
    await polled(2);
    assert.equal(platform.tokens, 2);
    assert.equal(varz().last_poll_ok, true);
  });

  it('says what cannot be drained in the app’s logs, once while it stays bound: a bad URL, more than the limit per app', async () => {
    const servers5 = await Promise.all([1, 2, 3].map(() => syslog()));
    platform.apps.set(APP, { drains: ['ftp://logs.example.com', ...servers5.map((s) => `syslog://127.0.0.1:${s.port}`)], hostname: 'h' });
    start({ perApp: 2 });
    await waitFor('two drains', () => varz().drains === 2, { timeoutMs: 5_000 });
    await polled(3);
    assert.deepEqual(
      emitted.map((e) => e.app),
      [APP, APP],
    );
    assert.match(emitted[0].message, /^Invalid Scheme ftp for syslog drain url ftp:\/\/logs\.example\.com/);
    assert.match(emitted[1].message, new RegExp(`^Syslog drain syslog://127\\.0\\.0\\.1:${servers5[2].port} is not used: an app drains to at most 2 URLs \\(DEVBOX_LOGS_DRAINS_PER_APP\\)$`));
  });

  it('a drain that fails is said in the app’s logs once a minute, the lost lines summed; others of the app are not held up', async () => {
    const good = await syslog();
    const deadPort = await freePort();
    platform.apps.set(APP, { drains: [`syslog://user:pw@127.0.0.1:${deadPort}?x=1`, `syslog://127.0.0.1:${good.port}`], hostname: 'h' });
    start({ queueLines: 20 });
    await waitFor('two drains', () => varz().drains === 2, { timeoutMs: 5_000 });
    // Five bursts of ten lines: the good drain takes each; the dead one's queue holds the newest 20.
    for (let burst = 0; burst < 5; burst++) {
      for (let i = 0; i < 10; i++) manager!.forward(envelope(APP, `line ${burst * 10 + i}`) as LogEnvelope);
      await waitFor(`burst ${burst} at the good drain`, () => good.messages.length === (burst + 1) * 10, { timeoutMs: 5_000 });
    }
    const dead = manager!.drainsOf(APP).find((w) => w.target.port === deadPort)!;
    await waitFor('five failed attempts', () => dead.counters.failures >= 5, { timeoutMs: 5_000 });
    assert.equal(dead.counters.dropped, 30);
    assert.equal(dead.queued, 20);
    const failed = emitted.filter((e) => e.message.startsWith('Failed to connect'));
    assert.equal(failed.length, 1, `once a minute, not at each attempt: ${JSON.stringify(emitted)}`);
    assert.match(failed[0].message, new RegExp(`^Failed to connect to syslog://127\\.0\\.0\\.1:${deadPort}: .*ECONNREFUSED`));
    // The first loss is said at once (ten lines of the third burst); the next 20 wait for the next minute.
    const lost = emitted.filter((e) => / messages lost /.test(e.message));
    assert.deepEqual(
      lost.map((e) => e.message),
      [`10 messages lost for application ${APP} in user provided syslog drain with url syslog://127.0.0.1:${deadPort}`],
    );
    assert.ok(!emitted.some((e) => e.message.includes('pw') || e.message.includes('x=1')), 'no credentials, no query');
    assert.ok(!logLines.some((l) => l.includes(':pw@') || l.includes('x=1')), 'nor in the component log');
  });

  it('an HTTP drain gets the same messages, one POST each', async () => {
    const drain = new HttpDrainServer();
    servers.push(drain);
    await drain.listen();
    platform.apps.set(APP, { drains: [`http://127.0.0.1:${drain.port}/drain?disable-metadata=true`], hostname: 'o.s.a' });
    start();
    await waitFor('the drain', () => varz().drains === 1, { timeoutMs: 5_000 });
    manager!.forward(envelope(APP, 'hi') as LogEnvelope);
    await waitFor('the POST', () => drain.posts.length === 1, { timeoutMs: 5_000 });
    assert.match(drain.posts[0].body, /^<14>1 \S+ o\.s\.a aaaa-1111 \[APP\/PROC\/WEB\/0\] - - hi\n$/);
  });

  it('an HTTP drain that keeps refusing a message: said once in the app’s logs, not at each try', async () => {
    const drain = new HttpDrainServer();
    servers.push(drain);
    await drain.listen();
    drain.status = 403;
    platform.apps.set(APP, { drains: [`http://127.0.0.1:${drain.port}/in`], hostname: 'o.s.a' });
    start();
    await waitFor('the drain', () => varz().drains === 1, { timeoutMs: 5_000 });
    manager!.forward(envelope(APP, 'refused') as LogEnvelope);
    await waitFor('three tries', () => drain.posts.length === 3 && emitted.length > 0, { timeoutMs: 5_000 });
    assert.deepEqual(
      emitted.map((e) => e.message),
      [`Syslog drain http://127.0.0.1:${drain.port}/in answered HTTP 403 3 times; the message was dropped`],
    );
  });

  it('refuses a malformed list whole, keeping the drains it had', () => {
    assert.throws(() => parseSyslogDrainUrls('nope'), /not JSON/);
    assert.throws(() => parseSyslogDrainUrls('{"results":[]}'), /no 'results' object/);
    assert.throws(() => parseSyslogDrainUrls('{"results":{"a":{"drains":"x","hostname":"h"}}}'), /app a .* no valid 'drains'/);
    assert.throws(() => parseSyslogDrainUrls('{"results":{"a":{"drains":[],"hostname":1}}}'), /no valid 'hostname'/);
    assert.throws(() => parseSyslogDrainUrls('{"results":{},"next_id":-1}'), /invalid 'next_id'/);
    assert.deepEqual(parseSyslogDrainUrls('{"results":{},"next_id":null}').nextId, null);
    assert.deepEqual(parseSyslogDrainUrls('{"results":{"a":{"drains":["syslog://h:1"],"hostname":"o.s.a"}},"next_id":50}'), { results: new Map([['a', { drains: ['syslog://h:1'], hostname: 'o.s.a' }]]), nextId: 50 });
  });
});

describe('syslog drains: the logs component forwards what it receives', function () {
  this.timeout(30_000);
  let bus: BusServer;
  let busPort: number;
  let platform: FakePlatform;
  let logs: RunningLogs | undefined;
  let home: string;
  let supervisor: ChildProcess | undefined;

  before(async () => {
    bus = new BusServer({ host: '127.0.0.1', port: 0 });
    busPort = (await bus.listen()).port;
    platform = new FakePlatform();
    home = tempHome();
  });
  after(async () => {
    await logs?.stop();
    if (supervisor && supervisor.exitCode === null) supervisor.kill('SIGKILL');
    await platform.close();
    await bus.close();
    fs.rmSync(home, { recursive: true, force: true });
  });

  it('app and platform lines from the bus reach the drain; a drain to the box itself is refused, said in an LGR line kept like any', async () => {
    const routerPort = await platform.listen();
    // The box: a "supervisor" process of its own (named in run/supervisor.pid) with a listener. The
    // drain's server is this test process's, which is not under it.
    supervisor = spawn(process.execPath, ['-e', `const s=require('net').createServer(c=>c.destroy()).listen(0,'127.0.0.1',()=>console.log('PORT '+s.address().port));setInterval(()=>{},1e6)`], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    supervisor.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    const boxPort = await waitFor('the box to listen', () => Number(/PORT (\d+)/.exec(out)?.[1]) || undefined, { timeoutMs: 10_000 });
    fs.mkdirSync(path.join(home, 'run'), { recursive: true });
    fs.writeFileSync(path.join(home, 'run', 'supervisor.pid'), JSON.stringify({ pid: supervisor.pid, started_at: new Date().toISOString(), proc_starttime: processStartTime(supervisor.pid!) }));
    const drain = new SyslogServer();
    await drain.listen();
    try {
      platform.apps.set(APP, { drains: [`syslog://127.0.0.1:${drain.port}`, `syslog://localhost:${boxPort}`], hostname: 'devbox.dev.hello' });
      const nc = await connectTo(busPort);
      const lgr: LogEnvelope[] = [];
      nc.subscribe(`logs.${APP}`, { callback: (_e, m) => void (m.json<LogEnvelope>().source_type === 'LGR' && lgr.push(m.json<LogEnvelope>())) });
      await nc.flush();
      try {
        logs = await startLogs({ home, busPort, routerPort, env: { DEVBOX_LOGS_DRAIN_POLL_MS: '100' } });
        await waitFor('two drains', () => (logs!.varz().drains as { drains: number }).drains === 2, { timeoutMs: 10_000 });
        publish(nc, envelope(APP, 'hello from the app'));
        publish(nc, envelope(APP, 'Container became healthy', { source_type: 'CELL' }));
        await waitFor('both lines at the drain', () => drain.messages.length >= 2, { timeoutMs: 10_000 });
        assert.match(drain.messages[0], /^<14>1 \S+ devbox\.dev\.hello aaaa-1111 \[APP\/PROC\/WEB\/0\] - \[tags@47450 source_type="APP\/PROC\/WEB"\] hello from the app\n$/);
        assert.match(drain.messages[1], / \[CELL\/0\] - \[tags@47450 source_type="CELL"\] Container became healthy\n$/);

        await waitFor('the refusal said in the app’s logs', () => lgr.length > 0, { timeoutMs: 10_000 });
        assert.equal(lgr[0].source_instance, '0');
        assert.equal(lgr[0].message_type, 'ERR');
        assert.match(lgr[0].message, new RegExp(`^Syslog drain syslog://localhost:${boxPort} is not used: port ${boxPort} on 127\\.0\\.0\\.1 is devbox's own`));
        // Kept (so streamed, and read by cf logs) like every line: it is in the app's file.
        const file = path.join(home, 'logs', 'apps', `${APP}.log`);
        await waitFor('the LGR line on disk', () => fs.existsSync(file) && fs.readFileSync(file, 'utf8').includes('"source_type":"LGR"'), { timeoutMs: 5_000 });
        // ... and forwarded to the drain that works, as Loggregator's own lines are.
        await waitFor('the LGR line at the drain', () => drain.messages.some((m) => m.includes(' [LGR/0] ')), { timeoutMs: 5_000 });
        const v = logs.varz().drains as { sent: number; list: { url: string; state: string }[] };
        assert.ok(v.sent >= 3);
        assert.ok(v.list.some((d) => d.url === `syslog://127.0.0.1:${drain.port}` && d.state === 'connected'), JSON.stringify(v.list));
      } finally {
        await nc.close();
      }
    } finally {
      await drain.close();
    }
  });
});

describe('syslog drains: settings', () => {
  const config = { domain: 'localhost' };
  it('has Loggregator’s defaults, reads DEVBOX_LOGS_DRAIN_*, and refuses nonsense saying what to give', () => {
    const d = drainSettings(config, 8080, {});
    assert.deepEqual(d, { pollMs: 5_000, queueLines: 10_000, queueBytes: 4 << 20, perApp: 5, skipCertVerify: false, caPems: [], blockedRanges: [], uaaUrl: 'http://uaa.localhost:8080' });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'devbox-drain-settings-'));
    try {
      const ca = path.join(dir, 'ca.pem');
      fs.writeFileSync(ca, '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\nnoise\n-----BEGIN CERTIFICATE-----\nBBBB\n-----END CERTIFICATE-----\n');
      const set = drainSettings(config, 8080, {
        DEVBOX_LOGS_DRAIN_POLL_MS: '0',
        DEVBOX_LOGS_DRAIN_QUEUE: '50',
        DEVBOX_LOGS_DRAINS_PER_APP: '2',
        DEVBOX_LOGS_DRAIN_SKIP_CERT_VERIFY: 'true',
        DEVBOX_LOGS_DRAIN_CA_FILE: ca,
        DEVBOX_LOGS_DRAIN_BLOCKED_RANGES: '10.0.0.0-10.255.255.255',
      });
      assert.equal(set.pollMs, 0, '0: no drains');
      assert.equal(set.queueLines, 50);
      assert.equal(set.perApp, 2);
      assert.equal(set.skipCertVerify, true);
      assert.equal(set.caPems.length, 2);
      assert.deepEqual(set.blockedRanges, [{ start: '10.0.0.0', end: '10.255.255.255' }]);
      fs.writeFileSync(path.join(dir, 'empty.pem'), 'nothing');
      assert.throws(() => drainSettings(config, 1, { DEVBOX_LOGS_DRAIN_CA_FILE: path.join(dir, 'empty.pem') }), /holds no PEM certificate/);
      assert.throws(() => drainSettings(config, 1, { DEVBOX_LOGS_DRAIN_CA_FILE: path.join(dir, 'missing.pem') }), /cannot be read \(ENOENT\); give a PEM file/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    assert.throws(() => drainSettings(config, 1, { DEVBOX_LOGS_DRAIN_SKIP_CERT_VERIFY: 'yes' }), /must be true or false/);
    assert.throws(() => drainSettings(config, 1, { DEVBOX_LOGS_DRAIN_QUEUE: '0' }), /DEVBOX_LOGS_DRAIN_QUEUE must be a whole number from 1/);
    assert.throws(() => drainSettings(config, 1, { DEVBOX_LOGS_DRAIN_BLOCKED_RANGES: 'x' }), /DEVBOX_LOGS_DRAIN_BLOCKED_RANGES: 'x' is not a range/);
  });
});
