// What the router benchmarks share: the backend process, devbox's bus, the router component in a
// child process, nginx as the reference proxy, and the load generator (wrk, else bench/router-load.ts).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, type NatsConnection } from 'nats';
import { BusServer } from '../src/runtime/bus/server.js';
import { embeddedBusUrl, publish } from '../src/runtime/common/bus.js';
import { routerRegister } from '../src/runtime/common/bus-messages.js';
import { ensureConfig, ensureStateDirs, statePaths } from '../src/runtime/common/config.js';
import { freePort, isListening, sleep, waitFor } from '../src/runtime/common/net.js';
import { CLOCK_TICKS, processTree, readStat } from '../src/runtime/common/procfs.js';

const here = path.dirname(fileURLToPath(import.meta.url));
export const BENCH_HOST = 'bench.localhost';

export interface Measurement {
  rps: number;
  p50_ms: number;
  p99_ms: number;
  errors: number;
  /** Requests completed in the run (wrk counts them; else rps × seconds). */
  requests?: number;
  /** CPU time (user + kernel) the target's processes spent per request, when its pid is known. */
  cpu_us?: number;
}

export interface Service {
  port: number;
  /** The process at the root of what serves the port (its children, e.g. workers, count too). */
  pid?: number;
  stop(): Promise<void>;
}

/** CPU time of a process and all its descendants so far, in µs (from /proc). */
export function treeCpuUs(root: number): number {
  let ticks = 0;
  for (const pid of processTree(root)) ticks += readStat(pid)?.ticks ?? 0;
  return (ticks * 1e6) / CLOCK_TICKS;
}

/** Is `cmd` runnable (on PATH, or in the sbin directories where Debian puts nginx)? */
export function findCommand(cmd: string): string | undefined {
  for (const candidate of [cmd, `/usr/sbin/${cmd}`, `/usr/local/sbin/${cmd}`, `/usr/local/bin/${cmd}`]) {
    const probe = spawnSync(candidate, ['-v'], { stdio: 'ignore' });
    if (!probe.error) return candidate;
  }
  return undefined;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

function tsxChild(script: string, args: string[], env: Record<string, string> = {}, nodeArgs: string[] = []): ChildProcess {
  return spawn(process.execPath, [...nodeArgs, '--import', 'tsx', path.join(here, script), ...args], {
    cwd: path.join(here, '..'),
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** The benchmark app, as its own process. */
export async function startBackend(): Promise<Service> {
  const child = tsxChild('router-backend.ts', ['0']);
  let out = '';
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', () => reject(new Error(`the backend exited: ${out}`)));
  });
  return { port, pid: child.pid, stop: () => stopChild(child) };
}

export interface Bus {
  url: string;
  nc: NatsConnection;
  stop(): Promise<void>;
}

/** devbox's own bus, in this process, with a token like a real box. */
export async function startBus(): Promise<Bus> {
  const token = `bench-${process.pid}`;
  const server = new BusServer({ port: 0, token });
  await server.listen();
  const nc = await connect({ servers: `127.0.0.1:${server.port}`, token });
  return {
    url: embeddedBusUrl(server.port, token),
    nc,
    async stop() {
      await nc.close();
      await server.close();
    },
  };
}

/** GET through a port with a Host header; resolves with the status (rejects on a network error). */
export function probe(port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', headers: { host }, agent: false, timeout: 2_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
  });
}

/**
 * devbox's router component (from the sources, as `devbox component router` runs it) in a child
 * process on the given bus, with `backendPort` registered as BENCH_HOST. `env`: DEVBOX_ROUTER_*.
 */
export async function startRouter(bus: Bus, backendPort: number, env: Record<string, string> = {}): Promise<Service> {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'devbox-bench-router-'));
  const paths = statePaths(home);
  ensureStateDirs(paths);
  ensureConfig(paths);
  const port = await freePort();
  // ROUTER_BENCH_NODE_ARGS: node flags for the router process, e.g. '--cpu-prof --cpu-prof-dir=/tmp/prof'.
  const nodeArgs = (process.env.ROUTER_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = tsxChild('router-server.ts', [home, bus.url, String(port)], { DEVBOX_LOG_LEVEL: 'warn', ...env }, nodeArgs);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-4000)));
  child.stderr!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-4000)));
  const registration = { host: '127.0.0.1', port: backendPort, uris: [BENCH_HOST], app: 'bench-app-guid', private_instance_id: 'bench-instance-0', tags: { component: 'bench' } };
  const register = () => publish(bus.nc, routerRegister, registration);
  const sub = bus.nc.subscribe('router.start', { callback: () => register() });
  const timer = setInterval(register, 5_000);
  try {
    await waitFor(
      'the router to route the benchmark host',
      async () => {
        if (child.exitCode !== null) throw new Error(`the router exited: ${out}`);
        register();
        return (await probe(port, BENCH_HOST).catch(() => 0)) === 200;
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );
  } catch (error) {
    clearInterval(timer);
    sub.unsubscribe();
    await stopChild(child);
    throw new Error(`${(error as Error).message}\n${out}`);
  }
  return {
    port,
    pid: child.pid,
    async stop() {
      clearInterval(timer);
      sub.unsubscribe();
      await stopChild(child);
      fs.rmSync(home, { recursive: true, force: true });
    },
  };
}

/** nginx as a reverse proxy to the backend, configured as one would for an app: keep-alive upstream, buffered access log. */
export async function startNginx(nginx: string, backendPort: number): Promise<Service> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'devbox-bench-nginx-'));
  const port = await freePort();
  const conf = path.join(dir, 'nginx.conf');
  fs.writeFileSync(
    conf,
    `worker_processes auto;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
daemon off;
events { worker_connections 4096; }
http {
  access_log ${dir}/access.log combined buffer=64k flush=1s;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream app { server 127.0.0.1:${backendPort}; keepalive 128; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Request-Id $request_id;
    }
  }
}
`,
  );
  const child = spawn(nginx, ['-c', conf, '-p', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  await waitFor('nginx to listen', async () => {
    if (child.exitCode !== null) throw new Error(`nginx exited: ${out}`);
    return isListening(port);
  }, { timeoutMs: 10_000 });
  return {
    port,
    pid: child.pid,
    async stop() {
      await stopChild(child);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

const toMs = (value: string): number => {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(value.trim());
  if (!m) return NaN;
  const n = Number(m[1]);
  return m[2] === 'us' ? n / 1000 : m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : n * 60_000;
};

/** Parses wrk --latency output. */
export function parseWrk(output: string): Measurement {
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(output)?.[1] ?? NaN);
  const p50 = toMs(/\s50%\s+(\S+)/.exec(output)?.[1] ?? '');
  const p99 = toMs(/\s99%\s+(\S+)/.exec(output)?.[1] ?? '');
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(output)?.[1] ?? 0);
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  const errors = non2xx + (socketErrors ? socketErrors.slice(1).reduce((s, n) => s + Number(n), 0) : 0);
  if (!Number.isFinite(rps) || !Number.isFinite(p50)) throw new Error(`could not read wrk's output:\n${output}`);
  const requests = Number(/(\d+) requests in/.exec(output)?.[1] ?? NaN);
  return { rps, p50_ms: p50, p99_ms: p99, errors, ...(Number.isFinite(requests) ? { requests } : {}) };
}

export interface LoadGenerator {
  name: string;
  run(port: number, host: string, connections: number, seconds: number): Promise<Measurement>;
}

function collect(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    child.once('error', reject);
    child.once('exit', () => resolve(out));
  });
}

/** wrk when installed, else the node load generator (in its own process). */
export function loadGenerator(): LoadGenerator {
  const wrk = findCommand('wrk');
  if (wrk) {
    return {
      name: 'wrk',
      async run(port, host, connections, seconds) {
        // wrk takes whole seconds.
        const child = spawn(wrk, ['-t1', `-c${connections}`, `-d${Math.max(1, Math.round(seconds))}s`, '--latency', '-H', `Host: ${host}`, `http://127.0.0.1:${port}/`], { stdio: ['ignore', 'pipe', 'pipe'] });
        return parseWrk(await collect(child));
      },
    };
  }
  return {
    name: 'node (bench/router-load.ts)',
    async run(port, host, connections, seconds) {
      const out = await collect(tsxChild('router-load.ts', [String(port), host, String(connections), String(seconds)]));
      const line = out.trim().split('\n').pop() ?? '';
      const r = JSON.parse(line) as { rps: number; p50_ms: number; p99_ms: number; errors: number };
      return { rps: r.rps, p50_ms: r.p50_ms, p99_ms: r.p99_ms, errors: r.errors };
    },
  };
}

export const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

/** The median of each figure over rounds (rounds interleave the targets, to share the noise). */
export function medianOf(ms: Measurement[]): Measurement {
  return {
    rps: median(ms.map((m) => m.rps)),
    p50_ms: median(ms.map((m) => m.p50_ms)),
    p99_ms: median(ms.map((m) => m.p99_ms)),
    errors: ms.reduce((s, m) => s + m.errors, 0),
    ...(ms.every((m) => m.cpu_us !== undefined) ? { cpu_us: median(ms.map((m) => m.cpu_us!)) } : {}),
  };
}

export interface Target {
  name: string;
  port: number;
  /** The serving process tree's root: its CPU per request is measured (a proxy's, not the backend's). */
  pid?: number;
}

/** Measures every target `rounds` times, interleaved, after a short warm-up of each. */
export async function measureInterleaved(
  gen: LoadGenerator,
  targets: Target[],
  { connections, seconds, rounds, warmupSeconds = 1, log = console.log }: { connections: number; seconds: number; rounds: number; warmupSeconds?: number; log?: (line: string) => void },
): Promise<Map<string, Measurement>> {
  const results = new Map<string, Measurement[]>(targets.map((t) => [t.name, []]));
  for (const t of targets) await gen.run(t.port, BENCH_HOST, connections, warmupSeconds);
  for (let round = 1; round <= rounds; round++) {
    for (const t of targets) {
      await sleep(300);
      const cpuBefore = t.pid === undefined ? 0 : treeCpuUs(t.pid);
      const m = await gen.run(t.port, BENCH_HOST, connections, seconds);
      if (t.pid !== undefined) m.cpu_us = (treeCpuUs(t.pid) - cpuBefore) / (m.requests ?? m.rps * seconds);
      results.get(t.name)!.push(m);
      const cpu = m.cpu_us === undefined ? '' : `  CPU ${m.cpu_us.toFixed(1)} µs/req`;
      log(`  round ${round}/${rounds}  ${t.name.padEnd(28)} ${Math.round(m.rps).toString().padStart(7)} req/s  p50 ${m.p50_ms.toFixed(2)} ms  p99 ${m.p99_ms.toFixed(2)} ms${cpu}${m.errors ? `  errors ${m.errors}` : ''}`);
    }
  }
  return new Map([...results].map(([name, ms]) => [name, medianOf(ms)]));
}
