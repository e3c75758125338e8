// Test helpers for the bus: start either server kind with the same options, and a raw-socket
// NATS client that reads INFO, sends CONNECT and reads lines/frames with timeouts.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { BusServer, type BusServerOptions, type BusServerStats } from '../../../src/runtime/bus/server.js';
import { startNatsServer } from '../../helpers/nats-server.js';

export type ServerKind = 'embedded' | 'nats-server';

/** Options both server kinds understand (nats-server gets them through a config file). */
export interface TestServerOptions {
  token?: string;
  authTimeoutMs?: number;
  pingIntervalMs?: number;
  maxPingsOut?: number;
  maxPayload?: number;
  maxControlLine?: number;
  maxPendingBytes?: number;
  /** Embedded only. */
  log?: BusServerOptions['log'];
}

export interface TestServer {
  kind: ServerKind;
  url: string;
  host: string;
  port: number;
  /** The embedded server object (undefined for nats-server). */
  bus?: BusServer;
  stats?(): BusServerStats;
  stop(): Promise<void>;
}

export async function startTestServer(kind: ServerKind, options: TestServerOptions = {}): Promise<TestServer> {
  if (kind === 'embedded') {
    const bus = new BusServer({ host: '127.0.0.1', port: 0, ...options });
    const { host, port } = await bus.listen();
    return { kind, url: `nats://${host}:${port}`, host, port, bus, stats: () => bus.stats(), stop: () => bus.close() };
  }
  const lines: string[] = [];
  if (options.pingIntervalMs !== undefined) lines.push(`ping_interval: "${options.pingIntervalMs}ms"`);
  if (options.maxPingsOut !== undefined) lines.push(`ping_max: ${options.maxPingsOut}`);
  if (options.maxPayload !== undefined) lines.push(`max_payload: ${options.maxPayload}`);
  if (options.maxControlLine !== undefined) lines.push(`max_control_line: ${options.maxControlLine}`);
  if (options.maxPendingBytes !== undefined) lines.push(`max_pending: ${options.maxPendingBytes}`);
  let token = options.token;
  if (options.authTimeoutMs !== undefined) {
    if (token === undefined) throw new Error('nats-server applies the auth timeout only with auth on');
    lines.push(`authorization {\n  token: ${JSON.stringify(token)}\n  timeout: ${options.authTimeoutMs / 1000}\n}`);
    token = undefined;
  }
  let dir: string | undefined;
  const args: string[] = [];
  if (lines.length > 0) {
    dir = await mkdtemp(path.join(os.tmpdir(), 'devbox-nats-'));
    const file = path.join(dir, 'nats.conf');
    await writeFile(file, `${lines.join('\n')}\n`);
    args.push('-c', file);
  }
  const proc = await startNatsServer({ token, args });
  return {
    kind,
    url: proc.url,
    host: proc.host,
    port: proc.port,
    async stop() {
      await proc.stop();
      if (dir) await rm(dir, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------------------------------------

export interface RawMsg {
  op: 'MSG' | 'HMSG';
  subject: string;
  sid: string;
  reply?: string;
  /** HMSG only. */
  headers?: string;
  payload: Buffer;
}

/**
 * A NATS client over a bare socket. Everything the server sends is kept in one buffer and consumed
 * by the read helpers; every read has a timeout.
 */
export class RawClient {
  private buf: Buffer = Buffer.alloc(0);
  private waiter: (() => void) | undefined;
  closed = false;
  infoLine = '';
  info: Record<string, unknown> = {};

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => {
      /* 'close' follows */
    });
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  /**
   * Connects, reads INFO, and (unless `connect` is false) sends `CONNECT <connect>`.
   * The default CONNECT is `{"verbose":false,"pedantic":false}`.
   */
  static async open(server: { host: string; port: number }, connect: Record<string, unknown> | false = {}, timeoutMs = 3_000): Promise<RawClient> {
    const socket = net.connect({ host: server.host, port: server.port });
    socket.setNoDelay(true);
    const client = new RawClient(socket);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('connect timeout')), timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve();
      });
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
    client.infoLine = await client.readLine(timeoutMs);
    if (!client.infoLine.startsWith('INFO ')) throw new Error(`expected INFO, got ${JSON.stringify(client.infoLine)}`);
    client.info = JSON.parse(client.infoLine.slice(5)) as Record<string, unknown>;
    if (connect !== false) client.write(`CONNECT ${JSON.stringify({ verbose: false, pedantic: false, ...connect })}\r\n`);
    return client;
  }

  write(data: string | Buffer): void {
    if (!this.closed) this.socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data);
  }

  /** Waits until `ready()` holds (checked on every arrival) or the timeout passes. */
  private async until(ready: () => boolean, what: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!ready()) {
      if (this.closed) throw new Error(`connection closed while waiting for ${what}; got ${JSON.stringify(this.pending())}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; got ${JSON.stringify(this.pending())}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** What has arrived and not been consumed yet (latin1). */
  pending(): string {
    return this.buf.toString('latin1');
  }

  /** Reads one line, without its CRLF. */
  async readLine(timeoutMs = 2_000): Promise<string> {
    await this.until(() => this.buf.indexOf('\r\n') >= 0, 'a line', timeoutMs);
    const i = this.buf.indexOf('\r\n');
    const line = this.buf.subarray(0, i).toString('latin1');
    this.buf = this.buf.subarray(i + 2);
    return line;
  }

  async readBytes(n: number, timeoutMs = 2_000): Promise<Buffer> {
    await this.until(() => this.buf.length >= n, `${n} bytes`, timeoutMs);
    const out = Buffer.from(this.buf.subarray(0, n));
    this.buf = this.buf.subarray(n);
    return out;
  }

  /** Reads one MSG or HMSG frame. */
  async readMsg(timeoutMs = 2_000): Promise<RawMsg> {
    const line = await this.readLine(timeoutMs);
    const parts = line.split(' ');
    if (parts[0] === 'MSG' && (parts.length === 4 || parts.length === 5)) {
      const size = Number(parts[parts.length - 1]);
      const body = await this.readBytes(size + 2, timeoutMs);
      if (body.subarray(size).toString('latin1') !== '\r\n') throw new Error('MSG payload not followed by CRLF');
      const msg: RawMsg = { op: 'MSG', subject: parts[1], sid: parts[2], payload: body.subarray(0, size) };
      if (parts.length === 5) msg.reply = parts[3];
      return msg;
    }
    if (parts[0] === 'HMSG' && (parts.length === 5 || parts.length === 6)) {
      const hdr = Number(parts[parts.length - 2]);
      const total = Number(parts[parts.length - 1]);
      const body = await this.readBytes(total + 2, timeoutMs);
      const msg: RawMsg = {
        op: 'HMSG',
        subject: parts[1],
        sid: parts[2],
        headers: body.subarray(0, hdr).toString('latin1'),
        payload: body.subarray(hdr, total),
      };
      if (parts.length === 6) msg.reply = parts[3];
      return msg;
    }
    throw new Error(`expected MSG/HMSG, got ${JSON.stringify(line)}`);
  }

  /**
   * Sends `data` followed by PING and returns everything the server sent up to and including
   * the PONG (or up to the close). The PING makes this a barrier: the server answers in order.
   */
  async exchange(data: string | Buffer, timeoutMs = 3_000): Promise<string> {
    this.write(data);
    this.write('PING\r\n');
    return this.collectUntilPongOrClose(timeoutMs);
  }

  /** Everything up to and including the next PONG line, or up to the close. */
  async collectUntilPongOrClose(timeoutMs = 3_000): Promise<string> {
    const hasPong = () => /(^|\r\n)PONG\r\n/.test(this.pending());
    await this.until(() => hasPong() || this.closed, 'PONG or close', timeoutMs).catch((error: unknown) => {
      if (!this.closed) throw error;
    });
    const text = this.pending();
    const m = /(^|\r\n)PONG\r\n/.exec(text);
    const end = m ? m.index + m[0].length : text.length;
    this.buf = this.buf.subarray(end);
    return text.slice(0, end);
  }

  /** Waits for the server to close the connection; returns what arrived before. */
  async expectClose(timeoutMs = 3_000): Promise<string> {
    await this.until(() => this.closed, 'the server to close the connection', timeoutMs);
    const text = this.pending();
    this.buf = Buffer.alloc(0);
    return text;
  }

  /** Waits `ms` and returns whatever arrived. */
  async collectFor(ms: number): Promise<string> {
    await new Promise((resolve) => setTimeout(resolve, ms));
    const text = this.pending();
    this.buf = Buffer.alloc(0);
    return text;
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Closes every RawClient opened through it; use one per test (afterEach → closeAll). */
export class RawClients {
  private readonly clients: RawClient[] = [];

  async open(server: { host: string; port: number }, connect: Record<string, unknown> | false = {}): Promise<RawClient> {
    const c = await RawClient.open(server, connect);
    this.clients.push(c);
    return c;
  }

  closeAll(): void {
    for (const c of this.clients.splice(0)) c.close();
  }
}

/** Deterministic PRNG (mulberry32) for the fuzz tests. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
