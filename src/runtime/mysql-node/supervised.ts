// The node's private MySQL server, kept running: started in $DEVBOX_HOME/mysql/node-<index>/ on the
// port it had last time when that is still free (bindings' credentials carry the port), else on a
// fresh one; restarted with a bounded backoff when it dies; stopped cleanly on stop. A node that was
// killed leaves its mysqld running (SIGKILL gives it no chance to stop it): the next node adopts that
// server when it answers, so the apps' connections to their databases survive the node's crash.
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../common/log.js';
import { freePort, isListening } from '../common/net.js';
import { KeptRunning, stopProcess, type RunningServer } from '../service-base/kept-running.js';
import { startPrivateMysqld } from './mysqld.js';

/** The server the node runs its databases on: one it started, or one it adopted. */
interface RunningMysqld extends RunningServer {
  adopted: boolean;
}

export class SupervisedMysqld {
  private readonly keeper: KeptRunning<RunningMysqld>;

  constructor(
    private readonly options: {
      dir: string;
      rootPassword: string;
      log: Logger;
      onRestart?: () => void;
      /** Ports the box has promised to others (router, bus, status servers): never MySQL's. */
      reservedPorts?: number[];
    },
  ) {
    this.keeper = new KeptRunning({ what: 'mysqld', launch: () => this.launch(), log: options.log, onRestart: () => options.onRestart?.() });
  }

  get port(): number | undefined {
    return this.keeper.current?.port;
  }

  get pid(): number | undefined {
    return this.keeper.current?.pid;
  }

  get running(): boolean {
    return this.keeper.running;
  }

  get restarts(): number {
    return this.keeper.restarts;
  }

  get lastError(): string | undefined {
    return this.keeper.lastError;
  }

  /** Adopts the server a killed node left running when it answers, else starts one. */
  async start(): Promise<{ pid: number; port: number; adopted: boolean }> {
    const left = await adoptLeftServer(this.options.dir, this.options.rootPassword);
    if (left) {
      this.options.log.warn('adopted the mysqld an earlier node left running', { pid: left.pid, port: left.port });
      fs.writeFileSync(path.join(this.options.dir, 'port'), `${left.port}\n`, { mode: 0o600 });
      return this.keeper.keep(left);
    }
    await killStaleServer(this.options.dir, this.options.log);
    return this.keeper.start();
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
    return server;
  }

  async stop(): Promise<void> {
    await this.keeper.stop();
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

/** SIGTERM (mysqld shuts down cleanly: 20 s for InnoDB to flush its buffers), SIGKILL after. */
const stopServer = (pid: number, alive: () => boolean): Promise<void> => stopProcess(pid, alive, { what: 'mysqld', graceMs: 20_000 });

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
