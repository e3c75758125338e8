// Test helpers for the router: real HTTP backends (in-process servers on OS-chosen ports), the
// router in-process with short timers, an HTTP client that can set Host, and a raw-socket client
// for what well-behaved clients never send.
import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { connect, StringCodec, type NatsConnection } from 'nats';
import { BusServer } from '../../../src/runtime/bus/server.js';
import type { RouterRegisterMessage } from '../../../src/runtime/common/bus-messages.js';
import type { Component, ComponentContext } from '../../../src/runtime/common/component.js';
import { ensureConfig, ensureStateDirs, statePaths } from '../../../src/runtime/common/config.js';
import { createLogger, type Logger } from '../../../src/runtime/common/log.js';
import { freePort, isListening, waitFor } from '../../../src/runtime/common/net.js';
import routerModule from '../../../src/runtime/router/component.js';
import { accessLogMessage, unescapeMessage } from '../../../src/runtime/router/handlers/access-log.js';
import { Router } from '../../../src/runtime/router/router.js';
import { routerSettings, type RouterSettings } from '../../../src/runtime/router/settings.js';
import { NATS_SERVER_BIN } from '../../helpers/nats-server.js';

export const quietLog: Logger = createLogger('router-test', { level: 'error', write: () => undefined });

export interface RecordedRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  body: Buffer;
}

export interface Backend {
  name: string;
  port: number;
  server: http.Server;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

/**
 * An HTTP backend on a free loopback port. The default handler answers 200 with its name and
 * records every request (with its body).
 */
export async function startBackend(name = 'backend', handler?: (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer) => void): Promise<Backend> {
  const requests: RecordedRequest[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      requests.push({ method: req.method!, url: req.url!, headers: req.headers, rawHeaders: req.rawHeaders, body });
      if (handler) handler(req, res, body);
      else {
        res.writeHead(200, { 'Content-Type': 'text/plain', 'X-Backend': name });
        res.end(name);
      }
    });
  });
  server.keepAliveTimeout = 10_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    name,
    port,
    server,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export const registration = (backend: { port: number }, uris: string[], extra: Partial<RouterRegisterMessage> = {}): RouterRegisterMessage => ({
  host: '127.0.0.1',
  port: backend.port,
  uris,
  app: 'app-guid-1',
  private_instance_id: `instance-${backend.port}`,
  tags: { component: 'test' },
  ...extra,
});

export interface TestRouter {
  router: Router;
  port: number;
  settings: RouterSettings;
  /** Access-log lines: [app guid, line]. */
  accessLog: [string, string][];
  register(msg: RouterRegisterMessage): void;
  close(): Promise<void>;
}

/** The router in this process on a free port, with short timers unless overridden. */
export async function startRouter(overrides: Partial<RouterSettings> = {}): Promise<TestRouter> {
  const settings = routerSettings(0, {}, { workers: 1, pruneIntervalMs: 50, backendTimeoutMs: 5_000, connectTimeoutMs: 2_000, ...overrides });
  const accessLog: [string, string][] = [];
  const router = new Router({ settings, log: quietLog, accessLogSink: (req) => accessLog.push([req.endpoint!.app, unescapeMessage(accessLogMessage(req))]) });
  const port = await router.listen();
  return {
    router,
    port,
    settings,
    accessLog,
    register: (msg) => router.register(msg, Date.now()),
    close: () => router.close(500),
  };
}

export interface Response {
  status: number;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  body: Buffer;
  text: string;
}

export interface RequestOptions {
  host?: string;
  path?: string;
  method?: string;
  headers?: http.OutgoingHttpHeaders;
  body?: string | Buffer;
  agent?: http.Agent | false;
  timeoutMs?: number;
}

/** One HTTP request to the router's port with the given Host (a fresh connection unless an agent is given). */
export function request(port: number, { host = 'app.localhost', path = '/', method = 'GET', headers = {}, body, agent = false, timeoutMs = 10_000 }: RequestOptions = {}): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, headers: { host, ...headers }, agent, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const buf = Buffer.concat(chunks);
        resolve({ status: res.statusCode!, headers: res.headers, rawHeaders: res.rawHeaders, body: buf, text: buf.toString() });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error(`request to port ${port} timed out`)));
    req.end(body);
  });
}

/**
 * Writes raw bytes to the port and collects everything until the server closes the connection
 * (or `untilMatch` matches what has arrived, or the time is up).
 */
export function rawExchange(port: number, data: string | Buffer, { timeoutMs = 3_000, untilMatch }: { timeoutMs?: number; untilMatch?: RegExp } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    let out = '';
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(out);
    };
    const timer = setTimeout(done, timeoutMs);
    socket.on('connect', () => socket.write(data));
    socket.on('data', (d: Buffer) => {
      out += d.toString('latin1');
      if (untilMatch?.test(out)) done();
    });
    socket.on('end', done);
    socket.on('close', done);
    socket.on('error', (error) => {
      clearTimeout(timer);
      if (out) resolve(out);
      else reject(error);
    });
  });
}

/** A port that nothing listens on (taken from the OS, then released). */
export async function deadPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface TestBus {
  kind: 'embedded' | 'nats-server';
  port: number;
  token: string;
  /** nats://token@127.0.0.1:port */
  url: string;
  stop(): Promise<void>;
}

/** devbox's embedded bus in this process, or a nats-server child, on `port` (0: a free one). */
export async function startTestBus(kind: TestBus['kind'], port = 0, token = 'router-test-token'): Promise<TestBus> {
  if (kind === 'embedded') {
    const server = new BusServer({ port, token });
    await server.listen();
    return { kind, port: server.port, token, url: `nats://${token}@127.0.0.1:${server.port}`, stop: () => server.close() };
  }
  const chosen = port || (await freePort());
  const child = spawn(NATS_SERVER_BIN, ['-a', '127.0.0.1', '-p', String(chosen), '--auth', token], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await waitFor(`nats-server on ${chosen}`, async () => child.exitCode === null && (await isListening(chosen)), { timeoutMs: 10_000 });
  return {
    kind,
    port: chosen,
    token,
    url: `nats://${token}@127.0.0.1:${chosen}`,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

export function natsServerAvailable(): boolean {
  return !spawnSync(NATS_SERVER_BIN, ['--version'], { stdio: 'ignore' }).error;
}

const sc = StringCodec();

export interface RunningRouter {
  component: Component;
  /** The router's own bus connection. */
  nc: NatsConnection;
  port: number;
  uuid: string;
  /** The component's state directory (config.json, tls/). */
  home: string;
  varz(): Record<string, unknown> & { bus?: { announcements: number; rejected: number }; routes: number };
  stop(): Promise<void>;
}

/**
 * The router component as the component runner would run it, with DEVBOX_ROUTER_* from `env`. Its
 * warm-up after the start (requests for unknown hosts wait for their registration) is off unless
 * `env` sets DEVBOX_ROUTER_START_RESPONSE_DELAY_MS: most tests want a 404 at once.
 */
export async function startRouterComponent(bus: TestBus, env: Record<string, string> = {}, { reconnectTimeWait = 200 } = {}): Promise<RunningRouter> {
  env = { DEVBOX_ROUTER_START_RESPONSE_DELAY_MS: '0', ...env };
  const saved = new Map(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  const uuid = randomUUID();
  // A real config.json (whatever settings devbox has by now), in a home of its own.
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'devbox-router-test-'));
  const paths = statePaths(home);
  ensureStateDirs(paths);
  const config = { ...ensureConfig(paths), router_port: 0, bus: { token: bus.token } };
  const ctx: ComponentContext = { name: 'router', index: 0, uuid, home, paths, config, port: 0, log: quietLog };
  let component: Component;
  try {
    component = routerModule.create(ctx);
  } finally {
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
  await component.listen!();
  const nc = await connect({ servers: `127.0.0.1:${bus.port}`, token: bus.token, reconnect: true, maxReconnectAttempts: -1, reconnectTimeWait, name: 'router' });
  await component.start(nc);
  await nc.flush(); // its subscriptions are in place at the server
  return {
    component,
    nc,
    port: component.varz().port as number,
    uuid,
    home,
    varz: () => component.varz() as ReturnType<RunningRouter['varz']>,
    async stop() {
      await component.stop();
      await nc.close();
      fs.rmSync(home, { recursive: true, force: true });
    },
  };
}

export const busClient = (bus: TestBus, reconnectTimeWait = 50) => connect({ servers: `127.0.0.1:${bus.port}`, token: bus.token, reconnect: true, maxReconnectAttempts: -1, reconnectTimeWait });

export const publishJson = (nc: NatsConnection, subject: string, value: unknown) => nc.publish(subject, sc.encode(JSON.stringify(value)));

