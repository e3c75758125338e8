// Benchmark: an app's log line → a `devbox logs`-style WebSocket client, through the whole path a
// user's line takes: the app's stdout → the DEA (line splitting, envelope) → the bus → the logs
// component (ring, disk) → the router → the client. A real `devbox up -d` and a pushed app that
// writes timestamped lines at a given rate on request. Measured:
//   - latency p50 / p99 (ms) at a steady 500 lines/s, from the app's write to the client's receipt
//     (both clocks are the machine's wall clock, read with performance.timeOrigin + now());
//   - the highest rate (lines/s, for 2 s) the client receives without losing a line, trying rates
//     that double from 1,000 until a line is lost or the app cannot write faster (the figure is the
//     rate the app achieved, measured from its lines' timestamps).
// The reference is a bus subscriber on `logs.<guid>` in the same run: the same lines without the logs
// component and the router, i.e. what those two hops cost. The DEA's log rate limit is lifted
// (DEVBOX_LOG_RATE_LIMIT=0) for the run: it would cap every rate at its default 1,000 lines/s.
//
//   node --import tsx bench/logs.ts
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { WebSocket } from 'ws';
import { request } from '../src/runtime/common/http.js';
import { connectBus, embeddedBusUrl, type NatsConnection } from '../src/runtime/common/bus.js';
import { loadConfig, readPorts, statePaths } from '../src/runtime/common/config.js';
import { freePort, sleep, waitFor } from '../src/runtime/common/net.js';
import { DEVBOX_BIN } from '../src/runtime/supervisor/supervisor.js';
import { boxApi } from '../test/helpers/api.js';
import { printTable, type BenchRow } from './lib.js';

const APP_JS = `
const http = require('http');
const { performance } = require('perf_hooks');
const now = () => (performance.timeOrigin + performance.now()).toFixed(3);
http.createServer((req, res) => {
  const u = new URL(req.url, 'http://app');
  if (u.pathname !== '/emit') return res.end('bench app\\n');
  const n = Number(u.searchParams.get('n')), rate = Number(u.searchParams.get('rate')), tag = u.searchParams.get('tag');
  const start = Date.now();
  let i = 0;
  const tick = () => {
    const due = Math.min(n, Math.floor(((Date.now() - start) * rate) / 1000) + 1);
    while (i < due) { i += 1; process.stdout.write(tag + ' ' + i + ' ' + now() + '\\n'); }
    if (i < n) setTimeout(tick, 5);
  };
  tick();
  res.end('ok\\n');
}).listen(Number(process.env.PORT));
`;

interface Receiver {
  /** Lines received per tag, and latencies (ms) per tag. */
  counts: Map<string, number>;
  latencies: Map<string, number[]>;
  /** When the app wrote the first and the last line of a tag (ms, wall clock). */
  spans: Map<string, [number, number]>;
  close(): void;
}

function receiver(): Omit<Receiver, 'close'> & { take(message: string): void } {
  const counts = new Map<string, number>();
  const latencies = new Map<string, number[]>();
  const spans = new Map<string, [number, number]>();
  return {
    counts,
    latencies,
    spans,
    take(message: string) {
      const [tag, , sent] = message.split(' ');
      counts.set(tag, (counts.get(tag) ?? 0) + 1);
      const span = spans.get(tag);
      if (!span) spans.set(tag, [Number(sent), Number(sent)]);
      else span[1] = Math.max(span[1], Number(sent));
      let list = latencies.get(tag);
      if (!list) latencies.set(tag, (list = []));
      list.push(performance.timeOrigin + performance.now() - Number(sent));
    },
  };
}

async function streamReceiver(routerPort: number, guid: string, token: string): Promise<Receiver> {
  const r = receiver();
  const ws = new WebSocket(`ws://127.0.0.1:${routerPort}/apps/${guid}/stream`, { headers: { host: `logs.localhost:${routerPort}`, authorization: `bearer ${token}` }, perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  ws.on('message', (data) => {
    const e = JSON.parse(data.toString()) as { source_type: string; message: string };
    if (e.source_type === 'APP/PROC/WEB') r.take(e.message);
  });
  return { ...r, close: () => ws.terminate() };
}

function busReceiver(nc: NatsConnection, guid: string): Receiver {
  const r = receiver();
  const sub = nc.subscribe(`logs.${guid}`, {
    callback: (_err, msg) => {
      const e = msg.json<{ source_type: string; message: string }>();
      if (e.source_type === 'APP/PROC/WEB') r.take(e.message);
    },
  });
  return { ...r, close: () => sub.unsubscribe() };
}

const percentile = (values: number[], p: number) => {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
};

export async function benchLogs(): Promise<BenchRow[]> {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'devbox-bench-logs-'));
  const appDir = fs.mkdtempSync(path.join(os.tmpdir(), 'devbox-bench-logs-app-'));
  fs.writeFileSync(path.join(appDir, 'app.js'), APP_JS);
  const env = { DEVBOX_HOME: home, NO_COLOR: '1', DEVBOX_LOG_RATE_LIMIT: '0' };
  const devbox = async (args: string[], cwd = os.tmpdir()) => {
    const r = await execa(process.execPath, [DEVBOX_BIN, ...args], { cwd, env, extendEnv: true, reject: false, timeout: 90_000 });
    if (r.exitCode !== 0) throw new Error(`devbox ${args.join(' ')} failed: ${r.stdout}\n${r.stderr}`);
    return r.stdout;
  };
  const receivers: Receiver[] = [];
  let nc: NatsConnection | undefined;
  try {
    const routerPort = await freePort();
    await devbox(['up', '-d', '--port', String(routerPort)]);
    await devbox(['push', 'logbench', '-p', appDir, '-b', 'binary', '-c', 'node app.js']);
    const api = await boxApi(home, routerPort);
    const guid = (await api.call('GET', '/v3/apps?names=logbench')).json().resources[0].guid as string;
    const paths = statePaths(home);
    const ports = readPorts(paths);
    if (!ports?.bus_port) throw new Error('no bus port in run/ports.json');
    nc = await connectBus(embeddedBusUrl(ports.bus_port, loadConfig(paths).bus.token), { name: 'bench-logs' });
    const stream = await streamReceiver(routerPort, guid, api.token);
    const bus = busReceiver(nc, guid);
    receivers.push(stream, bus);
    const emit = async (tag: string, n: number, rate: number) => {
      const res = await request({ url: `http://logbench.localhost:${routerPort}/emit?tag=${tag}&n=${n}&rate=${rate}`, timeoutMs: 5_000 });
      if (res.status !== 200) throw new Error(`the bench app answered ${res.status}`);
    };
    /** Waits until both receivers have n lines of the tag, or nothing new came for a second. */
    const settle = async (tag: string, n: number) => {
      let last = -1;
      let still = Date.now();
      await waitFor(`the ${tag} lines`, () => {
        const got = (stream.counts.get(tag) ?? 0) + (bus.counts.get(tag) ?? 0);
        if (got !== last) {
          last = got;
          still = Date.now();
        }
        return got >= 2 * n || Date.now() - still > 1_000;
      }, { timeoutMs: 60_000, intervalMs: 20 });
    };

    // Warm-up, then latency at a steady rate.
    await emit('warm', 200, 1000);
    await settle('warm', 200);
    await emit('lat', 1500, 500);
    await settle('lat', 1500);
    const lat = stream.latencies.get('lat') ?? [];
    const latBus = bus.latencies.get('lat') ?? [];

    // Throughput: rates doubling from 1,000 lines/s for 2 s each, until a line is lost or the app
    // itself cannot write that fast; the figure is the rate the app achieved (lines / time it took).
    let best = 0;
    let bestBus = 0;
    for (let rate = 1000; rate <= 512_000; rate *= 2) {
      const tag = `rate${rate}`;
      const n = rate * 2;
      await emit(tag, n, rate);
      await settle(tag, n);
      const got = stream.counts.get(tag) ?? 0;
      const gotBus = bus.counts.get(tag) ?? 0;
      const span = bus.spans.get(tag) ?? stream.spans.get(tag);
      const achieved = span && span[1] > span[0] ? Math.round(((n - 1) * 1000) / (span[1] - span[0])) : 0;
      if (process.env.LOGS_BENCH_VERBOSE) process.stderr.write(`${tag}: app wrote ${achieved} lines/s; stream ${got}/${n}, bus ${gotBus}/${n}\n`);
      if (gotBus === n) bestBus = Math.max(bestBus, achieved);
      if (got === n) best = Math.max(best, achieved);
      if ((got < n && gotBus < n) || achieved < rate * 0.8) break;
      await sleep(500);
    }
    const referenceName = 'bus subscriber';
    return [
      { name: 'logs app line → stream p50', unit: 'ms', devbox: percentile(lat, 50), reference: percentile(latBus, 50), referenceName, higherIsBetter: false },
      { name: 'logs app line → stream p99', unit: 'ms', devbox: percentile(lat, 99), reference: percentile(latBus, 99), referenceName, higherIsBetter: false },
      { name: 'logs lines/s without loss (2 s)', unit: 'lines/s', devbox: best, reference: bestBus, referenceName, higherIsBetter: true },
    ];
  } finally {
    for (const r of receivers) r.close();
    await nc?.close();
    await execa(process.execPath, [DEVBOX_BIN, 'down'], { env, extendEnv: true, reject: false, timeout: 30_000 });
    fs.rmSync(home, { recursive: true, force: true });
    fs.rmSync(appDir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) printTable(await benchLogs());
