// The mysql-node end to end: a real bus, the component running its own private MariaDB in a temp
// DEVBOX_HOME, and real client connections with the credentials it hands out. Timings shortened
// through the environment (quota check every 150 ms, a 1 MB small plan).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connect, JSONCodec, type NatsConnection, type Subscription } from 'nats';
import { createConnection, type Connection, type RowDataPacket } from 'mysql2/promise';
import { BusServer } from '../../../src/runtime/bus/server.js';
import type { Component, ComponentContext } from '../../../src/runtime/common/component.js';
import { statePaths, type DevboxConfig } from '../../../src/runtime/common/config.js';
import { createLogger } from '../../../src/runtime/common/log.js';
import { freePort, waitFor } from '../../../src/runtime/common/net.js';
import mysqlNode, { createMysqlNode } from '../../../src/runtime/mysql-node/component.js';
import { MYSQL_MISSING_HELP, startPrivateMysqld, type PrivateMysqld } from '../../../src/runtime/mysql-node/mysqld.js';
import type { MysqlCredentials as Credentials } from '../../../src/runtime/mysql-node/node.js';
import { setEnv } from '../service-base/env.js';

const json = JSONCodec();
const ENV = {
  DEVBOX_MYSQL_QUOTA_MS: '150',
  DEVBOX_MYSQL_QUOTA_SMALL_BYTES: String(1024 * 1024),
  DEVBOX_MYSQL_ANNOUNCE_MS: '60000',
  DEVBOX_MYSQL_URL: undefined,
};
const ROOT_PASSWORD = 'root-pw-for-tests';

type Reply = { success?: boolean; error?: { code: number; description: string }; credentials?: Credentials } & Record<string, unknown>;
interface Announcement {
  id: string;
  plan: string;
  available_capacity: number;
  host: string;
  port: number;
  supported_versions: string[];
}

function config(): DevboxConfig {
  return {
    version: 1,
    domain: 'localhost',
    router_port: 1,
    bus: { token: 'unused' },
    status: { user: 'devbox', password: 'unused' },
    uaa: {
      admin: { username: 'admin', password: 'unused' },
      cli_client: { id: 'cf', secret: '' },
      components_client: { id: 'c', secret: 's' },
      ssh_proxy_client: { id: 'ssh-proxy', secret: 'unused' },
      access_token_validity_seconds: 1200,
      refresh_token_validity_seconds: 604800,
      signing_key: { kid: 'unused', private_pem: '', public_pem: '' },
    },
    mysql: { root_password: ROOT_PASSWORD, broker: { username: 'broker', password: 'unused' } },
    ssh: { host_key_pem: '' },
  };
}

function context(home: string, index: number, lines: string[]): ComponentContext {
  return {
    name: 'mysql-node',
    index,
    uuid: randomUUID(),
    home,
    paths: statePaths(home),
    config: config(),
    log: createLogger('mysql-node', { write: (line) => void lines.push(line), level: 'debug' }),
  };
}

/** cf-mysql's name, the gateway's for every new instance: `cf_` and the GUID with its dashes as underscores. */
const instanceName = () => `cf_${randomUUID().replace(/-/g, '_')}`;
/** The name of databases made before that: `cf_` and the GUID's 32 hex digits. */
const legacyName = () => `cf_${randomUUID().replace(/-/g, '')}`;
/** What apps see, as cf-mysql writes it: nothing of devbox's own (no node id). */
const CF_MYSQL_FIELDS = ['hostname', 'jdbcUrl', 'name', 'password', 'port', 'uri', 'username'];

/** The node starts MySQL in the background: wait until it serves (or says it cannot). */
async function untilServing(component: { varz(): Record<string, unknown> }): Promise<void> {
  await waitFor('the mysql-node to serve', () => component.varz().mysql !== 'starting', { timeoutMs: 60_000, intervalMs: 50 });
}

describe('mysql-node: the component on a real bus with a private MariaDB', function () {
  this.timeout(60_000);
  let bus: BusServer;
  let nc: NatsConnection;
  let home: string;
  let component: Component | undefined;
  let componentNc: NatsConnection | undefined;
  let announcements: Announcement[] = [];
  let announceSub: Subscription;
  const lines: string[] = [];
  let restoreEnv = () => {};
  const opened: Connection[] = [];

  const request = async (op: string, body: unknown, node = 'mysql-node-0'): Promise<Reply> => {
    const subject = op === 'check_orphan' ? 'MyaaS.check_orphan' : `MyaaS.${op}.${node}`;
    const msg = await nc.request(subject, json.encode(body), { timeout: 10_000 });
    return json.decode(msg.data) as Reply;
  };
  const varz = () => component!.varz() as { mysql: { pid: number; port: number; restarts: number }; databases: number; users: number; quota_revoked: string[] };
  const root = async () => {
    const c = await createConnection({ host: '127.0.0.1', port: varz().mysql.port, user: 'root', password: ROOT_PASSWORD });
    opened.push(c);
    return c;
  };
  const asUser = async (creds: Credentials) => {
    const c = await createConnection({ host: creds.hostname, port: creds.port, user: creds.username, password: creds.password, database: creds.name });
    opened.push(c);
    return c;
  };
  const startComponent = async (index = 0) => {
    componentNc = await connect({ servers: `127.0.0.1:${bus.port}`, name: 'mysql-node-test' });
    component = mysqlNode.create(context(home, index, lines));
    await component.start(componentNc);
    await untilServing(component);
  };
  const stopComponent = async () => {
    await component?.stop();
    await componentNc?.close();
    component = undefined;
    componentNc = undefined;
  };
  const provision = async (plan = 'small') => {
    const name = instanceName();
    const reply = await request('provision', { plan, version: '10.11', name });
    assert.equal(reply.success, true, JSON.stringify(reply));
    return name;
  };
  const bind = async (name: string, bindingId: string = randomUUID()) => {
    const reply = await request('bind', { name, binding_id: bindingId, bind_opts: {} });
    assert.equal(reply.success, true, JSON.stringify(reply));
    return reply.credentials!;
  };
  const databases = async () => {
    const [rows] = await (await root()).query<RowDataPacket[]>('SHOW DATABASES');
    return rows.map((r) => String(r.Database));
  };
  const users = async () => {
    const [rows] = await (await root()).query<RowDataPacket[]>('SELECT User FROM mysql.user');
    return rows.map((r) => String(r.User));
  };

  before(async () => {
    restoreEnv = setEnv(ENV);
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'devbox-mysql-node-'));
    bus = new BusServer({ host: '127.0.0.1', port: 0 });
    await bus.listen();
    nc = await connect({ servers: `127.0.0.1:${bus.port}`, name: 'gateway-stand-in' });
    announceSub = nc.subscribe('MyaaS.announce', { callback: (_err, msg) => void announcements.push(json.decode(msg.data) as Announcement) });
    await nc.flush();
    await startComponent();
  });
  afterEach(async () => {
    for (const c of opened.splice(0)) await c.end().catch(() => undefined);
  });
  after(async () => {
    await stopComponent();
    announceSub?.unsubscribe();
    await nc?.close();
    await bus?.close();
    fs.rmSync(home, { recursive: true, force: true });
    restoreEnv();
  });

  it('announces every plan at start and again on MyaaS.discover', async () => {
    const port = varz().mysql.port;
    await waitFor('announcements', () => announcements.length >= 2);
    const plans = announcements.filter((a) => a.id === 'mysql-node-0').map((a) => a.plan).sort();
    assert.deepEqual(plans, ['medium', 'small']);
    assert.deepEqual(
      { ...announcements[0], plan: undefined },
      { id: 'mysql-node-0', plan: undefined, supported_versions: ['10.11'], available_capacity: 50, capacity_unit: 1, host: '127.0.0.1', port },
    );
    announcements = [];
    nc.publish('MyaaS.discover', json.encode({}));
    await waitFor('announcements after discover', () => announcements.length >= 2, { timeoutMs: 5_000 });
  });

  it('provisions a database, idempotently, and rejects bad names and plans', async () => {
    const name = instanceName();
    const first = await request('provision', { plan: 'small', version: '10.11', name });
    assert.equal(first.success, true);
    assert.match(name, /^cf_[0-9a-f]{8}(_[0-9a-f]{4}){3}_[0-9a-f]{12}$/);
    assert.deepEqual(first.credentials, { hostname: '127.0.0.1', port: varz().mysql.port, name });
    assert.ok((await databases()).includes(name));
    const again = await request('provision', { plan: 'small', version: '10.11', name });
    assert.deepEqual(again, first);
    const bads = [
      { plan: 'small', name: 'cf_x; DROP DATABASE mysql' },
      { plan: 'small', name: `cf_${randomUUID()}` },
      { plan: 'small', name: 'cf_owned_by_someone_else' },
      { plan: 'huge', name: instanceName() },
      { plan: 'small', name: instanceName(), version: '5.1' },
    ];
    for (const bad of bads) {
      const reply = await request('provision', bad);
      assert.equal(reply.success, false);
      assert.equal(typeof reply.error?.description, 'string');
    }
  });

  it('binds: the credentials connect, write and read; a retried bind returns the same user and password', async () => {
    const name = await provision();
    const bindingId = randomUUID();
    const creds = await bind(name, bindingId);
    assert.deepEqual(Object.keys(creds).sort(), CF_MYSQL_FIELDS);
    assert.match(creds.username, /^u[0-9a-f]{15}$/);
    assert.equal(creds.uri, `mysql://${creds.username}:${encodeURIComponent(creds.password)}@127.0.0.1:${creds.port}/${name}?reconnect=true`);
    assert.equal(creds.jdbcUrl, `jdbc:mysql://127.0.0.1:${creds.port}/${name}?user=${creds.username}&password=${encodeURIComponent(creds.password)}`);
    const c = await asUser(creds);
    await c.query('CREATE TABLE notes (id INT PRIMARY KEY, body TEXT)');
    await c.query('INSERT INTO notes VALUES (1, ?)', ['hello']);
    const [rows] = await c.query<RowDataPacket[]>('SELECT body FROM notes');
    assert.equal(rows[0].body, 'hello');
    assert.deepEqual(await bind(name, bindingId), creds);
    const [limits] = await (await root()).query<RowDataPacket[]>('SELECT max_user_connections AS n FROM mysql.user WHERE User = ?', [creds.username]);
    assert.equal(Number(limits[0].n), 10, 'the small plan allows 10 connections per user');
    // Rights on this database only.
    await assert.rejects(c.query('CREATE DATABASE cf_other'), /denied/);
    await assert.rejects(c.query('SELECT * FROM mysql.user'), /denied/);
    await assert.rejects(c.query('CREATE DATABASE cfx' + name.slice(3)), /denied/);
  });

  it("keeps instances apart: one binding's user cannot read another instance's database", async () => {
    const a = await provision();
    const b = await provision();
    const credsA = await bind(a);
    const credsB = await bind(b);
    await (await asUser(credsA)).query('CREATE TABLE secret (v TEXT)');
    await assert.rejects(asUser({ ...credsB, name: a }), /denied/);
    await assert.rejects((await asUser(credsB)).query(`SELECT * FROM \`${a}\`.secret`), /denied/);
  });

  it('unbind drops the user and kills its open connections, idempotently', async () => {
    const name = await provision();
    const creds = await bind(name);
    const open = await asUser(creds);
    await open.query('SELECT 1');
    assert.deepEqual(await request('unbind', { credentials: { name, username: creds.username } }), { success: true });
    await assert.rejects(open.query('SELECT 1'));
    await assert.rejects(asUser(creds), /denied/);
    assert.ok(!(await users()).includes(creds.username));
    assert.deepEqual(await request('unbind', { credentials: { name, username: creds.username } }), { success: true });
    const bad = await request('unbind', { credentials: { name, username: "x'; DROP USER root" } });
    assert.equal(bad.success, false);
  });

  it('unprovision drops the database and every user of it, idempotently', async () => {
    const name = await provision();
    const one = await bind(name);
    const two = await bind(name);
    const open = await asUser(one);
    assert.deepEqual(await request('unprovision', { name, bindings: [{ username: one.username }] }), { success: true });
    assert.ok(!(await databases()).includes(name));
    const left = await users();
    assert.ok(!left.includes(one.username) && !left.includes(two.username));
    await assert.rejects(open.query('SELECT 1'));
    assert.deepEqual(await request('unprovision', { name, bindings: [] }), { success: true });
    const bind404 = await request('bind', { name, binding_id: randomUUID(), bind_opts: {} });
    assert.equal(bind404.success, false);
  });

  it('update moves a database to another plan: its users get the new connection limit; unknown plans and databases are refused', async () => {
    const name = await provision('small');
    const creds = await bind(name);
    const limit = async () => Number((await (await root()).query<RowDataPacket[]>('SELECT max_user_connections AS n FROM mysql.user WHERE User = ?', [creds.username]))[0][0].n);
    assert.equal(await limit(), 10);
    assert.deepEqual(await request('update', { name, plan: 'medium' }), { success: true });
    assert.equal(await limit(), 40, 'the medium plan allows 40 connections per user');
    const [plan] = await (await root()).query<RowDataPacket[]>('SELECT plan FROM devbox_node.instances WHERE name = ?', [name]);
    assert.equal(plan[0].plan, 'medium', 'the quota enforcer reads the new plan');
    // A binding made after the update gets the new plan's limit too.
    const later = await bind(name);
    const [laterLimit] = await (await root()).query<RowDataPacket[]>('SELECT max_user_connections AS n FROM mysql.user WHERE User = ?', [later.username]);
    assert.equal(Number(laterLimit[0].n), 40);
    for (const bad of [{ name, plan: 'huge' }, { name: instanceName(), plan: 'small' }, { name: 'cf_x; DROP DATABASE mysql', plan: 'small' }]) {
      const reply = await request('update', bad);
      assert.equal(reply.success, false, JSON.stringify(bad));
      assert.equal(typeof reply.error?.description, 'string');
    }
    assert.equal(await limit(), 40, 'a refused update changes nothing');
  });

  it('check_orphan lists databases and users; purge_orphan removes them', async () => {
    const name = await provision();
    const creds = await bind(name);
    // Not the node's: a cf-mysql-named database someone else made on the server (a shared one,
    // DEVBOX_MYSQL_URL). One of the old naming is listed by its name alone, as before.
    const foreign = instanceName();
    const old = legacyName();
    await (await root()).query('CREATE DATABASE ??', [foreign]);
    await (await root()).query('CREATE DATABASE ??', [old]);
    const listed = await request('check_orphan', {});
    assert.equal(listed.node_id, 'mysql-node-0');
    assert.ok((listed.databases as string[]).includes(name));
    assert.ok((listed.databases as string[]).includes(old));
    assert.ok(!(listed.databases as string[]).includes(foreign), 'a database the node did not make is not its orphan');
    assert.ok((listed.users as string[]).includes(creds.username));
    assert.ok(!(listed.databases as string[]).includes('devbox_node'));
    assert.deepEqual(await request('purge_orphan', { databases: [name, old, foreign, 'mysql'], users: [creds.username, 'root'] }), { success: true });
    assert.ok(!(await databases()).includes(name));
    assert.ok(!(await databases()).includes(old));
    assert.ok((await databases()).includes(foreign), 'never purged');
    assert.ok((await databases()).includes('mysql'));
    assert.ok(!(await users()).includes(creds.username));
    assert.deepEqual(await request('purge_orphan', { databases: [name], users: [creds.username] }), { success: true });
    await (await root()).query('DROP DATABASE ??', [foreign]);
  });

  it('keeps serving a database made before cf-mysql\'s names (cf_<32 hex>): bind, update, check_orphan, unbind, unprovision', async () => {
    // As the node before the change made it: the database and its row in devbox_node.instances.
    const name = legacyName();
    await (await root()).query('CREATE DATABASE ?? CHARACTER SET utf8mb4', [name]);
    await (await root()).query("INSERT INTO devbox_node.instances (name, plan) VALUES (?, 'small')", [name]);
    const creds = await bind(name);
    assert.equal(creds.name, name);
    assert.equal(creds.uri, `mysql://${creds.username}:${encodeURIComponent(creds.password)}@127.0.0.1:${creds.port}/${name}?reconnect=true`);
    const c = await asUser(creds);
    await c.query('CREATE TABLE kept (v TEXT)');
    await c.query("INSERT INTO kept VALUES ('old')");
    assert.deepEqual(await request('update', { name, plan: 'medium' }), { success: true });
    assert.ok(((await request('check_orphan', {})).databases as string[]).includes(name));
    assert.deepEqual(await request('unbind', { credentials: { name, username: creds.username } }), { success: true });
    await assert.rejects(asUser(creds), /denied/);
    assert.deepEqual(await request('unprovision', { name, bindings: [] }), { success: true });
    assert.ok(!(await databases()).includes(name));
  });

  it('update refuses a plan the data does not fit (422, nothing changes); an upgrade gives an over-quota database its writes back at once', async () => {
    const half = Buffer.alloc(512 * 1024, 7);
    /** What the server says the database takes (InnoDB's files), as the node measures it. */
    const size = async (name: string) => {
      const [rows] = await (await root()).query<RowDataPacket[]>("SELECT COALESCE(SUM(ALLOCATED_SIZE), 0) AS n FROM information_schema.INNODB_SYS_TABLESPACES WHERE SUBSTRING_INDEX(NAME, '/', 1) = ?", [name]);
      return Number(rows[0].n);
    };
    const limit = async (username: string) => Number((await (await root()).query<RowDataPacket[]>('SELECT max_user_connections AS n FROM mysql.user WHERE User = ?', [username]))[0][0].n);

    // A medium database holding 2 MB does not fit small (1 MB in these tests).
    const big = await provision('medium');
    const bigCreds = await bind(big);
    const c = await asUser(bigCreds);
    await c.query('CREATE TABLE blobs (id INT AUTO_INCREMENT PRIMARY KEY, b LONGBLOB)');
    for (let i = 0; i < 4; i++) await c.query('INSERT INTO blobs (b) VALUES (?)', [half]);
    await waitFor('the server to count the data', async () => (await size(big)) > 1024 * 1024, { timeoutMs: 10_000 });
    const refused = await request('update', { name: big, plan: 'small' });
    assert.equal(refused.success, false);
    assert.equal(refused.error?.code, 422);
    assert.match(String(refused.error?.description), /holds \d+(\.\d)? MB, more than plan small allows \(1\.0 MB\); drop or truncate tables/);
    const [plan] = await (await root()).query<RowDataPacket[]>('SELECT plan FROM devbox_node.instances WHERE name = ?', [big]);
    assert.equal(plan[0].plan, 'medium', 'the plan is unchanged');
    assert.equal(await limit(bigCreds.username), 40);
    await c.query('INSERT INTO blobs (b) VALUES (?)', [Buffer.from('still writable')]);
    // Emptied, it fits.
    await c.query('DROP TABLE blobs');
    assert.deepEqual(await request('update', { name: big, plan: 'small' }), { success: true });
    assert.equal(await limit(bigCreds.username), 10);

    // A small database over its size has lost its writes; moved to medium it gets them back in the
    // update itself, not at the enforcer's next pass.
    const full = await provision('small');
    const fullCreds = await bind(full);
    const writer = await asUser(fullCreds);
    await writer.query('CREATE TABLE blobs (id INT AUTO_INCREMENT PRIMARY KEY, b LONGBLOB)');
    try {
      for (let i = 0; i < 4; i++) await writer.query('INSERT INTO blobs (b) VALUES (?)', [half]);
    } catch (error) {
      // A connection killed while it sends a row may also end in EPIPE or ECONNRESET.
      assert.match((error as Error).message, /closed|denied|lost|killed|EPIPE|ECONNRESET/i);
    }
    await waitFor('the quota to be enforced', () => varz().quota_revoked.includes(full), { timeoutMs: 10_000 });
    await assert.rejects((await asUser(fullCreds)).query('INSERT INTO blobs (b) VALUES (?)', [Buffer.from('x')]), /denied/);
    assert.deepEqual(await request('update', { name: full, plan: 'medium' }), { success: true });
    assert.ok(!varz().quota_revoked.includes(full));
    await (await asUser(fullCreds)).query('INSERT INTO blobs (b) VALUES (?)', [Buffer.from('x')]);
    assert.equal(await limit(fullCreds.username), 40);
  });

  it('quota: past the plan size writes are refused and reads still work; under it again writes come back', async () => {
    const name = await provision('small');
    const creds = await bind(name);
    const c = await asUser(creds);
    await c.query('CREATE TABLE blobs (id INT AUTO_INCREMENT PRIMARY KEY, b LONGBLOB)');
    const blob = Buffer.alloc(512 * 1024, 7);
    // The enforcer may revoke (and kill this connection) part-way: that is the point.
    let written = 0;
    try {
      for (; written < 4; written++) await c.query('INSERT INTO blobs (b) VALUES (?)', [blob]);
    } catch (error) {
      // A connection killed while it sends a row may also end in EPIPE or ECONNRESET.
      assert.match((error as Error).message, /closed|denied|lost|killed|EPIPE|ECONNRESET/i);
    }
    await waitFor('the quota to be enforced', () => varz().quota_revoked.includes(name), { timeoutMs: 10_000 });
    const after = await asUser(creds);
    await assert.rejects(after.query('INSERT INTO blobs (b) VALUES (?)', [Buffer.from('x')]), /denied/);
    await assert.rejects(after.query('CREATE TABLE more (v INT)'), /denied/);
    const [rows] = await after.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM blobs');
    assert.ok(Number(rows[0].n) >= 2 && Number(rows[0].n) <= written + 1, `rows: ${rows[0].n}`);
    // A binding made while over quota gets the restricted rights too.
    const late = await asUser(await bind(name));
    await assert.rejects(late.query('INSERT INTO blobs (b) VALUES (?)', [Buffer.from('x')]), /denied/);
    await after.query('DROP TABLE blobs');
    await waitFor('writes to be restored', () => !varz().quota_revoked.includes(name), { timeoutMs: 10_000 });
    const restored = await asUser(creds);
    await restored.query('CREATE TABLE more (v INT)');
    await restored.query('INSERT INTO more VALUES (1)');
  });

  it('restarts the private mysqld after kill -9, with its data', async () => {
    const name = await provision();
    const creds = await bind(name);
    await (await asUser(creds)).query('CREATE TABLE kept (v TEXT)');
    await (await asUser(creds)).query("INSERT INTO kept VALUES ('still here')");
    for (const c of opened.splice(0)) await c.end().catch(() => undefined);
    const before = varz().mysql;
    process.kill(before.pid, 'SIGKILL');
    await waitFor('mysqld to be restarted', () => varz().mysql.restarts === before.restarts + 1 && varz().mysql.pid !== before.pid, { timeoutMs: 30_000, intervalMs: 100 });
    assert.equal(varz().mysql.port, before.port, 'the same port, so handed-out credentials keep working');
    const c = await waitFor('a connection', () => asUser(creds), { timeoutMs: 10_000 });
    const [rows] = await c.query<RowDataPacket[]>('SELECT v FROM kept');
    assert.equal(rows[0].v, 'still here');
  });

  it('keeps its data and port across a stop and start of the component', async () => {
    const name = await provision();
    const creds = await bind(name);
    await (await asUser(creds)).query('CREATE TABLE t (v INT)');
    for (const c of opened.splice(0)) await c.end().catch(() => undefined);
    await stopComponent();
    await startComponent();
    const c = await asUser(creds);
    await c.query('INSERT INTO t VALUES (1)');
    const again = await request('provision', { plan: 'small', name });
    assert.equal(again.success, true);
    assert.ok((component!.varz() as { databases: number }).databases >= 1);
  });
});

describe('mysql-node: DEVBOX_MYSQL_URL, an existing server', function () {
  this.timeout(60_000);
  let bus: BusServer;
  let nc: NatsConnection;
  let componentNc: NatsConnection;
  let component: Component;
  let server: PrivateMysqld | undefined;
  let url = '';
  let home: string;
  let restoreEnv = () => {};

  const admin = () => {
    const u = new URL(url);
    return createConnection({ host: u.hostname, port: Number(u.port), user: decodeURIComponent(u.username), password: decodeURIComponent(u.password) });
  };

  before(async () => {
    // A second private server stands in for "an existing server" (never the machine's own on 3306).
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'devbox-mysql-existing-'));
    server = await startPrivateMysqld({ dir, port: await freePort(), rootPassword: 'existing-pw' });
    url = server.url;
    // This node offers small only (--plan small).
    restoreEnv = setEnv({ DEVBOX_MYSQL_URL: url, DEVBOX_MYSQL_PLANS: 'small' });
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'devbox-mysql-node-url-'));
    bus = new BusServer({ host: '127.0.0.1', port: 0 });
    await bus.listen();
    nc = await connect({ servers: `127.0.0.1:${bus.port}` });
    componentNc = await connect({ servers: `127.0.0.1:${bus.port}` });
    component = mysqlNode.create(context(home, 7, []));
    await component.start(componentNc);
    await untilServing(component);
  });
  after(async () => {
    await component?.stop();
    await componentNc?.close();
    await nc?.close();
    await bus?.close();
    await server?.stop();
    if (server) fs.rmSync(path.dirname(server.socket), { recursive: true, force: true });
    fs.rmSync(home, { recursive: true, force: true });
    restoreEnv();
  });

  it('provisions, binds and unprovisions on that server, and runs no server of its own', async () => {
    const port = Number(new URL(url).port);
    assert.deepEqual((component.varz() as { mysql: unknown }).mysql, { mode: 'external', host: '127.0.0.1', port });
    const name = instanceName();
    const ask = async (op: string, body: unknown) => json.decode((await nc.request(`MyaaS.${op}.mysql-node-7`, json.encode(body), { timeout: 10_000 })).data) as Reply;
    assert.equal((await ask('provision', { plan: 'small', name })).success, true);
    // A plan of p-mysql it does not offer: the change is not possible here (422); no such plan is a 400.
    const unserved = await ask('update', { name, plan: 'medium' });
    assert.equal(unserved.error?.code, 422);
    assert.match(String(unserved.error?.description), /does not serve plan medium \(it serves small\)/);
    assert.equal((await ask('update', { name, plan: 'huge' })).error?.code, 400);
    const bound = await ask('bind', { name, binding_id: randomUUID(), bind_opts: {} });
    const creds = bound.credentials!;
    assert.equal(creds.port, port);
    const c = await createConnection({ host: creds.hostname, port: creds.port, user: creds.username, password: creds.password, database: name });
    await c.query('CREATE TABLE t (v INT)');
    await c.end();
    assert.deepEqual(await ask('unprovision', { name, bindings: [{ username: creds.username }] }), { success: true });
    const check = await admin();
    const [rows] = await check.query<RowDataPacket[]>('SHOW DATABASES LIKE ?', [name]);
    await check.end();
    assert.equal(rows.length, 0);
  });
});

describe('mysql-node: the private server of a new data directory', function () {
  this.timeout(60_000);
  let dir: string;
  let server: PrivateMysqld | undefined;
  after(async () => {
    await server?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("never lets root in without devbox's password, not even on its first start, and keeps it across restarts", async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'devbox-mysql-secure-'));
    const port = await freePort();
    server = await startPrivateMysqld({ dir, port, rootPassword: "pw-with-'quote-and-\\" });
    const refused = async (user: string, password: string) => {
      const c = await createConnection({ host: '127.0.0.1', port, user, password }).catch((error: { code?: string }) => error);
      if ('end' in c && typeof c.end === 'function') {
        await c.end();
        return undefined;
      }
      return (c as { code?: string }).code;
    };
    assert.equal(await refused('root', ''), 'ER_ACCESS_DENIED_ERROR', 'root without a password');
    assert.equal(await refused('', ''), 'ER_ACCESS_DENIED_ERROR', 'the anonymous user');
    assert.equal(await refused('root', "pw-with-'quote-and-\\"), undefined, 'root with the password');
    assert.ok(!fs.existsSync(path.join(dir, 'init.sql')), 'the init file with the password is gone');
    await server.stop();
    server = await startPrivateMysqld({ dir, port, rootPassword: "pw-with-'quote-and-\\" });
    assert.equal(await refused('root', ''), 'ER_ACCESS_DENIED_ERROR', 'after a restart');
    assert.ok(!fs.existsSync(path.join(dir, 'init.sql')));
  });
});

describe('mysql-node: no server binary and no URL', function () {
  this.timeout(10_000);

  it('starts healthy, serves nothing, says why in /varz and logs the help once', async () => {
    const saved = process.env.DEVBOX_MYSQL_URL;
    delete process.env.DEVBOX_MYSQL_URL;
    const bus = new BusServer({ host: '127.0.0.1', port: 0 });
    await bus.listen();
    const nc = await connect({ servers: `127.0.0.1:${bus.port}` });
    const heard: unknown[] = [];
    nc.subscribe('MyaaS.announce', { callback: (_err, msg) => void heard.push(json.decode(msg.data)) });
    const lines: string[] = [];
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'devbox-mysql-node-none-'));
    const component = createMysqlNode(context(home, 0, lines), { findServer: () => undefined });
    try {
      await component.start(nc);
      assert.equal(component.healthy(), true);
      assert.deepEqual(component.varz(), { id: 'mysql-node-0', mysql: 'unavailable', reason: MYSQL_MISSING_HELP });
      nc.publish('MyaaS.discover', json.encode({}));
      await assert.rejects(nc.request('MyaaS.provision.mysql-node-0', json.encode({ plan: 'small', name: instanceName() }), { timeout: 300 }));
      assert.deepEqual(heard, []);
      assert.equal(lines.filter((l) => l.includes('no MySQL server found')).length, 1);
      assert.ok(!fs.existsSync(path.join(home, 'mysql', 'node-0')));
    } finally {
      await component.stop();
      await nc.close();
      await bus.close();
      fs.rmSync(home, { recursive: true, force: true });
      if (saved !== undefined) process.env.DEVBOX_MYSQL_URL = saved;
    }
  });
});

describe('mysql-node: a mysqld left behind by a killed node', function () {
  this.timeout(90_000);
  let saved: string | undefined;
  let home: string;
  let bus: BusServer;
  let nc: NatsConnection;
  let left: PrivateMysqld;

  beforeEach(async () => {
    saved = process.env.DEVBOX_MYSQL_URL;
    delete process.env.DEVBOX_MYSQL_URL;
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'devbox-mysql-node-left-'));
    // What a node killed with -9 leaves: its mysqld, on the node's data directory, still running.
    left = await startPrivateMysqld({ dir: path.join(home, 'mysql', 'node-0'), port: await freePort(), rootPassword: ROOT_PASSWORD });
    bus = new BusServer({ host: '127.0.0.1', port: 0 });
    await bus.listen();
    nc = await connect({ servers: `127.0.0.1:${bus.port}` });
  });
  afterEach(async () => {
    try {
      process.kill(left.pid, 'SIGCONT'); // the second test stops it
    } catch {
      // gone already
    }
    await left.stop();
    await nc.close();
    await bus.close();
    fs.rmSync(home, { recursive: true, force: true });
    if (saved !== undefined) process.env.DEVBOX_MYSQL_URL = saved;
  });

  type MysqlVarz = { mysql: { pid: number; port: number; running: boolean } };

  it('is adopted when it answers: the apps\' connections live on; when it dies the node starts its own', async () => {
    // An app's connection, open across the node's restart.
    const app = await createConnection({ host: '127.0.0.1', port: left.port, user: 'root', password: ROOT_PASSWORD });
    const component = mysqlNode.create(context(home, 0, []));
    try {
      await app.query('CREATE DATABASE kept_across_restart');
      await component.start(nc);
      await untilServing(component);
      const adopted = (component.varz() as MysqlVarz).mysql;
      assert.equal(adopted.pid, left.pid);
      assert.equal(adopted.port, left.port);
      assert.equal(adopted.running, true);
      const [rows] = await app.query<RowDataPacket[]>("SHOW DATABASES LIKE 'kept_across_restart'");
      assert.equal(rows.length, 1, 'the connection opened before the node started still works, on the same data');
      // Not the node's child: its death is noticed all the same, and a server of its own replaces it.
      left.child.kill('SIGKILL');
      const replaced = await waitFor('the node to start its own mysqld', () => {
        const { mysql } = component.varz() as MysqlVarz;
        return mysql.running && mysql.pid !== left.pid ? mysql : undefined;
      }, { timeoutMs: 30_000, intervalMs: 50 });
      assert.equal(replaced.port, left.port, 'on the same port: bindings carry it');
    } finally {
      app.destroy();
      await component.stop();
    }
    const { mysql } = component.varz() as MysqlVarz;
    assert.equal(mysql.running, false, 'stopped with the node');
  });

  it('is stopped and replaced when it does not answer', async () => {
    process.kill(left.pid, 'SIGSTOP'); // hung: it accepts nothing
    const component = mysqlNode.create(context(home, 0, []));
    try {
      await component.start(nc);
      await untilServing(component);
      await waitFor('the hung mysqld to exit', () => left.child.exitCode !== null || left.child.signalCode !== null, { timeoutMs: 10_000 });
      const { mysql } = component.varz() as MysqlVarz;
      assert.notEqual(mysql.pid, left.pid);
      assert.equal(mysql.running, true);
    } finally {
      await component.stop();
    }
  });
});
