// Stand-ins for the gateway's neighbours: mysql-nodes written here that answer the MyaaS contract of
// docs/services-protocol.md on a real bus (in memory, no MySQL), and a broker client; and the real
// mysql-node with its private MariaDB, for the tests that go all the way to the server.
import { randomUUID } from 'node:crypto';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connect, JSONCodec, type Msg, type NatsConnection } from 'nats';
import type { Component, ComponentContext } from '../../../src/runtime/common/component.js';
import { statePaths, type DevboxConfig } from '../../../src/runtime/common/config.js';
import { request, type HttpResponse } from '../../../src/runtime/common/http.js';
import { createLogger } from '../../../src/runtime/common/log.js';
import { createGateway, type GatewayComponent } from '../../../src/runtime/mysql-gateway/component.js';
import { createMysqlNode } from '../../../src/runtime/mysql-node/component.js';
import { BusServer } from '../../../src/runtime/bus/server.js';
import { waitFor } from '../../../src/runtime/common/net.js';

const json = JSONCodec();
export const BROKER = { username: 'broker', password: 'broker-pw' };
export const connectTo = (port: number): Promise<NatsConnection> => connect({ servers: `127.0.0.1:${port}` });

/** A GUID for an instance or binding id, readable in a test: guid(1) is 00000000-0000-4000-8000-000000000001. */
export const guid = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
/** cf-mysql's database name for an instance: `cf_` and its GUID with the dashes as underscores. */
export const dbName = (instanceId: string) => `cf_${instanceId.replaceAll('-', '_')}`;

export function tempHome(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'devbox-mysql-gw-'));
}

export function testConfig(routerPort: number): DevboxConfig {
  return {
    version: 1,
    domain: 'localhost',
    router_port: routerPort,
    bus: { token: 'unused' },
    status: { user: 'devbox', password: 'status-pw' },
    uaa: {
      admin: { username: 'admin', password: 'admin-pw' },
      cli_client: { id: 'cf', secret: '' },
      components_client: { id: 'devbox_components', secret: 'components-secret' },
      ssh_proxy_client: { id: 'ssh-proxy', secret: 'unused' },
      access_token_validity_seconds: 1200,
      refresh_token_validity_seconds: 604800,
      signing_key: { kid: 'unused', private_pem: '', public_pem: '' },
    },
    mysql: { root_password: 'unused', broker: { ...BROKER } },
    ssh: { host_key_pem: '' },
  };
}

export interface RunningGateway {
  gw: GatewayComponent;
  nc: NatsConnection;
  url: string;
  lines: string[];
  varz(): Record<string, unknown> & { instances: number; bindings: number; nodes: Array<{ id: string; plans: string[]; available_capacity: number }> };
  stop(): Promise<void>;
}

export interface GatewayOptions {
  home: string;
  busPort: number;
  routerPort?: number;
  /** Its environment while it is created (it reads its settings then): added to the MySQL gateway's test defaults. */
  env?: Record<string, string>;
  /** Another gateway of the same kind (the redis-gateway), and its name. */
  create?: (ctx: ComponentContext) => GatewayComponent;
  name?: string;
}

export async function startGateway({ home, busPort, routerPort = 1, env = {}, create = createGateway, name = 'mysql-gateway' }: GatewayOptions): Promise<RunningGateway> {
  const lines: string[] = [];
  const ctx: ComponentContext = {
    name,
    index: 0,
    uuid: randomUUID(),
    home,
    paths: statePaths(home),
    config: testConfig(routerPort),
    ports: { nats_url: 'nats://unused', external_bus: false, router_port: routerPort, components: {} },
    log: createLogger(name, { write: (line) => void lines.push(line), level: 'debug' }),
  };
  const all = { DEVBOX_MYSQL_REGISTER_BROKER: '0', DEVBOX_MYSQL_REQUEST_TIMEOUT_MS: '400', DEVBOX_MYSQL_ORPHAN_GATHER_MS: '150', ...env };
  const saved: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(all)) {
    saved[k] = process.env[k];
    process.env[k] = v;
  }
  let gw: GatewayComponent;
  try {
    gw = create(ctx);
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
  const nc = await connectTo(busPort);
  await gw.start(nc);
  let stopped = false;
  return {
    gw,
    nc,
    url: `http://127.0.0.1:${gw.port()}`,
    lines,
    varz: () => gw.varz() as ReturnType<RunningGateway['varz']>,
    async stop() {
      if (stopped) return;
      stopped = true;
      await gw.stop();
      await nc.close();
    },
  };
}

export interface RealNode {
  component: Component;
  /** The node's private MySQL server, and its root password. */
  server(): { host: string; port: number; user: string; password: string };
  stop(): Promise<void>;
}

/**
 * The real mysql-node (`mysql-node-0`) on the bus at `busPort`, running its private MariaDB in
 * `home`, once it serves. The caller sets the node's environment (DEVBOX_MYSQL_*) for as long as it
 * runs: the node reads the plans' sizes from it at each use.
 */
export async function startMysqlNode({ home, busPort }: { home: string; busPort: number }): Promise<RealNode> {
  const config = testConfig(1);
  config.mysql.root_password = 'osb-root-pw';
  const lines: string[] = [];
  const ctx: ComponentContext = {
    name: 'mysql-node',
    index: 0,
    uuid: randomUUID(),
    home,
    paths: statePaths(home),
    config,
    log: createLogger('mysql-node', { write: (line) => void lines.push(line), level: 'debug' }),
  };
  const component = createMysqlNode(ctx);
  const nc = await connectTo(busPort);
  const stop = async () => {
    await component.stop();
    await nc.close();
  };
  try {
    await component.start(nc);
    // It starts MySQL in the background (a new data directory takes seconds).
    await waitFor('the mysql-node to serve', () => component.varz().mysql !== 'starting', { timeoutMs: 60_000, intervalMs: 50 });
    const mysql = component.varz().mysql as { port?: number } | string;
    if (typeof mysql !== 'object' || !mysql.port) throw new Error(`the mysql-node does not serve: ${JSON.stringify(component.varz())}\n${lines.slice(-5).join('\n')}`);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    component,
    server: () => ({ host: '127.0.0.1', port: (component.varz().mysql as { port: number }).port, user: 'root', password: config.mysql.root_password }),
    stop,
  };
}

export interface OsbOptions {
  body?: unknown;
  /** Raw body text (for malformed JSON). */
  raw?: string;
  auth?: { username: string; password: string } | null;
  version?: string | null;
}

/** One broker request as a platform sends it (version 2.17 and the right credentials by default). */
export async function osb(base: string, method: string, pathAndQuery: string, { body, raw, auth = BROKER, version = '2.17' }: OsbOptions = {}): Promise<HttpResponse & { json: Record<string, unknown> }> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (version !== null) headers['x-broker-api-version'] = version;
  if (auth) headers.authorization = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
  const res = await request({ url: `${base}${pathAndQuery}`, method, headers, body: raw ?? (body === undefined ? undefined : JSON.stringify(body)), timeoutMs: 10_000 });
  let parsed: Record<string, unknown> = {};
  try {
    parsed = JSON.parse(res.text) as Record<string, unknown>;
  } catch {
    // left empty: the assertion on the status says what went wrong
  }
  return { ...res, json: parsed };
}

export interface FakeNodeOptions {
  id: string;
  capacity: number;
  plans?: string[];
  /** Never answers requests (it still announces), or these operations only. */
  silent?: boolean | string[];
  /** Answers every provision with this failure. */
  failProvision?: string;
  /** Answers every update with this failure (a real node's 422: the data does not fit the plan). */
  failUpdate?: { code: number; description: string };
}

/** A mysql-node that keeps its databases and users in memory and answers the MyaaS contract. */
export class FakeNode {
  readonly databases = new Set<string>();
  /** username → database */
  readonly users = new Map<string, { name: string; password: string }>();
  readonly requests: Array<{ op: string; body: Record<string, unknown> }> = [];
  capacity: number;
  private nc?: NatsConnection;
  private timer?: NodeJS.Timeout;

  constructor(readonly o: FakeNodeOptions) {
    this.capacity = o.capacity;
  }

  async start(busPort: number, { announce = true } = {}): Promise<this> {
    const nc = (this.nc = await connectTo(busPort));
    for (const op of ['provision', 'unprovision', 'update', 'bind', 'unbind', 'purge_orphan']) {
      nc.subscribe(`MyaaS.${op}.${this.o.id}`, { callback: (_e, msg) => this.handle(op, msg) });
    }
    nc.subscribe('MyaaS.check_orphan', { callback: (_e, msg) => this.handle('check_orphan', msg) });
    nc.subscribe('MyaaS.discover', { callback: () => this.announce() });
    await nc.flush();
    if (announce) this.announce();
    await nc.flush();
    return this;
  }

  announce(): void {
    for (const plan of this.o.plans ?? ['small', 'medium']) {
      this.nc?.publish('MyaaS.announce', json.encode({ id: this.o.id, plan, supported_versions: ['10.11'], available_capacity: this.capacity, capacity_unit: 1, host: '127.0.0.1', port: 3306 }));
    }
  }

  /** Answers periodically, as a real node does every 30 s. */
  announceEvery(ms: number): void {
    this.timer = setInterval(() => this.announce(), ms);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.nc?.close();
  }

  private handle(op: string, msg: Msg): void {
    const body = (json.decode(msg.data) ?? {}) as Record<string, unknown>;
    this.requests.push({ op, body });
    if (this.o.silent === true || (Array.isArray(this.o.silent) && this.o.silent.includes(op))) return;
    msg.respond(json.encode(this.answer(op, body)));
  }

  private answer(op: string, body: Record<string, unknown>): unknown {
    // With `host` and `node_id`, as nodes before cf-mysql's credentials sent: the gateway passes neither on.
    const base = { hostname: '127.0.0.1', host: '127.0.0.1', port: 3306, node_id: this.o.id };
    switch (op) {
      case 'provision': {
        if (this.o.failProvision) return { success: false, error: { code: 500, description: this.o.failProvision } };
        const name = String(body.name);
        if (!this.databases.has(name)) {
          this.databases.add(name);
          this.capacity--;
        }
        return { success: true, credentials: { ...base, name } };
      }
      case 'bind': {
        const name = String(body.name);
        const username = `u${createHash('sha1').update(String(body.binding_id)).digest('hex').slice(0, 15)}`;
        const user = this.users.get(username) ?? { name, password: randomUUID().replace(/-/g, '') };
        this.users.set(username, user);
        const { password } = user;
        return {
          success: true,
          credentials: { ...base, name, username, password, uri: `mysql://${username}:${password}@127.0.0.1:3306/${name}?reconnect=true`, jdbcUrl: `jdbc:mysql://127.0.0.1:3306/${name}?user=${username}&password=${password}` },
        };
      }
      case 'unbind':
        this.users.delete(String((body.credentials as { username?: string } | undefined)?.username));
        return { success: true };
      case 'unprovision': {
        const name = String(body.name);
        if (this.databases.delete(name)) this.capacity++;
        for (const [u, v] of this.users) if (v.name === name) this.users.delete(u);
        return { success: true };
      }
      case 'update':
        if (this.o.failUpdate) return { success: false, error: this.o.failUpdate };
        return this.databases.has(String(body.name)) ? { success: true } : { success: false, error: { code: 404, description: `no database ${String(body.name)}` } };
      case 'check_orphan':
        return { node_id: this.o.id, databases: [...this.databases], users: [...this.users.keys()] };
      case 'purge_orphan':
        for (const d of (body.databases as string[] | undefined) ?? []) this.databases.delete(d);
        for (const u of (body.users as string[] | undefined) ?? []) this.users.delete(u);
        return { success: true };
      default:
        return { success: false, error: { code: 400, description: `unknown op ${op}` } };
    }
  }
}

/**
 * A suite's real bus, with the gateways and fake nodes its tests start (stopped after each test).
 * Call it inside a describe: it adds the hooks.
 */
export function gatewaySuite() {
  let bus: BusServer;
  let busPort = 0;
  let running: RunningGateway[] = [];
  let nodes: FakeNode[] = [];
  /** The state directories the test's gateways used, removed once they have stopped. */
  const homes = new Set<string>();
  before(async () => {
    bus = new BusServer({ host: '127.0.0.1', port: 0 });
    busPort = (await bus.listen()).port;
  });
  afterEach(async () => {
    for (const g of running) await g.stop();
    for (const n of nodes) await n.stop();
    running = [];
    nodes = [];
    for (const home of homes) fs.rmSync(home, { recursive: true, force: true });
    homes.clear();
  });
  after(async () => {
    await bus.close();
  });
  return {
    gateway: async (home = tempHome(), env: Record<string, string> = {}, routerPort?: number) => {
      homes.add(home);
      const g = await startGateway({ home, busPort, env, routerPort });
      running.push(g);
      return g;
    },
    node: async (o: FakeNodeOptions) => {
      const n = await new FakeNode(o).start(busPort);
      nodes.push(n);
      return n;
    },
    seesNodes: (g: RunningGateway, ...ids: string[]) =>
      waitFor(`the gateway to know ${ids.join(', ')}`, () => ids.every((id) => g.varz().nodes.some((n) => n.id === id)), { timeoutMs: 3_000 }),
  };
}
