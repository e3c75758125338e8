// Several router processes sharing the router port (node:cluster). The component process is the
// primary: it alone talks to the bus, keeps the authoritative route table and relays every change
// to the workers over IPC; each worker holds a copy of the table and proxies. Workers send back
// their counters (every STATS_INTERVAL_MS) and access-log lines (batched), which the primary
// publishes. A worker that dies is replaced and given the table; when the primary dies, the
// workers' IPC channel closes and node:cluster makes them exit.
import cluster, { type Worker } from 'node:cluster';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RouterRegisterMessage } from '../common/bus-messages.js';
import type { Logger } from '../common/log.js';
import { backoffDelay } from '../common/poll.js';
import type { RouteSink, WarmUpState } from './bus.js';
import type { PendingLine } from './handlers/access-log.js';
import { RouteRegistry } from './registry.js';
import type { RouterReport } from './router.js';
import type { RouterSettings } from './settings.js';
import { mergeSnapshots, type StatsSnapshot } from './stats.js';

export const STATS_INTERVAL_MS = 500;
export const WORKER_SETTINGS_ENV = 'DEVBOX_ROUTER_WORKER_SETTINGS';

/** How a worker reaches the bus itself (the primary's own connection settings). */
export interface BusAccess {
  servers: string[];
  token?: string;
  user?: string;
  pass?: string;
}

/** primary → worker */
export type ToWorker =
  | { t: 'table'; entries: { msg: RouterRegisterMessage; at: number }[]; suspended: boolean; at: number; warm: WarmUpState }
  | { t: 'warm'; warm: WarmUpState }
  | { t: 'bus-access'; access: BusAccess }
  | { t: 'register'; msg: RouterRegisterMessage; at: number }
  | { t: 'unregister'; msg: RouterRegisterMessage; at: number }
  | { t: 'bus'; up: boolean; at: number }
  /** Send the listening sockets (their handles) up: the supervisor keeps them open across restarts. */
  | { t: 'send-sockets' }
  | { t: 'stop' };

/** worker → primary */
export type FromWorker =
  | { t: 'ready' }
  | { t: 'listening'; port: number; tlsPort: number }
  | { t: 'report'; report: RouterReport }
  | { t: 'logs'; lines: PendingLine[] }
  /** With the socket's handle. */
  | { t: 'socket'; which: 'http' | 'tls' };

interface WorkerState {
  worker: Worker;
  slot: number;
  ready: boolean;
  listening: boolean;
  report?: RouterReport;
}

export interface ClusterOptions {
  settings: RouterSettings;
  log: Logger;
  /** The component's index: the source instance of the access-log lines ([RTR/0]). */
  sourceInstance?: string;
  /** Access-log lines relayed by workers that have no bus connection of their own. */
  onAccessLog(lines: PendingLine[]): void;
  /** The listening sockets a worker bound (settings.handOverSockets): this process's copy of each. */
  onSocket?(which: 'http' | 'tls', handle: object): void;
}

/** The worker entry module next to this one (worker.js when built, worker.ts under tsx). */
export function workerModule(): string {
  const self = fileURLToPath(import.meta.url);
  return path.join(path.dirname(self), `worker${path.extname(self)}`);
}

export class RouterCluster implements RouteSink {
  /** The authoritative table: what a new worker is given. */
  readonly registry: RouteRegistry;
  private readonly slots: (WorkerState | undefined)[];
  private stopping = false;
  private pruneTimer?: NodeJS.Timeout;
  /** Counters of workers that have exited, so that /varz does not go backwards. */
  private retired: StatsSnapshot[] = [];
  private restarts = 0;
  private port = 0;
  /** The HTTPS port the workers listen on (0: none). */
  tlsPort = 0;
  private readonly failures: number[] = [];
  private listeningWaiters: (() => void)[] = [];
  private busAccess?: BusAccess;
  /** The warm-up after the start (none by default), as the workers are told. */
  private warm: WarmUpState = { until: 0, settled: true };
  /** The sockets were asked of a worker (once: every worker listens on the same ones). */
  private socketsAsked = false;

  constructor(private readonly options: ClusterOptions) {
    this.registry = new RouteRegistry({ pruneThresholdMs: options.settings.pruneThresholdMs });
    this.slots = new Array(options.settings.workers).fill(undefined);
  }

  /** Forks the workers; resolves once every one listens on the router port. */
  async start(timeoutMs = 20_000): Promise<number> {
    const { settings } = this.options;
    cluster.schedulingPolicy = settings.scheduling === 'none' ? cluster.SCHED_NONE : cluster.SCHED_RR;
    // Listening sockets inherited from the supervisor reach every worker at the same fd numbers.
    const fds = [settings.listenFds?.http, settings.listenFds?.tls].filter((fd): fd is number => fd !== undefined);
    const stdio = fds.length === 0 ? undefined : ['inherit', 'inherit', 'inherit', ...Array.from({ length: Math.max(...fds) - 2 }, (_, i) => (fds.includes(i + 3) ? i + 3 : 'ignore')), 'ipc'];
    cluster.setupPrimary({ exec: workerModule(), args: [], silent: false, ...(stdio ? { stdio } : {}) });
    this.pruneTimer = setInterval(() => this.registry.prune(), settings.pruneIntervalMs);
    this.pruneTimer.unref();
    for (let slot = 0; slot < this.slots.length; slot++) this.fork(slot);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`router workers did not listen within ${timeoutMs} ms`)), timeoutMs);
      const check = () => {
        if (this.allListening) {
          clearTimeout(timer);
          resolve();
        } else this.listeningWaiters.push(check);
      };
      check();
    });
    return this.port;
  }

  get allListening(): boolean {
    return this.slots.every((s) => s?.listening);
  }

  private fork(slot: number): void {
    const { settings, log } = this.options;
    // Every worker listens with the same arguments: node:cluster keys the shared socket by them, so
    // a replacement joins the existing socket (with port 0, the port the first workers got).
    const worker = cluster.fork({
      [WORKER_SETTINGS_ENV]: JSON.stringify(settings),
      DEVBOX_ROUTER_WORKER_SLOT: String(slot),
      DEVBOX_ROUTER_SOURCE_INSTANCE: this.options.sourceInstance ?? '0',
    });
    const state: WorkerState = { worker, slot, ready: false, listening: false };
    this.slots[slot] = state;
    worker.on('message', (message: FromWorker, handle?: object) => this.onMessage(state, message, handle));
    worker.on('exit', (code, signal) => this.onExit(state, code, signal));
    worker.on('error', (error) => log.error('router worker error', { slot, error: error.message }));
  }

  private onMessage(state: WorkerState, message: FromWorker, handle?: object): void {
    switch (message.t) {
      case 'ready':
        state.ready = true;
        this.send(state, { t: 'table', entries: this.registry.snapshot(), suspended: this.registry.pruningSuspended, at: Date.now(), warm: this.warm });
        if (this.busAccess) this.send(state, { t: 'bus-access', access: this.busAccess });
        break;
      case 'listening':
        state.listening = true;
        this.port = message.port;
        this.tlsPort = message.tlsPort;
        this.options.log.info('router worker listening', { slot: state.slot, pid: state.worker.process.pid, port: message.port, tls_port: message.tlsPort || undefined });
        for (const waiter of this.listeningWaiters.splice(0)) waiter();
        // The sockets the workers share, for the supervisor to keep (not with 'rr': the primary holds
        // that socket inside node:cluster, and the workers only a stand-in).
        if (this.options.settings.handOverSockets && this.options.settings.scheduling === 'none' && !this.socketsAsked) {
          this.socketsAsked = true;
          this.send(state, { t: 'send-sockets' });
        }
        break;
      case 'socket':
        if (handle) this.options.onSocket?.(message.which, handle);
        break;
      case 'report':
        state.report = message.report;
        break;
      case 'logs':
        this.options.onAccessLog(message.lines);
        break;
    }
  }

  private onExit(state: WorkerState, code: number | null, signal: string | null): void {
    if (this.slots[state.slot] !== state) return;
    if (state.report) this.retired.push(state.report.stats);
    if (this.retired.length > 16) this.retired = [mergeSnapshots(this.retired)];
    this.slots[state.slot] = undefined;
    if (this.stopping) return;
    // Replace it, backing off if workers keep dying.
    const now = Date.now();
    this.failures.push(now);
    while (this.failures.length > 0 && now - this.failures[0] > 60_000) this.failures.shift();
    const delay = backoffDelay({ initialMs: 100, maxMs: 5_000 }, this.failures.length - 1);
    this.restarts++;
    this.options.log.error('router worker exited; starting another', { slot: state.slot, code, signal, delay_ms: delay });
    setTimeout(() => {
      if (!this.stopping) this.fork(state.slot);
    }, delay).unref();
  }

  private send(state: WorkerState, message: ToWorker): void {
    if (!state.ready || !state.worker.isConnected()) return;
    try {
      state.worker.send(message);
    } catch (error) {
      this.options.log.warn('could not reach a router worker', { slot: state.slot, error: (error as Error).message });
    }
  }

  private broadcast(message: ToWorker): void {
    for (const state of this.slots) if (state) this.send(state, message);
  }

  /**
   * Lets the workers publish their access-log lines to the bus themselves (a bus write per batch in
   * each worker, instead of relaying every line through this process). Until then, and if a worker
   * cannot connect, lines come here over IPC.
   */
  shareBus(access: BusAccess): void {
    this.busAccess = access;
    this.broadcast({ t: 'bus-access', access });
  }

  register(msg: RouterRegisterMessage, at: number): void {
    this.registry.register(msg, at);
    this.broadcast({ t: 'register', msg, at });
  }

  unregister(msg: RouterRegisterMessage, at: number): void {
    this.registry.unregister(msg);
    this.broadcast({ t: 'unregister', msg, at });
  }

  warmUp(state: WarmUpState): void {
    this.warm = state;
    this.broadcast({ t: 'warm', warm: state });
  }

  busDown(at: number): void {
    this.registry.suspendPruning(at);
    this.broadcast({ t: 'bus', up: false, at });
  }

  busUp(at: number): void {
    this.registry.resumePruning(at);
    this.broadcast({ t: 'bus', up: true, at });
  }

  /** Per worker, and the counters of all (including exited workers) added up. */
  reports(): { workers: (RouterReport & { slot: number })[]; total: StatsSnapshot; restarts: number } {
    const workers: (RouterReport & { slot: number })[] = [];
    for (const state of this.slots) if (state?.report) workers.push({ slot: state.slot, ...state.report });
    return { workers, total: mergeSnapshots([...this.retired, ...workers.map((w) => w.stats)]), restarts: this.restarts };
  }

  async stop(timeoutMs = 8_000): Promise<void> {
    this.stopping = true;
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    const exits: Promise<void>[] = [];
    for (const state of this.slots) {
      if (!state) continue;
      const { worker } = state;
      if (worker.isDead()) continue;
      exits.push(
        new Promise<void>((resolve) => {
          worker.once('exit', () => resolve());
          const killer = setTimeout(() => worker.process.kill('SIGKILL'), timeoutMs);
          killer.unref();
          worker.once('exit', () => clearTimeout(killer));
          if (worker.isConnected()) worker.send({ t: 'stop' } satisfies ToWorker);
          else worker.process.kill('SIGTERM');
        }),
      );
    }
    await Promise.all(exits);
  }
}
