// Benchmark: devbox's embedded NATS server vs nats-server 2.9.10, driven by the same `nats` client.
//
// Each server runs in its own process (the embedded one is this file started with
// `--serve-embedded`), the clients run here. Measured for both, in one run:
//   - 1 publisher → 1 subscriber throughput, 16 B and 1 KiB payloads (messages/s; the publisher
//     keeps at most a window of messages in flight so neither server has to buffer the whole run),
//   - the server process's CPU time per message in those runs (Linux, from /proc),
//   - sequential request/reply round trip (p50 / p99, µs; responder on a second connection).
// Both servers run side by side and the bench alternates between them in short rounds, so the
// machine's other load hits both alike; throughput and CPU are medians over the rounds.
//
//   node --import tsx bench/bus.ts        (BUS_BENCH_VERBOSE=1 prints every round)
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { connect, type NatsConnection } from 'nats';
import { startNatsServer } from '../test/helpers/nats-server.js';
import { printTable, type BenchRow } from './lib.js';
import { BusServer } from '../src/runtime/bus/server.js';

const THIS_FILE = fileURLToPath(import.meta.url);

interface ServerHandle {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/** CPU time (user + system) a process has used so far, in ms; undefined where /proc is missing. */
function processCpuMs(pid: number): number | undefined {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    // utime and stime are fields 14 and 15 of stat, in clock ticks (100 per second on Linux).
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return undefined;
  }
}

/** Starts the embedded BusServer in a child process (its own event loop, like nats-server). */
async function startEmbeddedProcess(): Promise<ServerHandle> {
  // BUS_BENCH_NODE_ARGS: extra node flags for the server process, e.g. "--cpu-prof".
  const extra = (process.env.BUS_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child: ChildProcess = spawn(process.execPath, [...extra, '--import', 'tsx', THIS_FILE, '--serve-embedded'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('embedded bus did not start within 15 s')), 15_000);
    child.once('exit', (code) => reject(new Error(`embedded bus exited early (${code})`)));
    createInterface({ input: child.stdout! }).once('line', (line) => {
      clearTimeout(timer);
      resolve((JSON.parse(line) as { port: number }).port);
    });
  });
  return {
    url: `nats://127.0.0.1:${port}`,
    pid: child.pid!,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.stdin?.end(); // the child exits when its stdin closes
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Child mode: run a BusServer until stdin closes. */
async function serveEmbedded(): Promise<void> {
  const server = new BusServer({ host: '127.0.0.1', port: 0 });
  const { port } = await server.listen();
  process.stdout.write(`${JSON.stringify({ port })}\n`);
  process.stdin.resume();
  process.stdin.once('end', () => {
    void server.close().then(() => process.exit(0));
  });
}

const immediate = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Messages/s for one publisher → one subscriber on separate connections. */
async function pubSub(pub: NatsConnection, sub: NatsConnection, count: number, size: number): Promise<number> {
  const payload = new Uint8Array(size).fill(0x61);
  const subject = `bench.ps.${size}`;
  // At most this many messages in flight, so neither server has to buffer the whole run.
  const window = Math.max(2_000, Math.min(50_000, Math.floor((4 << 20) / (size + 40))));
  const batch = 500;
  let received = 0;
  let resolveDone!: () => void;
  const done = new Promise<void>((resolve) => (resolveDone = resolve));
  const s = sub.subscribe(subject, {
    callback: () => {
      if (++received === count) resolveDone();
    },
  });
  await sub.flush();
  const started = process.hrtime.bigint();
  let sent = 0;
  while (sent < count) {
    const upto = Math.min(count, sent + batch);
    for (; sent < upto; sent++) pub.publish(subject, payload);
    while (sent - received > window) await immediate();
  }
  await done;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  s.unsubscribe();
  await sub.flush();
  return count / seconds;
}

/** `count` sequential request/reply round trips; returns their durations in µs. */
async function requestReply(requester: NatsConnection, count: number): Promise<number[]> {
  const payload = new Uint8Array(16).fill(0x62);
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const t0 = process.hrtime.bigint();
    await requester.request('bench.rr', payload, { timeout: 5_000 });
    samples.push(Number(process.hrtime.bigint() - t0) / 1_000);
  }
  return samples;
}

interface Target {
  server: ServerHandle;
  pub: NatsConnection;
  sub: NatsConnection;
  requester: NatsConnection;
  responder: NatsConnection;
  small: number[];
  large: number[];
  /** Server CPU µs per message, per round (16 B, 1 KiB). */
  smallCpu: number[];
  largeCpu: number[];
  rtt: number[];
}

async function openTarget(server: ServerHandle): Promise<Target> {
  const [pub, sub, requester, responder] = await Promise.all([1, 2, 3, 4].map(() => connect({ servers: server.url })));
  const payload = new Uint8Array(16).fill(0x63);
  responder.subscribe('bench.rr', { callback: (_err, msg) => msg.respond(payload) });
  await responder.flush();
  return { server, pub, sub, requester, responder, small: [], large: [], smallCpu: [], largeCpu: [], rtt: [] };
}

async function closeTarget(t: Target | undefined): Promise<void> {
  if (!t) return;
  await Promise.allSettled([t.pub.close(), t.sub.close(), t.requester.close(), t.responder.close()]);
}

/** One throughput run; records msgs/s and the server's CPU µs per message. */
async function throughput(t: Target, count: number, size: number, rates: number[], cpu: number[]): Promise<void> {
  const before = processCpuMs(t.server.pid);
  rates.push(await pubSub(t.pub, t.sub, count, size));
  const after = processCpuMs(t.server.pid);
  if (before !== undefined && after !== undefined) cpu.push(((after - before) * 1000) / count);
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const median = (xs: number[]) => percentile([...xs].sort((a, b) => a - b), 50);

export interface BenchBusOptions {
  /** Alternating rounds per server (default 8). */
  rounds?: number;
  /** Multiplies message and request counts (default 1). */
  scale?: number;
}

/**
 * Runs both servers side by side and alternates between them in short rounds. Throughput and
 * server CPU: median over the rounds. Latency: p50/p99 over all samples of all rounds.
 */
export async function benchBus(options: BenchBusOptions = {}): Promise<BenchRow[]> {
  const rounds = options.rounds ?? 8;
  const scale = options.scale ?? 1;
  const smallCount = Math.round(150_000 * scale);
  const largeCount = Math.round(40_000 * scale);
  const rrCount = Math.round(1_000 * scale);
  let reference: ServerHandle | undefined;
  let embedded: ServerHandle | undefined;
  let ref: Target | undefined;
  let dev: Target | undefined;
  try {
    reference = await startNatsServer();
    embedded = await startEmbeddedProcess();
    ref = await openTarget(reference);
    dev = await openTarget(embedded);
    // Warm-up (JIT on both sides, socket buffers).
    for (const t of [ref, dev]) {
      await pubSub(t.pub, t.sub, 60_000, 16);
      await pubSub(t.pub, t.sub, 15_000, 1024);
      await requestReply(t.requester, 500);
    }
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? [ref, dev] : [dev, ref];
      for (const t of order) await throughput(t, smallCount, 16, t.small, t.smallCpu);
      for (const t of order) await throughput(t, largeCount, 1024, t.large, t.largeCpu);
      for (const t of order) t.rtt.push(...(await requestReply(t.requester, rrCount)));
      if (process.env.BUS_BENCH_VERBOSE) {
        const f = (t: Target) => `16B ${Math.round(t.small.at(-1)!)} 1KiB ${Math.round(t.large.at(-1)!)}`;
        process.stderr.write(`round ${round}: nats-server ${f(ref)} | devbox ${f(dev)}\n`);
      }
    }
  } finally {
    await closeTarget(ref);
    await closeTarget(dev);
    await reference?.stop();
    await embedded?.stop();
  }
  const r = ref!;
  const d = dev!;
  r.rtt.sort((a, b) => a - b);
  d.rtt.sort((a, b) => a - b);
  const referenceName = 'nats-server';
  const rows: BenchRow[] = [
    { name: 'bus pub→sub 16 B', unit: 'msgs/s', devbox: median(d.small), reference: median(r.small), referenceName, higherIsBetter: true },
    { name: 'bus pub→sub 1 KiB', unit: 'msgs/s', devbox: median(d.large), reference: median(r.large), referenceName, higherIsBetter: true },
  ];
  if (d.smallCpu.length > 0 && r.smallCpu.length > 0) {
    rows.push(
      { name: 'bus server CPU per msg 16 B', unit: 'µs', devbox: median(d.smallCpu), reference: median(r.smallCpu), referenceName, higherIsBetter: false },
      { name: 'bus server CPU per msg 1 KiB', unit: 'µs', devbox: median(d.largeCpu), reference: median(r.largeCpu), referenceName, higherIsBetter: false },
    );
  }
  rows.push(
    { name: 'bus request/reply p50', unit: 'µs', devbox: percentile(d.rtt, 50), reference: percentile(r.rtt, 50), referenceName, higherIsBetter: false },
    { name: 'bus request/reply p99', unit: 'µs', devbox: percentile(d.rtt, 99), reference: percentile(r.rtt, 99), referenceName, higherIsBetter: false },
  );
  return rows;
}

const runDirectly = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (runDirectly) {
  if (process.argv.includes('--serve-embedded')) {
    await serveEmbedded();
  } else {
    printTable(await benchBus());
  }
}
