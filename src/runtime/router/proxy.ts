// The forwarding engine: an HTTP/1.1 reverse proxy over plain TCP sockets. Each client request head
// is parsed (http.ts), routed (registry.ts), rewritten by the handlers, and sent to a backend over a
// kept-alive connection; bodies in both directions pass through as they arrive (never buffered
// whole), with backpressure. Why not node:http: docs/router.md (it halves the throughput).
//
// Per request:  client head → handlers.request (health check, request id) → route lookup (404) →
// endpoint (sticky or round-robin) → connect (up to 3 attempts, on connection failure only) →
// request head + body → response head (handlers.responseHeaders: sticky cookie) → body → done
// (access log, counters) → next request on the same client connection.
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import tls from 'node:tls';
import { bodyOverdue } from '../common/http.js';
import type { Logger } from '../common/log.js';
import { waitFor } from '../common/poll.js';
import type { Handler, LocalResponse, RequestInfo } from './handlers/types.js';
import {
  assembleHead,
  ChunkedScanner,
  httpDate,
  HttpError,
  parseRequestHead,
  parseResponseHead,
  reasonPhrase,
  requestFieldNames,
  requestStartPlausible,
  responseHasNoBody,
  type FieldNames,
  type RequestHead,
  type ResponseHead,
} from './http.js';
import { normalizeHost, type Endpoint, type Pool, type RouteRegistry } from './registry.js';
import type { RouterSettings } from './settings.js';
import type { RouterStats } from './stats.js';

export const NOT_FOUND_ERROR = 'unknown_route';
export const ENDPOINT_FAILURE = 'endpoint_failure';
export const MAX_ATTEMPTS = 3;

/** The body of the router's 404, byte for byte as gorouter's (REFERENCE.md). */
export const notFoundBody = (host: string) => `404 Not Found: Requested route ('${host}') does not exist.`;
export const BAD_GATEWAY_BODY = '502 Bad Gateway: Registered endpoint failed to handle the request.';
export const GATEWAY_TIMEOUT_BODY = '504 Gateway Timeout: Registered endpoint failed to handle the request in time.';

const CRLFCRLF = Buffer.from('\r\n\r\n');
/** How often requests waiting for the route table look again (besides every registration). */
const HOLD_CHECK_MS = 25;
/** Proxy.warmUp's `until` before the router has announced itself on the bus. */
export const WARM_UNTIL_ANNOUNCED = Number.MAX_SAFE_INTEGER;

/**
 * Every socket reads into this one buffer (net's `onread`), and what was read is copied out at once
 * (the callback runs synchronously, so one buffer serves all). Reading through the Readable stream
 * instead allocates a 64 KiB buffer per read, shrinks it and emits 'data': measured under load,
 * that cost the router ~2 µs of CPU per read, two reads per request.
 */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);
const readInto = (onRead: (chunk: Buffer) => void) => ({
  buffer: READ_BUFFER,
  callback(n: number): boolean {
    const chunk = Buffer.allocUnsafe(n);
    READ_BUFFER.copy(chunk, 0, 0, n);
    onRead(chunk);
    return true; // go on reading (pause() stops reading on its own)
  },
});

/**
 * The accepted connection, moved to a socket that reads with `onread`: net.Server has no option for
 * it, so the handle is taken from the socket the server made (a private field, stable since Node 0.x)
 * and that socket is destroyed without it (the server counts it as closed; Proxy keeps its own set).
 */
function readingSocket(accepted: net.Socket, onRead: (chunk: Buffer) => void): net.Socket {
  const internal = accepted as unknown as { _handle: unknown };
  const handle = internal._handle;
  internal._handle = null;
  accepted.destroy();
  // `handle` is what node:net itself passes for accepted connections; not in the public types.
  const options = { handle, allowHalfOpen: true, onread: readInto(onRead) };
  return new net.Socket(options as net.SocketConstructorOpts);
}

/**
 * server.listen, resolving with the port it got (`port` 0: any free one). With `fd`, on that
 * listening socket instead, inherited from the supervisor, which keeps it open while the router
 * restarts (docs/router.md, "Restarts"). Its handle is taken with a net.Socket that never reads, and
 * listened on directly: in a cluster worker, listen({ fd }) would ask the primary for a socket of
 * its own fd number, and node:cluster closes the primary's copy once no worker uses it.
 */
function listenOn(server: net.Server, host: string, port: number, fd?: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const where = fd === undefined ? { host, port } : (new net.Socket({ fd, readable: false, writable: false }) as unknown as { _handle: object })._handle;
    server.listen(where, () => {
      server.off('error', reject);
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : port);
    });
  });
}

/** Body bytes up to this size are copied into the head's buffer: one write instead of two. */
const COALESCE_BYTES = 16 * 1024;
/** Requests that may be sent again when a reused connection turned out to be closed (as Go does). */
const REPLAYABLE = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);
/** Connection errors that mean the request never reached the backend. */
const CONNECT_ERRORS = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNRESET']);

const enum Body {
  None,
  Length,
  Chunked,
  UntilClose,
}

const enum Phase {
  /** Connecting to a backend (nothing sent yet). */
  Connecting,
  /** Request head sent; waiting for the response head. */
  Waiting,
  /** Response head sent to the client; relaying the response body. */
  Response,
  /** Upgraded (WebSocket): bytes flow both ways until either side closes. */
  Tunnel,
  Done,
}

export interface ProxyOptions {
  settings: RouterSettings;
  registry: RouteRegistry;
  stats: RouterStats;
  handlers: Handler[];
  log: Logger;
}

/** What the TLS listener serves: the default certificate, and a choice per name (SNI) if given. */
export interface TlsListenOptions {
  secureContext: tls.SecureContext;
  SNICallback?: tls.TlsOptions['SNICallback'];
}

/** A connection to a backend, kept alive between requests. */
class BackendConn {
  readonly socket: net.Socket;
  owner: Exchange | null = null;
  /** Taken from the idle pool (it may have been closed by the backend meanwhile). */
  reused = false;
  connected = false;
  connectTimedOut = false;
  error?: NodeJS.ErrnoException;
  readonly createdAt: number;
  /** Last time bytes came from the backend or went to it (the proxy's coarse clock). */
  lastActivity: number;
  /** In the idle pool since, and for how long it may stay there. */
  idleSince = 0;
  idleLimitMs = 0;

  constructor(
    readonly pool: BackendPool,
    readonly key: string,
    host: string,
    port: number,
  ) {
    const socket = net.connect({ host, port, noDelay: true, onread: readInto((chunk) => this.onRead(chunk)) });
    this.socket = socket;
    this.createdAt = this.lastActivity = pool.clock.now;
    socket.on('connect', () => {
      this.connected = true;
      this.owner?.onConnected(this);
    });
    socket.on('end', () => {
      if (this.owner) this.owner.onBackendEnd();
      else socket.destroy();
    });
    socket.on('drain', () => this.owner?.onBackendDrain());
    socket.on('error', (error: NodeJS.ErrnoException) => (this.error ??= error));
    socket.on('close', () => {
      this.pool.forget(this);
      const owner = this.owner;
      this.owner = null;
      owner?.onBackendClose(this);
    });
    pool.all.add(this);
  }

  private onRead(chunk: Buffer): void {
    this.lastActivity = this.pool.clock.now;
    if (this.owner) this.owner.onBackendData(chunk);
    else this.socket.destroy(); // bytes on an idle connection: it cannot be trusted any more
  }

  /** The connection could not be made at all (the request cannot have reached the backend). */
  get failedToConnect(): boolean {
    return !this.connected && (this.connectTimedOut || !this.error?.code || CONNECT_ERRORS.has(this.error.code));
  }
}

/** A millisecond clock read once per sweep: timestamps for timeouts without a syscall per event. */
export interface CoarseClock {
  now: number;
}

/** Idle keep-alive connections per backend (host:port), most recently used first. */
class BackendPool {
  private readonly idle = new Map<string, BackendConn[]>();
  /** Every open backend connection (the sweep checks their timeouts). */
  readonly all = new Set<BackendConn>();
  closing = false;

  constructor(
    readonly settings: RouterSettings,
    readonly clock: CoarseClock,
  ) {}

  acquire(endpoint: Endpoint, fresh: boolean): BackendConn {
    if (!fresh) {
      const list = this.idle.get(endpoint.key);
      while (list && list.length > 0) {
        const conn = list.pop()!;
        if (conn.socket.destroyed) continue;
        conn.reused = true;
        conn.lastActivity = this.clock.now;
        return conn;
      }
    }
    return new BackendConn(this, endpoint.key, endpoint.host, endpoint.port);
  }

  release(conn: BackendConn, keepAliveHintMs: number): void {
    conn.owner = null;
    let list = this.idle.get(conn.key);
    if (this.closing || conn.socket.destroyed || (list && list.length >= this.settings.maxIdlePerBackend)) {
      conn.socket.destroy();
      return;
    }
    if (!list) {
      list = [];
      this.idle.set(conn.key, list);
    }
    // Close idle connections before the backend does (its Keep-Alive hint, less a second of margin).
    conn.idleLimitMs = keepAliveHintMs > 0 ? Math.max(500, Math.min(this.settings.backendIdleTimeoutMs, keepAliveHintMs - 1000)) : this.settings.backendIdleTimeoutMs;
    conn.idleSince = this.clock.now;
    if (conn.socket.isPaused()) conn.socket.resume();
    list.push(conn);
  }

  forget(conn: BackendConn): void {
    this.all.delete(conn);
    const list = this.idle.get(conn.key);
    if (!list) return;
    const i = list.indexOf(conn);
    if (i !== -1) list.splice(i, 1);
    if (list.length === 0) this.idle.delete(conn.key);
  }

  /** Connect timeouts, backend timeouts, idle connections past their limit. */
  sweep(now: number): void {
    const { connectTimeoutMs, backendTimeoutMs } = this.settings;
    for (const conn of this.all) {
      if (!conn.connected) {
        if (now - conn.createdAt >= connectTimeoutMs) {
          conn.connectTimedOut = true;
          conn.socket.destroy();
        }
      } else if (conn.owner !== null) {
        if (now - conn.lastActivity >= backendTimeoutMs) conn.owner.onBackendTimeout();
      } else if (conn.idleSince !== 0 && now - conn.idleSince >= conn.idleLimitMs) {
        conn.socket.destroy();
      }
    }
  }

  get idleCount(): number {
    let n = 0;
    for (const list of this.idle.values()) n += list.length;
    return n;
  }

  closeAll(): void {
    this.closing = true;
    for (const list of this.idle.values()) for (const conn of [...list]) conn.socket.destroy();
    this.idle.clear();
  }
}

/** One client connection: reads request heads, runs one exchange at a time (pipelining is queued). */
class ClientConn {
  buf: Buffer | null = null;
  exchange: Exchange | null = null;
  /** The client sent FIN: answer what is in flight, then close. */
  ended = false;
  /** Close after the current response. */
  closing = false;
  closed = false;
  /** Requests begun on this connection: one that has had none yet is not idle (its first is on the way). */
  requests = 0;
  private processing = false;
  lastActivity: number;
  /** When the head now being read began to arrive (0: none is): it must be whole within requestHeadTimeoutMs. */
  headSince = 0;
  readonly socket: net.Socket;
  readonly ip: string;
  readonly port: number;

  /** `secure`: a connection to the TLS port, already decrypted (a TLSSocket, read through 'data'). */
  constructor(
    readonly proxy: Proxy,
    accepted: net.Socket,
    readonly secure = false,
  ) {
    const onRead = (chunk: Buffer) => {
      this.lastActivity = proxy.clock.now;
      this.onData(chunk);
    };
    let socket: net.Socket;
    if (secure) {
      // TLS is decrypted by the TLSSocket: its plaintext comes as 'data' (no `onread` to borrow).
      socket = accepted;
      socket.on('data', onRead);
    } else socket = readingSocket(accepted, onRead);
    this.socket = socket;
    const ip = socket.remoteAddress ?? '';
    this.ip = ip.startsWith('::ffff:') ? ip.slice(7) : ip;
    this.port = socket.remotePort ?? 0;
    this.lastActivity = proxy.clock.now;
    socket.on('end', () => this.onEnd());
    socket.on('drain', () => this.exchange?.onClientDrain());
    socket.on('error', () => undefined); // 'close' follows
    socket.on('close', () => this.onClose());
  }

  private onData(chunk: Buffer): void {
    const ex = this.exchange;
    if (ex === null && this.closing) return; // lingering close: discard
    if (ex !== null) {
      if (ex.phase === Phase.Tunnel) return ex.tunnelFromClient(chunk);
      if (!ex.requestDone) return ex.onClientBody(chunk);
      // The next request, pipelined: keep it until this exchange is over.
      this.buf = this.buf === null ? chunk : Buffer.concat([this.buf, chunk]);
      this.socket.pause();
      return;
    }
    this.buf = this.buf === null ? chunk : Buffer.concat([this.buf, chunk]);
    this.process();
  }

  /** Starts exchanges for the complete request heads in the buffer, one at a time. */
  process(): void {
    if (this.processing) return;
    this.processing = true;
    try {
      while (this.exchange === null && !this.closed && !this.closing) {
        let buf = this.buf;
        if (buf === null) {
          if (this.ended) this.finish();
          else if (this.socket.isPaused()) this.socket.resume();
          return;
        }
        // Ignore empty lines before a request line (RFC 9112 §2.2).
        let start = 0;
        while (start + 1 < buf.length && buf[start] === 13 && buf[start + 1] === 10) start += 2;
        if (start > 0) {
          buf = start === buf.length ? null : buf.subarray(start);
          this.buf = buf;
          if (buf === null) continue;
        }
        const end = buf.indexOf(CRLFCRLF);
        const max = this.proxy.settings.maxHeaderBytes;
        if (end === -1 || end > max) {
          if (buf.length > max || end > max) {
            this.buf = null;
            this.proxy.badRequest(this, new HttpError(431, 'request head too large'));
            return;
          }
          if (!requestStartPlausible(buf)) {
            this.buf = null;
            this.proxy.badRequest(this, new HttpError(400, 'malformed request line'));
            return;
          }
          if (this.headSince === 0) this.headSince = this.proxy.clock.now;
          if (this.ended) return this.finish();
          if (this.socket.isPaused()) this.socket.resume();
          return;
        }
        this.headSince = 0;
        let head: RequestHead;
        try {
          head = parseRequestHead(buf, 0, end, this.proxy.requestFields);
        } catch (error) {
          this.buf = null;
          this.proxy.badRequest(this, error instanceof HttpError ? error : new HttpError(400, String(error)));
          return;
        }
        const restStart = end + 4;
        this.buf = null;
        const rest = restStart < buf.length ? buf.subarray(restStart) : null;
        this.requests++;
        this.exchange = new Exchange(this.proxy, this, head);
        this.exchange.begin(rest);
      }
    } finally {
      this.processing = false;
    }
  }

  /** An exchange is over: go on with the next request, or close. */
  exchangeDone(keepAlive: boolean): void {
    this.exchange = null;
    if (this.closed) return;
    if (!keepAlive || this.proxy.closing) this.closing = true;
    if (this.closing || (this.ended && this.buf === null)) return this.finish();
    if (this.processing) return; // the loop in process() goes on
    this.process();
  }

  /** Closes after what was written: FIN now, then drain the client's leftovers for a moment. */
  finish(): void {
    if (this.closed) return;
    this.closing = true;
    if (this.ended) {
      this.socket.end();
      return;
    }
    // Lingering close: stop sending, discard what the client still sends, so that a reset does
    // not destroy the response it has not read yet.
    this.socket.end();
    this.socket.resume();
    const timer = setTimeout(() => this.socket.destroy(), 2_000);
    timer.unref();
    this.socket.once('close', () => clearTimeout(timer));
  }

  private onEnd(): void {
    this.ended = true;
    const ex = this.exchange;
    if (ex === null) {
      if (this.buf === null || this.closing) this.socket.end();
      else this.process();
      return;
    }
    if (ex.phase === Phase.Tunnel) ex.tunnelClientEnded();
    else if (!ex.requestDone) ex.abort('client closed the connection while sending its request');
    // otherwise: answer, then close (exchangeDone sees `ended`)
  }


  private onClose(): void {
    this.closed = true;
    this.proxy.connections.delete(this);
    const ex = this.exchange;
    if (ex !== null && ex.phase !== Phase.Done) ex.abort('client went away');
  }
}

/** One request/response (or upgraded connection) between a client and a backend. */
class Exchange implements RequestInfo {
  id = '';
  startedAt = 0;
  startedHr = 0;
  finishedHr = 0;
  host = '';
  clientIp: string;
  clientPort: number;
  readonly tls: boolean;
  pool?: Pool;
  endpoint?: Endpoint;
  status = 0;
  bytesIn = 0;
  bytesOut = 0;
  routerError = '';
  response?: ResponseHead;

  phase = Phase.Connecting;
  private requestBody = Body.None;
  private requestRemaining = 0;
  private requestScanner: ChunkedScanner | null = null;
  requestDone = true;
  /** Body bytes read with the head, held until a backend connection is there. */
  private pending: Buffer | null = null;
  private upgrade = false;
  private attempts = 0;
  private tried: Set<Endpoint> | null = null;
  private replayed = false;
  private backend: BackendConn | null = null;
  /** When the request began to wait for the route table after a start (0: it did not). */
  heldSince = 0;
  /** Request body: time spent waiting for the client's bytes (ms), when that was last added up, the last byte's time. */
  private bodyWaitMs = 0;
  private bodyTickAt = 0;
  private bodyByteAt = 0;

  private responseBuf: Buffer | null = null;
  private responseBody = Body.None;
  private responseRemaining = 0;
  private responseScanner: ChunkedScanner | null = null;
  private responseDone = false;
  private keepClient = false;
  private reuseBackend = false;
  private keepAliveHintMs = 0;

  constructor(
    private readonly proxy: Proxy,
    private readonly client: ClientConn,
    readonly head: RequestHead,
  ) {
    this.clientIp = client.ip;
    this.clientPort = client.port;
    this.tls = client.secure;
  }

  /** Runs the request handlers, routes, and starts connecting. `rest`: bytes after the head. */
  begin(rest: Buffer | null): void {
    const proxy = this.proxy;
    const head = this.head;
    proxy.stats.requests++;
    // Request framing, and the part of the body that came with the head.
    if (head.chunked) {
      this.requestBody = Body.Chunked;
      this.requestScanner = new ChunkedScanner(proxy.settings.maxHeaderBytes);
      this.requestDone = false;
    } else if (head.contentLength > 0) {
      this.requestBody = Body.Length;
      this.requestRemaining = head.contentLength;
      this.requestDone = false;
    }
    let bodyError: Error | undefined;
    if (rest !== null) {
      try {
        this.pending = this.takeBody(rest);
      } catch (error) {
        bodyError = error as Error;
      }
    }
    for (const h of proxy.onRequest) {
      const local = h.request!(this);
      if (local) return this.respondLocally(local);
    }
    if (bodyError) return this.failRequestBody(bodyError);
    // Absolute-form (`GET http://host/path`): route by its authority and forward origin-form.
    let target = head.target;
    let hostHeader = head.host ?? '';
    if (target.charCodeAt(0) !== 47 /* / */ && /^https?:\/\//i.test(target)) {
      const url = target.slice(target.indexOf('//') + 2);
      const slash = url.indexOf('/');
      hostHeader = slash === -1 ? url : url.slice(0, slash);
      target = slash === -1 ? '/' : url.slice(slash);
      head.target = target;
      head.targetRewritten = true;
    } else if (head.method === 'CONNECT') {
      return this.respondLocally({ status: 405, body: '405 Method Not Allowed' });
    }
    this.host = normalizeHost(hostHeader);
    if (this.host === '') return this.respondLocally({ status: 400, body: '400 Bad Request: missing Host' });
    this.hostHeader = hostHeader;
    this.upgrade = head.connectionUpgrade && head.upgrade !== undefined && head.method === 'GET';
    // Hold the client until the backend connection is there, so a failed connection can be retried
    // with the body still unread (and while the request waits for the route table after a start).
    if (!this.requestDone) this.client.socket.pause();
    this.route();
  }

  /** The Host header as received (for the 404's text). */
  private hostHeader = '';

  /**
   * Looks the route up and starts connecting; 404 when there is none. Right after the router
   * started, the request may have to wait for the table first (Proxy.mustWait): then it is held and
   * this runs again when routes come in or the wait is over.
   */
  route(): void {
    const proxy = this.proxy;
    if (this.phase !== Phase.Connecting || this.backend !== null) return;
    const pool = proxy.registry.lookup(this.host, this.head.target);
    const found = pool !== undefined && pool.size > 0;
    if (proxy.mustWait(this, found)) return;
    if (!found) {
      const hostHeader = this.hostHeader;
      const shownHost = hostHeader.startsWith('[') ? hostHeader.slice(0, hostHeader.indexOf(']') + 1) : hostHeader.split(':')[0];
      return this.respondLocally({ status: 404, body: notFoundBody(shownHost), routerError: NOT_FOUND_ERROR });
    }
    this.pool = pool;
    let endpoint: Endpoint | undefined;
    for (const h of proxy.onChoose) {
      endpoint = h.choose!(this);
      if (endpoint) break;
    }
    endpoint ??= pool.choose(proxy.clock.now, proxy.settings.failedEndpointTtlMs);
    if (!endpoint) return this.badGateway();
    this.connect(endpoint, false);
  }

  /** Splits `chunk` into this request's body (returned) and what follows (kept on the client). */
  private takeBody(chunk: Buffer): Buffer | null {
    if (this.requestDone) {
      this.client.buf = this.client.buf === null ? chunk : Buffer.concat([this.client.buf, chunk]);
      return null;
    }
    let end: number;
    if (this.requestBody === Body.Length) {
      end = Math.min(this.requestRemaining, chunk.length);
      this.requestRemaining -= end;
      if (this.requestRemaining === 0) this.requestDone = true;
    } else {
      end = this.requestScanner!.scan(chunk);
      if (end === -1) end = chunk.length;
      else this.requestDone = true;
    }
    if (end < chunk.length) {
      const after = chunk.subarray(end);
      this.client.buf = this.client.buf === null ? after : Buffer.concat([this.client.buf, after]);
    }
    // Body bytes, as gorouter logs them: without the chunked framing.
    this.bytesIn = this.requestScanner === null ? this.bytesIn + end : this.requestScanner.dataBytes;
    return end === 0 ? null : end === chunk.length ? chunk : chunk.subarray(0, end);
  }

  private connect(endpoint: Endpoint, fresh: boolean): void {
    this.endpoint = endpoint;
    this.attempts++;
    this.phase = Phase.Connecting;
    const conn = this.proxy.backends.acquire(endpoint, fresh || this.upgrade);
    conn.owner = this;
    this.backend = conn;
    if (conn.reused) this.onConnected(conn);
  }

  /** The backend connection is there: send the head and what we have of the body. */
  onConnected(conn: BackendConn): void {
    if (this.backend !== conn || this.phase !== Phase.Connecting) return;
    this.phase = Phase.Waiting;
    const head = this.head;
    const socket = conn.socket;
    const pending = this.pending;
    this.pending = null;
    let extra = this.upgrade ? `Upgrade: ${head.upgrade}\r\nConnection: Upgrade\r\n` : '';
    for (const h of this.proxy.onRequestHeaders) extra += h.requestHeaders!(this);
    const firstLine = head.targetRewritten ? `${head.method} ${head.target} HTTP/1.${head.minor}` : undefined;
    if (pending === null || pending.length <= COALESCE_BYTES) {
      socket.write(assembleHead(head, extra, pending, firstLine));
    } else {
      socket.cork();
      socket.write(assembleHead(head, extra, null, firstLine));
      socket.write(pending);
      socket.uncork();
    }
    if (!this.requestDone) {
      // From here on the body's time counts (requestBodyTimeoutMs), while the router waits for the client.
      this.bodyTickAt = this.bodyByteAt = this.proxy.clock.now;
      if (socket.writableNeedDrain) this.client.socket.pause();
      else this.client.socket.resume();
    }
  }

  /**
   * The sweep's check of a request body still coming (Proxy.sweep): true when it took too long. Time
   * while the router holds the client back (connecting, backpressure from the backend) does not count.
   */
  bodyOverdue(now: number, paused: boolean): boolean {
    if (this.requestDone || this.bodyTickAt === 0 || (this.phase !== Phase.Waiting && this.phase !== Phase.Response)) return false;
    if (paused) {
      this.bodyTickAt = this.bodyByteAt = now;
      return false;
    }
    this.bodyWaitMs += now - this.bodyTickAt;
    this.bodyTickAt = now;
    const { requestBodyTimeoutMs: bodyIdleMs, requestBodyMinRate: bodyMinRate } = this.proxy.settings;
    const bytes = this.requestScanner === null ? this.bytesIn : this.requestScanner.dataBytes;
    // The rule every server of the box applies (common/http.ts).
    return bodyOverdue(this.bodyWaitMs, now - this.bodyByteAt, bytes, { bodyIdleMs, bodyMinRate });
  }

  /** The request body did not come in time: 408 while nothing of the response was sent, else cut off. */
  bodyTimedOut(): void {
    this.proxy.stats.requestBodyTimeouts++;
    this.proxy.log.info('request body not received in time', { host: this.host, request_id: this.id, client: this.clientIp, body_bytes: this.bytesIn });
    this.failRequestBody(new HttpError(408, 'request body not received in time'));
  }

  onClientBody(chunk: Buffer): void {
    let body: Buffer | null;
    try {
      body = this.takeBody(chunk);
    } catch (error) {
      return this.failRequestBody(error as Error);
    }
    if (this.requestDone && this.client.buf !== null) this.client.socket.pause();
    if (body === null) return;
    this.bodyByteAt = this.proxy.clock.now;
    const backend = this.backend;
    if (this.phase === Phase.Connecting || backend === null) {
      // Cannot happen while the client is paused, but keep the bytes if it does.
      this.pending = this.pending === null ? body : Buffer.concat([this.pending, body]);
      this.client.socket.pause();
      return;
    }
    backend.lastActivity = this.proxy.clock.now;
    if (!backend.socket.write(body) && !this.requestDone) this.client.socket.pause();
  }

  onBackendDrain(): void {
    if (this.phase === Phase.Tunnel) this.client.socket.resume();
    else if (!this.requestDone && this.phase !== Phase.Connecting) this.client.socket.resume();
  }

  onClientDrain(): void {
    if (this.phase === Phase.Response || this.phase === Phase.Tunnel) this.backend?.socket.resume();
  }

  onBackendData(chunk: Buffer): void {
    if (this.phase === Phase.Response) return this.relayResponseBody(chunk);
    if (this.phase === Phase.Tunnel) {
      this.bytesOut += chunk.length;
      if (!this.client.socket.write(chunk)) this.backend!.socket.pause();
      return;
    }
    if (this.phase !== Phase.Waiting) return;
    let buf = this.responseBuf === null ? chunk : Buffer.concat([this.responseBuf, chunk]);
    for (;;) {
      const end = buf.indexOf(CRLFCRLF);
      if (end === -1) {
        if (buf.length > this.proxy.maxResponseHeadBytes) return this.backendBroke('response head too large');
        this.responseBuf = buf;
        return;
      }
      let res: ResponseHead;
      try {
        res = parseResponseHead(buf, 0, end);
      } catch (error) {
        return this.backendBroke((error as Error).message);
      }
      const rest = end + 4 < buf.length ? buf.subarray(end + 4) : null;
      if (res.status >= 100 && res.status < 200 && res.status !== 101) {
        // Interim response (100 Continue, 103 Early Hints): pass it on, then read the final one.
        if (this.head.minor === 1) this.client.socket.write(this.responseHeadBuffer(res, false, null));
        if (rest === null) {
          this.responseBuf = null;
          return;
        }
        buf = rest;
        continue;
      }
      this.responseBuf = null;
      return this.startResponse(res, rest);
    }
  }

  private startResponse(res: ResponseHead, rest: Buffer | null): void {
    this.response = res;
    this.status = res.status;
    const client = this.client;
    if (res.status === 101) {
      if (!this.upgrade) return this.backendBroke('101 Switching Protocols to a request that did not ask to upgrade');
      return this.startTunnel(res, rest);
    }
    if (responseHasNoBody(this.head.method, res.status)) this.responseBody = Body.None;
    else if (res.chunked) {
      this.responseBody = Body.Chunked;
      this.responseScanner = new ChunkedScanner(this.proxy.maxResponseHeadBytes);
    } else if (res.contentLength >= 0) {
      this.responseBody = res.contentLength === 0 ? Body.None : Body.Length;
      this.responseRemaining = res.contentLength;
    } else this.responseBody = Body.UntilClose;
    this.keepAliveHintMs = res.keepAliveTimeoutMs;
    this.reuseBackend = this.head.minor === 1 && !res.connectionClose && (res.minor === 1 || res.connectionKeepAlive) && this.responseBody !== Body.UntilClose && !this.upgrade;
    this.keepClient =
      this.head.minor === 1 && !this.head.connectionClose && !client.ended && !client.closing && !this.proxy.closing && this.responseBody !== Body.UntilClose && this.requestDone && !this.upgrade;
    let body: Buffer | null = null;
    if (rest !== null) {
      const n = this.takeResponse(rest); // malformed framing: 502 (nothing was sent yet)
      if (n === -1) return;
      if (n < rest.length) this.reuseBackend = false; // bytes beyond the response: don't trust the connection
      if (n > 0) body = n === rest.length ? rest : rest.subarray(0, n);
    } else if (this.responseBody === Body.None) this.responseDone = true;
    this.phase = Phase.Response;
    const socket = client.socket;
    if (body === null || body.length <= COALESCE_BYTES) {
      socket.write(this.responseHeadBuffer(res, !this.keepClient, body));
    } else {
      socket.cork();
      socket.write(this.responseHeadBuffer(res, !this.keepClient, null));
      socket.write(body);
      socket.uncork();
    }
    if (body !== null) this.countOut(body.length);
    if (this.responseDone) return this.complete();
    if (socket.writableNeedDrain) this.backend?.socket.pause();
  }

  /**
   * How many bytes of `chunk` belong to the response body (the rest would be a protocol error);
   * sets `responseDone` when the body is complete. -1: malformed framing (already handled).
   */
  private takeResponse(chunk: Buffer): number {
    switch (this.responseBody) {
      case Body.None:
        this.responseDone = true;
        return 0;
      case Body.Length: {
        const n = Math.min(this.responseRemaining, chunk.length);
        this.responseRemaining -= n;
        if (this.responseRemaining === 0) this.responseDone = true;
        return n;
      }
      case Body.Chunked: {
        let at: number;
        try {
          at = this.responseScanner!.scan(chunk);
        } catch (error) {
          this.backendBroke((error as Error).message);
          return -1;
        }
        if (at === -1) return chunk.length;
        this.responseDone = true;
        return at;
      }
      default:
        return chunk.length;
    }
  }

  /** Response body bytes, without the chunked framing. */
  private countOut(n: number): void {
    this.bytesOut = this.responseScanner === null ? this.bytesOut + n : this.responseScanner.dataBytes;
  }

  private relayResponseBody(chunk: Buffer): void {
    const n = this.takeResponse(chunk);
    if (n === -1) return;
    if (n < chunk.length) this.reuseBackend = false;
    this.countOut(n);
    const ok = n === 0 || this.client.socket.write(n === chunk.length ? chunk : chunk.subarray(0, n));
    if (this.responseDone) return this.complete();
    if (!ok) this.backend?.socket.pause();
  }

  /** The response head as sent to the client (HTTP/1.1, hop-by-hop fields replaced), with `body` if given. */
  private responseHeadBuffer(res: ResponseHead, close: boolean, body: Buffer | null): Buffer {
    const upgrade = res.status === 101;
    let extra = '';
    if (res.status >= 200 || upgrade) for (const h of this.proxy.onResponseHeaders) extra += h.responseHeaders!(this, res);
    if (upgrade) extra += 'Connection: Upgrade\r\n';
    else if (close && res.status >= 200) extra += 'Connection: close\r\n';
    const out = assembleHead(res, extra, body);
    if (res.minor === 0) out[7] = 49; // HTTP/1.0 → HTTP/1.1: the router speaks 1.1 to its clients
    return out;
  }

  private startTunnel(res: ResponseHead, rest: Buffer | null): void {
    const client = this.client;
    const backend = this.backend!;
    this.phase = Phase.Tunnel;
    this.proxy.stats.websocketUpgrades++;
    client.socket.write(this.responseHeadBuffer(res, false, null));
    if (rest !== null) {
      this.bytesOut += rest.length;
      client.socket.write(rest);
    }
    // Whatever the client sent after its request head belongs to the upgraded protocol.
    const early = client.buf;
    client.buf = null;
    if (early !== null) {
      this.bytesIn += early.length;
      backend.socket.write(early);
    }
    client.socket.resume();
  }

  tunnelFromClient(chunk: Buffer): void {
    this.bytesIn += chunk.length;
    if (!this.backend!.socket.write(chunk)) this.client.socket.pause();
  }

  tunnelClientEnded(): void {
    this.backend?.socket.end();
  }

  onBackendEnd(): void {
    if (this.phase === Phase.Tunnel) {
      this.client.socket.end();
      return;
    }
    if (this.phase === Phase.Response && this.responseBody === Body.UntilClose) {
      this.reuseBackend = false;
      this.complete();
    }
    // Other cases: 'close' follows and decides.
  }

  onBackendClose(conn: BackendConn): void {
    if (conn !== this.backend) return;
    switch (this.phase) {
      case Phase.Connecting:
        if (conn.failedToConnect) return this.retry(conn);
        return this.backendBroke(conn.error?.message ?? 'connection closed');
      case Phase.Waiting:
        // A reused connection the backend had closed meanwhile: the request never reached it, or
        // may have. Go's rule: send again only requests that are safe to repeat.
        if (conn.reused && this.responseBuf === null && !this.replayed && REPLAYABLE.has(this.head.method) && this.requestBody === Body.None) {
          this.replayed = true;
          this.attempts--;
          return this.connect(this.endpoint!, true);
        }
        // A new connection closed before a byte of the response: the instance is going away (a
        // stop, a rolling deployment's old instance). As gorouter does for idempotent requests, try
        // another endpoint rather than answer 502.
        if (!conn.reused && this.responseBuf === null && REPLAYABLE.has(this.head.method) && this.requestBody === Body.None) {
          return this.retry(conn);
        }
        return this.backendBroke(conn.error?.message ?? 'connection closed before the response');
      case Phase.Response:
        if (this.responseBody === Body.UntilClose && !conn.error) return this.complete();
        return this.backendBroke(conn.error?.message ?? 'connection closed during the response');
      case Phase.Tunnel:
        this.client.socket.destroySoon();
        return this.complete();
      default:
        return;
    }
  }

  onBackendTimeout(): void {
    if (this.phase === Phase.Waiting) {
      this.proxy.stats.gatewayTimeouts++;
      this.dropBackend();
      this.routerError = ENDPOINT_FAILURE;
      return this.respondLocally({ status: 504, body: GATEWAY_TIMEOUT_BODY, routerError: ENDPOINT_FAILURE });
    }
    if (this.phase === Phase.Response) return this.backendBroke('backend timed out during the response');
    if (this.phase === Phase.Tunnel) return; // idle tunnels are fine
  }

  /** Connecting failed: mark the endpoint and try another (up to MAX_ATTEMPTS), else 502. */
  private retry(conn: BackendConn): void {
    const proxy = this.proxy;
    const endpoint = this.endpoint!;
    proxy.stats.backendConnectFailures++;
    endpoint.failedAt = proxy.clock.now || 1;
    proxy.log.warn('backend connection failed', { backend: endpoint.key, host: this.host, error: conn.connectTimedOut ? 'connect timeout' : conn.error?.code, attempt: this.attempts });
    this.backend = null;
    (this.tried ??= new Set()).add(endpoint);
    if (this.attempts < MAX_ATTEMPTS && this.pool) {
      const next = this.pool.choose(proxy.clock.now, proxy.settings.failedEndpointTtlMs, this.tried);
      if (next) return this.connect(next, false);
    }
    this.badGateway();
  }

  /** The backend failed after it may have seen the request: 502 if nothing was sent yet, else cut. */
  private backendBroke(reason: string): void {
    this.proxy.log.warn('backend failed', { backend: this.endpoint?.key, host: this.host, reason, request_id: this.id });
    this.dropBackend();
    if (this.phase === Phase.Response || this.phase === Phase.Tunnel) {
      // Part of the response is out: all we can do is cut the client off.
      this.client.socket.destroy();
      this.phase = Phase.Done;
      this.client.closing = true;
      this.proxy.finished(this);
      return;
    }
    this.badGateway();
  }

  private badGateway(): void {
    this.proxy.stats.badGateways++;
    this.routerError = ENDPOINT_FAILURE;
    this.respondLocally({ status: 502, body: BAD_GATEWAY_BODY, routerError: ENDPOINT_FAILURE });
  }

  private failRequestBody(error: Error): void {
    this.proxy.stats.badRequests++;
    this.dropBackend();
    this.requestDone = true;
    this.client.closing = true;
    const status = error instanceof HttpError ? error.status : 400;
    if (this.phase === Phase.Response || this.phase === Phase.Tunnel) {
      this.client.socket.destroy();
      this.phase = Phase.Done;
      this.proxy.finished(this);
      return;
    }
    this.respondLocally({ status, body: `${status} ${reasonPhrase(status)}: ${error.message}` });
  }

  /** Writes a response the router makes itself and ends the exchange. */
  private respondLocally(local: LocalResponse): void {
    // A body we have not read (or a client waiting for 100 Continue) leaves the connection unusable.
    this.keepClient = this.head.minor === 1 && !this.head.connectionClose && this.requestDone && !this.client.ended && !this.client.closing && !this.proxy.closing;
    this.status = local.status;
    this.routerError = local.routerError ?? '';
    this.pending = null;
    this.client.socket.write(this.proxy.localResponseText(local, this.head.method === 'HEAD', !this.keepClient, this.id), 'latin1');
    this.phase = Phase.Done;
    this.reuseBackend = false;
    this.proxy.finished(this);
    this.client.exchangeDone(this.keepClient);
  }

  /** The response went out whole. */
  private complete(): void {
    if (this.phase === Phase.Done) return;
    const upgraded = this.phase === Phase.Tunnel;
    this.phase = Phase.Done;
    const backend = this.backend;
    this.backend = null;
    if (backend !== null) {
      if (this.reuseBackend && this.requestDone && !upgraded && !backend.socket.destroyed) this.proxy.backends.release(backend, this.keepAliveHintMs);
      else {
        backend.owner = null;
        if (!upgraded) backend.socket.destroy();
      }
    }
    this.proxy.finished(this);
    if (upgraded) return;
    this.client.exchangeDone(this.keepClient);
  }

  private dropBackend(): void {
    const backend = this.backend;
    this.backend = null;
    if (backend !== null) {
      backend.owner = null;
      backend.socket.destroy();
    }
  }

  /** The client went away (or broke its request): give up on the backend too. */
  abort(reason: string): void {
    if (this.phase === Phase.Done) return;
    if (this.phase === Phase.Tunnel) {
      this.backend?.socket.destroy();
      return this.complete();
    }
    this.proxy.unhold(this);
    this.proxy.log.debug('request aborted', { reason, request_id: this.id, host: this.host });
    this.proxy.stats.clientAborts++;
    this.dropBackend();
    if (this.status === 0) this.status = 499;
    this.phase = Phase.Done;
    this.client.closing = true;
    this.client.socket.destroy();
    this.proxy.finished(this);
  }
}

export class Proxy {
  readonly server: net.Server;
  /** The TLS listener (listenTls): the same exchanges once a connection is decrypted. */
  tlsServer?: net.Server;
  /** TLS connections still in their handshake (not yet client connections), and since when. */
  private readonly handshaking = new Map<tls.TLSSocket, number>();
  readonly backends: BackendPool;
  readonly connections = new Set<ClientConn>();
  readonly settings: RouterSettings;
  readonly registry: RouteRegistry;
  readonly stats: RouterStats;
  readonly log: Logger;
  readonly onRequest: Handler[];
  readonly onChoose: Handler[];
  readonly onRequestHeaders: Handler[];
  readonly onResponseHeaders: Handler[];
  readonly onDone: Handler[];
  readonly requestFields: FieldNames;
  readonly maxResponseHeadBytes: number;
  readonly clock: CoarseClock = { now: Date.now() };
  private readonly sweepTimer: NodeJS.Timeout;
  closing = false;
  /**
   * The warm-up after a start (docs/router.md, "Restarts"): until this time (epoch ms) a request for a
   * host the table does not have waits for its registration instead of a 404. 0: no warm-up.
   * WARM_UNTIL_ANNOUNCED: the router has not announced itself on the bus yet.
   */
  private warmUntil = 0;
  /** The registrations answering router.start have all come (no new one for startSettleMs). */
  private settled = true;
  /** Requests waiting for the route table. */
  private readonly held = new Set<Exchange>();
  private holdTimer?: NodeJS.Timeout;

  constructor(options: ProxyOptions) {
    this.settings = options.settings;
    this.registry = options.registry;
    this.stats = options.stats;
    this.log = options.log;
    const hs = options.handlers;
    this.onRequest = hs.filter((h) => h.request);
    this.onChoose = hs.filter((h) => h.choose);
    this.onRequestHeaders = hs.filter((h) => h.requestHeaders);
    this.onResponseHeaders = hs.filter((h) => h.responseHeaders);
    this.onDone = hs.filter((h) => h.done);
    this.requestFields = requestFieldNames(hs.flatMap((h) => h.replacesRequestHeaders ?? []));
    this.maxResponseHeadBytes = Math.max(this.settings.maxHeaderBytes, 256 * 1024);
    this.backends = new BackendPool(this.settings, this.clock);
    // Timeouts are checked by one sweep instead of a timer per socket (socket timers are re-armed
    // on every read and write). Their precision is the sweep interval.
    const { backendTimeoutMs, connectTimeoutMs, clientIdleTimeoutMs, requestHeadTimeoutMs, requestBodyTimeoutMs } = this.settings;
    const every = Math.max(10, Math.min(1000, Math.floor(Math.min(backendTimeoutMs, connectTimeoutMs, clientIdleTimeoutMs, requestHeadTimeoutMs, requestBodyTimeoutMs) / 5)));
    this.sweepTimer = setInterval(() => this.sweep(), every);
    this.sweepTimer.unref();
    // Paused: each connection is moved to a socket reading with `onread` (readingSocket) first.
    this.server = net.createServer({ allowHalfOpen: true, noDelay: true, pauseOnConnect: true }, (socket) => {
      if (this.closing) {
        socket.destroy();
        return;
      }
      this.connections.add(new ClientConn(this, socket));
    });
  }

  /**
   * Listens (in a cluster worker, on the primary's shared socket; with `fd`, on that inherited
   * listening socket). Resolves with the port.
   */
  listen(host: string, port: number, fd?: number): Promise<number> {
    return listenOn(this.server, host, port, fd);
  }

  /**
   * Listens for HTTPS as well (gorouter's TLS termination): each connection is decrypted, then handled
   * exactly as a plain one (ClientConn marked secure: X-Forwarded-Proto https). Resolves with the port.
   * A plain net.Server with a TLSSocket per connection rather than tls.Server, so that connections
   * still in their handshake are known here: the sweep times them out and close() ends them.
   */
  listenTls(host: string, port: number, options: TlsListenOptions, fd?: number): Promise<number> {
    const { secureContext } = options;
    const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (raw) => {
      if (this.closing) {
        raw.destroy();
        return;
      }
      const socket = new tls.TLSSocket(raw, {
        isServer: true,
        secureContext,
        SNICallback: options.SNICallback,
        // HTTP/1.1 only (no HTTP/2), said in ALPN so that clients offering h2 settle at once.
        ALPNProtocols: ['http/1.1'],
      });
      const since = this.clock.now;
      this.handshaking.set(socket, since);
      // A failed handshake (a client that does not trust the CA, plain HTTP sent to the TLS port, a
      // port scan) only ends that connection.
      const failed = (error: Error & { code?: string }) => {
        if (!this.handshaking.delete(socket)) return;
        this.stats.tlsHandshakeFailures++;
        this.log.debug('TLS handshake failed', { error: error.code ?? error.message });
        socket.destroy();
      };
      // A client that gives up (it does not trust the certificate, say) may just close: half-open
      // sockets are allowed, so its end must end the handshake here.
      const ended = () => failed(Object.assign(new Error('the client closed the connection during the handshake'), { code: 'ECONNRESET' }));
      socket.once('error', failed);
      socket.once('end', ended);
      socket.once('close', () => this.handshaking.delete(socket));
      socket.once('secure', () => {
        socket.off('error', failed);
        socket.off('end', ended);
        if (!this.handshaking.delete(socket)) return; // timed out meanwhile
        if (this.closing) {
          socket.destroy();
          return;
        }
        this.stats.tlsConnections++;
        this.connections.add(new ClientConn(this, socket, true));
      });
    });
    this.tlsServer = server;
    return listenOn(server, host, port, fd);
  }

  /**
   * Sets the warm-up (see warmUntil): the router component calls it when it starts (until it has
   * announced itself), at its first router.start (until a register interval later, at most
   * startResponseDelayMs) and once the answers to it have settled.
   */
  warmUp(until: number, settled: boolean): void {
    this.warmUntil = until;
    this.settled = settled;
    this.recheckHeld();
  }

  /** Routes were registered: requests waiting for the table may find theirs. */
  routesChanged(): void {
    if (this.held.size > 0) this.recheckHeld();
  }

  /**
   * Whether a request must wait for the route table, which a router that has just started is still
   * receiving: until the registrations answering its router.start have settled every request waits
   * (a host's path route may come after its root route); after that, one whose host is not in the
   * table waits for it until the warm-up is over. No request waits longer than startResponseDelayMs.
   * Holds the request (hold) when it must wait.
   */
  mustWait(ex: Exchange, found: boolean): boolean {
    if (this.warmUntil === 0 || this.closing || (found && this.settled)) {
      if (ex.heldSince !== 0) this.unhold(ex);
      return false;
    }
    const now = Date.now();
    if (now >= this.warmUntil) {
      this.warmUntil = 0;
      this.settled = true;
      this.unhold(ex);
      return false;
    }
    if (ex.heldSince === 0) {
      ex.heldSince = now;
      this.stats.heldAtStart++;
      this.held.add(ex);
      this.holdTimer ??= setInterval(() => this.recheckHeld(), HOLD_CHECK_MS);
      return true;
    }
    if (now - ex.heldSince >= this.settings.startResponseDelayMs) {
      this.unhold(ex);
      return false;
    }
    return true;
  }

  unhold(ex: Exchange): void {
    this.held.delete(ex);
    if (this.held.size === 0 && this.holdTimer) {
      clearInterval(this.holdTimer);
      this.holdTimer = undefined;
    }
  }

  /** Routes every waiting request that need not wait any more. */
  private recheckHeld(): void {
    for (const ex of [...this.held]) ex.route();
  }

  private sweep(): void {
    const now = Date.now();
    this.clock.now = now;
    const { clientIdleTimeoutMs: idle, requestHeadTimeoutMs: headTimeout } = this.settings;
    for (const conn of this.connections) {
      const ex = conn.exchange;
      if (ex !== null) {
        if (ex.bodyOverdue(now, conn.socket.isPaused())) ex.bodyTimedOut();
        continue;
      }
      if (conn.closing) continue;
      if (conn.headSince !== 0 && now - conn.headSince >= headTimeout) {
        conn.buf = null;
        conn.headSince = 0;
        this.badRequest(conn, new HttpError(408, 'request head not complete in time'));
      } else if (now - conn.lastActivity >= idle) conn.socket.destroy();
    }
    // A TLS handshake has as long as a request head.
    for (const [socket, since] of this.handshaking) {
      if (now - since < headTimeout) continue;
      this.handshaking.delete(socket);
      this.stats.tlsHandshakeFailures++;
      socket.destroy();
    }
    this.backends.sweep(now);
  }

  /** A request the router could not parse: 400/431/505, and the connection is closed. */
  badRequest(conn: ClientConn, error: HttpError): void {
    this.stats.requests++;
    this.stats.badRequests++;
    const status = error.status;
    this.stats.response(status, 0);
    this.log.debug('bad request', { status, reason: error.message, client: conn.ip });
    conn.socket.write(this.localResponseText({ status, body: `${status} ${reasonPhrase(status)}` }, false, true, ''), 'latin1');
    conn.finish();
  }

  localResponseText(local: LocalResponse, head: boolean, close: boolean, requestId: string): string {
    const body = Buffer.byteLength(local.body);
    let out =
      `HTTP/1.1 ${local.status} ${reasonPhrase(local.status)}\r\nDate: ${httpDate()}\r\n` +
      `Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${body}\r\nX-Content-Type-Options: nosniff\r\n`;
    if (local.routerError) out += `X-Cf-RouterError: ${local.routerError}\r\n`;
    if (requestId) out += `X-Vcap-Request-Id: ${requestId}\r\n`;
    if (close) out += 'Connection: close\r\n';
    out += '\r\n';
    return head ? out : out + local.body;
  }

  /** Counts and logs a finished exchange. */
  finished(ex: Exchange): void {
    ex.finishedHr = performance.now();
    const micros = (ex.finishedHr - ex.startedHr) * 1000;
    this.stats.response(ex.status, micros);
    for (const h of this.onDone) {
      try {
        h.done!(ex);
      } catch (error) {
        this.log.error('handler failed', { handler: h.name, error: (error as Error).message });
      }
    }
  }

  /**
   * Stops accepting, lets requests in flight finish (up to `graceMs`), then closes everything.
   * Idle keep-alive connections are closed at once.
   */
  async close(graceMs = 5_000): Promise<void> {
    this.closing = true;
    clearInterval(this.sweepTimer);
    this.recheckHeld(); // routed now, or 404
    const servers = [this.server, ...(this.tlsServer?.listening ? [this.tlsServer] : [])];
    const closed = Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
    for (const socket of this.handshaking.keys()) socket.destroy();
    // Idle kept-alive connections are closed now (a client retries a request on a kept connection
    // that closes before answering). One accepted just now has not sent its first request yet, or
    // not all of it: it is served within the grace, as a request already read is (issue 24: a
    // router whose primary was killed drains; docs/router.md, "Restarts").
    for (const conn of this.connections) if (conn.exchange === null && conn.requests > 0) conn.socket.destroy();
    this.backends.closeAll();
    // Out of grace: what is still open is cut.
    await waitFor<boolean>('requests in flight to finish', () => this.connections.size === 0, { timeoutMs: graceMs, intervalMs: 20, onTimeout: () => false });
    for (const conn of this.connections) conn.socket.destroy();
    await closed;
  }
}
