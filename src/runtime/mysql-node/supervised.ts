// The node's private MySQL server, kept running: started in $DEVBOX_HOME/mysql/node-<index>/ on the
// port it had last time when that is still free (bindings' credentials carry the port), else on a
// fresh one; restarted with a bounded backoff when it dies; stopped cleanly on stop.
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../common/log.js';
import { freePort, isListening, sleep } from '../common/net.js';
import { startPrivateMysqld, type PrivateMysqld } from './mysqld.js';

const BACKOFF_MS = [250, 500, 1_000, 2_000, 5_000, 10_000];
/** A server that stayed up this long resets the backoff. */
const STABLE_MS = 30_000;

export class SupervisedMysqld {
  private server: PrivateMysqld | undefined;
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
    const child = this.server?.child;
    return !!child && child.exitCode === null && child.signalCode === null;
  }

  async start(): Promise<PrivateMysqld> {
    await killStaleServer(this.options.dir, this.options.log);
    const server = await this.launch();
    return server;
  }

  private async pickPort(): Promise<number> {
    const file = path.join(this.options.dir, 'port');
    const previous = Number(fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim() : NaN);
    const reserved = new Set(this.options.reservedPorts ?? []);
    if (Number.isInteger(previous) && previous > 0 && !reserved.has(previous) && !(await isListening(previous))) return previous;
    return freePort('127.0.0.1', { exclude: reserved });
  }

  private async launch(): Promise<PrivateMysqld> {
    const port = await this.pickPort();
    const server = await startPrivateMysqld({ dir: this.options.dir, port, rootPassword: this.options.rootPassword });
    fs.writeFileSync(path.join(this.options.dir, 'port'), `${port}\n`, { mode: 0o600 });
    this.server = server;
    this.startedAt = Date.now();
    this.lastError = undefined;
    server.child.once('exit', (code, signal) => {
      if (this.stopping || this.server !== server) return;
      this.options.log.error('mysqld exited; restarting it', { pid: server.pid, code, signal });
      this.restarting ??= this.restart().finally(() => (this.restarting = undefined));
    });
    return server;
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
 * A mysqld left behind by a node that was killed (SIGKILL gives it no chance to stop its child)
 * still holds the data directory: stop it before starting ours. Only a process whose command line
 * names this very data directory is touched.
 */
async function killStaleServer(dir: string, log: Logger): Promise<void> {
  const pidFile = path.join(dir, 'mysqld.pid');
  if (!fs.existsSync(pidFile)) return;
  const pid = Number(fs.readFileSync(pidFile, 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 1) return;
  let cmdline = '';
  try {
    cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return; // not running
  }
  if (!cmdline.includes(`--datadir=${path.join(dir, 'data')}`)) return;
  log.warn('stopping a mysqld left behind by an earlier node', { pid });
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline && fs.existsSync(`/proc/${pid}`)) await sleep(100);
  if (fs.existsSync(`/proc/${pid}`)) process.kill(pid, 'SIGKILL');
  await sleep(100);
}
