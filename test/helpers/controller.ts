// The controller's v3 API in the test process: its real HTTP server, routes, actions and database
// (SQLite in memory, or a fresh database on the suite's private MariaDB), with a recorded runner in
// place of the DEAs and a recorded app log in place of the logs component. Tokens are minted here
// with uaa's claims, signed with a key made for the run. Nothing else of a box runs: tests that need
// the router, uaa, a DEA or the CLI boot a box (devbox.ts) instead.
import { generateKeyPairSync, randomBytes, randomUUID, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { SignJWT, type JWTPayload } from 'jose';
import type { Kysely } from 'kysely';
import { createConnection } from 'mysql2/promise';
import { uaaIssuer } from '../../src/runtime/common/config.js';
import { request } from '../../src/runtime/common/http.js';
import { createLogger } from '../../src/runtime/common/log.js';
import { freePort, waitFor } from '../../src/runtime/common/net.js';
import { createTokenVerifier, type TokenVerifier } from '../../src/runtime/common/tokens.js';
import { Blobstore, DatabaseBlobs } from '../../src/runtime/controller/blobstore.js';
import { DEFAULT_DISK_MB, DEFAULT_MEMORY_MB, MAX_PACKAGE_BYTES, publicUrls } from '../../src/runtime/controller/component.js';
import { newCounters, type ControllerLogLine, type ControllerContext, type ControllerCounters } from '../../src/runtime/controller/context.js';
import { IN_MEMORY, openDatabase, type ControllerDatabase, type Dialect } from '../../src/runtime/controller/db/index.js';
import type { Database } from '../../src/runtime/controller/db/schema.js';
import { createApiServer, type ApiStats } from '../../src/runtime/controller/http/server.js';
import type { FindDropletReply, FindTaskReply, Runner, StagingResult, StartMessage, StopFilter, TaskStartMessage } from '../../src/runtime/controller/runner/runner.js';
import { seed } from '../../src/runtime/controller/seed.js';
import { startPrivateMysqld, type PrivateMysqld } from '../../src/runtime/mysql-node/mysqld.js';
import { ADMIN_SCOPES, COMPONENTS_AUTHORITIES } from '../../src/runtime/uaa/settings.js';
import { audience } from '../../src/runtime/uaa/token-service.js';
import type { BoxApi } from './api.js';
import type { TestDatabase } from './databases.js';

/** The domain the harness seeds and its URLs use (api.localhost:<port>, as a box's). */
export const HARNESS_DOMAIN = 'localhost';

export interface StageCall {
  request: Parameters<Runner['stage']>[0];
  memoryMb: number;
  stack: string;
}

export interface StartCall {
  message: StartMessage;
  memoryMb: number;
  stack: string;
}

/** What `stage` does with a staging request: resolve with what staging made, or throw a StagingFailure. */
export type StageAnswer = (request: StageCall['request']) => Promise<StagingResult>;

/** What the recorded runner's staging answers by default: success (it uploads nothing unless told to). */
export const STAGED_RESULT: StagingResult = { detected_buildpack: 'recorded', buildpack_name: 'recorded', start_command: 'node server.js', process_types: { web: 'node server.js' } };

/**
 * The DEAs, recorded: every call the controller makes is kept in order, and `stage`/`instances`
 * answer what the test sets. By default staging answers success without uploading a droplet (the
 * build then fails as "not uploaded"); `uploadsDroplet` makes it behave as a DEA that uploads.
 */
export class RecordedRunner implements Runner {
  readonly stages: StageCall[] = [];
  readonly starts: StartCall[] = [];
  /** By process guid (a web process's is its app's). */
  readonly stops: { processGuid: string; filter?: StopFilter }[] = [];
  readonly routes: { processGuid: string; uris: string[] }[] = [];
  /** Every call by name, in the order made: to check that a stop came before a start. */
  readonly taskStarts: { message: TaskStartMessage; memoryMb: number; stack: string }[] = [];
  readonly taskCancels: string[] = [];
  readonly calls: ('stage' | 'start' | 'stop' | 'routesChanged' | 'startTask' | 'cancelTask')[] = [];
  /** What `findTasks` answers (default: no DEA knows the task). */
  taskAnswer: (taskGuids: string[]) => FindTaskReply[] = () => [];
  stageAnswer: StageAnswer = async () => STAGED_RESULT;
  /** What `instances` answers for an app (default: no instance reported). */
  instanceAnswer: (processGuid: string) => FindDropletReply[] = () => [];
  /** `start` answers this DEA's id; undefined plays a box whose DEAs have no room. */
  deaId: string | undefined = 'recorded-dea';
  deas = 1;

  constructor(private readonly upload: (uri: string, bits: Buffer) => Promise<void>) {}

  async stage(request: StageCall['request'], memoryMb: number, stack: string): Promise<StagingResult> {
    this.stages.push({ request, memoryMb, stack });
    this.calls.push('stage');
    return this.stageAnswer(request);
  }

  start(message: StartMessage, memoryMb: number, stack: string): string | undefined {
    this.starts.push({ message, memoryMb, stack });
    this.calls.push('start');
    return this.deaId;
  }

  stop(processGuid: string, filter?: StopFilter): void {
    this.stops.push({ processGuid, filter });
    this.calls.push('stop');
  }

  routesChanged(processGuid: string, uris: string[]): void {
    this.routes.push({ processGuid, uris });
    this.calls.push('routesChanged');
  }

  async instances(processGuid: string): Promise<FindDropletReply[]> {
    return this.instanceAnswer(processGuid);
  }

  startTask(message: TaskStartMessage, memoryMb: number, stack: string): string | undefined {
    this.taskStarts.push({ message, memoryMb, stack });
    this.calls.push('startTask');
    return this.deaId;
  }

  cancelTask(taskGuid: string): void {
    this.taskCancels.push(taskGuid);
    this.calls.push('cancelTask');
  }

  async findTasks(taskGuids: string[]): Promise<FindTaskReply[]> {
    return this.taskAnswer(taskGuids);
  }

  deaCount(): number {
    return this.deas;
  }

  /** Stages as a DEA does: uploads `bits` to the droplet's upload URI through the API, then answers `result`. */
  uploadsDroplet(result: StagingResult = STAGED_RESULT, bits: Buffer = Buffer.from('recorded droplet')): void {
    this.stageAnswer = async (request) => {
      await this.upload(request.droplet_upload_uri, bits);
      return result;
    };
  }

  /** Forgets the calls recorded so far (the answers set stay). */
  clear(): void {
    for (const list of [this.stages, this.starts, this.stops, this.routes, this.calls, this.taskStarts, this.taskCancels]) list.length = 0;
  }
}

export interface RecordedAppLogLine {
  appGuid: string;
  source: ControllerLogLine['source'];
  message: string;
  type: 'OUT' | 'ERR';
}

export interface ControllerHarness extends BoxApi {
  context: ControllerContext;
  runner: RecordedRunner;
  appLogs: RecordedAppLogLine[];
  counters: ControllerCounters;
  stats: ApiStats;
  db: Kysely<Database>;
  dialect: Dialect;
  /** The controller's log lines (JSON, one a line), all levels. */
  log: string[];
  /** The blobstore's directory. */
  blobsDir: string;
  /**
   * A token with uaa's claims for the admin user (the cf client, ADMIN_SCOPES), `claims` merged
   * over them; signed with the controller's key unless `privateKey` is given (a forgery).
   */
  mint(claims?: JWTPayload, options?: { privateKey?: KeyObject; kid?: string }): Promise<string>;
  /** A token of the components' client (client_credentials), as a DEA uploads droplets with. */
  componentsToken(): Promise<string>;
  stop(): Promise<void>;
}

export interface HarnessOptions {
  /** A started TestDatabase (controllerTestDatabases()), empty: the harness migrates and seeds it. SQLite in memory when absent or sqlite. */
  database?: TestDatabase;
  /** The largest package (DEVBOX_MAX_PACKAGE_BYTES in a box). */
  maxPackageBytes?: number;
}

const KID = 'controller-harness-key';
const ADMIN_ID = 'a0000000-0000-4000-8000-00000000ad01';
const COMPONENTS_CLIENT = 'devbox_components';

/** The MySQL URL `--db` gives a box for this database, or undefined for SQLite. */
function mysqlUrl(database: TestDatabase | undefined): string | undefined {
  if (!database || database.name !== 'mysql') return undefined;
  const args = database.upArgs();
  const at = args.indexOf('--db');
  if (at < 0 || !args[at + 1]) throw new Error(`the ${database.name} test database gives no --db URL (started?)`);
  return args[at + 1];
}

/** A database of its own on the MySQL server of `url`: the tests share one server. */
async function freshMysqlDatabase(url: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const server = new URL(url);
  const name = `controller_${randomBytes(6).toString('hex')}`;
  server.pathname = '/';
  const onServer = async (statement: string) => {
    const connection = await createConnection({ uri: server.href, connectTimeout: 10_000 });
    try {
      await connection.query(statement);
    } finally {
      await connection.end();
    }
  };
  await onServer(`CREATE DATABASE ${name}`);
  return { url: new URL(`/${name}`, server).href, drop: () => onServer(`DROP DATABASE IF EXISTS ${name}`) };
}

let sharedMysqld: { dir: string; server: Promise<PrivateMysqld> } | undefined;

/**
 * The one private MariaDB of the controller tests (a server start is a second or two, a database on
 * it a few ms), started at first use. The root hook below stops it after the whole run.
 */
function suiteMysqld(): Promise<PrivateMysqld> {
  if (!sharedMysqld) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'devbox-mysql-'));
    sharedMysqld = { dir, server: (async () => startPrivateMysqld({ dir, port: await freePort(), rootPassword: 'test-root-pw' }))() };
  }
  return sharedMysqld.server;
}

// Registered while the spec files load, outside any describe: mocha runs it once, after every test.
after(async () => {
  if (!sharedMysqld) return;
  const { dir, server } = sharedMysqld;
  sharedMysqld = undefined;
  await (await server.catch(() => undefined))?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

/**
 * The databases the controller's tests run on, as databases.ts's TestDatabase: SQLite, and MySQL
 * as a database of its own on the suite's one private MariaDB (`upArgs` gives a box its URL).
 */
export function controllerTestDatabases(): TestDatabase[] {
  const sqlite: TestDatabase = { name: 'sqlite', start: async () => undefined, upArgs: () => [], stop: async () => undefined };
  let database: { url: string; drop: () => Promise<void> } | undefined;
  const mysql: TestDatabase = {
    name: 'mysql',
    async start() {
      database = await freshMysqlDatabase((await suiteMysqld()).url);
    },
    upArgs: () => {
      if (!database) throw new Error('the mysql test database is not started');
      return ['--db', database.url];
    },
    async stop() {
      await database?.drop();
      database = undefined;
    },
  };
  return [sqlite, mysql];
}

export async function startController(options: HarnessOptions = {}): Promise<ControllerHarness> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'devbox-controller-'));
  const cleanups: (() => Promise<void> | void)[] = [() => fs.rmSync(tmp, { recursive: true, force: true })];
  const cleanup = async () => {
    for (const step of cleanups.reverse()) await step();
  };
  try {
    const database: ControllerDatabase = await openDatabase(mysqlUrl(options.database) ?? IN_MEMORY);
    cleanups.push(() => database.close());
    // uaa's admin (the user `mint` signs for), seeded with its roles as a box seeds it.
    await seed(database.db, HARNESS_DOMAIN, [{ guid: ADMIN_ID, username: 'admin', origin: 'uaa' }]);

    const log: string[] = [];
    const appLogs: RecordedAppLogLine[] = [];
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const blobsDir = path.join(tmp, 'blobs');
    // The URLs are known once the server listens (a port from the OS); until then nothing is asked.
    let urls = publicUrls(HARNESS_DOMAIN, 0);
    let verifier: TokenVerifier | undefined;
    const stats: ApiStats = { requests: 0, responses: {}, errors: 0 };
    const counters = newCounters();

    const sign = (claims: JWTPayload, key: KeyObject = privateKey, kid = KID) => new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' }).sign(key);
    const componentsToken = () => {
      const iat = Math.floor(Date.now() / 1000);
      return sign({ jti: randomUUID(), sub: COMPONENTS_CLIENT, authorities: COMPONENTS_AUTHORITIES, scope: COMPONENTS_AUTHORITIES, client_id: COMPONENTS_CLIENT, cid: COMPONENTS_CLIENT, azp: COMPONENTS_CLIENT, grant_type: 'client_credentials', iat, exp: iat + 1200, iss: uaaIssuer(urls.uaa), zid: 'uaa', aud: audience(COMPONENTS_AUTHORITIES, COMPONENTS_CLIENT) });
    };
    // The DEA's droplet upload (dea/staging/stager.ts): a POST of the gzipped droplet with its token.
    const upload = async (uri: string, bits: Buffer) => {
      const res = await request({ url: uri, method: 'POST', headers: { authorization: `bearer ${await componentsToken()}`, 'content-type': 'application/gzip' }, body: bits, timeoutMs: 10_000 });
      if (res.status !== 200) throw new Error(`droplet upload to ${uri} answered ${res.status}: ${res.text}`);
    };
    const runner = new RecordedRunner(upload);

    const context: ControllerContext = {
      db: database.db,
      urls,
      componentUrls: urls,
      log: createLogger('controller', { level: 'debug', write: (line) => void log.push(line.trimEnd()) }),
      runner,
      appLog: (appGuid, line) => void appLogs.push({ appGuid, source: line.source, message: line.message, type: line.type ?? 'OUT' }),
      counters,
      blobstore: new Blobstore(blobsDir, database.dialect === 'mysql' ? new DatabaseBlobs(database.db) : undefined),
      limits: { maxPackageBytes: options.maxPackageBytes ?? MAX_PACKAGE_BYTES },
      defaults: { memoryInMb: DEFAULT_MEMORY_MB, diskInMb: DEFAULT_DISK_MB, logRateLimit: -1 },
    };
    const server: http.Server = createApiServer(
      context,
      {
        verify: (header) => {
          if (!verifier) throw new Error('the harness verifier is made once the server listens');
          return verifier.verify(header);
        },
      },
      stats,
    );
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: '127.0.0.1', port: 0 }, () => resolve());
    });
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        }),
    );
    const port = (server.address() as AddressInfo).port;
    urls = publicUrls(HARNESS_DOMAIN, port);
    context.urls = urls;
    context.componentUrls = urls;
    verifier = createTokenVerifier({ publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(), kid: KID, issuer: uaaIssuer(urls.uaa) });

    const mint: ControllerHarness['mint'] = (claims = {}, { privateKey: key, kid } = {}) => {
      const iat = Math.floor(Date.now() / 1000);
      // uaa's access token for a password grant (uaa/token-service.ts).
      const admin: JWTPayload = {
        jti: randomUUID(),
        sub: ADMIN_ID,
        scope: ADMIN_SCOPES,
        client_id: 'cf',
        cid: 'cf',
        azp: 'cf',
        grant_type: 'password',
        user_id: ADMIN_ID,
        origin: 'uaa',
        user_name: 'admin',
        email: `admin@${HARNESS_DOMAIN}`,
        auth_time: iat,
        iat,
        exp: iat + 1200,
        iss: uaaIssuer(urls.uaa),
        zid: 'uaa',
        aud: audience(ADMIN_SCOPES, 'cf'),
      };
      return sign({ ...admin, ...claims }, key, kid);
    };
    const token = await mint();
    await waitFor('the harness API to answer', async () => (await request({ url: `${urls.api}/v3/info`, timeoutMs: 2_000 })).status === 200, { timeoutMs: 5_000 });

    return {
      api: urls.api,
      uaa: urls.uaa,
      token,
      async call(method, requestPath, body, headers = {}) {
        const response = await request({
          url: `${urls.api}${requestPath}`,
          method,
          headers: { authorization: `bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
          body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
        });
        return { ...response, json: () => JSON.parse(response.text) };
      },
      context,
      runner,
      appLogs,
      counters,
      stats,
      db: database.db,
      dialect: database.dialect,
      log,
      blobsDir,
      mint,
      componentsToken,
      stop: cleanup,
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

/** Waits (bounded) until the build has left STAGING; its final JSON. */
export async function finishedBuild(h: Pick<ControllerHarness, 'call'>, buildGuid: string, timeoutMs = 10_000): Promise<{ state: string; error: string | null; droplet: { guid: string } | null }> {
  return waitFor(`build ${buildGuid} to finish staging`, async () => {
    const build = (await h.call('GET', `/v3/builds/${buildGuid}`)).json();
    return build.state === 'STAGING' ? undefined : build;
  }, { timeoutMs });
}
