// The `router` component (DESIGN.md §8): devbox's front door on the router port. It listens before
// it connects to the bus (so the port is taken early and unknown routes get their 404 at once),
// then follows router.register / router.unregister. With DEVBOX_ROUTER_WORKERS > 1 the proxying
// happens in worker processes sharing the port (cluster.ts); this process stays the one the
// supervisor watches, and the only one on the bus.
import type net from 'node:net';
import type { ConnectionOptions } from 'nats';
import type { NatsConnection } from '../common/bus.js';
import type { RouterStartMessage } from '../common/bus-messages.js';
import type { ComponentContext, ComponentModule } from '../common/component.js';
import { tlsFiles } from '../common/config.js';
import { RouterBus, type RouteSink } from './bus.js';
import { RouterCluster } from './cluster.js';
import { AccessLogPublisher, type AccessLogSink, type PendingLine } from './handlers/access-log.js';
import { WARM_UNTIL_ANNOUNCED } from './proxy.js';
import { Router } from './router.js';
import { ROUTER_SOCKET_MESSAGE, routerSettings } from './settings.js';
import { mergeSnapshots, varzFields } from './stats.js';
import { ensureCertificates } from './tls.js';

/**
 * The HTTPS port (0: none). In a box, what the supervisor wrote to run/ports.json (it chose the port
 * and checked that it can be bound; absent: no HTTPS). A router started on its own (scale-out) takes
 * DEVBOX_ROUTER_TLS_PORT, else config.json's `router_tls_port`, else serves no HTTPS.
 */
export function routerTlsPort(ctx: Pick<ComponentContext, 'ports' | 'config'>, env: NodeJS.ProcessEnv = process.env): number {
  if (ctx.ports) return ctx.ports.router_tls_port ?? 0;
  const raw = env.DEVBOX_ROUTER_TLS_PORT;
  if (raw !== undefined && raw !== '') {
    const port = Number(raw);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`DEVBOX_ROUTER_TLS_PORT=${raw} is not a port number (0: no HTTPS)`);
    return port;
  }
  return ctx.config.router_tls_port ?? 0;
}

const router: ComponentModule = {
  type: 'Router',
  create(ctx: ComponentContext) {
    const port = ctx.port ?? ctx.ports?.router_port ?? ctx.config.router_port;
    const tlsPort = routerTlsPort(ctx);
    const settings = routerSettings(port, process.env, tlsPort ? { tls: { port: tlsPort, dir: ctx.paths.tls, domain: ctx.config.domain } } : {});
    const log = ctx.log;
    let bus: RouterBus | undefined;
    let listening = false;
    let boundPort = 0;

    const tlsPortNow = () => (single ? single.tlsPort : (workers?.tlsPort ?? 0));
    let publisher: AccessLogPublisher | undefined;
    // Lines go out in batches (one bus write per batch rather than one per request); the workers'
    // come here only while their own bus connection is down.
    const publishLines = (lines: PendingLine[]) => publisher?.publish(lines);
    const accessLogSink: AccessLogSink = (req) => publisher?.addRequest(req);
    /**
     * Sends the supervisor a listening socket (its handle) that it keeps open while this router
     * restarts, so that no connection is refused meanwhile (docs/router.md, "Restarts"). `relayed`:
     * this process's copy came from a worker and is closed once sent.
     */
    const handOver = (which: 'http' | 'tls', handle: object, relayed: boolean) => {
      const close = () => relayed && (handle as { close?: () => void }).close?.();
      if (!process.send || !process.connected) return close();
      try {
        process.send({ type: ROUTER_SOCKET_MESSAGE, which }, handle as net.Server, {}, (error: Error | null) => {
          if (error) log.warn('could not hand the listening socket to the supervisor', { which, error: error.message });
          close();
        });
      } catch (error) {
        log.warn('could not hand the listening socket to the supervisor', { which, error: (error as Error).message });
        close();
      }
    };
    const single = settings.workers <= 1 ? new Router({ settings, log, accessLogSink }) : undefined;
    const workers = single
      ? undefined
      : new RouterCluster({ settings, log, sourceInstance: String(ctx.index), onAccessLog: publishLines, onSocket: (which, handle) => handOver(which, handle, true) });
    const sink: RouteSink = (single ?? workers)!;
    const registry = (single ?? workers)!.registry;
    // Until the table has its registrations, a request for a host it does not have yet waits rather
    // than getting a 404 (docs/router.md, "Restarts"): from now until router.start has been answered.
    const warmUp = settings.startResponseDelayMs > 0 ? { windowMs: Math.min(settings.startResponseDelayMs, settings.registerIntervalSeconds * 1000), settleMs: settings.startSettleMs } : undefined;
    if (warmUp) sink.warmUp({ until: WARM_UNTIL_ANNOUNCED, settled: false });
    const announcement: RouterStartMessage = {
      id: ctx.uuid,
      // The advertised address (--advertise) when there is one: what other machines reach it at.
      hosts: [ctx.advertise ?? (settings.host === '0.0.0.0' || settings.host === '::' ? '127.0.0.1' : settings.host)],
      minimumRegisterIntervalInSeconds: settings.registerIntervalSeconds,
      pruneThresholdInSeconds: Math.max(1, Math.ceil(settings.pruneThresholdMs / 1000)),
    };

    return {
      async listen() {
        // The CA once per state directory, the server certificate when due: before any worker reads
        // them. A failure here leaves the router on plain HTTP (Router.listen says so too).
        if (settings.tls) {
          await ensureCertificates(ctx.paths, ctx.config.domain, { log }).catch((error: Error) =>
            log.error('router could not make its certificates', { dir: ctx.paths.tls, error: error.message }),
          );
        }
        boundPort = single ? await single.listen() : await workers!.start();
        listening = true;
        if (single && settings.handOverSockets) for (const { which, handle } of single.ownSockets()) handOver(which, handle, false);
        const tls = tlsPortNow();
        log.info('router listening', { host: settings.host, port: boundPort, tls_port: tls || undefined, ca: tls ? tlsFiles(ctx.paths).caCert : undefined, workers: settings.workers, scheduling: settings.workers > 1 ? settings.scheduling : undefined });
      },
      async start(connection: NatsConnection) {
        publisher = new AccessLogPublisher(connection, String(ctx.index));
        bus = new RouterBus(connection, { start: announcement, sink, log, domain: ctx.config.domain, warmUp });
        bus.start();
        // The workers publish their access logs with the same bus settings as this process.
        const options = (connection as NatsConnection & { options?: ConnectionOptions }).options;
        if (workers && options?.servers) {
          const servers = Array.isArray(options.servers) ? options.servers : [options.servers];
          workers.shareBus({ servers, token: options.token, user: options.user, pass: options.pass });
        }
      },
      healthy: () => listening && (single !== undefined || workers!.allListening),
      varz() {
        const perWorker = workers?.reports();
        const stats = single ? single.stats.snapshot() : perWorker!.total;
        return {
          host: settings.host,
          port: boundPort,
          tls_port: tlsPortNow(),
          router_id: ctx.uuid,
          workers: settings.workers,
          ...(settings.workers > 1 ? { scheduling: settings.scheduling } : {}),
          routes: registry.routeCount,
          endpoints: registry.endpointCount,
          // gorouter's names for the same figures
          urls: registry.routeCount,
          droplets: registry.endpointCount,
          ...varzFields(stats),
          bus: bus ? { registrations: bus.registrations, unregistrations: bus.unregistrations, rejected: bus.rejected, announcements: bus.announcements } : undefined,
          ...(perWorker
            ? {
                worker_restarts: perWorker.restarts,
                per_worker: perWorker.workers.map((w) => ({
                  slot: w.slot,
                  pid: w.pid,
                  routes: w.routes,
                  connections: w.connections,
                  idle_backend_connections: w.idle_backend_connections,
                  tls_port: w.tls_port,
                  host_certificates: w.host_certificates,
                  ...varzFields(mergeSnapshots([w.stats])),
                })),
              }
            : { connections: single!.proxy.connections.size, idle_backend_connections: single!.proxy.backends.idleCount, host_certificates: single!.certificates?.made ?? 0 }),
        };
      },
      async stop() {
        bus?.stop();
        if (single) await single.close(3_000);
        else await workers!.stop();
        publisher?.flush();
      },
    };
  },
};

export default router;
