// One router process: the route table, the proxy listening on the router port, the prune timer and
// the counters. The component runs one of these in its own process, or one per worker process
// (cluster.ts) with the route table fed from the component's bus connection.
import type net from 'node:net';
import type { RouterRegisterMessage } from '../common/bus-messages.js';
import type { Logger } from '../common/log.js';
import type { RouteSink, WarmUpState } from './bus.js';
import { defaultHandlers, type AccessLogSink, type Handler } from './handlers/index.js';
import { Proxy } from './proxy.js';
import { RouteRegistry } from './registry.js';
import type { RouterSettings } from './settings.js';
import { HostCertificates, readTlsMaterial } from './tls.js';
import { RouterStats, type StatsSnapshot } from './stats.js';

export interface RouterOptions {
  settings: RouterSettings;
  log: Logger;
  /** Where access-log lines go (RTR lines on logs.<app guid>); none: not logged. */
  accessLogSink?: AccessLogSink;
  /** Replace the default handler chain (tests). */
  handlers?: Handler[];
}

/** Per-process figures for /varz. */
export interface RouterReport {
  pid: number;
  port: number;
  /** The HTTPS port (0: none). */
  tls_port: number;
  /** Certificates made at TLS handshakes for single names (tls.ts). */
  host_certificates: number;
  routes: number;
  endpoints: number;
  connections: number;
  idle_backend_connections: number;
  stats: StatsSnapshot;
}

export class Router implements RouteSink {
  readonly registry: RouteRegistry;
  readonly stats = new RouterStats();
  readonly proxy: Proxy;
  port = 0;
  /** The HTTPS port once listening (0: no TLS). */
  tlsPort = 0;
  certificates?: HostCertificates;
  private pruneTimer?: NodeJS.Timeout;
  pruned = 0;

  constructor(private readonly options: RouterOptions) {
    const { settings, log } = options;
    this.registry = new RouteRegistry({ pruneThresholdMs: settings.pruneThresholdMs });
    const handlers = options.handlers ?? defaultHandlers({ accessLogSink: settings.accessLog ? options.accessLogSink : undefined });
    this.proxy = new Proxy({ settings, registry: this.registry, stats: this.stats, handlers, log });
  }

  get settings(): RouterSettings {
    return this.options.settings;
  }

  /**
   * Starts pruning and listens on the router port (port 0: any free port), and on the TLS port when
   * there is one. Resolves with the router port. HTTPS that cannot start (the port taken, a port
   * below 1024 without the right to bind it, unreadable certificates) is logged and left out: the
   * router goes on with plain HTTP (`tlsPort` stays 0).
   */
  async listen(): Promise<number> {
    this.startPruning();
    const fds = this.settings.listenFds;
    this.port = await this.proxy.listen(this.settings.host, this.settings.port, fds?.http);
    const tls = this.settings.tls;
    if (tls) {
      try {
        this.certificates = new HostCertificates(readTlsMaterial({ tls: tls.dir }), { domain: tls.domain, routed: (host) => this.registry.knows(host), log: this.options.log });
        this.tlsPort = await this.proxy.listenTls(this.settings.host, tls.port, { secureContext: this.certificates.defaultContext, SNICallback: this.certificates.SNICallback }, fds?.tls);
      } catch (error) {
        const e = error as NodeJS.ErrnoException;
        const why = e.code === 'EADDRINUSE' ? 'the port is in use' : e.code === 'EACCES' ? 'this user may not bind it (ports below 1024 need privileges)' : e.message;
        this.options.log.error('router could not listen for HTTPS; serving plain HTTP only', { host: this.settings.host, tls_port: tls.port, reason: why });
      }
    }
    return this.port;
  }

  /**
   * The listening sockets this process bound itself (not inherited), as handles that can be sent
   * to another process: what the supervisor keeps open while the router restarts.
   */
  ownSockets(): { which: 'http' | 'tls'; handle: object }[] {
    const out: { which: 'http' | 'tls'; handle: object }[] = [];
    const handleOf = (server?: net.Server) => (server?.listening ? (server as unknown as { _handle?: object })._handle : undefined);
    const http = handleOf(this.proxy.server);
    if (http && this.settings.listenFds?.http === undefined) out.push({ which: 'http', handle: http });
    const tls = this.tlsPort ? handleOf(this.proxy.tlsServer) : undefined;
    if (tls && this.settings.listenFds?.tls === undefined) out.push({ which: 'tls', handle: tls });
    return out;
  }

  startPruning(): void {
    if (this.pruneTimer) return;
    this.pruneTimer = setInterval(() => this.prune(), this.settings.pruneIntervalMs);
    this.pruneTimer.unref();
  }

  prune(now = Date.now()): number {
    const removed = this.registry.prune(now);
    if (removed > 0) {
      this.pruned += removed;
      this.options.log.info('pruned stale endpoints', { removed, routes: this.registry.routeCount });
    }
    return removed;
  }

  register(msg: RouterRegisterMessage, at: number): void {
    this.registry.register(msg, at);
    this.proxy.routesChanged();
  }

  warmUp(state: WarmUpState): void {
    this.proxy.warmUp(state.until, state.settled);
  }

  unregister(msg: RouterRegisterMessage): void {
    this.registry.unregister(msg);
  }

  busDown(at: number): void {
    this.registry.suspendPruning(at);
  }

  busUp(at: number): void {
    this.registry.resumePruning(at);
  }

  report(): RouterReport {
    return {
      pid: process.pid,
      port: this.port,
      tls_port: this.tlsPort,
      host_certificates: this.certificates?.made ?? 0,
      routes: this.registry.routeCount,
      endpoints: this.registry.endpointCount,
      connections: this.proxy.connections.size,
      idle_backend_connections: this.proxy.backends.idleCount,
      stats: this.stats.snapshot(),
    };
  }

  async close(graceMs?: number): Promise<void> {
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    this.pruneTimer = undefined;
    await this.proxy.close(graceMs);
  }
}
