// One client connection of the embedded NATS server: socket I/O, CONNECT options, auth, keepalive,
// the connection's subscriptions, and the outbound buffer that MSG frames are written into.
//
// Outbound bytes are appended to one per-connection Buffer and written to the socket once per
// read (the server flushes every connection that got data after it has processed a chunk), so a
// burst of messages becomes a few large writes instead of one write per message.
import { timingSafeEqual } from 'node:crypto';
import type { Socket } from 'node:net';
import { Parser, type ParseErrorKind, type ParserHandler } from './parser.js';
import { InvalidSubjectError, isValidLiteralSubject, type SublistEntry } from './sublist.js';

/** The error texts nats-server 2.9.10 sends, byte for byte. */
export const ERR = {
  authorization: 'Authorization Violation',
  authTimeout: 'Authentication Timeout',
  maxPayload: 'Maximum Payload Violation',
  maxControlLine: 'maximum control line exceeded',
  unknownOp: 'Unknown Protocol Operation',
  invalidSubject: 'Invalid Subject',
  invalidPublishSubject: 'Invalid Publish Subject',
  staleConnection: 'Stale Connection',
  invalidProtocol: 'invalid client protocol',
  noRespondersRequiresHeaders: 'no responders requires headers support',
} as const;

/** CONNECT options as the server keeps them. */
export interface ClientOptions {
  verbose: boolean;
  pedantic: boolean;
  echo: boolean;
  headers: boolean;
  no_responders: boolean;
  tls_required: boolean;
  protocol: number;
  auth_token?: string;
  user?: string;
  pass?: string;
  name?: string;
  lang?: string;
  version?: string;
}

// nats-server's defaults before (and underneath) CONNECT: verbose and pedantic are ON; a CONNECT
// is decoded over the current options, so fields it leaves out keep their value.
const DEFAULT_CLIENT_OPTIONS: ClientOptions = {
  verbose: true,
  pedantic: true,
  echo: true,
  headers: false,
  no_responders: false,
  tls_required: false,
  protocol: 0,
};

const BOOL_FIELDS = new Set(['verbose', 'pedantic', 'echo', 'headers', 'no_responders', 'tls_required', 'new_account']);
const STRING_FIELDS = new Set(['auth_token', 'user', 'pass', 'name', 'lang', 'version', 'sig', 'jwt', 'nkey', 'account']);
const KEPT_FIELDS = new Set(['verbose', 'pedantic', 'echo', 'headers', 'no_responders', 'tls_required', 'protocol', 'auth_token', 'user', 'pass', 'name', 'lang', 'version']);

/**
 * Decodes a CONNECT argument the way Go's encoding/json fills nats-server's ClientOpts: must be a
 * JSON object (or null), keys match case-insensitively, unknown keys are ignored, null leaves a
 * field unchanged, a known field of the wrong type is an error. Returns undefined on error.
 */
export function decodeConnect(json: string, current: ClientOptions): ClientOptions | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    return undefined;
  }
  if (parsed === null) return { ...current };
  if (typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
  const next: Record<string, unknown> = { ...current };
  for (const [rawKey, value] of Object.entries(parsed as Record<string, unknown>)) {
    const key = rawKey.toLowerCase();
    if (value === null) continue;
    if (BOOL_FIELDS.has(key)) {
      if (typeof value !== 'boolean') return undefined;
    } else if (STRING_FIELDS.has(key)) {
      if (typeof value !== 'string') return undefined;
    } else if (key === 'protocol') {
      if (typeof value !== 'number' || !Number.isInteger(value)) return undefined;
    } else {
      continue;
    }
    if (KEPT_FIELDS.has(key)) next[key] = value;
  }
  return next as unknown as ClientOptions;
}

export class Subscription implements SublistEntry {
  /** Messages delivered so far. */
  delivered = 0;
  /** Auto-unsubscribe after this many deliveries (0 = no limit). */
  max = 0;
  closed = false;

  constructor(
    readonly conn: Connection,
    readonly subject: string,
    readonly queue: string | undefined,
    readonly sid: string,
  ) {}
}

/** What a connection needs from its server. */
export interface ConnectionHost {
  readonly token: string | undefined;
  readonly maxPayload: number;
  readonly maxControlLine: number;
  readonly pingIntervalMs: number;
  readonly maxPingsOut: number;
  readonly maxPendingBytes: number;
  readonly authTimeoutMs: number;
  infoLine(conn: Connection): string;
  addSubscription(sub: Subscription): void;
  removeSubscription(sub: Subscription): void;
  route(from: Connection, subject: string, reply: string | undefined, hdrLen: number, payload: Buffer, start: number, end: number): void;
  markDirty(conn: Connection): void;
  connectionClosed(conn: Connection, reason: string): void;
  slowConsumer(conn: Connection): void;
  log(level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>): void;
}

const EMPTY_BUFFER = Buffer.alloc(0);
const PONG = 'PONG\r\n';
const PING = 'PING\r\n';
const OK = '+OK\r\n';
const NO_RESPONDERS_TAIL = ' 16 16\r\nNATS/1.0 503\r\n\r\n\r\n';

/** Writes the decimal digits of a non-negative integer at `o`; returns the new offset. */
function writeUint(out: Buffer, o: number, n: number): number {
  if (n < 10) {
    out[o] = 0x30 + n;
    return o + 1;
  }
  let digits = 1;
  for (let t = n; t >= 10; t = Math.floor(t / 10)) digits++;
  let p = o + digits - 1;
  while (n >= 10) {
    const q = Math.floor(n / 10);
    out[p--] = 0x30 + (n - q * 10);
    n = q;
  }
  out[p] = 0x30 + n;
  return o + digits;
}

/** Writes a latin1 string (one byte per char) at `o`; returns the new offset. */
function writeLatin1(out: Buffer, o: number, s: string): number {
  const n = s.length;
  if (n > 48) return o + out.write(s, o, n, 'latin1');
  for (let k = 0; k < n; k++) out[o + k] = s.charCodeAt(k);
  return o + n;
}

export class Connection implements ParserHandler {
  opts: ClientOptions = { ...DEFAULT_CLIENT_OPTIONS };
  readonly parser: Parser;
  readonly subs = new Map<string, Subscription>();
  readonly remoteAddress: string;
  readonly remotePort: number;
  closed = false;
  /** Set while this connection is on the server's flush list. */
  dirty = false;
  /** Authentication still pending (the server has a token and no good CONNECT arrived yet). */
  private authPending: boolean;

  private out: Buffer = EMPTY_BUFFER;
  private outLen = 0;
  /** Size of the last flush, to size the next buffer. */
  private outHint = 256;
  private pingsOut = 0;
  private pingTimer: NodeJS.Timeout | undefined;
  private authTimer: NodeJS.Timeout | undefined;
  private closeTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly cid: number,
    readonly socket: Socket,
    private readonly host: ConnectionHost,
  ) {
    this.remoteAddress = (socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    this.remotePort = socket.remotePort ?? 0;
    this.parser = new Parser(this, { maxControlLine: host.maxControlLine, maxPayload: host.maxPayload });
    this.authPending = host.token !== undefined;
    this.parser.awaitingConnect = this.authPending;
  }

  /** Sends INFO, arms the timers and starts reading. */
  start(): void {
    const socket = this.socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (error: Error) => this.close(`socket error: ${error.message}`));
    socket.on('close', () => this.close('socket closed'));
    socket.on('end', () => this.close('client closed'));
    this.enqueueString(this.host.infoLine(this), 'utf8');
    this.flush();
    if (this.authPending) {
      this.authTimer = setTimeout(() => {
        this.guard(() => {
          if (this.authPending && !this.closed) this.closeWithError(ERR.authTimeout, 'authentication timeout');
        });
      }, this.host.authTimeoutMs);
      this.authTimer.unref();
    }
    if (this.host.pingIntervalMs > 0) {
      this.pingTimer = setInterval(() => this.guard(() => this.onPingTimer()), this.host.pingIntervalMs);
      this.pingTimer.unref();
    }
  }

  get pendingBytes(): number {
    return this.outLen + (this.closed ? 0 : this.socket.writableLength);
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    this.guard(() => this.parser.parse(chunk));
  }

  /** Runs `fn`; an exception (a bug of ours) closes just this connection, never the server. */
  private guard(fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.host.log('error', 'bus: internal error, closing the connection', { cid: this.cid, error: String(error) });
      try {
        this.close('internal error', { flush: false });
      } catch {
        this.socket.destroy();
      }
    }
  }

  private onPingTimer(): void {
    if (this.closed) return;
    if (this.pingsOut + 1 > this.host.maxPingsOut) {
      this.closeWithError(ERR.staleConnection, 'stale connection');
      return;
    }
    this.pingsOut++;
    this.enqueueString(PING);
    this.flush();
  }

  // --- ParserHandler ---------------------------------------------------------------------------

  onConnect(json: string): void {
    const next = decodeConnect(json, this.opts);
    if (next === undefined) {
      this.close('malformed CONNECT');
      return;
    }
    const token = this.host.token;
    if (token !== undefined && !sameSecret(next.auth_token, token)) {
      this.closeWithError(ERR.authorization, 'authorization violation');
      return;
    }
    if (next.protocol < 0 || next.protocol > 1) {
      this.closeWithError(ERR.invalidProtocol, 'invalid client protocol');
      return;
    }
    if (next.no_responders && !next.headers) {
      this.closeWithError(ERR.noRespondersRequiresHeaders, 'no_responders without headers');
      return;
    }
    this.opts = next;
    this.parser.headersAllowed = next.headers;
    if (this.authPending) {
      this.authPending = false;
      this.parser.awaitingConnect = false;
      if (this.authTimer) clearTimeout(this.authTimer);
      this.authTimer = undefined;
    }
    this.host.log('debug', 'bus: client CONNECT', { cid: this.cid, name: next.name, lang: next.lang, version: next.version });
    if (next.verbose) this.enqueueString(OK);
  }

  onInfo(json: string): void {
    // nats-server decodes a client's INFO and otherwise ignores it.
    let parsed: unknown;
    try {
      parsed = JSON.parse(json);
    } catch {
      this.close('malformed INFO');
      return;
    }
    if (parsed !== null && (typeof parsed !== 'object' || Array.isArray(parsed))) this.close('malformed INFO');
  }

  onPub(subject: string, reply: string | undefined, hdrLen: number, payload: Buffer, start: number, end: number): void {
    if (this.opts.pedantic && !isValidLiteralSubject(subject)) this.sendErr(ERR.invalidPublishSubject);
    if (this.opts.verbose) this.enqueueString(OK);
    this.host.route(this, subject, reply, hdrLen, payload, start, end);
  }

  onSub(subject: string, queue: string | undefined, sid: string): void {
    if (!this.subs.has(sid)) {
      const sub = new Subscription(this, subject, queue, sid);
      try {
        this.host.addSubscription(sub);
      } catch (error) {
        if (error instanceof InvalidSubjectError) {
          this.sendErr(ERR.invalidSubject);
          return;
        }
        throw error;
      }
      this.subs.set(sid, sub);
    }
    if (this.opts.verbose) this.enqueueString(OK);
  }

  onUnsub(sid: string, max: number | undefined): void {
    const sub = this.subs.get(sid);
    if (sub !== undefined) {
      if (max !== undefined && max > 0 && max > sub.delivered) sub.max = max;
      else this.removeSub(sub);
    }
    if (this.opts.verbose) this.enqueueString(OK);
  }

  onPing(): void {
    this.enqueueString(PONG);
  }

  onPong(): void {
    this.pingsOut = 0;
  }

  onOk(): void {}

  onErr(text: string): void {
    // nats-server logs a client's -ERR and closes the connection.
    this.close(`client sent -ERR ${text.slice(0, 80)}`);
  }

  onError(kind: ParseErrorKind, detail: string): void {
    switch (kind) {
      case 'unknown_op':
        this.closeWithError(ERR.unknownOp, detail);
        return;
      case 'auth':
        this.closeWithError(ERR.authorization, detail);
        return;
      case 'max_control_line':
        this.closeWithError(ERR.maxControlLine, detail);
        return;
      case 'max_payload':
        this.closeWithError(ERR.maxPayload, detail);
        return;
      default:
        // Argument errors and HPUB without headers: nats-server closes without a -ERR.
        this.close(`protocol error: ${detail}`);
    }
  }

  // --- delivery --------------------------------------------------------------------------------

  /**
   * Writes one MSG/HMSG for `sub`. Returns false when nothing was delivered (closed, or over the
   * auto-unsubscribe limit). Unsubscribes when the limit is reached.
   */
  deliver(sub: Subscription, subject: string, reply: string | undefined, hdrLen: number, payload: Buffer, start: number, end: number): boolean {
    if (this.closed || sub.closed) return false;
    if (sub.max > 0 && sub.delivered >= sub.max) {
      this.removeSub(sub);
      return false;
    }
    sub.delivered++;
    let body = start;
    let hmsg = false;
    if (hdrLen > 0) {
      if (this.opts.headers) hmsg = true;
      else body = start + hdrLen; // strip the header block for clients that did not ask for headers
    }
    const size = end - body;
    const sid = sub.sid;
    this.reserve(32 + subject.length + sid.length + (reply === undefined ? 0 : reply.length) + size);
    if (this.closed) return false; // slow consumer
    const out = this.out;
    let o = this.outLen;
    if (hmsg) out[o++] = 0x48; // H
    out[o++] = 0x4d; // M
    out[o++] = 0x53; // S
    out[o++] = 0x47; // G
    out[o++] = 0x20;
    o = writeLatin1(out, o, subject);
    out[o++] = 0x20;
    o = writeLatin1(out, o, sid);
    out[o++] = 0x20;
    if (reply !== undefined) {
      o = writeLatin1(out, o, reply);
      out[o++] = 0x20;
    }
    if (hmsg) {
      o = writeUint(out, o, hdrLen);
      out[o++] = 0x20;
    }
    o = writeUint(out, o, size);
    out[o++] = 0x0d;
    out[o++] = 0x0a;
    if (size <= 64) {
      for (let k = 0; k < size; k++) out[o + k] = payload[body + k];
    } else {
      payload.copy(out, o, body, end);
    }
    o += size;
    out[o++] = 0x0d;
    out[o++] = 0x0a;
    this.outLen = o;
    if (sub.max > 0 && sub.delivered >= sub.max) this.removeSub(sub);
    return true;
  }

  /** The no-responders status for a request nobody received (not counted against UNSUB max). */
  deliverNoResponders(sub: Subscription, reply: string): void {
    if (this.closed) return;
    this.enqueueString(`HMSG ${reply} ${sub.sid}${NO_RESPONDERS_TAIL}`);
  }

  removeSub(sub: Subscription): void {
    if (sub.closed) return;
    sub.closed = true;
    if (this.subs.get(sub.sid) === sub) this.subs.delete(sub.sid);
    this.host.removeSubscription(sub);
  }

  // --- output ----------------------------------------------------------------------------------

  private reserve(n: number): void {
    const need = this.outLen + n;
    if (need <= this.out.length) return;
    if (need + this.socket.writableLength > this.host.maxPendingBytes) {
      this.host.slowConsumer(this);
      return;
    }
    const cap = Math.max(need, this.out.length * 2, this.outHint);
    const grown = Buffer.allocUnsafe(cap);
    if (this.outLen > 0) this.out.copy(grown, 0, 0, this.outLen);
    else this.host.markDirty(this);
    this.out = grown;
  }

  /**
   * Appends a protocol string. Subjects, sids and replies are latin1 strings (one char per wire
   * byte, see the parser), so 'latin1' reproduces their bytes exactly; INFO is JSON in UTF-8.
   */
  enqueueString(s: string, encoding: 'latin1' | 'utf8' = 'latin1'): void {
    if (this.closed) return;
    const n = Buffer.byteLength(s, encoding);
    this.reserve(n);
    if (this.closed) return;
    if (this.outLen === 0) this.host.markDirty(this);
    this.outLen += this.out.write(s, this.outLen, n, encoding);
  }

  sendErr(text: string): void {
    this.enqueueString(`-ERR '${text}'\r\n`);
  }

  /** Writes what is buffered to the socket. */
  flush(): void {
    const len = this.outLen;
    if (len === 0 || this.closed) return;
    const data = this.out.subarray(0, len);
    // The socket keeps `data` until written, so the next batch goes into a fresh buffer.
    this.outHint = Math.min(Math.max(256, len + (len >> 2)), 1 << 20);
    this.out = EMPTY_BUFFER;
    this.outLen = 0;
    if (this.socket.writableLength + len > this.host.maxPendingBytes) {
      this.host.slowConsumer(this);
      return;
    }
    this.socket.write(data);
  }

  // --- closing ---------------------------------------------------------------------------------

  /** Sends `-ERR '<text>'`, flushes and closes. */
  closeWithError(text: string, reason: string): void {
    if (this.closed) return;
    this.sendErr(text);
    this.close(reason);
  }

  /** Flushes what is pending and closes the connection; removes its subscriptions. */
  close(reason: string, { flush = true }: { flush?: boolean } = {}): void {
    if (this.closed) return;
    if (flush) {
      this.flush();
      if (this.closed) return; // the flush found a slow consumer and closed already
    }
    this.closed = true;
    this.parser.halt();
    if (this.pingTimer) clearInterval(this.pingTimer);
    if (this.authTimer) clearTimeout(this.authTimer);
    this.pingTimer = this.authTimer = undefined;
    this.out = EMPTY_BUFFER;
    this.outLen = 0;
    for (const sub of this.subs.values()) {
      sub.closed = true;
      this.host.removeSubscription(sub);
    }
    this.subs.clear();
    if (flush && !this.socket.destroyed) {
      this.socket.end();
      // A peer that never reads must not keep the socket around.
      this.closeTimer = setTimeout(() => this.socket.destroy(), 2_000);
      this.closeTimer.unref();
      this.socket.once('close', () => clearTimeout(this.closeTimer));
    } else {
      this.socket.destroy();
    }
    this.host.connectionClosed(this, reason);
  }
}

function sameSecret(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
