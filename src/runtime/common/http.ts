// HTTP to devbox's endpoints through the router, for the CLI and the components alike, and (below)
// what every HTTP server of the box does the same way: createHttpServer.
// `api.localhost` and friends resolve to loopback in browsers and curl, but not in Node's resolver,
// so requests go to 127.0.0.1:<router port> with the endpoint's Host header.
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { waitFor } from './poll.js';

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

export interface RouterRequest {
  /** A full URL such as http://api.localhost:8080/v3/apps; its host becomes the Host header. */
  url: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  timeoutMs?: number;
  /** Connect here instead of resolving the URL's host (default 127.0.0.1 for *.localhost). */
  connectTo?: string;
  /**
   * When the router answers 404 `X-Cf-RouterError: unknown_route` (the component has not registered
   * its route yet, e.g. just after `devbox up` or a component restart), ask again for up to this long.
   * Safe for any method: the router forwarded nothing.
   */
  routeWaitMs?: number;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

/** Where to connect for a URL: *.localhost names at 127.0.0.1, others as they are. */
export function connectTarget(url: URL): { hostname: string; port: number } {
  return { hostname: isLoopbackName(url.hostname) ? '127.0.0.1' : url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port) || 80 };
}

export function isLoopbackName(hostname: string): boolean {
  return hostname === 'localhost' || hostname.endsWith('.localhost') || hostname === '127.0.0.1' || hostname === '[::1]';
}

export async function request(req: RouterRequest): Promise<HttpResponse> {
  let last: HttpResponse | undefined;
  return waitFor(
    `the router to route ${req.url}`,
    async () => {
      last = await requestOnce(req);
      const unknownRoute = last.status === 404 && last.headers['x-cf-routererror'] === 'unknown_route';
      return unknownRoute ? undefined : last;
    },
    // Out of time (or none given): the router's 404 is the answer (`last` is set: time runs out only after a check).
    { timeoutMs: req.routeWaitMs ?? 0, intervalMs: 100, retryIf: () => false, onTimeout: () => last as HttpResponse },
  );
}

function requestOnce({ url, method = 'GET', headers = {}, body, timeoutMs = 30_000, connectTo }: RouterRequest): Promise<HttpResponse> {
  const length: Record<string, string> = body !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {};
  return exchange({ url, method, headers: { ...headers, ...length }, timeoutMs, connectTo }, (req) => req.end(body));
}

export interface StreamRequest extends Omit<RouterRequest, 'body' | 'routeWaitMs'> {
  /** The body, sent as it is produced (chunked transfer encoding). */
  body: AsyncIterable<Buffer>;
}

/**
 * A request whose body is streamed (package uploads), never repeated: the body is read once. An
 * error while producing the body abandons the request and rejects with that error.
 */
export function streamRequest({ url, method = 'POST', headers = {}, body, timeoutMs = 10 * 60_000, connectTo }: StreamRequest): Promise<HttpResponse> {
  return exchange({ url, method, headers: { ...headers, 'transfer-encoding': 'chunked' }, timeoutMs, connectTo }, (req) => {
    void (async () => {
      try {
        for await (const chunk of body) {
          if (!req.write(chunk)) await new Promise<void>((resume) => req.once('drain', resume));
          if (req.destroyed) return;
        }
        req.end();
      } catch (error) {
        // The body could not be produced (a file vanished, ...): abandon the request with that reason.
        req.destroy(error as Error);
      }
    })();
  });
}

/** One HTTP exchange through the router: `send` writes the body; the whole response is collected. */
function exchange(
  { url, method, headers, timeoutMs, connectTo }: { url: string; method: string; headers: Record<string, string>; timeoutMs: number; connectTo?: string },
  send: (req: http.ClientRequest) => void,
): Promise<HttpResponse> {
  const target = new URL(url);
  const hostname = connectTo ?? connectTarget(target).hostname;
  return new Promise((resolve, reject) => {
    const req = http.request(
      { agent, hostname, port: target.port || 80, method, path: `${target.pathname}${target.search}`, headers: { host: target.host, ...headers }, timeout: timeoutMs },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer from ${target.host} within ${timeoutMs / 1000} s`)));
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ECONNREFUSED') reject(new Error(`cannot connect to ${target.host} (${hostname}:${target.port || 80}); is devbox running? Start it with 'devbox up'`));
      else reject(error);
    });
    send(req);
  });
}

// --- Serving: what every HTTP server of the box does the same way -----------------------------------
// The controller, uaa and logs serve with node:http (createHttpServer below); the router parses HTTP
// itself (router/http.ts, proxy.ts) but refuses the same requests with the same deadlines
// (requestDeadlines, bodyOverdue). docs/security.md, "Slow or malformed requests", says why.

/** How many Host fields a request head has: node:http keeps only the first in `req.headers`. */
export function hostHeaderCount(rawHeaders: readonly string[]): number {
  let n = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) if (rawHeaders[i].length === 4 && rawHeaders[i].toLowerCase() === 'host') n++;
  return n;
}

/**
 * How long a request may take to come in, for every HTTP server of the box. Not a total deadline:
 * package and droplet uploads may be large and slow, so a body is judged by its progress.
 */
export interface RequestDeadlines {
  /** The head (request line and headers) must be whole within this once the connection opened or the request began. */
  headMs: number;
  /**
   * A body that brings no byte for this long is cut off (408), and so is one that, once this long has
   * passed, averages fewer than `bodyMinRate` bytes/s: each `bodyMinRate` bytes buy another second
   * (Apache's mod_reqtimeout rule). Time in which the server itself holds the client back (it has
   * not taken what came yet, or a proxy waits for its backend) does not count.
   */
  bodyIdleMs: number;
  /** Bytes per second a body must average once bodyIdleMs has passed; 0: only the pause counts. */
  bodyMinRate: number;
}

/** 30 s for a head (nginx's and the router's), 20 s without a byte, 1 KiB/s after that. */
export const DEFAULT_REQUEST_DEADLINES: RequestDeadlines = { headMs: 30_000, bodyIdleMs: 20_000, bodyMinRate: 1024 };

function whole(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) throw new Error(`${name} must be a whole number (${min} or more), got '${raw}'`);
  return value;
}

/**
 * The deadlines of every server of the box: DEVBOX_HTTP_HEAD_TIMEOUT_MS, DEVBOX_HTTP_BODY_TIMEOUT_MS
 * and DEVBOX_HTTP_BODY_MIN_RATE (tests shorten them), else the defaults. Throws on a malformed value.
 */
export function requestDeadlines(env: NodeJS.ProcessEnv = process.env): RequestDeadlines {
  return {
    headMs: whole(env, 'DEVBOX_HTTP_HEAD_TIMEOUT_MS', DEFAULT_REQUEST_DEADLINES.headMs, 1),
    bodyIdleMs: whole(env, 'DEVBOX_HTTP_BODY_TIMEOUT_MS', DEFAULT_REQUEST_DEADLINES.bodyIdleMs, 1),
    bodyMinRate: whole(env, 'DEVBOX_HTTP_BODY_MIN_RATE', DEFAULT_REQUEST_DEADLINES.bodyMinRate, 0),
  };
}

/**
 * The body rule (RequestDeadlines.bodyIdleMs): true when a body is overdue. `waitedMs` is the time the
 * server has waited for it so far, `idleMs` the time since its last byte (both without the time the
 * server held the client back), `bytes` what came of it.
 */
export function bodyOverdue(waitedMs: number, idleMs: number, bytes: number, { bodyIdleMs, bodyMinRate }: Pick<RequestDeadlines, 'bodyIdleMs' | 'bodyMinRate'>): boolean {
  return idleMs >= bodyIdleMs || (bodyMinRate > 0 && waitedMs >= bodyIdleMs + (bytes * 1000) / bodyMinRate);
}

/** What a server's answers made here look like (each server has its own error shape). */
export type ErrorBody = (status: number, message: string) => { contentType: string; body: string };

const plainError: ErrorBody = (status, message) => ({ contentType: 'text/plain; charset=utf-8', body: `${status} ${http.STATUS_CODES[status] ?? ''}: ${message}` });

/** Requests refused here, by why (each server shows them in its /varz). */
export interface RefusedRequests {
  /** Two or more Host headers: 400. */
  duplicate_host: number;
  /** A body that did not come in time: 408, or cut off when the response had begun. */
  body_timeout: number;
}

export interface HttpServerOptions {
  deadlines?: RequestDeadlines;
  /** The server's error shape for the 400 and 408 answered here; plain text otherwise. */
  errorBody?: ErrorBody;
  /** Counted into (the server's /varz shows it). */
  refused?: RefusedRequests;
  /** Told of each refusal (for the server's log). */
  onRefused?: (reason: keyof RefusedRequests, req: http.IncomingMessage) => void;
  /** Upgrade requests (WebSockets): two Host headers are refused before this sees them. */
  upgrade?: (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void;
}

/** The reason a request's body stream fails with when its body did not come in time. */
export class RequestBodyTimeout extends Error {
  override readonly name = 'RequestBodyTimeout';
  readonly code = 'DEVBOX_REQUEST_BODY_TIMEOUT';
}

const cutOff = new WeakSet<http.IncomingMessage>();

/**
 * True when this layer answered the request (408) or cut it off: its handler, whose read of the body
 * failed, has nothing left to answer and nothing to log as a failure.
 */
export const requestCutOff = (req: http.IncomingMessage): boolean => cutOff.has(req);

export const duplicateHostMessage = 'More than one Host header: send exactly one';

/**
 * An HTTP server (node:http) with the box's guards, so that no server repeats them:
 *  - a request with two or more Host headers is answered 400 and its connection closed, as gorouter
 *    does (node:http would take the first and pass it on);
 *  - the head must be whole within `headMs` (Node's headersTimeout: 408 and close);
 *  - a body must keep coming (RequestDeadlines, bodyOverdue), whoever sends it: a token changes
 *    nothing. Overdue, it is answered 408 while nothing of the response was sent, else the
 *    connection is cut; the handler's reads of the body fail with RequestBodyTimeout
 *    (requestCutOff(req) is then true). Node's own total requestTimeout is off: it would cut a
 *    large upload that keeps coming.
 */
export function createHttpServer(handler: http.RequestListener, options: HttpServerOptions = {}): http.Server {
  const deadlines = options.deadlines ?? requestDeadlines();
  const errorBody = options.errorBody ?? plainError;
  const refuse = (reason: keyof RefusedRequests, req: http.IncomingMessage) => {
    if (options.refused) options.refused[reason]++;
    options.onRefused?.(reason, req);
  };
  const watch = new BodyWatch(deadlines, errorBody, (req) => refuse('body_timeout', req));
  const server = http.createServer(
    {
      headersTimeout: deadlines.headMs,
      requestTimeout: 0,
      // How often node:http looks for heads overdue (its default, 30 s, would triple a short headMs).
      connectionsCheckingInterval: Math.max(10, Math.min(1_000, Math.floor(deadlines.headMs / 5))),
    },
    (req, res) => {
      if (hostHeaderCount(req.rawHeaders) > 1) {
        refuse('duplicate_host', req);
        const { contentType, body } = errorBody(400, duplicateHostMessage);
        res.writeHead(400, { 'content-type': contentType, 'content-length': Buffer.byteLength(body), connection: 'close' });
        res.end(body);
        return;
      }
      watch.add(req, res);
      handler(req, res);
    },
  );
  if (options.upgrade) {
    const upgrade = options.upgrade;
    server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      if (hostHeaderCount(req.rawHeaders) > 1) {
        refuse('duplicate_host', req);
        socket.on('error', () => socket.destroy());
        socket.end(rawResponse(400, errorBody(400, duplicateHostMessage)));
        return;
      }
      upgrade(req, socket, head);
    });
  }
  server.on('close', () => watch.stop());
  return server;
}

/** A whole response with `Connection: close`, written straight to a socket. */
function rawResponse(status: number, { contentType, body }: { contentType: string; body: string }): string {
  return `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}\r\nContent-Type: ${contentType}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}

interface Watched {
  res: http.ServerResponse;
  /** socket.bytesRead when last looked at. */
  readAt: number;
  /**
   * Bytes that came on the connection since the body began: chunked framing included (unlike the
   * router, which counts the body's own bytes), the traffic a client must keep up.
   */
  bytes: number;
  waitedMs: number;
  tickAt: number;
  byteAt: number;
}

/** Requests whose body is still coming, looked at by one sweep (not a timer per request). */
class BodyWatch {
  private readonly watched = new Map<http.IncomingMessage, Watched>();
  private timer?: NodeJS.Timeout;
  private readonly everyMs: number;

  constructor(
    private readonly deadlines: RequestDeadlines,
    private readonly errorBody: ErrorBody,
    private readonly onTimeout: (req: http.IncomingMessage) => void,
  ) {
    this.everyMs = Math.max(10, Math.min(1_000, Math.floor(deadlines.bodyIdleMs / 5)));
  }

  add(req: http.IncomingMessage, res: http.ServerResponse): void {
    // No body (neither a length nor chunks: HTTP/1.1's length 0), or all of it came with the head.
    const length = req.headers['content-length'];
    if (req.complete || (req.headers['transfer-encoding'] === undefined && (length === undefined || length === '0'))) return;
    const now = Date.now();
    this.watched.set(req, { res, readAt: req.socket.bytesRead, bytes: 0, waitedMs: 0, tickAt: now, byteAt: now });
    const forget = () => this.watched.delete(req);
    req.once('end', forget);
    req.once('close', forget);
    if (!this.timer) {
      this.timer = setInterval(() => this.sweep(), this.everyMs);
      this.timer.unref();
    }
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.watched.clear();
  }

  private sweep(): void {
    const now = Date.now();
    for (const [req, w] of this.watched) {
      if (req.complete || req.destroyed) {
        this.watched.delete(req);
        continue;
      }
      const read = req.socket.bytesRead;
      if (read !== w.readAt) {
        w.bytes += read - w.readAt;
        w.readAt = read;
        w.byteAt = now;
      }
      // The server has not taken what came yet (it is busy before reading, or its reader is slow):
      // its own doing, not the client's. Once it has answered, the rest of the body is the client's.
      if (req.readableLength > 0 && !w.res.writableEnded) {
        w.tickAt = w.byteAt = now;
        continue;
      }
      w.waitedMs += now - w.tickAt;
      w.tickAt = now;
      if (bodyOverdue(w.waitedMs, now - w.byteAt, w.bytes, this.deadlines)) this.timeOut(req, w.res);
    }
    if (this.watched.size === 0) this.stop();
  }

  private timeOut(req: http.IncomingMessage, res: http.ServerResponse): void {
    this.watched.delete(req);
    cutOff.add(req);
    this.onTimeout(req);
    const { bodyIdleMs, bodyMinRate } = this.deadlines;
    const error = new RequestBodyTimeout(
      `request body not received in time: it must not pause for ${bodyIdleMs / 1000} s${bodyMinRate > 0 ? `, nor average under ${bodyMinRate} bytes/s after that` : ''}`,
    );
    const socket = req.socket;
    const end = () => void req.destroy(error);
    if (res.headersSent || socket.destroyed || !socket.writable) return end();
    // Written to the socket as node:http writes its own 408: the ServerResponse stays untouched, and
    // whatever the handler still writes to it goes nowhere. The handler's read fails once it is out.
    const flushed = setTimeout(end, 1_000);
    flushed.unref();
    socket.end(rawResponse(408, this.errorBody(408, `${error.message}. Send the body without pauses.`)), () => {
      clearTimeout(flushed);
      end();
    });
  }
}
