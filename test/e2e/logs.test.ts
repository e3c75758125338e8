// `devbox logs` end to end: the real built CLI against a real `devbox up -d` (one box for the suite)
// with a pushed app that writes to stdout and stderr on request: lines in order with their source and
// type, streamed and recent, router access lines, staging, API and CELL lines, a kill -9 of the logs
// component (the supervisor restarts it; nothing recent is lost and the stream reconnects), and the
// component's refusals.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import { WebSocket } from 'ws';
import { request, type HttpResponse } from '../../src/runtime/common/http.js';
import type { LogEnvelope } from '../../src/runtime/common/bus-messages.js';
import { statePaths, type DevboxConfig } from '../../src/runtime/common/config.js';
import { freePort, waitFor } from '../../src/runtime/common/net.js';
import { boxApi, type BoxApi } from '../helpers/api.js';
import { cleanupBox, DEVBOX_BIN, tempHome, type DevboxResult } from '../helpers/devbox.js';

const nodeHello = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/apps/node-hello');
/** `   2026-11-21T10:00:00.00+0000 [SOURCE] TYPE message` */
const LINE = /^ {3}\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d\d\+0000 \[([A-Z/]+\/\d+)\] (OUT|ERR) (.*)$/;

describe('devbox logs (end to end)', function () {
  this.timeout(60_000);
  let home: string;
  let routerPort: number;
  let api: BoxApi;
  let guid: string;
  let stream: ResultPromise | undefined;
  let streamOut = '';
  let streamErr = '';

  const cli = async (args: string[], { cwd = os.tmpdir(), timeoutMs = 45_000 } = {}): Promise<DevboxResult> => {
    const r = await execa(process.execPath, [DEVBOX_BIN, ...args], { cwd, env: { DEVBOX_HOME: home, NO_COLOR: '1' }, extendEnv: true, stdin: 'ignore', reject: false, timeout: timeoutMs });
    return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
  };
  const show = (r: DevboxResult) => `exit ${r.exitCode}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
  const ok = async (args: string[], options?: { cwd?: string }): Promise<string> => {
    const r = await cli(args, options);
    assert.equal(r.exitCode, 0, `devbox ${args.join(' ')}: ${show(r)}`);
    return r.stdout;
  };
  /** The printed log lines as [source, type, message]. */
  const parsed = (out: string): [string, string, string][] =>
    out
      .split('\n')
      .map((l) => LINE.exec(l))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => [m[1], m[2], m[3]]);
  const visit = (urlPath: string): Promise<HttpResponse> => request({ url: `http://hello.localhost:${routerPort}${urlPath}`, timeoutMs: 5_000 });
  const config = (): DevboxConfig => JSON.parse(fs.readFileSync(statePaths(home).config, 'utf8')) as DevboxConfig;
  const logsUrl = () => `http://logs.localhost:${routerPort}`;
  const status = async (): Promise<{ name: string; pid?: number; healthy: boolean; status_port: number }[]> => JSON.parse(await ok(['status', '--json'])).components;
  const logsVarz = async (): Promise<Record<string, number>> => {
    const component = (await status()).find((c) => c.name === 'logs');
    assert.ok(component, 'a logs component in the box');
    const { user, password } = config().status;
    const res = await fetch(`http://127.0.0.1:${component.status_port}/varz`, { headers: { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` } });
    return (await res.json()) as Record<string, number>;
  };

  before(async () => {
    home = tempHome('devbox-logs-e2e-');
    routerPort = await freePort();
    const up = await cli(['up', '-d', '--port', String(routerPort)]);
    assert.equal(up.exitCode, 0, show(up));
    await ok(['push', 'hello'], { cwd: nodeHello });
    api = await boxApi(home, routerPort);
    guid = (await api.call('GET', '/v3/apps?names=hello')).json().resources[0].guid;
  });
  after(async () => {
    stream?.kill('SIGKILL');
    await cleanupBox(home);
  });

  it('a stream opened before the app writes gets its stdout and stderr lines in order, then the router access lines', async () => {
    const streamsBefore = (await logsVarz()).clients_streaming;
    stream = execa(process.execPath, [DEVBOX_BIN, 'logs', 'hello'], { env: { DEVBOX_HOME: home, NO_COLOR: '1' }, extendEnv: true, stdin: 'ignore', reject: false });
    stream.stdout?.on('data', (chunk: Buffer) => (streamOut += chunk.toString()));
    stream.stderr?.on('data', (chunk: Buffer) => (streamErr += chunk.toString()));
    await waitFor('the stream to be open', async () => (await logsVarz()).clients_streaming > streamsBefore, { timeoutMs: 15_000, intervalMs: 100 });
    assert.match(streamOut, /^Retrieving logs for app hello in org devbox \/ space dev as admin\.\.\.\n\n/);

    for (let i = 1; i <= 5; i++) assert.equal((await visit(`/log?m=seq${i}`)).status, 200);
    await waitFor('every line streamed', () => parsed(streamOut).filter(([source]) => source === 'RTR/0').length >= 5 && parsed(streamOut).filter(([, , m]) => /^(out|err): seq/.test(m)).length === 10, { timeoutMs: 10_000 });
    const lines = parsed(streamOut);
    const app = lines.filter(([source]) => source === 'APP/PROC/WEB/0');
    assert.deepEqual(app.filter(([, type]) => type === 'OUT').map(([, , m]) => m).filter((m) => m.startsWith('out: seq')), ['out: seq1', 'out: seq2', 'out: seq3', 'out: seq4', 'out: seq5']);
    assert.deepEqual(app.filter(([, type]) => type === 'ERR').map(([, , m]) => m), ['err: seq1', 'err: seq2', 'err: seq3', 'err: seq4', 'err: seq5']);
    const rtr = lines.filter(([source]) => source === 'RTR/0');
    assert.deepEqual(rtr.map(([, , m]) => /"GET (\/log\?m=seq\d) HTTP\/1\.1" 200/.exec(m)?.[1]), ['/log?m=seq1', '/log?m=seq2', '/log?m=seq3', '/log?m=seq4', '/log?m=seq5']);
    assert.ok(rtr.every(([, type, m]) => type === 'OUT' && m.startsWith('hello.localhost - [')));
    // The DEA registered the instance with its index: gorouter's app_index.
    assert.ok(rtr.every(([, , m]) => / app_index:"0" /.test(m)), rtr.map(([, , m]) => m).join('\n'));
    // Each request's app line comes before its access line (the router logs a request when it is done).
    const at = (text: string) => lines.findIndex(([, , m]) => m.includes(text));
    for (let i = 1; i <= 5; i++) assert.ok(at(`out: seq${i}`) < at(`GET /log?m=seq${i} `), `seq${i}`);
  });

  it('--recent prints the staging, API, CELL and app lines, oldest first; --json prints envelopes', async () => {
    const out = await ok(['logs', 'hello', '--recent']);
    assert.match(out, /^Retrieving logs for app hello in org devbox \/ space dev as admin\.\.\.\n\n/);
    const lines = parsed(out);
    const index = (source: string, text: string | RegExp) => lines.findIndex(([s, , m]) => s === source && (typeof text === 'string' ? m.includes(text) : text.test(m)));
    const order = [
      index('API/0', `Created app with guid ${guid}`),
      index('STG/0', 'Staging complete'),
      index('CELL/0', 'Downloading droplet...'),
      index('CELL/0', 'Starting health monitoring of container'),
      index('CELL/0', 'Container became healthy'),
      index('APP/PROC/WEB/0', 'out: seq1'),
      index('APP/PROC/WEB/0', 'out: seq5'),
    ];
    assert.ok(order.every((i) => i >= 0), `${JSON.stringify(order)}\n${out}`);
    assert.deepEqual([...order].sort((a, b) => a - b), order, out);
    assert.deepEqual(lines.filter(([s, t]) => s === 'APP/PROC/WEB/0' && t === 'ERR').map(([, , m]) => m), ['err: seq1', 'err: seq2', 'err: seq3', 'err: seq4', 'err: seq5']);

    const json = (await ok(['logs', 'hello', '--recent', '--json'])).trim().split('\n').map((l) => JSON.parse(l) as LogEnvelope);
    assert.equal(json.length, lines.length);
    const err = json.find((e) => e.message === 'err: seq3');
    assert.deepEqual(Object.keys(err ?? {}), ['timestamp', 'app_guid', 'source_type', 'source_instance', 'message_type', 'message']);
    assert.deepEqual({ ...err, timestamp: 0 }, { timestamp: 0, app_guid: guid, source_type: 'APP/PROC/WEB', source_instance: '0', message_type: 'ERR', message: 'err: seq3' });
    assert.ok(json.every((e, i) => i === 0 || e.timestamp >= json[i - 1].timestamp));
  });

  it('stop and start show API and CELL lines, live', async () => {
    const mark = streamOut.length;
    await ok(['stop', 'hello']);
    await ok(['start', 'hello']);
    const expected: [string, string | RegExp][] = [
      ['API/0', /^Updated app with guid .* \(\{"state"=>"STOPPED"\}\)$/],
      ['CELL/0', /^Stopping instance /],
      ['API/0', /^Updated app with guid .* \(\{"state"=>"STARTED"\}\)$/],
      ['CELL/0', 'Downloading droplet...'],
      ['CELL/0', 'Starting health monitoring of container'],
      ['CELL/0', 'Container became healthy'],
    ];
    const find = () => {
      const lines = parsed(streamOut.slice(mark));
      return expected.map(([source, text]) => lines.findIndex(([s, , m]) => s === source && (typeof text === 'string' ? m === text : text.test(m))));
    };
    await waitFor('the start and stop lines in the stream', () => find().every((i) => i >= 0), { timeoutMs: 10_000 });
    const found = find();
    assert.deepEqual([...found].sort((a, b) => a - b), found, streamOut.slice(mark));
  });

  it('a kill -9 of the logs component: the supervisor restarts it, the recent lines are still there, the stream reconnects', async () => {
    const before = (await status()).find((c) => c.name === 'logs');
    assert.ok(before?.pid);
    process.kill(before.pid, 'SIGKILL');
    await waitFor('a new logs component', async () => {
      const now = (await status()).find((c) => c.name === 'logs');
      return now?.healthy && now.pid !== before.pid;
    }, { timeoutMs: 20_000, intervalMs: 200 });

    const recent = parsed(await ok(['logs', 'hello', '--recent']));
    for (const text of ['out: seq1', 'err: seq5', 'Container became healthy']) assert.ok(recent.some(([, , m]) => m === text), `${text} survived the restart`);

    await waitFor('the stream to reconnect', () => /Reconnected to the logs component\./.test(streamErr), { timeoutMs: 15_000, intervalMs: 100 });
    assert.match(streamErr, /Lost the connection to the logs component \(.*\); reconnecting\.\.\./);
    assert.equal((await visit('/log?m=after-restart')).status, 200);
    await waitFor('a line after the restart', () => parsed(streamOut).some(([, , m]) => m === 'out: after-restart'), { timeoutMs: 10_000 });

    stream?.kill('SIGINT');
    const ended = await stream;
    assert.equal(ended?.exitCode, 0, `devbox logs after Ctrl-C: ${streamErr}`);
    stream = undefined;
  });

  it('refuses a client without a valid token (401), and an unknown app (404)', async () => {
    const recentUrl = `${logsUrl()}/apps/${guid}/recent`;
    const noToken = await request({ url: recentUrl, routeWaitMs: 5_000 });
    assert.equal(noToken.status, 401, noToken.text);
    assert.equal(JSON.parse(noToken.text).errors[0].title, 'CF-NotAuthenticated');
    const bad = await request({ url: recentUrl, headers: { authorization: `bearer ${api.token.slice(0, -4)}AAAA` } });
    assert.equal(bad.status, 401);
    assert.equal(JSON.parse(bad.text).errors[0].title, 'CF-InvalidAuthToken');
    const good = await request({ url: recentUrl, headers: { authorization: `bearer ${api.token}` } });
    assert.equal(good.status, 200);
    assert.ok((JSON.parse(good.text) as LogEnvelope[]).some((e) => e.message === 'out: seq1'));
    const unknown = await request({ url: `${logsUrl()}/apps/00000000-0000-0000-0000-000000000000/recent`, headers: { authorization: `bearer ${api.token}` } });
    assert.equal(unknown.status, 404);

    // The WebSocket, through the router: refused before the upgrade.
    const upgrade = (headers: Record<string, string>) =>
      new Promise<number>((resolve, reject) => {
        const ws = new WebSocket(`ws://127.0.0.1:${routerPort}/apps/${guid}/stream`, { headers: { host: `logs.localhost:${routerPort}`, ...headers }, handshakeTimeout: 5_000 });
        ws.once('open', () => {
          ws.terminate();
          resolve(101);
        });
        ws.once('unexpected-response', (req, res) => {
          resolve(res.statusCode ?? 0);
          req.destroy();
        });
        ws.once('error', reject);
      });
    assert.equal(await upgrade({}), 401);
    assert.equal(await upgrade({ authorization: 'bearer nonsense' }), 401);
    assert.equal(await upgrade({ authorization: `bearer ${api.token}` }), 101);
  });
});
