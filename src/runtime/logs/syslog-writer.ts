// One drain of one app: a bounded queue of RFC 5424 messages and the connection that empties it, as
// Loggregator's syslog agent keeps one writer per binding (loggregator-agent-release
// pkg/egress/syslog: tcp.go, tls.go, https.go, behind a diode of 10,000 envelopes).
//
// Nothing here ever waits for the drain on the way in: `enqueue` appends and returns; when the queue
// is full (lines or bytes) the oldest message goes and is counted (`dropped`), as the agent's diode
// drops what its writer did not take. The queue is emptied by one loop per writer:
//
// - syslog:// and syslog-tls://: one TCP (TLS) connection, opened when there is something to send
//   (the destination checked by the guard first), each message written octet-counted; a write the
//   drain does not take within `writeTimeoutMs` ends the connection (Loggregator's write deadline).
//   A connection idle for `idleMs` is closed (its IDLE_DRAIN_TIMEOUT).
// - https:// and http://: one POST per message, text/plain, one at a time (so they arrive in order),
//   on a kept-alive connection. Anything but 2xx is tried `httpAttempts` times, then that message is
//   dropped (`rejected`) and the next one goes.
//
// A failure (cannot resolve, refused by the guard, cannot connect, TLS, a broken connection, no
// answer) waits `backoff` (250 ms doubling to 15 s by default, reset by a success) before the next
// try; meanwhile messages keep coming into the queue, and the oldest go when it is full.
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { backoffDelay, type Backoff } from '../common/poll.js';
import type { DrainTarget } from './drain-url.js';
import type { GuardDecision } from './drain-guard.js';
import { octetCounted } from './rfc5424.js';

/** A queue of buffers bounded by count and bytes: the oldest are dropped to make room. */
export class BoundedQueue {
  private items: Buffer[] = [];
  private head = 0;
  private size = 0;

  constructor(
    readonly maxItems: number,
    readonly maxBytes: number,
  ) {}

  get length(): number {
    return this.items.length - this.head;
  }

  get bytes(): number {
    return this.size;
  }

  /** Appends `item`; returns how many of the oldest were dropped to stay within the bounds. */
  push(item: Buffer): number {
    let dropped = 0;
    // A single item larger than the whole byte bound is kept alone (it is at most a message's size).
    while (this.length > 0 && (this.length + 1 > this.maxItems || this.size + item.length > this.maxBytes)) {
      this.shift();
      dropped++;
    }
    this.items.push(item);
    this.size += item.length;
    return dropped;
  }

  peek(): Buffer | undefined {
    return this.head < this.items.length ? this.items[this.head] : undefined;
  }

  shift(): Buffer | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = EMPTY;
    this.head++;
    this.size -= item.length;
    // Compact now and then, so that the array does not only grow.
    if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  clear(): void {
    this.items = [];
    this.head = 0;
    this.size = 0;
  }
}

const EMPTY = Buffer.alloc(0);

export type DrainState = 'idle' | 'connecting' | 'connected' | 'backoff' | 'closed';

/** What the writer tells its owner (the drain manager words it for the app's log and the component's). */
export type DrainProblem =
  /** `answered`: an HTTP drain's status other than 2xx (the message is tried again, then `rejected`). */
  | { kind: 'failed'; error: string; refused: boolean; failures: number; retryInMs: number; answered?: number }
  | { kind: 'recovered'; afterFailures: number }
  | { kind: 'dropped'; count: number }
  | { kind: 'rejected'; status: number; attempts: number };

export interface DrainCounters {
  /** Messages written to the connection (TCP) or answered 2xx (HTTP). */
  sent: number;
  /** Dropped from a full queue, oldest first. */
  dropped: number;
  /** HTTP messages given up after `httpAttempts` answers other than 2xx. */
  rejected: number;
  /** Failed attempts (connect, refusal, write, request). */
  failures: number;
  /** Connections made (TCP, TLS). */
  connections: number;
}

export interface DrainTls {
  /** Trusted CAs (PEM); undefined: Node's built-in roots. */
  ca?: string[];
  /** Verify the drain's certificate and name (Loggregator does, unless DRAIN_SKIP_CERT_VERIFY). */
  rejectUnauthorized: boolean;
}

export interface DrainWriterOptions {
  target: DrainTarget;
  /** Says where (and whether) to connect: DrainGuard.check. */
  check: (host: string, port: number) => Promise<GuardDecision>;
  queueLines: number;
  queueBytes: number;
  tls: DrainTls;
  dialTimeoutMs?: number;
  writeTimeoutMs?: number;
  idleMs?: number;
  backoff?: Backoff;
  httpAttempts?: number;
  /** How long a guard's yes is reused (default 30 s). */
  checkCacheMs?: number;
  onProblem?: (problem: DrainProblem) => void;
}

export const DEFAULT_DRAIN_BACKOFF: Backoff = { initialMs: 250, maxMs: 15_000 };

class RefusedError extends Error {}

class AnsweredError extends Error {
  constructor(readonly status: number) {
    super(`the drain answered HTTP ${status}`);
  }
}

interface Transport {
  /** Sends some of the queue (at least its head, or throws); resolves when the writer may go on. */
  deliver(queue: BoundedQueue): Promise<void>;
  /** The frame of one message on this transport. */
  frame(message: Buffer): Buffer;
  close(): void;
  readonly connected: boolean;
}

export class DrainWriter {
  readonly counters: DrainCounters = { sent: 0, dropped: 0, rejected: 0, failures: 0, connections: 0 };
  lastError: string | null = null;
  private readonly queue: BoundedQueue;
  private readonly transport: Transport;
  private readonly backoff: Backoff;
  private failuresInARow = 0;
  private pumping = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(readonly options: DrainWriterOptions) {
    this.queue = new BoundedQueue(options.queueLines, options.queueBytes);
    this.backoff = options.backoff ?? DEFAULT_DRAIN_BACKOFF;
    const scheme = options.target.scheme;
    this.transport = scheme === 'syslog' || scheme === 'syslog-tls' ? new StreamTransport(this, options) : new HttpTransport(this, options);
  }

  get target(): DrainTarget {
    return this.options.target;
  }

  get queued(): number {
    return this.queue.length;
  }

  get state(): DrainState {
    if (this.closed) return 'closed';
    if (this.retryTimer) return 'backoff';
    if (this.transport.connected) return 'connected';
    return this.pumping ? 'connecting' : 'idle';
  }

  /** Queues one RFC 5424 message (without framing). Never waits, never throws. */
  enqueue(message: Buffer): void {
    if (this.closed) return;
    const dropped = this.queue.push(this.transport.frame(message));
    if (dropped > 0) {
      this.counters.dropped += dropped;
      this.options.onProblem?.({ kind: 'dropped', count: dropped });
    }
    this.kick();
  }

  /** Stops at once: the connection is closed and what is queued is let go. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.transport.close();
    this.queue.clear();
  }

  /** @internal for the transports */
  isClosed(): boolean {
    return this.closed;
  }

  private kick(): void {
    if (this.pumping || this.retryTimer || this.closed || this.queue.length === 0) return;
    this.pumping = true;
    void this.pump().finally(() => {
      this.pumping = false;
      this.kick();
    });
  }

  private async pump(): Promise<void> {
    while (!this.closed && this.queue.length > 0) {
      try {
        await this.transport.deliver(this.queue);
      } catch (error) {
        if (this.closed) return;
        this.failuresInARow++;
        this.counters.failures++;
        const message = (error as Error).message;
        this.lastError = message;
        const retryInMs = backoffDelay(this.backoff, this.failuresInARow - 1);
        this.retryTimer = setTimeout(() => {
          this.retryTimer = undefined;
          this.kick();
        }, retryInMs);
        this.retryTimer.unref();
        const answered = error instanceof AnsweredError ? { answered: error.status } : {};
        this.options.onProblem?.({ kind: 'failed', error: message, refused: error instanceof RefusedError, failures: this.failuresInARow, retryInMs, ...answered });
        return;
      }
      if (this.failuresInARow > 0) {
        const afterFailures = this.failuresInARow;
        this.failuresInARow = 0;
        this.lastError = null;
        this.options.onProblem?.({ kind: 'recovered', afterFailures });
      }
    }
  }

  /** @internal counts a message given up (HTTP). */
  reject(status: number, attempts: number): void {
    this.counters.rejected++;
    this.options.onProblem?.({ kind: 'rejected', status, attempts });
  }
}

/**
 * The guard's answer for a writer's drain. A yes is reused for `checkCacheMs` (30 s): the guard
 * reads /proc, and a drain that closes each connection it accepts must not make that a per-line
 * cost. A no is asked again at the next try (after the backoff).
 */
class CheckedDestination {
  private checked: { decision: Extract<GuardDecision, { ok: true }>; until: number } | undefined;

  constructor(private readonly options: DrainWriterOptions) {}

  async destination(): Promise<Extract<GuardDecision, { ok: true }>> {
    if (this.checked && this.checked.until > Date.now()) return this.checked.decision;
    const { target } = this.options;
    const decision = await this.options.check(target.host, target.port);
    if (!decision.ok) throw new RefusedError(decision.reason);
    this.checked = { decision, until: Date.now() + (this.options.checkCacheMs ?? 30_000) };
    return decision;
  }
}

/** syslog:// and syslog-tls://: octet-counted messages on one connection. */
class StreamTransport implements Transport {
  private socket: net.Socket | undefined;
  private readonly guard: CheckedDestination;

  constructor(
    private readonly writer: DrainWriter,
    private readonly options: DrainWriterOptions,
  ) {
    this.guard = new CheckedDestination(options);
  }

  get connected(): boolean {
    return !!this.socket && !this.socket.destroyed;
  }

  frame(message: Buffer): Buffer {
    return octetCounted(message);
  }

  async deliver(queue: BoundedQueue): Promise<void> {
    // A connection that ended (its 'close' may not have been told yet) is not written to: a new one is made.
    const socket = this.socket && !this.socket.destroyed && this.socket.writable ? this.socket : await this.connect();
    if (this.writer.isClosed()) return;
    let more = true;
    socket.cork();
    while (more && queue.length > 0) {
      more = socket.write(queue.shift()!);
      this.writer.counters.sent++;
    }
    socket.uncork();
    if (!more) await this.drained(socket);
  }

  /** Waits until the drain has taken what was written, at most the write timeout; else the connection goes. */
  private drained(socket: net.Socket): Promise<void> {
    const timeoutMs = this.options.writeTimeoutMs ?? 10_000;
    return new Promise<void>((resolve, reject) => {
      const done = (error?: Error) => {
        clearTimeout(timer);
        socket.off('drain', onDrain);
        socket.off('close', onClose);
        if (error) {
          socket.destroy();
          reject(error);
        } else resolve();
      };
      const onDrain = () => done();
      const onClose = () => done(new Error('the drain closed the connection'));
      const timer = setTimeout(() => done(new Error(`the drain took nothing for ${timeoutMs / 1000} s (write timeout)`)), timeoutMs);
      socket.on('drain', onDrain);
      socket.on('close', onClose);
    });
  }

  private async connect(): Promise<net.Socket> {
    const { target, tls: tlsOptions } = this.options;
    const decision = await this.guard.destination();
    if (this.writer.isClosed()) throw new Error('closed');
    const timeoutMs = this.options.dialTimeoutMs ?? 5_000;
    const secure = target.scheme === 'syslog-tls';
    const socket = secure
      ? tls.connect({
          host: decision.address,
          port: target.port,
          servername: net.isIP(target.host) ? undefined : target.host,
          ca: tlsOptions.ca,
          rejectUnauthorized: tlsOptions.rejectUnauthorized,
        })
      : net.connect({ host: decision.address, port: target.port });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error(`no connection to ${target.host}:${target.port} within ${timeoutMs / 1000} s`)), timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        socket.off('error', fail);
        socket.off(secure ? 'secureConnect' : 'connect', ok);
      };
      function ok() {
        cleanup();
        resolve();
      }
      function fail(error: Error) {
        cleanup();
        socket.destroy();
        reject(error);
      }
      socket.once(secure ? 'secureConnect' : 'connect', ok);
      socket.once('error', fail);
    });
    if (this.writer.isClosed()) {
      socket.destroy();
      throw new Error('closed');
    }
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 30_000);
    // A syslog server has nothing to say; whatever it sends is read and let go.
    socket.resume();
    socket.on('error', () => undefined);
    socket.on('close', () => {
      if (this.socket === socket) this.socket = undefined;
    });
    socket.setTimeout(this.options.idleMs ?? 10 * 60_000, () => socket.destroy());
    this.socket = socket;
    this.writer.counters.connections++;
    return socket;
  }

  close(): void {
    this.socket?.destroy();
    this.socket = undefined;
  }
}

/** https:// and http://: one POST per message, in order. */
class HttpTransport implements Transport {
  private readonly agent: http.Agent;
  private readonly guard: CheckedDestination;
  private attempts = 0;
  private inFlight: http.ClientRequest | undefined;

  constructor(
    private readonly writer: DrainWriter,
    private readonly options: DrainWriterOptions,
  ) {
    this.guard = new CheckedDestination(options);
    const secure = options.target.scheme === 'https';
    const agentOptions = { keepAlive: true, maxSockets: 1, maxFreeSockets: 1, timeout: options.idleMs ?? 60_000 };
    this.agent = secure ? new https.Agent({ ...agentOptions, ca: options.tls.ca, rejectUnauthorized: options.tls.rejectUnauthorized }) : new http.Agent(agentOptions);
  }

  get connected(): boolean {
    return Object.values(this.agent.sockets).some((list) => (list?.length ?? 0) > 0) || Object.values(this.agent.freeSockets).some((list) => (list?.length ?? 0) > 0);
  }

  frame(message: Buffer): Buffer {
    return message;
  }

  async deliver(queue: BoundedQueue): Promise<void> {
    const message = queue.peek();
    if (!message) return;
    const decision = await this.guard.destination();
    const status = await this.post(decision, message);
    if (this.writer.isClosed()) return;
    if (status >= 200 && status < 300) {
      queue.shift();
      this.attempts = 0;
      this.writer.counters.sent++;
      return;
    }
    this.attempts++;
    const max = this.options.httpAttempts ?? 3;
    if (this.attempts >= max) {
      // The drain answered, and keeps refusing this message: it goes, the next one is tried.
      if (queue.peek() === message) queue.shift();
      this.writer.reject(status, this.attempts);
      this.attempts = 0;
      return;
    }
    throw new AnsweredError(status);
  }

  private post(decision: Extract<GuardDecision, { ok: true }>, body: Buffer): Promise<number> {
    const { target } = this.options;
    const secure = target.scheme === 'https';
    const timeoutMs = this.options.writeTimeoutMs ?? 10_000;
    const defaultPort = secure ? 443 : 80;
    const hostHeader = `${target.host.includes(':') ? `[${target.host}]` : target.host}${target.port === defaultPort ? '' : `:${target.port}`}`;
    const headers: Record<string, string> = {
      host: hostHeader,
      'content-type': 'text/plain',
      'content-length': String(body.length),
      'user-agent': 'devbox-syslog-drain',
    };
    if (target.authorization) headers.authorization = target.authorization;
    const request = secure ? https.request : http.request;
    return new Promise<number>((resolve, reject) => {
      const req = request(
        {
          agent: this.agent,
          host: decision.address,
          port: target.port,
          method: 'POST',
          path: target.path,
          headers,
          ...(secure && !net.isIP(target.host) ? { servername: target.host } : {}),
        },
        (res) => {
          // The answer's body means nothing to a drain writer: read and let go.
          res.resume();
          res.on('end', () => finish(undefined, res.statusCode ?? 0));
          res.on('error', (error) => finish(error));
        },
      );
      this.inFlight = req;
      const timer = setTimeout(() => req.destroy(new Error(`no answer from the drain within ${timeoutMs / 1000} s`)), timeoutMs);
      let settled = false;
      const finish = (error: Error | undefined, status = 0) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (this.inFlight === req) this.inFlight = undefined;
        if (error) reject(error);
        else resolve(status);
      };
      req.on('error', (error) => finish(error));
      req.end(body);
    });
  }

  close(): void {
    this.inFlight?.destroy(new Error('closed'));
    this.agent.destroy();
  }
}
