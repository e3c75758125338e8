// Test harness for the DEA: a real bus, a real DEA in this process (its instances and buildpacks
// as real processes), a recorder of everything on the bus, and a small HTTP server standing in
// for the controller's package and droplet URLs.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, type NatsConnection } from 'nats';
import { c as createTar } from 'tar';
import { stringify as toYaml } from 'yaml';
import { BusServer } from '../../../src/runtime/bus/server.js';
import { decodeJson, publish } from '../../../src/runtime/common/bus.js';
import { deaStart, deaTaskStart, type HealthCheckType, type ServiceBinding } from '../../../src/runtime/common/bus-messages.js';
import { createLogger } from '../../../src/runtime/common/log.js';
import { waitFor } from '../../../src/runtime/common/net.js';
import { Dea } from '../../../src/runtime/dea/dea.js';
import { deaSettings, type DeaSettings } from '../../../src/runtime/dea/settings.js';
import type { TokenSource } from '../../../src/runtime/dea/uaa-client.js';

export const FIXTURES = fileURLToPath(new URL('../../fixtures/apps/', import.meta.url));
export const TOKEN = 'test-token';
export const staticToken: TokenSource = { token: async () => TOKEN, invalidate: () => undefined };

export interface Recorded {
  subject: string;
  reply?: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- bus payloads of many shapes; tests read the fields they check
  data: any;
  at: number;
}

/** Records every message on the bus; tests wait for the ones they expect. */
export class Recorder {
  readonly messages: Recorded[] = [];
  constructor(nc: NatsConnection) {
    nc.subscribe('>', {
      callback: (_err, msg) => {
        if (msg.subject.startsWith('_INBOX')) return;
        this.messages.push({ subject: msg.subject, reply: msg.reply, data: decodeJson(msg.data), at: Date.now() });
      },
    });
  }

  find(subject: string | RegExp, match: (data: Recorded['data']) => boolean = () => true): Recorded[] {
    return this.messages.filter((m) => (typeof subject === 'string' ? m.subject === subject : subject.test(m.subject)) && match(m.data));
  }

  async wait(subject: string | RegExp, match: (data: Recorded['data']) => boolean = () => true, timeoutMs = 15_000): Promise<Recorded> {
    return waitFor(`a message on ${String(subject)}`, () => this.find(subject, match)[0], { timeoutMs, intervalMs: 20 });
  }

  /** The app's log lines (messages on logs.<app guid>) as "SOURCE/i TYPE message". */
  logs(appGuid: string, source?: string): string[] {
    return this.find(`logs.${appGuid}`, (d) => !source || d.source_type === source).map((m) => `${m.data.source_type}/${m.data.source_instance} ${m.data.message_type} ${m.data.message}`);
  }
}

/** Stands in for the controller: serves packages and takes and serves droplets, with a bearer token. */
export class FakeController {
  readonly packages = new Map<string, Buffer>();
  readonly droplets = new Map<string, Buffer>();
  readonly requests: string[] = [];
  private server = http.createServer((req, res) => this.handle(req, res));
  port = 0;

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', () => resolve()));
    this.port = (this.server.address() as { port: number }).port;
  }

  url(p: string): string {
    return `http://127.0.0.1:${this.port}${p}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    this.requests.push(`${req.method} ${req.url}`);
    if (req.headers.authorization !== `bearer ${TOKEN}`) {
      res.writeHead(401).end('{"errors":[{"code":1000,"title":"CF-InvalidAuthToken"}]}');
      return;
    }
    const pkg = /^\/v3\/packages\/([^/]+)\/download$/.exec(req.url ?? '');
    const up = /^\/v3\/droplets\/([^/]+)\/upload$/.exec(req.url ?? '');
    const down = /^\/v3\/droplets\/([^/]+)\/download$/.exec(req.url ?? '');
    if (req.method === 'GET' && pkg && this.packages.has(pkg[1])) {
      res.writeHead(200, { 'content-type': 'application/gzip' }).end(this.packages.get(pkg[1]));
    } else if (req.method === 'GET' && down && this.droplets.has(down[1])) {
      res.writeHead(200, { 'content-type': 'application/gzip' }).end(this.droplets.get(down[1]));
    } else if (req.method === 'POST' && up) {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (req.headers['content-type'] !== 'application/gzip') {
          res.writeHead(415).end();
          return;
        }
        this.droplets.set(up[1], Buffer.concat(chunks));
        res.writeHead(201, { 'content-type': 'application/json' }).end('{}');
      });
    } else {
      res.writeHead(404).end('{"errors":[{"code":10010,"title":"CF-ResourceNotFound"}]}');
    }
  }
}

/** A gzipped tarball of `entries` under `cwd`. */
export async function tarGz(cwd: string, entries: string[]): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of createTar({ gzip: true, cwd }, entries)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A package: the fixture app's files (or a directory), as the controller would serve it. */
export async function packageOf(dir: string): Promise<Buffer> {
  return tarGz(dir, fs.readdirSync(dir));
}

/** A droplet made without staging: the app's files under app/ and staging_info.yml. */
export async function dropletOf(appDir: string, startCommand: string, tmpRoot: string): Promise<Buffer> {
  const root = fs.mkdtempSync(path.join(tmpRoot, 'droplet-'));
  fs.cpSync(appDir, path.join(root, 'app'), { recursive: true });
  fs.writeFileSync(path.join(root, 'staging_info.yml'), toYaml({ detected_buildpack: 'test', start_command: startCommand }));
  const gz = await tarGz(root, ['app', 'staging_info.yml']);
  fs.rmSync(root, { recursive: true, force: true });
  return gz;
}

export const quietLog = createLogger('dea-test', { write: () => undefined });

/** The DEA's last log lines, kept so that a test that times out can say where the DEA was. */
const deaLogLines: string[] = [];
const keptLog = createLogger('dea-test', {
  level: 'debug',
  write: (line) => {
    deaLogLines.push(line.trimEnd());
    if (deaLogLines.length > 200) deaLogLines.splice(0, deaLogLines.length - 200);
  },
});

export interface Harness {
  bus: BusServer;
  nc: NatsConnection;
  dea: Dea;
  rec: Recorder;
  controller: FakeController;
  home: string;
  settings: DeaSettings;
  close(): Promise<void>;
}

export async function startHarness(overrides: Partial<DeaSettings> = {}, id = 'dea-0'): Promise<Harness> {
  const bus = new BusServer({ host: '127.0.0.1', port: 0 });
  const { port } = await bus.listen();
  const nc = await connect({ servers: `127.0.0.1:${port}` });
  const observer = await connect({ servers: `127.0.0.1:${port}` });
  const rec = new Recorder(observer);
  await observer.flush();
  const controller = new FakeController();
  await controller.listen();
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'devbox-dea-test-'));
  const dir = path.join(home, 'dea', id);
  const settings: DeaSettings = {
    ...deaSettings(dir, {}),
    advertiseMs: 300,
    heartbeatMs: 300,
    memoryMb: 4096,
    diskMb: 8192,
    memoryCheckMs: 200,
    diskCheckMs: 300,
    healthCheckIntervalMs: 50,
    stopTimeoutMs: 2_000,
    stagingTimeoutMs: 120_000,
    memoryEnforcement: 'sampling',
    ...overrides,
  };
  const dea = new Dea({ id, dir, nc, log: keptLog, auth: staticToken, settings });
  await dea.start();
  return {
    bus,
    nc,
    dea,
    rec,
    controller,
    home,
    settings,
    async close() {
      await dea.stop().catch(() => undefined);
      await nc.close().catch(() => undefined);
      await observer.close().catch(() => undefined);
      await controller.close().catch(() => undefined);
      await bus.close().catch(() => undefined);
      fs.rmSync(home, { recursive: true, force: true });
    },
  };
}

/** Sends a staging request and waits for the reply. */
export async function stageApp(h: Harness, appGuid: string, pkg: Buffer, extra: Record<string, unknown> = {}, timeoutMs = 60_000) {
  const packageGuid = `pkg-${appGuid}`;
  const dropletGuid = `drop-${appGuid}-${Math.random().toString(36).slice(2, 8)}`;
  h.controller.packages.set(packageGuid, pkg);
  const request = {
    app_id: appGuid,
    task_id: `task-${dropletGuid}`,
    package_guid: packageGuid,
    droplet_guid: dropletGuid,
    package_download_uri: h.controller.url(`/v3/packages/${packageGuid}/download`),
    droplet_upload_uri: h.controller.url(`/v3/droplets/${dropletGuid}/upload`),
    buildpacks: [],
    environment: {},
    start_command: null,
    memory_limit: 256,
    disk_limit: 1024,
    stack: 'host',
    ...extra,
  };
  const reply = await h.nc.request(`staging.${h.dea.id}.start`, JSON.stringify(request), { timeout: timeoutMs }).catch((error: Error) => {
    // Say where the staging was: its STG lines, what is left in the staging directory, the DEA's log.
    const left = fs.existsSync(h.dea.paths.staging) ? fs.readdirSync(h.dea.paths.staging) : [];
    const stg = h.rec.logs(appGuid, 'STG').join('\n');
    throw new Error(`no staging reply for ${appGuid} within ${timeoutMs} ms (${error.message})\nSTG:\n${stg}\nstaging dir: ${left.join(', ')}\nDEA log:\n${deaLogLines.slice(-40).join('\n')}`);
  });
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the reply's shape is what the test checks
  return { reply: decodeJson<any>(reply.data), dropletGuid };
}

export interface StartOptions {
  index?: number;
  command?: string | null;
  uris?: string[];
  mem?: number;
  disk?: number;
  healthCheckType?: HealthCheckType;
  endpoint?: string | null;
  timeout?: number;
  env?: Record<string, string>;
  services?: ServiceBinding[];
  version?: string;
  sha1?: string;
}

/** Publishes dea.<id>.start for a droplet the fake controller serves. */
export function startInstance(h: Harness, appGuid: string, dropletGuid: string, o: StartOptions = {}): void {
  publish(h.nc, deaStart(h.dea.id), {
    droplet: appGuid,
    version: o.version ?? 'v1',
    name: `app-${appGuid}`,
    index: o.index ?? 0,
    process_guid: appGuid,
    process_type: 'web',
    space_guid: 'space-1',
    uris: o.uris ?? [`app-${appGuid}.localhost`],
    limits: { mem: o.mem ?? 256, disk: o.disk ?? 1024, fds: 16384 },
    env: o.env ?? {},
    services: o.services ?? [],
    start_command: o.command ?? null,
    health_check_type: o.healthCheckType ?? 'port',
    health_check_http_endpoint: o.endpoint ?? null,
    health_check_timeout: o.timeout ?? 30,
    vcap_application: {
      application_id: appGuid,
      application_name: `app-${appGuid}`,
      name: `app-${appGuid}`,
      application_uris: o.uris ?? [`app-${appGuid}.localhost`],
      uris: o.uris ?? [`app-${appGuid}.localhost`],
      application_version: o.version ?? 'v1',
      version: o.version ?? 'v1',
      cf_api: 'http://api.localhost:8080',
      limits: { mem: o.mem ?? 256, disk: o.disk ?? 1024, fds: 16384 },
      organization_id: 'org-1',
      organization_name: 'devbox',
      space_id: 'space-1',
      space_name: 'dev',
      process_id: appGuid,
      process_type: 'web',
      users: null,
    },
    executableUri: h.controller.url(`/v3/droplets/${dropletGuid}/download`),
    sha1: o.sha1 ?? null,
    droplet_guid: dropletGuid,
  });
}

/** Publishes dea.<id>.task.start: `command` run once in the droplet of the fake controller. */
export function startTask(h: Harness, appGuid: string, dropletGuid: string, task: { guid: string; name: string; command: string; mem?: number }): void {
  publish(h.nc, deaTaskStart(h.dea.id), {
    droplet: task.guid,
    app_guid: appGuid,
    task_guid: task.guid,
    task_name: task.name,
    version: task.guid,
    name: `app-${appGuid}`,
    index: 0,
    process_type: 'task',
    space_guid: 'space-1',
    uris: [],
    limits: { mem: task.mem ?? 256, disk: 1024, fds: 16384 },
    env: { GREETING: 'from the app' },
    services: [],
    start_command: task.command,
    health_check_type: 'none',
    vcap_application: { application_id: appGuid, application_name: `app-${appGuid}` },
    executableUri: h.controller.url(`/v3/droplets/${dropletGuid}/download`),
    droplet_guid: dropletGuid,
  });
}

/** GET http://127.0.0.1:port/path → status and body. */
export function get(port: number, p = '/'): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: p, agent: false, timeout: 5_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), headers: res.headers }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

let counter = 0;
export const newGuid = (prefix = 'app') => `${prefix}-${process.pid}-${++counter}-${Math.random().toString(36).slice(2, 8)}`;
