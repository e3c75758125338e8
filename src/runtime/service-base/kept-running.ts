// A server a node keeps running (the mysql-node's mysqld, each Redis instance's redis-server): when
// it exits without being stopped it is started again, after a bounded backoff (250 ms → 10 s, reset
// once one has stayed up 30 s), until a start works or the node stops it.
import type { Logger } from '../common/log.js';
import { sleep, waitFor } from '../common/poll.js';

const BACKOFF_MS = [250, 500, 1_000, 2_000, 5_000, 10_000];
/** A server that stayed up this long resets the backoff. */
const STABLE_MS = 30_000;

export interface RunningServer {
  pid: number;
  port: number;
  running(): boolean;
  /** Called once, when the server has gone (unless it was stopped by stop()). */
  onExit(listener: (code: number | null, signal: string | null) => void): void;
  stop(): Promise<void>;
}

export interface KeptRunningOptions<S extends RunningServer> {
  /** What the server is, in the log (`mysqld`, `redis-server for <instance>`). */
  what: string;
  /** Starts a server, resolving once it serves. */
  launch: () => Promise<S>;
  log: Logger;
  /** After a restart (the node announces again: the port may have changed). */
  onRestart?: (server: S) => void;
}

export class KeptRunning<S extends RunningServer> {
  private server: S | undefined;
  private stopping = false;
  private restarting: Promise<void> | undefined;
  private starting: Promise<unknown> | undefined;
  /** Ends the wait before the next restart at once (stop() does not wait out a backoff). */
  private wake: (() => void) | undefined;
  private failures = 0;
  private startedAt = 0;
  restarts = 0;
  lastError: string | undefined;

  constructor(private readonly o: KeptRunningOptions<S>) {}

  get current(): S | undefined {
    return this.server;
  }

  get running(): boolean {
    return this.server?.running() ?? false;
  }

  /** Launches the first server and keeps it running (one that comes up after stop() is stopped again). */
  start(): Promise<S> {
    const started = (async () => {
      const server = await this.o.launch();
      if (this.stopping) {
        await server.stop();
        throw new Error(`${this.o.what} was stopped while it started`);
      }
      return this.keep(server);
    })();
    this.starting = started.catch(() => undefined);
    return started;
  }

  /**
   * start() for nobody waiting (a node's own start): a first start that fails is tried again, as
   * after a crash, until one works or stop().
   */
  startInBackground(): void {
    this.start().catch((error: Error) => {
      if (this.stopping) return;
      this.lastError = error.message;
      this.o.log.error(`${this.o.what} did not start; trying again`, { error: error.message });
      this.restarting ??= this.restart().finally(() => (this.restarting = undefined));
    });
  }

  /** Makes `server` (launched, or adopted) the one kept running: started again when it goes. */
  keep(server: S): S {
    this.server = server;
    this.startedAt = Date.now();
    this.lastError = undefined;
    server.onExit((code, signal) => {
      if (this.stopping || this.server !== server) return;
      this.o.log.error(`${this.o.what} exited; restarting it`, { pid: server.pid, code, signal });
      this.restarting ??= this.restart().finally(() => (this.restarting = undefined));
    });
    return server;
  }

  private async restart(): Promise<void> {
    if (Date.now() - this.startedAt > STABLE_MS) this.failures = 0;
    while (!this.stopping) {
      const delay = BACKOFF_MS[Math.min(this.failures, BACKOFF_MS.length - 1)];
      this.failures++;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
      if (this.stopping) return;
      try {
        const server = this.keep(await this.o.launch());
        this.restarts++;
        this.o.log.info(`${this.o.what} restarted`, { pid: server.pid, port: server.port, restarts: this.restarts });
        this.o.onRestart?.(server);
        return;
      } catch (error) {
        this.lastError = (error as Error).message;
        this.o.log.error(`restarting ${this.o.what} failed`, { error: this.lastError, retry_in_ms: BACKOFF_MS[Math.min(this.failures, BACKOFF_MS.length - 1)] });
      }
    }
  }

  /** Stops it for good (a restart under way is let finish first, then stopped). */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await this.starting;
    await this.restarting?.catch(() => undefined);
    await this.server?.stop();
  }
}

/**
 * Stops a process that is not our child (no 'exit' event): SIGTERM (and SIGCONT, as a stopped process
 * acts on SIGTERM only once it runs again), SIGKILL when it is still `alive()` after `graceMs`.
 */
export async function stopProcess(pid: number, alive: () => boolean, { what, graceMs }: { what: string; graceMs: number }): Promise<void> {
  const signal = (name: NodeJS.Signals) => {
    try {
      process.kill(pid, name);
    } catch {
      // gone meanwhile
    }
  };
  if (!alive()) return;
  signal('SIGTERM');
  signal('SIGCONT');
  await waitFor<boolean>(`${what} (pid ${pid}) to exit`, () => !alive(), { timeoutMs: graceMs, intervalMs: 100, onTimeout: () => false });
  if (alive()) signal('SIGKILL');
  await sleep(100);
}
