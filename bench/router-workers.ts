// How many router processes, and which cluster scheduling: the router component measured with
// DEVBOX_ROUTER_WORKERS / DEVBOX_ROUTER_SCHEDULING variants against the same backend, in
// interleaved rounds (plus direct and nginx as anchors). docs/router.md records what it showed.
//
//   node --import tsx bench/router-workers.ts     (env: ROUTER_BENCH_SECONDS, ROUTER_BENCH_ROUNDS,
//                                                   ROUTER_BENCH_VARIANTS="1 2:rr 2:none 3:rr")
import { pathToFileURL } from 'node:url';
import { findCommand, loadGenerator, measureInterleaved, startBackend, startBus, startNginx, startRouter, type Service, type Target } from './router-lib.js';

export async function benchRouterWorkers({ log = console.log } = {}): Promise<void> {
  const seconds = Number(process.env.ROUTER_BENCH_SECONDS ?? 5);
  const rounds = Number(process.env.ROUTER_BENCH_ROUNDS ?? 3);
  const variants = (process.env.ROUTER_BENCH_VARIANTS ?? '1 2:rr 2:none').split(/\s+/).filter(Boolean);
  const gen = loadGenerator();
  const services: Service[] = [];
  const bus = await startBus();
  try {
    const backend = await startBackend();
    services.push(backend);
    const targets: Target[] = [{ name: 'direct', port: backend.port }];
    for (const variant of variants) {
      const [workers, scheduling = 'rr'] = variant.split(':');
      const router = await startRouter(bus, backend.port, { DEVBOX_ROUTER_WORKERS: workers, DEVBOX_ROUTER_SCHEDULING: scheduling });
      services.push(router);
      targets.push({ name: `router workers=${workers}${Number(workers) > 1 ? ` ${scheduling}` : ''}`, port: router.port });
    }
    const nginxBin = findCommand('nginx');
    if (nginxBin) {
      const nginx = await startNginx(nginxBin, backend.port);
      services.push(nginx);
      targets.push({ name: 'nginx', port: nginx.port });
    }
    log(`router worker variants: 50 connections, ${seconds} s per run, ${rounds} rounds, load from ${gen.name}`);
    const results = await measureInterleaved(gen, targets, { connections: 50, seconds, rounds, log });
    const nginx = results.get('nginx');
    const direct = results.get('direct')!;
    log('');
    log(`${'target'.padEnd(28)} ${'req/s'.padStart(7)}  p50 ms  p99 ms  vs nginx  added p50`);
    for (const [name, m] of results) {
      log(
        `${name.padEnd(28)} ${Math.round(m.rps).toString().padStart(7)}  ${m.p50_ms.toFixed(2).padStart(6)}  ${m.p99_ms.toFixed(2).padStart(6)}  ${nginx ? (m.rps / nginx.rps).toFixed(2).padStart(8) : '       -'}  ${(m.p50_ms - direct.p50_ms).toFixed(2).padStart(9)}`,
      );
    }
  } finally {
    for (const s of services.reverse()) await s.stop().catch(() => undefined);
    await bus.stop().catch(() => undefined);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await benchRouterWorkers();
  process.exit(0);
}
