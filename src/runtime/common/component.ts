// The lifecycle every component shares: status server (/healthz, /varz), bus connection,
// vcap.component.announce / .discover, graceful stop on SIGTERM, and exit when the supervisor that
// started it goes away. A component module only says what it does between start and stop.
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { connectBus, embeddedBusUrl, publish, respond, subscribe, type NatsConnection } from './bus.js';
import { componentAnnounce, componentDiscover, type ComponentAnnouncement } from './bus-messages.js';
import { loadConfig, readPorts, statePaths, type DevboxConfig, type PortsFile, type StatePaths } from './config.js';
import { createLogger, type Logger } from './log.js';
import { sleep } from './net.js';
import { startStatusServer, type StatusServer } from './status.js';

export interface ComponentContext {
  name: string;
  index: number;
  /** Unique per process start, as Cloud Foundry components had. */
  uuid: string;
  home: string;
  paths: StatePaths;
  config: DevboxConfig;
  ports?: PortsFile;
  /** The component's own service port where it has one (the bus's client port, the router's). */
  port?: number;
  /** The address its servers listen on (`--host`, DEVBOX_HOST; default 127.0.0.1: DESIGN.md §3). */
  host?: string;
  /**
   * The address other machines reach it at (`--advertise`, DEVBOX_ADVERTISE): what it registers with
   * the routers and announces on the bus. Default: the listen address, or the machine's first
   * external IPv4 address when that is a wildcard. Components read both through resolveAddresses(ctx).
   */
  advertise?: string;
  log: Logger;
}

export interface Component {
  /** Work that must happen before the bus connection exists (only the bus itself needs this). */
  listen?(): Promise<void>;
  start(bus: NatsConnection): Promise<void>;
  varz(): Record<string, unknown>;
  healthy(): boolean;
  stop(): Promise<void>;
}

export interface ComponentModule {
  /** Cloud Foundry's name for the component type in discovery and /varz (e.g. "Router", "NATS"). */
  type: string;
  create(ctx: ComponentContext): Component;
}

export interface ComponentOptions {
  name: string;
  index?: number;
  home: string;
  natsUrl?: string;
  statusPort?: number;
  port?: number;
  host?: string;
  advertise?: string;
}

export const componentKey = (name: string, index = 0) => (index === 0 ? name : `${name}-${index}`);

export function formatUptime(seconds: number): string {
  const s = Math.floor(seconds);
  return `${Math.floor(s / 86400)}d:${Math.floor((s % 86400) / 3600)}h:${Math.floor((s % 3600) / 60)}m:${s % 60}s`;
}

/** Where this component finds the bus: the flag, then DEVBOX_NATS_URL, then the box's own bus. */
export function resolveNatsUrl(options: { natsUrl?: string }, config: DevboxConfig, ports?: PortsFile): string {
  if (options.natsUrl) return options.natsUrl;
  if (process.env.DEVBOX_NATS_URL) return process.env.DEVBOX_NATS_URL;
  if (ports && !ports.external_bus && ports.bus_port) return embeddedBusUrl(ports.bus_port, config.bus.token);
  throw new Error('no bus to connect to: pass --nats-url nats://[token@]host:port, or start the box with `devbox up`');
}

const isWildcard = (host: string) => host === '0.0.0.0' || host === '::' || host === '';

/** The machine's first non-internal IPv4 address (what others can reach), else loopback. */
export function externalAddress(): string {
  for (const addresses of Object.values(os.networkInterfaces())) {
    const found = addresses?.find((a) => a.family === 'IPv4' && !a.internal);
    if (found) return found.address;
  }
  return '127.0.0.1';
}

/** Where a component listens and what it advertises: the flags, then DEVBOX_HOST / DEVBOX_ADVERTISE. */
export function resolveAddresses(options: { host?: string; advertise?: string }, env: NodeJS.ProcessEnv = process.env): { host: string; advertise: string } {
  const host = options.host || env.DEVBOX_HOST || '127.0.0.1';
  const advertise = options.advertise || env.DEVBOX_ADVERTISE || (isWildcard(host) ? externalAddress() : host);
  return { host, advertise };
}

/** Runs one component in this process until SIGTERM/SIGINT (or the supervisor's exit). */
export async function runComponent(module: ComponentModule, options: ComponentOptions): Promise<void> {
  const index = options.index ?? 0;
  const key = componentKey(options.name, index);
  const paths = statePaths(options.home);
  const config = loadConfig(paths);
  const ports = readPorts(paths);
  const log = createLogger(key);
  const startedAt = Date.now();
  const { host, advertise } = resolveAddresses(options);
  const ctx: ComponentContext = {
    name: options.name,
    index,
    uuid: randomUUID(),
    home: options.home,
    paths,
    config,
    ports,
    port: options.port,
    host,
    advertise,
    log,
  };
  const component = module.create(ctx);
  let bus: NatsConnection | undefined;
  let started = false;
  let stopping: Promise<void> | undefined;

  const identity = (status: StatusServer): ComponentAnnouncement => ({
    type: module.type,
    index,
    uuid: ctx.uuid,
    host: `${advertise.includes(':') ? `[${advertise}]` : advertise}:${status.port}`,
    credentials: [config.status.user, config.status.password],
    start: new Date(startedAt).toISOString(),
    uptime: formatUptime((Date.now() - startedAt) / 1000),
    pid: process.pid,
  });

  const statusPort = options.statusPort ?? ports?.components[key]?.status_port ?? 0;
  const status = await startStatusServer({
    host,
    port: statusPort,
    user: config.status.user,
    password: config.status.password,
    healthy: () => started && !stopping && !!bus && !bus.isClosed() && component.healthy(),
    varz: () => {
      const usage = process.memoryUsage();
      const { credentials: _credentials, ...id } = identity(status);
      return {
        ...id,
        name: key,
        uptime_seconds: Math.round((Date.now() - startedAt) / 1000),
        mem: Math.round(usage.rss / 1024),
        mem_bytes: usage.rss,
        cpu_seconds: process.cpuUsage().user / 1e6 + process.cpuUsage().system / 1e6,
        ...component.varz(),
      };
    },
  });

  const stop = (reason: string, code = 0) => {
    stopping ??= (async () => {
      log.info('stopping', { reason });
      const guard = setTimeout(() => {
        log.error('stop took too long; exiting');
        process.exit(1);
      }, 15_000);
      guard.unref();
      try {
        await component.stop();
        // Bounded: the bus component has just closed the server this client is connected to.
        if (bus && !bus.isClosed()) await Promise.race([bus.drain().catch(() => undefined), sleep(1_000)]);
        await bus?.close();
        await status.close();
      } catch (error) {
        log.error('error while stopping', { error: (error as Error).message });
        code = 1;
      }
      log.info('stopped');
      process.exit(code);
    })();
    return stopping;
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
  // Started by a supervisor with an IPC channel: when the supervisor dies (even by kill -9), the
  // channel closes and the component goes too, so no orphan keeps a port after the box is gone.
  if (process.connected) process.once('disconnect', () => void stop('supervisor went away'));
  process.on('unhandledRejection', (error) => log.error('unhandled rejection', { error: String(error) }));
  process.on('uncaughtException', (error) => {
    log.error('uncaught exception; exiting so the supervisor restarts this component', { error: error.stack ?? String(error) });
    process.exit(1);
  });

  await component.listen?.();
  const natsUrl = resolveNatsUrl(options, config, ports);
  bus = await connectBus(natsUrl, { name: key, log });
  await component.start(bus);
  const connected = bus;
  subscribe(connected, componentDiscover, (_body, msg) => respond(connected, msg, componentDiscover, identity(status)), { log });
  publish(bus, componentAnnounce, identity(status));
  started = true;
  log.info('started', { status_port: status.port, pid: process.pid });
}
