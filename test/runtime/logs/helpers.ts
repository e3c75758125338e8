// Shared by the logs component's tests: a real bus, the component in this process with a temporary
// state directory, uaa-shaped tokens signed with a test key, a stand-in for the controller (behind
// the "router" port, told apart by Host) that says which token may see which app, and WebSocket
// clients (a polite one, and a raw socket that never reads).
import { createPrivateKey, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { SignJWT } from 'jose';
import { connect, type NatsConnection } from 'nats';
import { WebSocket } from 'ws';
import type { LogEnvelope } from '../../../src/runtime/common/bus-messages.js';
import type { Component, ComponentContext } from '../../../src/runtime/common/component.js';
import { statePaths, uaaBaseUrl, uaaIssuer } from '../../../src/runtime/common/config.js';
import { createLogger } from '../../../src/runtime/common/log.js';
import logs from '../../../src/runtime/logs/component.js';
import { testConfig, testKey, type TestKey } from '../uaa/helpers.js';

export const KEY: TestKey = testKey('logs-test-key');
export const OTHER_KEY: TestKey = testKey('logs-test-key');

export const connectTo = (port: number): Promise<NatsConnection> => connect({ servers: `127.0.0.1:${port}` });

/** An access token as uaa signs it (the admin by default). */
export async function signToken(routerPort: number, { key = KEY, expiresIn = 600, scope = ['cloud_controller.admin', 'openid'] } = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({
    jti: randomUUID().replace(/-/g, ''),
    sub: 'user-guid',
    user_id: 'user-guid',
    user_name: 'admin',
    scope,
    client_id: 'cf',
    cid: 'cf',
    grant_type: 'password',
    iss: uaaIssuer(uaaBaseUrl('localhost', routerPort)),
    aud: ['cloud_controller'],
    iat: now - 5,
    exp: now + expiresIn,
  })
    .setProtectedHeader({ alg: 'RS256', kid: key.kid, typ: 'JWT' })
    .sign(createPrivateKey(key.private_pem));
}

/** The controller as the logs component sees it: `GET /v3/apps/:guid` answers 200 for the apps a token may see. */
export class FakeController {
  /** token → app guids it may see */
  readonly grants = new Map<string, Set<string>>();
  requests = 0;
  private readonly server = http.createServer((req, res) => this.handle(req, res));

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  grant(token: string, ...apps: string[]): void {
    const set = this.grants.get(token) ?? new Set<string>();
    for (const app of apps) set.add(app);
    this.grants.set(token, set);
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    this.requests++;
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(body));
    };
    const host = (req.headers.host ?? '').split(':')[0];
    if (host !== 'api.localhost') return send(404, { message: 'unknown route' }, { 'x-cf-routererror': 'unknown_route' });
    const match = /^\/v3\/apps\/([^/?]+)$/.exec(req.url ?? '');
    if (!match) return send(404, { errors: [{ code: 10000, title: 'CF-NotFound', detail: 'Unknown request' }] });
    const token = (req.headers.authorization ?? '').replace(/^bearer /i, '');
    const apps = this.grants.get(token);
    if (!apps) return send(401, { errors: [{ code: 1000, title: 'CF-InvalidAuthToken', detail: 'Invalid Auth Token' }] });
    if (!apps.has(match[1])) return send(404, { errors: [{ code: 10010, title: 'CF-ResourceNotFound', detail: 'App not found' }] });
    send(200, { guid: match[1], name: 'app' });
  }
}

export interface RunningLogs {
  component: Component;
  nc: NatsConnection;
  ctx: ComponentContext;
  port: number;
  lines: string[];
  varz(): Record<string, unknown> & { lines_received: number; lines_dropped: number; lines_stored: number; clients_streaming: number };
  stop(): Promise<void>;
}

/** Starts the logs component in this process (settings from `env`, applied only while it is created). */
export async function startLogs({ home, busPort, routerPort, env = {}, port }: { home: string; busPort: number; routerPort: number; env?: Record<string, string>; port?: number }): Promise<RunningLogs> {
  const lines: string[] = [];
  const ctx: ComponentContext = {
    name: 'logs',
    index: 0,
    uuid: randomUUID(),
    home,
    paths: statePaths(home),
    config: testConfig(KEY, { routerPort }),
    ports: { nats_url: 'nats://unused', external_bus: false, router_port: routerPort, components: {} },
    port,
    log: createLogger('logs', { write: (line) => void lines.push(line), level: 'debug' }),
  };
  const saved: Record<string, string | undefined> = {};
  // No syslog drains unless a test asks: their reads of the controller would count as its requests.
  for (const [k, v] of Object.entries({ DEVBOX_LOGS_DRAIN_POLL_MS: '0', ...env })) {
    saved[k] = process.env[k];
    process.env[k] = v;
  }
  let component: Component;
  try {
    component = logs.create(ctx);
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
  const nc = await connectTo(busPort);
  await component.start(nc);
  const varz = () => component.varz() as ReturnType<RunningLogs['varz']>;
  let stopped = false;
  return {
    component,
    nc,
    ctx,
    port: varz().port as number,
    lines,
    varz,
    async stop() {
      if (stopped) return;
      stopped = true;
      await component.stop();
      await nc.close();
    },
  };
}

export function tempHome(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'devbox-logs-test-'));
}

let clock = Date.now() * 1e6;
/** An envelope with a timestamp later than every one made before. */
export function envelope(app: string, message: string, over: Partial<LogEnvelope> = {}): LogEnvelope {
  clock = Math.max(clock + 1000, Date.now() * 1e6);
  return { timestamp: clock, app_guid: app, source_type: 'APP/PROC/WEB', source_instance: '0', message_type: 'OUT', message, ...over };
}

export function publish(nc: NatsConnection, e: LogEnvelope): void {
  nc.publish(`logs.${e.app_guid}`, JSON.stringify(e));
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

export function get(port: number, urlPath: string, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: urlPath, headers: { connection: 'close', ...headers }, timeout: 5_000, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${urlPath} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

export const recent = async (port: number, app: string, token: string, query = ''): Promise<LogEnvelope[]> => {
  const res = await get(port, `/apps/${app}/recent${query}`, { authorization: `bearer ${token}` });
  if (res.status !== 200) throw new Error(`recent answered ${res.status}: ${res.text}`);
  return JSON.parse(res.text) as LogEnvelope[];
};

/** A WebSocket client of an app's stream, collecting what it receives. */
export class StreamClient {
  readonly received: LogEnvelope[] = [];
  closeCode?: number;
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => this.received.push(JSON.parse(data.toString()) as LogEnvelope));
    ws.on('close', (code) => (this.closeCode = code));
    ws.on('error', () => undefined);
  }

  static open(port: number, app: string, headers: Record<string, string>, query = ''): Promise<StreamClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/apps/${app}/stream${query}`, { headers, handshakeTimeout: 5_000 });
      ws.once('open', () => resolve(new StreamClient(ws)));
      ws.once('unexpected-response', (_req, res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => reject(Object.assign(new Error(`HTTP ${res.statusCode}: ${Buffer.concat(chunks).toString()}`), { status: res.statusCode })));
      });
      ws.once('error', reject);
    });
  }

  close(): void {
    this.ws.terminate();
  }
}

/**
 * A client that completes the WebSocket handshake and then never reads again (nor answers pings):
 * what a stuck or far too slow consumer looks like to the server.
 */
export async function stuckClient(port: number, app: string, token: string): Promise<net.Socket> {
  const socket = net.connect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.write(
    `GET /apps/${app}/stream HTTP/1.1\r\nHost: logs.localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${Buffer.from(randomUUID().slice(0, 16)).toString('base64')}\r\nSec-WebSocket-Version: 13\r\nAuthorization: bearer ${token}\r\n\r\n`,
  );
  const head = await new Promise<string>((resolve, reject) => {
    let text = '';
    const onData = (chunk: Buffer) => {
      text += chunk.toString('latin1');
      if (text.includes('\r\n\r\n')) {
        socket.off('data', onData);
        resolve(text);
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
    setTimeout(() => reject(new Error('no handshake answer')), 5_000).unref();
  });
  if (!head.startsWith('HTTP/1.1 101')) throw new Error(`handshake refused: ${head.split('\r\n')[0]}`);
  socket.pause();
  socket.on('error', () => undefined);
  return socket;
}
