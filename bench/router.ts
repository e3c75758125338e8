// bench/router: the same small backend (its own process) measured direct, through devbox's router
// (the real component in a child process, on devbox's bus, access log on) and through nginx as a
// reverse proxy, at 50 connections for a fixed time each, all in one run. The targets are measured
// in interleaved rounds and each figure is the median over rounds, so that noise from other work
// on the machine falls on all of them alike. For the two proxies it also reads, from /proc, the CPU
// time their processes spent per request.
//
//   node --import tsx bench/router.ts        (env: ROUTER_BENCH_SECONDS, ROUTER_BENCH_ROUNDS)
//
// Needs wrk (apt-get install wrk; else a slower node load generator is used) and nginx
// (apt-get install nginx; else only devbox vs direct is reported). It installs nothing itself.
import { pathToFileURL } from 'node:url';
import { printTable, type BenchRow } from './lib.js';
import { findCommand, loadGenerator, measureInterleaved, startBackend, startBus, startNginx, startRouter, type Service, type Target } from './router-lib.js';

export interface RouterBenchOptions {
  connections?: number;
  seconds?: number;
  rounds?: number;
  /** DEVBOX_ROUTER_* settings for the router under test. */
  env?: Record<string, string>;
  log?: (line: string) => void;
}

export async function benchRouter(options: RouterBenchOptions = {}): Promise<BenchRow[]> {
  const log = options.log ?? console.log;
  const connections = options.connections ?? 50;
  const seconds = options.seconds ?? Number(process.env.ROUTER_BENCH_SECONDS ?? 5);
  const rounds = options.rounds ?? Number(process.env.ROUTER_BENCH_ROUNDS ?? 3);
  const gen = loadGenerator();
  if (gen.name !== 'wrk') log('wrk is not installed (apt-get install wrk): using the node load generator, which competes with the router for the same CPUs');
  const nginxBin = findCommand('nginx');
  if (!nginxBin) log('nginx is not installed: reporting devbox vs direct only. To compare with nginx: apt-get install nginx');

  const services: Service[] = [];
  const bus = await startBus();
  try {
    const backend = await startBackend();
    services.push(backend);
    const router = await startRouter(bus, backend.port, options.env ?? {});
    services.push(router);
    const targets: Target[] = [
      { name: 'direct', port: backend.port },
      { name: 'devbox router', port: router.port, pid: router.pid },
    ];
    if (nginxBin) {
      const nginx = await startNginx(nginxBin, backend.port);
      services.push(nginx);
      targets.push({ name: 'nginx', port: nginx.port, pid: nginx.pid });
    }
    log(`router benchmark: ${connections} connections, ${seconds} s per run, ${rounds} interleaved rounds, load from ${gen.name}`);
    const results = await measureInterleaved(gen, targets, { connections, seconds, rounds, log });
    // At 50 connections the two CPUs are saturated and p50 is connections / throughput; one
    // connection shows what the router itself adds to a request.
    log('latency with one connection:');
    const single = await measureInterleaved(gen, targets, { connections: 1, seconds: Math.min(seconds, 3), rounds: Math.min(rounds, 2), warmupSeconds: 1, log });

    const direct = results.get('direct')!;
    const devbox = results.get('devbox router')!;
    const nginx = results.get('nginx');
    log('');
    log('target           req/s     p50 ms   p99 ms   CPU µs/req   errors   (medians)');
    for (const [name, m] of results) {
      const cpu = m.cpu_us === undefined ? '-' : m.cpu_us.toFixed(1);
      log(`${name.padEnd(15)} ${Math.round(m.rps).toString().padStart(7)}   ${m.p50_ms.toFixed(2).padStart(6)}   ${m.p99_ms.toFixed(2).padStart(6)}   ${cpu.padStart(10)}   ${m.errors}`);
    }
    const one = (name: string) => single.get(name)!;
    log('');
    log(`one connection: p50 direct ${one('direct').p50_ms.toFixed(3)} ms, devbox ${one('devbox router').p50_ms.toFixed(3)} ms${nginxBin ? `, nginx ${one('nginx').p50_ms.toFixed(3)} ms` : ''}`);
    log(`devbox / direct req/s: ${(devbox.rps / direct.rps).toFixed(2)}   added p50: ${(devbox.p50_ms - direct.p50_ms).toFixed(2)} ms`);
    if (nginx) {
      log(`nginx  / direct req/s: ${(nginx.rps / direct.rps).toFixed(2)}   added p50: ${(nginx.p50_ms - direct.p50_ms).toFixed(2)} ms`);
      log(`devbox / nginx  req/s: ${(devbox.rps / nginx.rps).toFixed(2)}   (target ≥ 0.80; added p50 target ≤ 1 ms)`);
    }

    const ref = nginx ?? direct;
    const refName = nginx ? 'nginx' : 'direct';
    const rows: BenchRow[] = [
      { name: `router req/s (${connections} conns)`, unit: 'req/s', devbox: devbox.rps, reference: ref.rps, referenceName: refName, higherIsBetter: true },
      { name: 'router req/s vs direct', unit: 'req/s', devbox: devbox.rps, reference: direct.rps, referenceName: 'direct', higherIsBetter: true },
      { name: 'router p50 latency', unit: 'ms', devbox: devbox.p50_ms, reference: ref.p50_ms, referenceName: refName, higherIsBetter: false },
      { name: 'router p99 latency', unit: 'ms', devbox: devbox.p99_ms, reference: ref.p99_ms, referenceName: refName, higherIsBetter: false },
    ];
    if (nginx?.cpu_us !== undefined && devbox.cpu_us !== undefined) {
      // Steadier than req/s on a shared machine: what each proxy's processes spent per request.
      rows.push({ name: 'router CPU per request (50 conns)', unit: 'µs', devbox: devbox.cpu_us, reference: nginx.cpu_us, referenceName: 'nginx', higherIsBetter: false });
    }
    if (nginx) {
      rows.push({ name: 'router added p50 (vs direct)', unit: 'ms', devbox: Math.max(0, devbox.p50_ms - direct.p50_ms), reference: Math.max(0, nginx.p50_ms - direct.p50_ms), referenceName: 'nginx', higherIsBetter: false });
    }
    const oneRef = nginx ? one('nginx') : undefined;
    rows.push({
      name: 'router added p50, 1 connection',
      unit: 'ms',
      devbox: Math.max(0, one('devbox router').p50_ms - one('direct').p50_ms),
      reference: oneRef ? Math.max(0, oneRef.p50_ms - one('direct').p50_ms) : undefined,
      referenceName: oneRef ? 'nginx' : undefined,
      higherIsBetter: false,
    });
    return rows;
  } finally {
    for (const s of services.reverse()) await s.stop().catch(() => undefined);
    await bus.stop().catch(() => undefined);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const rows = await benchRouter();
  console.log('');
  printTable(rows);
  process.exit(0);
}
