// The supervisor: prepares the state directory, picks ports, starts every component of the plan as
// `devbox component <name>` (a child process), waits until each answers /healthz, restarts any that
// dies (with backoff), and stops them in reverse order.
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import { componentKey } from '../common/component.js';
import { DEFAULT_SSH_PORT, DEFAULT_TLS_PORT, ensureConfig, ensureStateDirs, statePaths, writeSecretJson, type DevboxConfig, type PortsFile, type StatePaths } from '../common/config.js';
import { createLogger, redactUrl, type Logger } from '../common/log.js';
import { freePort, isListening } from '../common/net.js';
import { backoffDelay, waitFor } from '../common/poll.js';
import { ROUTER_SOCKET_MESSAGE, routerHost } from '../router/settings.js';
import { acquireLock, releaseLock } from './lock.js';
import { boxPlan, type ComponentSpec } from './plan.js';

/**
 * A log file opened for a child's stdout/stderr. execa passes a plain fd straight to spawn(), so the
 * child writes the file itself and keeps logging when the supervisor is gone; execa's types list
 * only fds 3-9, hence the cast.
 */
export function openLogFd(file: string): 3 {
  return fs.openSync(file, 'a', 0o600) as 3;
}

/**
 * True when the router on `port` has a route for `host` and `path` (any answer but its unknown_route
 * 404): the platform's endpoints after `up`, and `up`'s started apps.
 */
export function routed(port: number, host: string, path = '/'): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: 'HEAD', headers: { host: `${host}:${port}` }, timeout: 1_000 }, (res) => {
      res.resume();
      resolve(res.headers['x-cf-routererror'] !== 'unknown_route');
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

/**
 * Why `port` cannot be listened on at `host` (undefined: it can), tried by listening and closing
 * again: the router will bind it a moment later as the same user.
 */
export function bindProblem(host: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EADDRINUSE') resolve('is already in use');
      else if (error.code === 'EACCES') resolve('cannot be bound by this user (ports below 1024 need root or CAP_NET_BIND_SERVICE)');
      else resolve(`cannot be bound (${error.code ?? error.message})`);
    });
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(undefined)));
  });
}

/**
 * The router's HTTPS port for this `up` (undefined: none). `chosen` is what the user asked for
 * (`--tls-port`, else config.json's router_tls_port; 0: no HTTPS): it must be free, as the router's
 * port must, or `up` stops and says so. Without a choice the default (8443) is taken only when it is
 * free: otherwise the box starts without HTTPS and `note` says why, so that a port some other
 * program holds costs nothing to a user who does not need HTTPS.
 */
export async function chooseTlsPort(chosen: number | undefined, routerPort: number, problemOf: (port: number) => Promise<string | undefined>): Promise<{ port?: number; note?: string }> {
  const port = chosen ?? DEFAULT_TLS_PORT;
  if (port === 0) return {};
  if (port === routerPort) {
    if (chosen !== undefined) throw new Error(`port ${port} (HTTPS, for router) is also the router's HTTP port; choose another with --tls-port (0: no HTTPS)`);
    return { note: `off: port ${port} is the router's HTTP port (choose an HTTPS port with --tls-port)` };
  }
  const problem = await problemOf(port);
  if (problem === undefined) return { port };
  if (chosen !== undefined) throw new Error(`port ${port} (HTTPS, for router) ${problem}; free it or choose another with --tls-port (0: no HTTPS)`);
  return { note: `off: port ${port} ${problem} (choose an HTTPS port with --tls-port)` };
}

/**
 * The ssh proxy's port for this `up`: the user's choice (`--ssh-port`) must be free; without one,
 * DEFAULT_SSH_PORT when it is free (Cloud Foundry's), else `fallback()` (any free port): ssh is
 * reached through the port `GET /` names, so any port serves.
 */
export async function chooseSshPort(chosen: number | undefined, taken: Set<number>, problemOf: (port: number) => Promise<string | undefined>, fallback: () => Promise<number>): Promise<number> {
  if (chosen !== undefined && chosen !== 0) {
    const problem = taken.has(chosen) ? 'is taken by another of the box\'s ports' : await problemOf(chosen);
    if (problem !== undefined) throw new Error(`port ${chosen} (ssh, for ssh-proxy) ${problem}; free it or choose another with --ssh-port (0: any free port)`);
    return chosen;
  }
  if (chosen === undefined && !taken.has(DEFAULT_SSH_PORT) && (await problemOf(DEFAULT_SSH_PORT)) === undefined) return DEFAULT_SSH_PORT;
  return fallback();
}

export const DEVBOX_BIN = fileURLToPath(new URL('../../../bin/run.js', import.meta.url));

/** A listening socket's handle received from the router over IPC: this process never reads it. */
interface HeldSocket {
  fd: number;
  close(): void;
}

/**
 * A router that exits by itself (not killed by a signal) sooner than this after its start gets no
 * kept sockets next time (it binds its ports afresh), in case what it inherited is why it failed.
 */
const ROUTER_SOCKETS_TRUSTED_AFTER_MS = 5_000;

export interface SupervisorOptions {
  home: string;
  /** Use this NATS server instead of starting devbox's own bus. */
  natsUrl?: string;
  /** The router's port (default from config.json, 8080). */
  routerPort?: number;
  /**
   * The router's HTTPS port (`up --tls-port`; 0: no HTTPS). Default: config.json's router_tls_port;
   * a port chosen either way must be free. Without either, DEFAULT_TLS_PORT when it is free.
   */
  tlsPort?: number;
  /** The ssh proxy's port (`up --ssh-port`; 0: any free port); default: chooseSshPort's. */
  sshPort?: number;
  /** How many DEAs to run (default 1). */
  deas?: number;
  /** The controller's database URL (mysql://…); default SQLite in the state directory. */
  controllerDb?: string;
  /** An existing MySQL server for the MySQL service, instead of a private one. */
  mysqlUrl?: string;
  /** How long `start` waits for every component to be healthy; default startTimeoutMs(). */
  startTimeoutMs?: number;
  restartBackoff?: { initialMs: number; maxMs: number; resetAfterMs: number };
}

/**
 * How long a start waits for every component to be healthy: DEVBOX_START_TIMEOUT_MS, else 60 s. A
 * start takes seconds; a machine busy with other work (a CI runner, parallel test suites) can take
 * tens of them, and a component that cannot start (a port taken) fails the start sooner anyway.
 */
export function startTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.DEVBOX_START_TIMEOUT_MS;
  if (raw === undefined || raw === '') return 60_000;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1_000) throw new Error(`DEVBOX_START_TIMEOUT_MS must be a whole number of milliseconds, 1000 or more; got '${raw}'`);
  return value;
}

export type SupervisorEvent =
  | { type: 'plan'; components: string[] }
  | { type: 'starting'; component: string }
  | { type: 'healthy'; component: string; pid: number; ms: number }
  | { type: 'exited'; component: string; exitCode?: number; signal?: string }
  | { type: 'restarting'; component: string; delayMs: number; restarts: number }
  | { type: 'ready'; ms: number; routerPort: number; natsUrl: string; routerTlsPort?: number; tlsNote?: string }
  | { type: 'failed'; message: string };

interface Child {
  spec: ComponentSpec;
  key: string;
  statusPort: number;
  servicePort?: number;
  process?: ResultPromise;
  startedAt: number;
  restarts: number;
  consecutiveFailures: number;
  restartTimer?: NodeJS.Timeout;
}

export class Supervisor extends EventEmitter<{ event: [SupervisorEvent] }> {
  readonly paths: StatePaths;
  private config!: DevboxConfig;
  private ports!: PortsFile;
  private readonly children: Child[] = [];
  private readonly log: Logger;
  private logFd?: number;
  private stopping?: Promise<void>;
  private readonly backoff: NonNullable<SupervisorOptions['restartBackoff']>;
  /** Why the box serves no HTTPS this time, when the default port could not be had. */
  private tlsNote?: string;
  /**
   * The router's listening sockets, kept open here while it restarts (docs/faults.md): the kernel
   * goes on accepting connections into their backlog, which the next router serves. Handed over by
   * the router once it has bound them; passed to each new router process as inherited fds.
   */
  private readonly routerSockets: { http?: HeldSocket; tls?: HeldSocket } = {};

  constructor(private readonly options: SupervisorOptions) {
    super();
    this.paths = statePaths(options.home);
    ensureStateDirs(this.paths);
    this.logFd = fs.openSync(path.join(this.paths.logs, 'supervisor.log'), 'a', 0o600);
    this.log = createLogger('supervisor', {
      write: (line) => {
        if (this.logFd !== undefined) fs.writeSync(this.logFd, line);
      },
    });
    this.backoff = options.restartBackoff ?? { initialMs: 100, maxMs: 10_000, resetAfterMs: 30_000 };
  }

  private emitEvent(event: SupervisorEvent) {
    this.emit('event', event);
  }

  /** Starts the box; resolves once every component is healthy. Throws (having stopped all) otherwise. */
  async start(): Promise<void> {
    const begun = Date.now();
    this.config = ensureConfig(this.paths);
    acquireLock(this.paths.pidFile);
    try {
      await this.preparePorts();
      const plan = boxPlan({ externalBus: !!this.options.natsUrl, deas: this.options.deas });
      this.emitEvent({ type: 'plan', components: plan.map((s) => componentKey(s.name, s.index)) });
      for (const spec of plan) {
        this.children.push({ spec, key: componentKey(spec.name, spec.index), statusPort: this.ports.components[componentKey(spec.name, spec.index)].status_port, servicePort: this.servicePort(spec), startedAt: 0, restarts: 0, consecutiveFailures: 0 });
      }
      const deadline = Date.now() + (this.options.startTimeoutMs ?? startTimeoutMs());
      const first = this.children.filter((c) => c.spec.first);
      const rest = this.children.filter((c) => !c.spec.first);
      await Promise.all(first.map((c) => this.startAndWait(c, deadline)));
      await Promise.all(rest.map((c) => this.startAndWait(c, deadline)));
      await this.waitForPlatformRoutes(deadline);
      const ms = Date.now() - begun;
      this.log.info('box is up', { ms, components: this.children.map((c) => c.key) });
      this.emitEvent({ type: 'ready', ms, routerPort: this.ports.router_port, natsUrl: redactUrl(this.ports.nats_url), routerTlsPort: this.ports.router_tls_port, tlsNote: this.tlsNote });
    } catch (error) {
      this.log.error('start failed', { error: (error as Error).message });
      this.emitEvent({ type: 'failed', message: (error as Error).message });
      await this.stop();
      throw error;
    }
  }

  private servicePort(spec: ComponentSpec): number | undefined {
    if (spec.name === 'bus') return this.ports.bus_port;
    if (spec.name === 'router') return this.ports.router_port;
    if (spec.name === 'ssh-proxy') return this.ports.ssh_port;
    return undefined;
  }

  private async preparePorts(): Promise<void> {
    const plan = boxPlan({ externalBus: !!this.options.natsUrl, deas: this.options.deas });
    const routerPort = this.options.routerPort ?? this.config.router_port;
    // Checked before any component starts: a port in use is said once, and nothing is left to stop.
    const problem = await bindProblem(routerHost(), routerPort);
    if (problem !== undefined) throw new Error(`port ${routerPort} (HTTP, for router) ${problem}; free it or choose another with --port`);
    const tlsPort = await this.planTlsPort(routerPort);
    const components: PortsFile['components'] = {};
    // Every port is distinct and never the router's: the OS could hand a just-freed port out twice.
    const taken = new Set<number>([routerPort, ...(tlsPort ? [tlsPort] : [])]);
    const pick = async () => {
      const port = await freePort('127.0.0.1', { exclude: taken });
      taken.add(port);
      return port;
    };
    for (const spec of plan) components[componentKey(spec.name, spec.index)] = { status_port: await pick() };
    const busPort = this.options.natsUrl ? undefined : await pick();
    const sshPort = await chooseSshPort(this.options.sshPort, taken, (p) => bindProblem('127.0.0.1', p), pick);
    taken.add(sshPort);
    this.ports = {
      nats_url: this.options.natsUrl ?? `nats://127.0.0.1:${busPort}`,
      external_bus: !!this.options.natsUrl,
      bus_port: busPort,
      router_port: routerPort,
      ...(tlsPort ? { router_tls_port: tlsPort } : {}),
      ssh_port: sshPort,
      components,
    };
    // 0600: with --nats-url the URL may carry credentials.
    writeSecretJson(this.paths.portsFile, this.ports);
  }

  /** The router's HTTPS port (chooseTlsPort), or undefined for none. */
  private async planTlsPort(routerPort: number): Promise<number | undefined> {
    const { port, note } = await chooseTlsPort(this.options.tlsPort ?? this.config.router_tls_port, routerPort, (p) => bindProblem(routerHost(), p));
    if (note) {
      this.tlsNote = note;
      this.log.warn('serving no HTTPS', { reason: note });
    }
    return port;
  }

  private spawn(child: Child): void {
    // A start that failed stops the box while other components are still being started: none may
    // be spawned after stop() has gone past it (it would be left running, holding its port).
    if (this.stopping) return;
    const { spec } = child;
    const logFile = path.join(this.paths.logs, `${child.key}.log`);
    const out = openLogFd(logFile);
    const args = [DEVBOX_BIN, 'component', spec.name, '--index', String(spec.index), '--status-port', String(child.statusPort)];
    if (child.servicePort !== undefined) args.push('--port', String(child.servicePort));
    const env: Record<string, string> = { DEVBOX_HOME: this.paths.home };
    // The router's sockets: inherited at fds 3 (HTTP) and 4 (HTTPS) when kept here; else it binds
    // them and sends them over.
    const sockets = spec.name === 'router' ? this.routerSockets : {};
    const inherited = sockets.http ? [sockets.http.fd, ...(sockets.tls ? [sockets.tls.fd] : [])] : [];
    if (spec.name === 'router') {
      env.DEVBOX_ROUTER_HAND_OVER_SOCKETS = '1';
      if (inherited.length > 0) env.DEVBOX_ROUTER_LISTEN_FDS = inherited.map((_, i) => i + 3).join(',');
    }
    if (this.options.natsUrl) env.DEVBOX_NATS_URL = this.options.natsUrl;
    // Credentials travel in the environment (readable only by this user), never on command lines.
    if (this.options.controllerDb) env.DEVBOX_CONTROLLER_DB = this.options.controllerDb;
    if (this.options.mysqlUrl) env.DEVBOX_MYSQL_URL = this.options.mysqlUrl;
    const subprocess = execa(process.execPath, args, {
      env,
      ...(inherited.length > 0 ? { stdio: ['ignore', out, out, ...(inherited as 3[])] } : { stdin: 'ignore', stdout: out, stderr: out }),
      ipc: true,
      reject: false,
      // Not execa's cleanup: its SIGTERM handler would kill every child at once and end this process
      // before the ordered stop. A component exits by itself when its IPC channel to us closes.
      cleanup: false,
    });
    fs.closeSync(out);
    child.process = subprocess;
    child.startedAt = Date.now();
    if (spec.name === 'router') subprocess.on('message', (message: unknown, handle?: unknown) => this.onRouterSocket(message, handle));
    this.log.info('component started', { name: child.key, pid: subprocess.pid, inherited_sockets: inherited.length || undefined });
    void subprocess.then((result) => this.onExit(child, subprocess, result.exitCode, result.signal));
  }

  /** A listening socket the router bound: kept (replacing an older one for the same port). */
  private onRouterSocket(message: unknown, handle: unknown): void {
    const m = message as { type?: unknown; which?: unknown } | null;
    if (m?.type !== ROUTER_SOCKET_MESSAGE || (m.which !== 'http' && m.which !== 'tls')) return;
    const socket = handle as HeldSocket | undefined;
    if (!socket || typeof socket.fd !== 'number' || socket.fd < 0 || typeof socket.close !== 'function') return;
    if (this.stopping) return socket.close();
    this.routerSockets[m.which]?.close();
    this.routerSockets[m.which] = socket;
    this.log.info('keeping the router\'s listening socket across its restarts', { which: m.which });
  }

  private releaseRouterSockets(reason: string): void {
    if (!this.routerSockets.http && !this.routerSockets.tls) return;
    this.routerSockets.http?.close();
    this.routerSockets.tls?.close();
    delete this.routerSockets.http;
    delete this.routerSockets.tls;
    this.log.info('released the router\'s listening sockets', { reason });
  }

  private onExit(child: Child, subprocess: ResultPromise, exitCode?: number, signal?: string): void {
    if (child.process !== subprocess) return;
    child.process = undefined;
    this.emitEvent({ type: 'exited', component: child.key, exitCode, signal });
    if (this.stopping) return;
    const ranFor = Date.now() - child.startedAt;
    if (child.spec.name === 'router' && signal === undefined && ranFor < ROUTER_SOCKETS_TRUSTED_AFTER_MS) {
      this.releaseRouterSockets(`the router exited with code ${exitCode} ${ranFor} ms after its start`);
    }
    child.consecutiveFailures = ranFor > this.backoff.resetAfterMs ? 1 : child.consecutiveFailures + 1;
    const delayMs = backoffDelay(this.backoff, child.consecutiveFailures - 1);
    child.restarts++;
    this.log.warn('component exited unexpectedly; restarting', { name: child.key, exit_code: exitCode, signal, restarts: child.restarts, delay_ms: delayMs });
    this.emitEvent({ type: 'restarting', component: child.key, delayMs, restarts: child.restarts });
    child.restartTimer = setTimeout(() => {
      child.restartTimer = undefined;
      if (!this.stopping) this.spawn(child);
    }, delayMs);
  }

  private async startAndWait(child: Child, deadline: number): Promise<void> {
    const begun = Date.now();
    this.emitEvent({ type: 'starting', component: child.key });
    if (child.servicePort !== undefined && (await isListening(child.servicePort))) {
      const flag = child.spec.name === 'ssh-proxy' ? '--ssh-port' : '--port';
      throw new Error(`port ${child.servicePort} (for ${child.key}) is already in use; free it or choose another with ${flag}`);
    }
    if (this.stopping) throw new Error(`${child.key} was not started: the box is stopping`);
    this.spawn(child);
    const subprocess = child.process!;
    let exited = false;
    void subprocess.then(() => (exited = true));
    await waitFor(
      `${child.key} to become healthy`,
      async () => {
        if (await this.isHealthy(child)) return true;
        if (exited) throw new Error(`${child.key} exited while starting:\n${this.logTail(child.key)}`);
        return false;
      },
      {
        deadline,
        intervalMs: 15,
        retryIf: () => false,
        onTimeout: () => {
          throw new Error(`${child.key} did not become healthy in time:\n${this.logTail(child.key)}`);
        },
      },
    );
    this.emitEvent({ type: 'healthy', component: child.key, pid: subprocess.pid ?? 0, ms: Date.now() - begun });
  }

  /**
   * A box is up when its endpoints answer through the router, not just when each process is healthy:
   * a route registered just before the router subscribed arrives again only with its next refresh.
   */
  private async waitForPlatformRoutes(deadline: number): Promise<void> {
    const names = new Set(this.children.map((c) => c.spec.name));
    if (!names.has('router')) return;
    const hosts = [names.has('controller') && `api.${this.config.domain}`, names.has('uaa') && `uaa.${this.config.domain}`].filter((h): h is string => !!h);
    for (const host of hosts) {
      await waitFor(`the router to route ${host}`, () => routed(this.ports.router_port, host), {
        deadline,
        intervalMs: 15,
        onTimeout: () => {
          throw new Error(`the router does not route ${host} yet; see ${this.paths.logs}/router.log`);
        },
      });
    }
  }

  async isHealthy(child: Child): Promise<boolean> {
    try {
      const auth = Buffer.from(`${this.config.status.user}:${this.config.status.password}`).toString('base64');
      const res = await fetch(`http://127.0.0.1:${child.statusPort}/healthz`, { headers: { authorization: `Basic ${auth}` }, signal: AbortSignal.timeout(1_000) });
      await res.arrayBuffer();
      return res.status === 200;
    } catch {
      return false;
    }
  }

  /** The last lines of a component's log, to show why it failed. */
  logTail(key: string, lines = 15): string {
    try {
      const text = fs.readFileSync(path.join(this.paths.logs, `${key}.log`), 'utf8');
      return text.trimEnd().split('\n').slice(-lines).map((l) => `  ${l}`).join('\n');
    } catch {
      return '  (no log)';
    }
  }

  /** Stops every component in reverse start order (SIGTERM, SIGKILL after 10 s) and frees the lock. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      // New connections are refused from now on, rather than waiting in a backlog nobody will serve.
      this.releaseRouterSockets('the box stops');
      for (const child of [...this.children].reverse()) {
        if (child.restartTimer) clearTimeout(child.restartTimer);
        const subprocess = child.process;
        if (!subprocess) continue;
        subprocess.kill('SIGTERM');
        const killer = setTimeout(() => subprocess.kill('SIGKILL'), 10_000);
        await subprocess;
        clearTimeout(killer);
        this.log.info('component stopped', { name: child.key });
      }
      fs.rmSync(this.paths.portsFile, { force: true });
      releaseLock(this.paths.pidFile);
      this.log.info('box is down');
      if (this.logFd !== undefined) fs.closeSync(this.logFd);
      this.logFd = undefined;
    })();
    return this.stopping;
  }
}
