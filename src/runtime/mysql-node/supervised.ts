// The node's private MySQL server, kept running: started in $DEVBOX_HOME/mysql/node-<index>/ on the
// port it had last time when that is still free (bindings' credentials carry the port), else on a
// fresh one; restarted with a bounded backoff when it dies; stopped cleanly on stop. A node that was
// killed leaves its mysqld running (SIGKILL gives it no chance to stop it): the next node adopts that
// server when it answers, so the apps' connections to their databases survive the node's crash.
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../common/log.js';
import { freePort, isListening } from '../common/net.js';
import { sleep, waitFor } from '../common/poll.js';
import { startPrivateMysqld } from './mysqld.js';

const BACKOFF_MS = [250, 500, 1_000, 2_000, 5_000, 10_000];
/** A server that stayed up this long resets the backoff. */
const STABLE_MS = 30_000;

/** The server the node runs its databases on: one it started, or one it adopted. */
interface RunningMysqld {
  pid: number;
  port: number;
  adopted: boolean;
  running(): boolean;
  /** Called once, when the server has gone (unless it was stopped by stop()). */
  onExit(listener: (code: number | null, signal: string | null) => void): void;
  stop(): Promise<void>;
}

export class SupervisedMysqld {
  private server: RunningMysqld | undefined;
  private stopping = false;
  private restarting: Promise<void> | undefined;
  private failures = 0;
  private startedAt = 0;
  restarts = 0;
  lastError: string | undefined;

  constructor(
    private readonly options: {
      dir: string;
      rootPassword: string;
      log: Logger;
      onRestart?: () => void;
      /** Ports the box has promised to others (router, bus, status servers): never MySQL's. */
      reservedPorts?: number[];
    },
  ) {}

  get port(): number | undefined {
    return this.server?.port;
  }

  get pid(): number | undefined {
    return this.server?.pid;
  }

  get running(): boolean {
    return this.server?.running() ?? false;
  }

  /** Adopts the server a killed node left running when it answers, else starts one. */
  async start(): Promise<{ pid: number; port: number; adopted: boolean }> {
    const left = await adoptLeftServer(this.options.dir, this.options.rootPassword);
    if (left) {
      this.options.log.warn('adopted the mysqld an earlier node left running', { pid: left.pid, port: left.port });
      fs.writeFileSync(path.join(this.options.dir, 'port'), `${left.port}\n`, { mode: 0o600 });
      this.watch(left);
      return left;
    }
    await killStaleServer(this.options.dir, this.options.log);
    return this.launch();
  }

  private async pickPort(): Promise<number> {
    const file = path.join(this.options.dir, 'port');
    const previous = Number(fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim() : NaN);
    const reserved = new Set(this.options.reservedPorts ?? []);
    if (Number.isInteger(previous) && previous > 0 && !reserved.has(previous) && !(await isListening(previous))) return previous;
    return freePort('127.0.0.1', { exclude: reserved });
  }

  private async launch(): Promise<RunningMysqld> {
    const port = await this.pickPort();
    const started = await startPrivateMysqld({ dir: this.options.dir, port, rootPassword: this.options.rootPassword });
    fs.writeFileSync(path.join(this.options.dir, 'port'), `${port}\n`, { mode: 0o600 });
    const { child } = started;
    const server: RunningMysqld = {
      pid: started.pid,
      port,
      adopted: false,
      running: () => child.exitCode === null && child.signalCode === null,
      onExit: (listener) => child.once('exit', listener),
      stop: () => started.stop(),
    };
    this.watch(server);
    return server;
  }

  /** Makes `server` the current one, restarted when it goes. */
  private watch(server: RunningMysqld): void {
    this.server = server;
    this.startedAt = Date.now();
    this.lastError = undefined;
    server.onExit((code, signal) => {
      if (this.stopping || this.server !== server) return;
      this.options.log.error('mysqld exited; restarting it', { pid: server.pid, code, signal });
      this.restarting ??= this.restart().finally(() => (this.restarting = undefined));
    });
  }

  private async restart(): Promise<void> {
    if (Date.now() - this.startedAt > STABLE_MS) this.failures = 0;
    while (!this.stopping) {
      const delay = BACKOFF_MS[Math.min(this.failures, BACKOFF_MS.length - 1)];
      this.failures++;
      await sleep(delay);
      if (this.stopping) return;
      try {
        const server = await this.launch();
        this.restarts++;
        this.options.log.info('mysqld restarted', { pid: server.pid, port: server.port, restarts: this.restarts });
        this.options.onRestart?.();
        return;
      } catch (error) {
        this.lastError = (error as Error).message;
        this.options.log.error('restarting mysqld failed', { error: this.lastError, retry_in_ms: BACKOFF_MS[Math.min(this.failures, BACKOFF_MS.length - 1)] });
      }
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.restarting?.catch(() => undefined);
    await this.server?.stop();
  }
}

/**
 * The pid of a mysqld running on this node's data directory (its pid file names it, and its command
 * line names this very data directory), with the port it listens on; undefined when there is none.
 */
function serverOnDataDir(dir: string): { pid: number; port: number } | undefined {
  const pidFile = path.join(dir, 'mysqld.pid');
  let pid: number;
  try {
    pid = Number(fs.readFileSync(pidFile, 'utf8').trim());
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 1) return undefined;
  const port = portOfServer(pid, dir);
  return port === undefined ? undefined : { pid, port };
}

/** The --port of process `pid` when it is a mysqld on `dir`'s data (else undefined; 0: no --port). */
function portOfServer(pid: number, dir: string): number | undefined {
  let args: string[];
  try {
    args = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return undefined; // not running
  }
  if (!args.includes(`--datadir=${path.join(dir, 'data')}`)) return undefined;
  const port = args.find((a) => a.startsWith('--port='));
  return port ? Number(port.slice('--port='.length)) || 0 : 0;
}

/** Whether process `pid` is still a mysqld on `dir`'s data (a pid reused by another process is not). */
const runsOnDataDir = (pid: number, dir: string): boolean => portOfServer(pid, dir) !== undefined;

/** How often an adopted server (not our child: no 'exit' event) is looked for in /proc. */
const ADOPTED_POLL_MS = 250;

/**
 * The mysqld a killed node left running on this data directory, when it answers with devbox's root
 * password: taken over as it is (its databases, users and the apps' connections untouched).
 */
async function adoptLeftServer(dir: string, rootPassword: string): Promise<RunningMysqld | undefined> {
  const found = serverOnDataDir(dir);
  if (!found || found.port === 0) return undefined;
  const { pid, port } = found;
  const { createConnection } = await import('mysql2/promise');
  try {
    const connection = await createConnection({ host: '127.0.0.1', port, user: 'root', password: rootPassword, connectTimeout: 2_000 });
    await connection.end();
  } catch {
    return undefined; // still starting, stuck, or not ours to use: it is stopped and replaced
  }
  const alive = () => runsOnDataDir(pid, dir);
  let poll: NodeJS.Timeout | undefined;
  return {
    pid,
    port,
    adopted: true,
    running: alive,
    onExit(listener) {
      poll = setInterval(() => {
        if (alive()) return;
        clearInterval(poll);
        listener(null, null);
      }, ADOPTED_POLL_MS);
      poll.unref();
    },
    async stop() {
      clearInterval(poll);
      await stopServer(pid, alive);
    },
  };
}

/** SIGTERM (mysqld shuts down cleanly), SIGKILL after 20 s. */
async function stopServer(pid: number, alive: () => boolean): Promise<void> {
  const signal = (name: NodeJS.Signals) => {
    try {
      process.kill(pid, name);
    } catch {
      // gone meanwhile
    }
  };
  if (!alive()) return;
  signal('SIGTERM');
  signal('SIGCONT'); // a stopped process acts on SIGTERM only once it runs again
  // 20 s to shut down cleanly (InnoDB flushes its buffers), then it is killed.
  await waitFor<boolean>(`mysqld (pid ${pid}) to exit`, () => !alive(), { timeoutMs: 20_000, intervalMs: 100, onTimeout: () => false });
  if (alive()) signal('SIGKILL');
  await sleep(100);
}

/**
 * A mysqld left behind by a node that was killed, which could not be adopted, still holds the data
 * directory: stop it before starting ours. Only a process whose command line names this very data
 * directory is touched.
 */
async function killStaleServer(dir: string, log: Logger): Promise<void> {
  const found = serverOnDataDir(dir);
  if (!found) return;
  log.warn('stopping a mysqld left behind by an earlier node', { pid: found.pid });
  await stopServer(found.pid, () => runsOnDataDir(found.pid, dir));
}
