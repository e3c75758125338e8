// devbox's embedded NATS server: the TCP listener, the Sublist, routing, and server-wide counters.
//
// Wire-compatible with nats-server 2.9.10 for the client protocol (see DESIGN.md §4 and
// REFERENCE.md "NATS client protocol"). INFO advertises `version: "2.9.10"` — the nats-server
// release whose client protocol this server follows — so clients enable exactly the features they
// would against the reference (headers, no_responders). `go` carries the Node.js version instead
// of a Go version, and `server_id` is a fresh nats-server-shaped id ("N" + 55 base32 chars).
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { Connection, type ConnectionHost, type Subscription } from './connection.js';
import { Sublist } from './sublist.js';

export type BusLogLevel = 'debug' | 'info' | 'warn' | 'error';
export type BusLogger = (level: BusLogLevel, msg: string, fields?: Record<string, unknown>) => void;

export interface BusServerOptions {
  /** Address to listen on. Default 127.0.0.1. */
  host?: string;
  /** Port to listen on; 0 (the default) lets the OS pick. */
  port?: number;
  /** When set, clients must send it as `auth_token` in CONNECT. */
  token?: string;
  /** Largest message payload (headers included), bytes. Default 1 MiB. */
  maxPayload?: number;
  /** Longest control line (arguments part), bytes. Default 4096. */
  maxControlLine?: number;
  /** Server PING interval. Default 120000 (2 min). 0 disables. */
  pingIntervalMs?: number;
  /** Unanswered PINGs before `-ERR 'Stale Connection'`. Default 2. */
  maxPingsOut?: number;
  /** Outbound bytes a client may have pending before it is dropped as a slow consumer. Default 64 MiB. */
  maxPendingBytes?: number;
  /** Time a client has to send a good CONNECT when a token is set. Default 2000. */
  authTimeoutMs?: number;
  /** Advertised `server_name`. Default: the server id. */
  serverName?: string;
  log?: BusLogger;
}

export interface BusServerStats {
  connections: number;
  total_connections: number;
  subscriptions: number;
  in_msgs: number;
  out_msgs: number;
  in_bytes: number;
  out_bytes: number;
  slow_consumers: number;
}

/** The nats-server release whose client protocol the embedded server implements. */
export const BUS_PROTOCOL_VERSION = '2.9.10';

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** A nats-server-shaped server id: "N" followed by 55 base32 characters. */
export function newServerId(): string {
  const bytes = randomBytes(55);
  let id = 'N';
  for (const b of bytes) id += BASE32[b & 31];
  return id;
}

export class BusServer implements ConnectionHost {
  readonly token: string | undefined;
  readonly maxPayload: number;
  readonly maxControlLine: number;
  readonly pingIntervalMs: number;
  readonly maxPingsOut: number;
  readonly maxPendingBytes: number;
  readonly authTimeoutMs: number;
  readonly serverId = newServerId();
  readonly serverName: string;

  private readonly hostOption: string;
  private readonly portOption: number;
  private readonly logger: BusLogger | undefined;
  private readonly sublist = new Sublist<Subscription>();
  private readonly conns = new Set<Connection>();
  private listener: net.Server | undefined;
  private boundPort = 0;
  private nextCid = 1;
  private closing = false;

  /** Connections with buffered output, flushed after each read. */
  private dirty: Connection[] = [];
  private flushQueued = false;

  private counters = { total_connections: 0, in_msgs: 0, out_msgs: 0, in_bytes: 0, out_bytes: 0, slow_consumers: 0 };

  constructor(options: BusServerOptions = {}) {
    this.hostOption = options.host ?? '127.0.0.1';
    this.portOption = options.port ?? 0;
    this.token = options.token === undefined || options.token === '' ? undefined : options.token;
    this.maxPayload = options.maxPayload ?? 1024 * 1024;
    this.maxControlLine = options.maxControlLine ?? 4096;
    this.pingIntervalMs = options.pingIntervalMs ?? 120_000;
    this.maxPingsOut = options.maxPingsOut ?? 2;
    this.maxPendingBytes = options.maxPendingBytes ?? 64 * 1024 * 1024;
    this.authTimeoutMs = options.authTimeoutMs ?? 2_000;
    this.serverName = options.serverName ?? this.serverId;
    this.logger = options.log;
  }

  /** The bound port (0 before `listen()` resolved). */
  get port(): number {
    return this.boundPort;
  }

  get host(): string {
    return this.hostOption;
  }

  /** nats://host:port of this server (after `listen()`). */
  get url(): string {
    return `nats://${this.hostOption.includes(':') ? `[${this.hostOption}]` : this.hostOption}:${this.boundPort}`;
  }

  async listen(): Promise<{ host: string; port: number }> {
    if (this.listener) throw new Error('BusServer is already listening');
    const server = net.createServer({ noDelay: true }, (socket) => this.accept(socket));
    this.listener = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: this.hostOption, port: this.portOption }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (error) => this.log('error', 'bus: listener error', { error: error.message }));
    const address = server.address();
    this.boundPort = typeof address === 'object' && address ? address.port : this.portOption;
    this.log('info', 'bus: listening', { host: this.hostOption, port: this.boundPort, auth: this.token !== undefined });
    return { host: this.hostOption, port: this.boundPort };
  }

  stats(): BusServerStats {
    return {
      connections: this.conns.size,
      total_connections: this.counters.total_connections,
      subscriptions: this.sublist.count(),
      in_msgs: this.counters.in_msgs,
      out_msgs: this.counters.out_msgs,
      in_bytes: this.counters.in_bytes,
      out_bytes: this.counters.out_bytes,
      slow_consumers: this.counters.slow_consumers,
    };
  }

  /** Closes every client connection and the listener. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    const listener = this.listener;
    const closed = listener ? new Promise<void>((resolve) => listener.close(() => resolve())) : Promise.resolve();
    for (const conn of [...this.conns]) conn.close('server shutting down', { flush: false });
    await closed;
    this.log('info', 'bus: closed', {});
  }

  // --- ConnectionHost ----------------------------------------------------------------------------

  infoLine(conn: Connection): string {
    const info: Record<string, unknown> = {
      server_id: this.serverId,
      server_name: this.serverName,
      version: BUS_PROTOCOL_VERSION,
      proto: 1,
      go: `node${process.versions.node}`,
      host: this.hostOption,
      port: this.boundPort,
      headers: true,
    };
    if (this.token !== undefined) info.auth_required = true;
    info.max_payload = this.maxPayload;
    info.client_id = conn.cid;
    info.client_ip = conn.remoteAddress;
    // nats-server puts a blank between the JSON and CRLF.
    return `INFO ${JSON.stringify(info)} \r\n`;
  }

  addSubscription(sub: Subscription): void {
    this.sublist.insert(sub);
  }

  removeSubscription(sub: Subscription): void {
    this.sublist.remove(sub);
  }

  route(from: Connection, subject: string, reply: string | undefined, hdrLen: number, payload: Buffer, start: number, end: number): void {
    const counters = this.counters;
    const size = end - start;
    counters.in_msgs++;
    counters.in_bytes += size;
    const result = this.sublist.match(subject);
    const noEcho = !from.opts.echo;
    let delivered = 0;
    const psubs = result.psubs;
    for (let i = 0; i < psubs.length; i++) {
      const sub = psubs[i];
      if (noEcho && sub.conn === from) continue;
      if (sub.conn.deliver(sub, subject, reply, hdrLen, payload, start, end)) delivered++;
    }
    const qsubs = result.qsubs;
    for (let g = 0; g < qsubs.length; g++) {
      const group = qsubs[g];
      const n = group.length;
      // One member per group, picked at random; fall through to the next when it cannot take it.
      const first = n === 1 ? 0 : Math.floor(Math.random() * n);
      for (let k = 0; k < n; k++) {
        const sub = group[(first + k) % n];
        if (noEcho && sub.conn === from) continue;
        if (sub.conn.deliver(sub, subject, reply, hdrLen, payload, start, end)) {
          delivered++;
          break;
        }
      }
    }
    if (delivered > 0) {
      counters.out_msgs += delivered;
      counters.out_bytes += delivered * size;
    } else if (reply !== undefined && from.opts.no_responders && !from.closed) {
      // No responders: the publisher asked for it and listens on the reply subject itself.
      const replySubs = this.sublist.match(reply).psubs;
      for (let i = 0; i < replySubs.length; i++) {
        const sub = replySubs[i];
        if (sub.conn === from && !sub.closed) {
          from.deliverNoResponders(sub, reply);
          break;
        }
      }
    }
  }

  markDirty(conn: Connection): void {
    if (conn.dirty) return;
    conn.dirty = true;
    this.dirty.push(conn);
    if (!this.flushQueued) {
      this.flushQueued = true;
      queueMicrotask(this.flushDirty);
    }
  }

  /** Writes out every connection's buffered output (once per read burst / microtask). */
  private readonly flushDirty = (): void => {
    this.flushQueued = false;
    const list = this.dirty;
    if (list.length === 0) return;
    this.dirty = [];
    for (let i = 0; i < list.length; i++) {
      const conn = list[i];
      conn.dirty = false;
      try {
        conn.flush();
      } catch (error) {
        this.log('error', 'bus: flush failed', { cid: conn.cid, error: String(error) });
        conn.close('flush failed', { flush: false });
      }
    }
  };

  connectionClosed(conn: Connection, reason: string): void {
    if (!this.conns.delete(conn)) return;
    this.log('debug', 'bus: client closed', { cid: conn.cid, reason });
  }

  slowConsumer(conn: Connection): void {
    if (conn.closed) return;
    this.counters.slow_consumers++;
    this.log('warn', 'bus: slow consumer, closing connection', { cid: conn.cid, max_pending: this.maxPendingBytes });
    conn.close('slow consumer', { flush: false });
  }

  log(level: BusLogLevel, msg: string, fields?: Record<string, unknown>): void {
    if (!this.logger) return;
    try {
      this.logger(level, msg, fields);
    } catch {
      // A failing logger must not break the bus.
    }
  }

  // -----------------------------------------------------------------------------------------------

  private accept(socket: net.Socket): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    try {
      const conn = new Connection(this.nextCid++, socket, this);
      this.conns.add(conn);
      this.counters.total_connections++;
      this.log('debug', 'bus: client connected', { cid: conn.cid, ip: conn.remoteAddress, port: conn.remotePort });
      conn.start();
    } catch (error) {
      this.log('error', 'bus: accept failed', { error: String(error) });
      socket.destroy();
    }
  }
}
