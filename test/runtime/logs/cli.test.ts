// The CLI's side: the cf line format (pure), and the logs client against the real component on a
// real bus — recent lines, a stream that refreshes a refused token, reconnects after the component
// restarts and fetches the lines it missed meanwhile, and the staging-lines hook push uses.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import type { NatsConnection } from 'nats';
import type { ApiClient } from '../../../src/cli/api/client.js';
import { request } from '../../../src/runtime/common/http.js';
import { formatLogLine, formatLogSource, formatLogTimestamp, logColor, sortByTime } from '../../../src/cli/log-format.js';
import { followStagingLogs, recentLogs, streamAppLogs, type LogStreamStatus } from '../../../src/cli/logs-client.js';
import { BusServer } from '../../../src/runtime/bus/server.js';
import type { LogEnvelope } from '../../../src/runtime/common/bus-messages.js';
import { freePort, sleep, waitFor } from '../../../src/runtime/common/net.js';
import { connectTo, envelope, FakeController, publish, signToken, startLogs, tempHome, type RunningLogs } from './helpers.js';

const at = (iso: string, extraNs = 0) => Date.parse(iso) * 1e6 + extraNs;
const line = (over: Partial<LogEnvelope>): LogEnvelope => ({ timestamp: at('2026-11-21T10:00:00.000Z'), app_guid: 'a', source_type: 'APP/PROC/WEB', source_instance: '0', message_type: 'OUT', message: 'listening on 8081', ...over });

describe('logs: the cf line format', () => {
  it('prints three spaces, UTC time to the hundredth (cut, not rounded), [SOURCE/INSTANCE], type, message', () => {
    assert.equal(formatLogLine(line({})), '   2026-11-21T10:00:00.00+0000 [APP/PROC/WEB/0] OUT listening on 8081');
    // (A float of ~1.8e18 ns is exact to 256 ns: 990 µs past the millisecond is still in it.)
    assert.equal(formatLogTimestamp(at('2026-11-21T23:59:59.999Z', 990_000)), '2026-11-21T23:59:59.99+0000');
    assert.equal(formatLogTimestamp(at('2026-01-02T03:04:05.070Z')), '2026-01-02T03:04:05.07+0000');
    for (const [type, text] of [['RTR', '[RTR/0]'], ['STG', '[STG/0]'], ['API', '[API/0]'], ['CELL', '[CELL/0]'], ['HEALTH', '[HEALTH/0]']] as const) {
      assert.equal(`[${formatLogSource({ source_type: type, source_instance: '0' })}]`, text);
    }
    assert.equal(formatLogSource({ source_type: 'API', source_instance: '' }), 'API');
    assert.equal(formatLogLine(line({ source_type: 'CELL', source_instance: '2', message_type: 'ERR', message: 'Exit status 3' })), '   2026-11-21T10:00:00.00+0000 [CELL/2] ERR Exit status 3');
  });

  it('continues a message of several lines under its first line, and trims trailing line breaks', () => {
    const text = formatLogLine(line({ source_type: 'STG', message: 'first\nsecond\n' }));
    assert.equal(text, `   2026-11-21T10:00:00.00+0000 [STG/0] OUT first\n${' '.repeat(43)}second`);
    assert.equal(text.split('\n')[1].indexOf('second'), text.indexOf('first'));
  });

  it('colours ERR messages red only when asked (a terminal), OUT never', () => {
    assert.equal(formatLogLine(line({ message_type: 'ERR', message: 'boom' }), { color: true }), '   \u001b[31m2026-11-21T10:00:00.00+0000 [APP/PROC/WEB/0] ERR boom\u001b[0m');
    assert.ok(!formatLogLine(line({ message_type: 'ERR' })).includes('\u001b'));
    assert.ok(!formatLogLine(line({}), { color: true }).includes('\u001b'));
    assert.equal(logColor({ isTTY: true }, {}), true);
    assert.equal(logColor({ isTTY: true }, { NO_COLOR: '1' }), false);
    assert.equal(logColor({ isTTY: false }, {}), false);
  });

  it('sorts by time keeping the order of equal times', () => {
    const lines = [line({ timestamp: 3, message: 'c' }), line({ timestamp: 1, message: 'a' }), line({ timestamp: 3, message: 'd' }), line({ timestamp: 2, message: 'b' })];
    assert.deepEqual(sortByTime(lines).map((l) => l.message), ['a', 'b', 'c', 'd']);
  });
});

describe('logs: the CLI client against the component', function () {
  this.timeout(20_000);
  const APP = 'app-cli-1';
  let bus: BusServer;
  let busPort: number;
  let nc: NatsConnection;
  let controller: FakeController;
  let routerPort: number;
  let home: string;
  let token: string;
  let running: RunningLogs[] = [];

  /** Enough of ApiClient for the logs client: the log_stream link, the session's tokens, send(). */
  const fakeClient = (logsPort: number, tokens: { access: string; refreshed?: string }) => {
    const calls = { refresh: 0 };
    const session = {
      api: 'http://api.localhost:1',
      accessToken: async () => tokens.access,
      refresh: async () => {
        calls.refresh++;
        tokens.access = tokens.refreshed ?? tokens.access;
        return tokens.access;
      },
    };
    const client = {
      session,
      info: async () => ({ links: { log_stream: { href: `http://127.0.0.1:${logsPort}` } } }),
      send: async (method: string, url: string) => {
        const res = await request({ url, method, headers: { authorization: `bearer ${tokens.access}` } });
        if (res.status === 401 && tokens.refreshed && tokens.access !== tokens.refreshed) {
          await session.refresh();
          return request({ url, method, headers: { authorization: `bearer ${tokens.access}` } });
        }
        return res;
      },
    };
    return { client: client as unknown as ApiClient, calls };
  };

  const start = async (port?: number) => {
    const r = await startLogs({ home, busPort, routerPort, port });
    running.push(r);
    return r;
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
    controller.grant(token, APP);
  });
  afterEach(async () => {
    for (const r of running) await r.stop();
    running = [];
    await controller.close();
    fs.rmSync(home, { recursive: true, force: true });
  });

  it('recentLogs: the ring, oldest first; a CliError for an unknown app', async () => {
    const r = await start();
    const sent = [envelope(APP, 'one'), envelope(APP, 'two', { message_type: 'ERR' })];
    for (const e of sent) publish(nc, e);
    await waitFor('stored', () => r.varz().lines_stored === 2);
    const { client } = fakeClient(r.port, { access: token });
    assert.deepEqual(await recentLogs(client, APP), sent);
    assert.deepEqual(await recentLogs(client, APP, { limit: 1 }), sent.slice(1));
    await assert.rejects(recentLogs(client, 'nope'), /App nope not found/);
  });

  it('streamAppLogs: refreshes a refused token once, then streams from the moment it is open', async () => {
    const r = await start();
    const expired = await signToken(routerPort, { expiresIn: -10 });
    const { client, calls } = fakeClient(r.port, { access: expired, refreshed: token });
    publish(nc, envelope(APP, 'before the stream'));
    await waitFor('stored', () => r.varz().lines_stored === 1);
    const got: LogEnvelope[] = [];
    const stream = await streamAppLogs(client, APP, { onLog: (e) => got.push(e) });
    assert.equal(calls.refresh, 1);
    assert.equal(stream.connected, true);
    const sent = Array.from({ length: 20 }, (_, i) => envelope(APP, `live ${i}`));
    for (const e of sent) publish(nc, e);
    await waitFor('the live lines', () => got.length === 20);
    assert.deepEqual(got, sent);
    stream.close();
    await stream.done;
  });

  it('streamAppLogs: refused for good (unknown app, token refused after a refresh) is a CliError', async () => {
    const r = await start();
    await assert.rejects(streamAppLogs(fakeClient(r.port, { access: token }).client, 'nope', { onLog: () => undefined }), /App nope not found/);
    await assert.rejects(streamAppLogs(fakeClient(r.port, { access: 'garbage', refreshed: 'still-garbage' }).client, APP, { onLog: () => undefined }), /Not logged in/);
  });

  it('streamAppLogs: gives up on an unreachable component after connectTimeoutMs', async () => {
    const port = await freePort();
    const begun = Date.now();
    await assert.rejects(streamAppLogs(fakeClient(port, { access: token }).client, APP, { onLog: () => undefined, connectTimeoutMs: 600 }), /Cannot stream the logs: cannot connect/);
    assert.ok(Date.now() - begun < 3_000);
  });

  it('streamAppLogs: reconnects when the component restarts and fetches the lines it missed meanwhile', async () => {
    const port = await freePort();
    const first = await start(port);
    const got: LogEnvelope[] = [];
    const statuses: LogStreamStatus['type'][] = [];
    const stream = await streamAppLogs(fakeClient(port, { access: token }).client, APP, { onLog: (e) => got.push(e), onStatus: (s) => statuses.push(s.type) });
    const before = envelope(APP, 'before the restart');
    publish(nc, before);
    await waitFor('the first line', () => got.length === 1);
    await first.stop();
    const second = await start(port);
    // Published while the client is still away (its first retry is 250 ms later): fetched from recent.
    const missed = [envelope(APP, 'missed 1'), envelope(APP, 'missed 2')];
    for (const e of missed) publish(nc, e);
    await waitFor('the new component to have them', () => second.varz().lines_stored === 2);
    await waitFor('the reconnect', () => stream.connected && statuses.at(-1) === 'connected', { timeoutMs: 5_000 });
    const after = envelope(APP, 'after the reconnect');
    publish(nc, after);
    await waitFor('every line once', () => got.length === 4, { timeoutMs: 5_000 });
    await sleep(100);
    assert.deepEqual(got, [before, ...missed, after]);
    assert.deepEqual(statuses.slice(0, 2), ['connected', 'disconnected']);
    stream.close();
    await stream.done;
  });

  it('followStagingLogs (the push hook): prints STG lines only, formatted; never fails', async () => {
    const r = await start();
    const printed: string[] = [];
    const staging = await followStagingLogs(fakeClient(r.port, { access: token }).client, APP, (l) => printed.push(l));
    const stg = envelope(APP, 'Downloading nodejs buildpack...', { source_type: 'STG' });
    publish(nc, envelope(APP, 'Created app', { source_type: 'API' }));
    publish(nc, stg);
    await waitFor('the staging line', () => printed.length === 1);
    await staging.stop();
    assert.equal(printed[0], formatLogLine(stg));
    // No component at all: the push goes on without staging lines.
    const none = await followStagingLogs(fakeClient(await freePort(), { access: token }).client, APP, (l) => printed.push(l), { connectTimeoutMs: 300 });
    await none.stop();
  });
});
