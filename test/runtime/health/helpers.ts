// Stand-ins for the health manager's neighbours: the controller's desired-state endpoint and uaa's
// token endpoint behind one "router" port (told apart by Host, as the router does), DEAs publishing
// heartbeats and exits on a real bus, and a recorder of bus messages.
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import os from 'node:os';
import type { AddressInfo } from 'node:net';
import { connect, JSONCodec, type NatsConnection, type Subscription } from 'nats';
import type { ComponentContext } from '../../../src/runtime/common/component.js';
import { statePaths, type DevboxConfig } from '../../../src/runtime/common/config.js';
import { createLogger } from '../../../src/runtime/common/log.js';
import type { DropletExited, Heartbeat, HeartbeatDroplet, InstanceState } from '../../../src/runtime/common/bus-messages.js';
import type { DesiredProcess } from '../../../src/runtime/health/messages.js';

const json = JSONCodec();

export const COMPONENTS_CLIENT = { id: 'devbox_components', secret: 'components-secret' };

export function testConfig(routerPort: number): DevboxConfig {
  return {
    version: 1,
    domain: 'localhost',
    router_port: routerPort,
    bus: { token: 'bus-token' },
    status: { user: 'devbox', password: 'status-pw' },
    uaa: {
      admin: { username: 'admin', password: 'admin-pw' },
      cli_client: { id: 'cf', secret: '' },
      components_client: { ...COMPONENTS_CLIENT },
      ssh_proxy_client: { id: 'ssh-proxy', secret: 'unused' },
      access_token_validity_seconds: 1200,
      refresh_token_validity_seconds: 604800,
      signing_key: { kid: 'unused', private_pem: '', public_pem: '' },
    },

    mysql: { root_password: 'unused', broker: { username: 'broker', password: 'unused' } },

    ssh: { host_key_pem: '' },
  };
}

/** A component context as runComponent builds it, logging into `lines` instead of stdout. */
export function testContext(routerPort: number, lines: string[] = []): ComponentContext {
  const home = os.tmpdir();
  return {
    name: 'health',
    index: 0,
    uuid: randomUUID(),
    home,
    paths: statePaths(home),
    config: testConfig(routerPort),
    ports: { nats_url: 'nats://unused', external_bus: false, router_port: routerPort, components: {} },
    log: createLogger('health', { write: (line) => void lines.push(line), level: 'debug' }),
  };
}

export function desiredProcess(app: string, over: Partial<DesiredProcess> = {}): DesiredProcess {
  return {
    app_guid: app,
    process_guid: app,
    version: 'v1',
    instances: 1,
    state: 'STARTED',
    droplet_guid: `${app}-droplet`,
    updated_at: new Date().toISOString(),
    deploying: false,
    ...over,
  };
}

/** How the fake controller answers `GET /internal/v3/desired_processes`. */
export type ControllerMode = 'ok' | 'error' | 'garbage' | 'reset' | 'empty';

/**
 * uaa's token endpoint and the controller's desired-state endpoint behind one port, as the router
 * serves them: Host `uaa.localhost` and `api.localhost`; any other host gets the router's 404.
 */
export class FakeController {
  readonly processes = new Map<string, DesiredProcess>();
  mode: ControllerMode = 'ok';
  tokensIssued = 0;
  desiredRequests = 0;
  private readonly tokens = new Set<string>();
  private readonly server = http.createServer((req, res) => this.handle(req, res));

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  set(...processes: DesiredProcess[]): void {
    for (const p of processes) this.processes.set(p.app_guid, { ...p, updated_at: new Date().toISOString() });
  }

  /** Forgets every token issued (as after a uaa restart with a new key). */
  revokeTokens(): void {
    this.tokens.clear();
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const host = (req.headers.host ?? '').split(':')[0];
      const body = Buffer.concat(chunks).toString('utf8');
      const send = (status: number, value: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(typeof value === 'string' ? value : JSON.stringify(value));
      };
      if (host === 'uaa.localhost' && req.url === '/oauth/token' && req.method === 'POST') {
        const basic = Buffer.from(`${COMPONENTS_CLIENT.id}:${COMPONENTS_CLIENT.secret}`).toString('base64');
        if (req.headers.authorization !== `Basic ${basic}`) return send(401, { error: 'unauthorized', error_description: 'Bad credentials' });
        if (req.headers['content-type'] !== 'application/x-www-form-urlencoded') return send(415, { error: 'invalid_request' });
        if (new URLSearchParams(body).get('grant_type') !== 'client_credentials') return send(400, { error: 'unsupported_grant_type' });
        const token = `token-${randomUUID()}`;
        this.tokens.add(token);
        this.tokensIssued++;
        return send(200, { access_token: token, token_type: 'bearer', expires_in: 1199, scope: 'cloud_controller.admin', jti: token });
      }
      if (host === 'api.localhost' && req.url === '/internal/v3/desired_processes' && req.method === 'GET') {
        this.desiredRequests++;
        const token = /^bearer (\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
        if (!token || !this.tokens.has(token)) {
          return send(401, { errors: [{ code: 1000, title: 'CF-InvalidAuthToken', detail: 'Invalid Auth Token' }] });
        }
        switch (this.mode) {
          case 'error':
            return send(503, { errors: [{ code: 10001, title: 'CF-ServiceUnavailable', detail: 'database is locked' }] });
          case 'garbage':
            return send(200, '<html>502 Bad Gateway</html>', { 'content-type': 'text/html' });
          case 'reset':
            req.socket.destroy();
            return;
          case 'empty':
            return send(200, { processes: [] });
          default:
            return send(200, { processes: [...this.processes.values()] });
        }
      }
      send(404, '404 Not Found: Requested route does not exist.\n', { 'x-cf-routererror': 'unknown_route', 'content-type': 'text/plain' });
    });
  }
}

/** A DEA as the health manager sees it: heartbeats every interval, exits when told. */
export class FakeDea {
  readonly instances = new Map<string, HeartbeatDroplet>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly nc: NatsConnection,
    readonly id: string,
    private readonly intervalMs: number,
  ) {}

  start(): this {
    this.heartbeat();
    this.timer = setInterval(() => this.heartbeat(), this.intervalMs);
    return this;
  }

  /** Stops heartbeating (the DEA died or lost the bus). */
  silence(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  heartbeat(): void {
    const hb: Heartbeat = { dea: this.id, droplets: [...this.instances.values()] };
    this.nc.publish('dea.heartbeat', json.encode(hb));
  }

  add(app: string, index: number, { version = 'v1', state = 'RUNNING' as InstanceState, instance = randomUUID() } = {}): string {
    // Starting an index again drops its CRASHED entry, as a DEA does.
    for (const [guid, d] of this.instances) if (d.droplet === app && d.index === index && d.state === 'CRASHED') this.instances.delete(guid);
    this.instances.set(instance, { droplet: app, version, instance, index, state, state_timestamp: Date.now() / 1000 });
    this.heartbeat();
    return instance;
  }

  setState(instance: string, state: InstanceState): void {
    const d = this.instances.get(instance);
    if (!d) throw new Error(`no instance ${instance}`);
    d.state = state;
    d.state_timestamp = Date.now() / 1000;
    this.heartbeat();
  }

  crash(instance: string): void {
    const d = this.instances.get(instance);
    if (!d) throw new Error(`no instance ${instance}`);
    d.state = 'CRASHED';
    d.state_timestamp = Date.now() / 1000;
    this.exited(d, 'CRASHED', 1, 'app instance exited');
    this.heartbeat();
  }

  stop(instance: string): void {
    const d = this.instances.get(instance);
    if (!d) return;
    this.instances.delete(instance);
    this.exited(d, 'STOPPED', 143, 'stopped');
    this.heartbeat();
  }

  private exited(d: HeartbeatDroplet, reason: DropletExited['reason'], status: number, description: string): void {
    const ex: DropletExited = {
      droplet: d.droplet,
      version: d.version,
      instance: d.instance,
      index: d.index,
      reason,
      exit_status: status,
      exit_description: description,
      crash_timestamp: Math.floor(Date.now() / 1000),
    };
    this.nc.publish('droplet.exited', json.encode(ex));
  }
}

export interface Received<T> {
  at: number;
  subject: string;
  data: T;
}

/** Records every message on a subject (wildcards allowed) with its arrival time. */
export class Recorder<T> {
  readonly messages: Received<T>[] = [];
  private readonly sub: Subscription;

  constructor(nc: NatsConnection, subject: string) {
    this.sub = nc.subscribe(subject, {
      callback: (_err, msg) => this.messages.push({ at: Date.now(), subject: msg.subject, data: json.decode(msg.data) as T }),
    });
  }

  where(test: (value: T) => boolean): Received<T>[] {
    return this.messages.filter((m) => test(m.data));
  }

  close(): void {
    this.sub.unsubscribe();
  }
}

export async function connectTo(port: number): Promise<NatsConnection> {
  return connect({ servers: `127.0.0.1:${port}`, name: 'health-test' });
}
