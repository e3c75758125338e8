// The mysql-gateway as an Open Service Broker, through the cases of the API's own conformance suites
// (osb-checker, its Go and mocha suites: catalog, provision, last_operation, update, bind, unbind,
// deprovision, each with its request syntax, new, existed and conflict cases) and the status codes of
// spec.md (v2.17), for both plans. Real HTTP to the gateway, a real bus, the real mysql-node and its
// private MariaDB: the credentials handed out log in, and a plan change is refused when the data does
// not fit. The cases shared with the redis-gateway's test are in ../service-base/osb-checker.ts; they
// run in order within a plan, as osb-checker's do: each builds on the one before.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { createConnection, type Connection, type RowDataPacket } from 'mysql2/promise';
import { BusServer } from '../../../src/runtime/bus/server.js';
import { waitFor } from '../../../src/runtime/common/net.js';
import { PLANS, SERVICE_ID } from '../../../src/runtime/mysql-gateway/catalog.js';
import { headerAndAuthCases, lifecycleCases, type Lifecycle } from '../service-base/osb-checker.js';
import { dbName, osb, startGateway, startMysqlNode, tempHome, type RealNode, type RunningGateway } from './helpers.js';

const SMALL = PLANS.find((p) => p.name === 'small')!.id;
const MEDIUM = PLANS.find((p) => p.name === 'medium')!.id;
const MB = 1024 * 1024;
/** The node's environment: a 1 MB small plan (a database that does not fit is quick to make), a quick enforcer. */
const NODE_ENV: Record<string, string | undefined> = {
  DEVBOX_MYSQL_QUOTA_SMALL_BYTES: String(MB),
  DEVBOX_MYSQL_QUOTA_MS: '150',
  DEVBOX_MYSQL_ANNOUNCE_MS: '60000',
  DEVBOX_MYSQL_URL: undefined,
  DEVBOX_MYSQL_PLANS: undefined,
  DEVBOX_MYSQL_NODE_ID: undefined,
};
/** cf-mysql's credentials, and nothing else. */
const CF_MYSQL_FIELDS = ['hostname', 'jdbcUrl', 'name', 'password', 'port', 'uri', 'username'];
/** The database of a lifecycle's instance: cf-mysql's `cf_` and the GUID with underscores. */
const database = (l: Lifecycle) => dbName(l.instanceId);

describe('mysql-gateway: Open Service Broker API conformance (osb-checker cases; real node and MariaDB)', function () {
  this.timeout(60_000);
  const homes: string[] = [];
  const saved: Record<string, string | undefined> = {};
  const opened: Connection[] = [];
  let bus: BusServer;
  let node: RealNode | undefined;
  let g: RunningGateway | undefined;
  let url = '';
  const broker = { url: () => url, serviceId: SERVICE_ID, realm: 'mysql-broker' };

  /** root on the node's server, to look at what the broker did. */
  const root = async () => {
    const c = await createConnection(node!.server());
    opened.push(c);
    return c;
  };
  const databaseExists = async (name: string) => ((await (await root()).query<RowDataPacket[]>('SHOW DATABASES LIKE ?', [name.replace(/_/g, '\\_')]))[0]).length === 1;
  const connectWith = async (credentials: Record<string, unknown>) => {
    const c = await createConnection({ host: String(credentials.hostname), port: Number(credentials.port), user: String(credentials.username), password: String(credentials.password), database: String(credentials.name) });
    opened.push(c);
    return c;
  };

  before(async () => {
    for (const [k, v] of Object.entries(NODE_ENV)) {
      saved[k] = process.env[k];
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    bus = new BusServer({ host: '127.0.0.1', port: 0 });
    const busPort = (await bus.listen()).port;
    const nodeHome = tempHome();
    const gatewayHome = tempHome();
    homes.push(nodeHome, gatewayHome);
    node = await startMysqlNode({ home: nodeHome, busPort });
    g = await startGateway({ home: gatewayHome, busPort, env: { DEVBOX_MYSQL_REQUEST_TIMEOUT_MS: '10000' } });
    url = g.url;
    await waitFor('the gateway to know the mysql-node', () => g!.varz().nodes.some((n) => n.id === 'mysql-node-0'), { timeoutMs: 10_000 });
  });
  afterEach(async () => {
    for (const c of opened.splice(0)) await c.end().catch(() => undefined);
  });
  after(async () => {
    await g?.stop();
    await node?.stop();
    await bus?.close();
    for (const home of homes) fs.rmSync(home, { recursive: true, force: true });
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  describe('catalog', () => {
    it('GET /v2/catalog: 200 application/json, services with id, name, description, bindable and plans', async () => {
      const res = await osb(url, 'GET', '/v2/catalog');
      assert.equal(res.status, 200);
      assert.match(String(res.headers['content-type']), /^application\/json/);
      const services = res.json.services as Array<Record<string, unknown>>;
      assert.equal(services.length, 1);
      const [service] = services;
      for (const field of ['id', 'name', 'description']) assert.equal(typeof service[field], 'string', field);
      assert.equal(service.bindable, true);
      assert.equal(service.plan_updateable, true);
      assert.match(String(service.name), /^[A-Za-z0-9.-]+$/, 'a CLI-friendly name');
      const plans = service.plans as Array<Record<string, unknown>>;
      assert.deepEqual(plans.map((p) => [p.id, p.name]), [[SMALL, 'small'], [MEDIUM, 'medium']]);
      for (const p of plans) for (const field of ['id', 'name', 'description']) assert.equal(typeof p[field], 'string', `${String(p.name)}.${field}`);
    });

    headerAndAuthCases(broker, SMALL);
  });

  for (const [planName, planId, otherName, otherId] of [
    ['small', SMALL, 'medium', MEDIUM],
    ['medium', MEDIUM, 'small', SMALL],
  ] as const) {
    describe(`lifecycle, plan ${planName}`, () => {
      lifecycleCases({
        ...broker,
        plan: { id: planId, name: planName },
        otherPlan: { id: otherId, name: otherName },
        exists: (instanceId) => databaseExists(dbName(instanceId)),
        credentialFields: CF_MYSQL_FIELDS,
        // cf-mysql's credentials, which log in to the instance's database, the uri as apps use it.
        async useCredentials(credentials, l) {
          const { hostname, port, name, username, password } = credentials as { hostname: string; port: number; name: string; username: string; password: string };
          assert.equal(name, database(l));
          assert.equal(credentials.uri, `mysql://${username}:${encodeURIComponent(password)}@${hostname}:${port}/${name}?reconnect=true`);
          assert.equal(credentials.jdbcUrl, `jdbc:mysql://${hostname}:${port}/${name}?user=${username}&password=${encodeURIComponent(password)}`);
          const c = await connectWith(credentials);
          assert.deepEqual((await c.query('SELECT DATABASE() AS db'))[0], [{ db: database(l) }]);
          const viaUri = await createConnection(String(credentials.uri).replace('?reconnect=true', ''));
          opened.push(viaUri);
          await viaUri.query('CREATE TABLE notes (id INT PRIMARY KEY, text TEXT)');
        },
        updates(l) {
          it(`200 {} for a valid update (plan ${planName} → ${otherName}): the node moves the database`, async () => {
            const res = await osb(url, 'PATCH', `${l.instance}?accepts_incomplete=true`, { body: { service_id: SERVICE_ID, plan_id: otherId, previous_values: { plan_id: planId } } });
            assert.deepEqual([res.status, res.json], [200, {}]);
            assert.equal((await osb(url, 'GET', l.instance)).json.plan_id, otherId);
            const [rows] = await (await root()).query<RowDataPacket[]>('SELECT plan FROM devbox_node.instances WHERE name = ?', [database(l)]);
            assert.equal(rows[0].plan, otherName);
          });
          it('200 when the same update is sent again (its changes are applied)', async () => {
            const res = await osb(url, 'PATCH', `${l.instance}?accepts_incomplete=true`, { body: { service_id: SERVICE_ID, plan_id: otherId } });
            assert.deepEqual([res.status, res.json], [200, {}]);
          });
          it(`200 back to plan ${planName}`, async () => {
            const res = await osb(url, 'PATCH', `${l.instance}?accepts_incomplete=true`, { body: { service_id: SERVICE_ID, plan_id: planId, previous_values: { plan_id: otherId } } });
            assert.deepEqual([res.status, res.json], [200, {}]);
            assert.equal((await osb(url, 'GET', l.instance)).json.plan_id, planId);
          });
        },
        whileBound(l) {
          describe('UPDATE - the data and the plan', () => {
            /** What the server says the database takes, as the node measures it (InnoDB's files). */
            const size = async () => {
              const [rows] = await (await root()).query<RowDataPacket[]>("SELECT COALESCE(SUM(ALLOCATED_SIZE), 0) AS n FROM information_schema.INNODB_SYS_TABLESPACES WHERE SUBSTRING_INDEX(NAME, '/', 1) = ?", [database(l)]);
              return Number(rows[0].n);
            };
            /** 2 MB of rows: more than small's 1 MB here. A small database loses its writes part-way. */
            const fill = async () => {
              const c = await connectWith(l.credentials);
              await c.query('CREATE TABLE blobs (id INT AUTO_INCREMENT PRIMARY KEY, b LONGBLOB)');
              try {
                for (let i = 0; i < 4; i++) await c.query('INSERT INTO blobs (b) VALUES (?)', [Buffer.alloc(MB / 2, 7)]);
              } catch (error) {
                // A connection killed while it sends a row may also end in EPIPE or ECONNRESET.
                assert.match((error as Error).message, /closed|denied|lost|killed|EPIPE|ECONNRESET/i);
              }
              await waitFor('the server to count the data', async () => (await size()) > MB, { timeoutMs: 10_000 });
            };
            const canWrite = async () => {
              try {
                await (await connectWith(l.credentials)).query("INSERT INTO notes VALUES (FLOOR(RAND() * 1000000000), 'x')");
                return true;
              } catch (error) {
                // Refused, or killed by the enforcer as it revokes (which it does after the revoke).
                assert.match((error as Error).message, /denied|closed|lost|killed|EPIPE|ECONNRESET/i);
                return false;
              }
            };

            if (planName === 'medium') {
              it('422 with why for a change to a plan the data does not fit (medium → small holding 2 MB); nothing changes', async () => {
                await fill();
                const res = await osb(url, 'PATCH', `${l.instance}?accepts_incomplete=true`, { body: { service_id: SERVICE_ID, plan_id: SMALL, previous_values: { plan_id: MEDIUM } } });
                assert.equal(res.status, 422);
                assert.match(String(res.json.description), /cannot move to plan small: the database holds [\d.]+ MB, more than plan small allows \(1\.0 MB\); drop or truncate tables/);
                assert.equal((await osb(url, 'GET', l.instance)).json.plan_id, MEDIUM);
                assert.equal(await canWrite(), true);
              });
              it('200 once the data fits', async () => {
                await (await connectWith(l.credentials)).query('DROP TABLE blobs');
                assert.equal((await osb(url, 'PATCH', l.instance, { body: { service_id: SERVICE_ID, plan_id: SMALL } })).status, 200);
                assert.equal((await osb(url, 'PATCH', l.instance, { body: { service_id: SERVICE_ID, plan_id: MEDIUM } })).status, 200);
              });
            } else {
              it('a small database over its size loses its writes; moved to medium it has them back when the update answers', async () => {
                await fill();
                await waitFor('the writes to be revoked', async () => !(await canWrite()), { timeoutMs: 10_000 });
                const res = await osb(url, 'PATCH', `${l.instance}?accepts_incomplete=true`, { body: { service_id: SERVICE_ID, plan_id: MEDIUM, previous_values: { plan_id: SMALL } } });
                assert.deepEqual([res.status, res.json], [200, {}]);
                assert.equal(await canWrite(), true);
                // And back to small it may not go while the data is there.
                assert.equal((await osb(url, 'PATCH', l.instance, { body: { service_id: SERVICE_ID, plan_id: SMALL } })).status, 422);
              });
              it('200 back to small once the data fits', async () => {
                await (await connectWith(l.credentials)).query('DROP TABLE blobs');
                assert.equal((await osb(url, 'PATCH', l.instance, { body: { service_id: SERVICE_ID, plan_id: SMALL } })).status, 200);
                assert.equal((await osb(url, 'GET', l.instance)).json.plan_id, SMALL);
              });
            }
          });
        },
        // The binding's user is dropped: its credentials no longer log in.
        afterUnbind: async (l) => void (await assert.rejects(connectWith(l.credentials), /denied/i)),
      });
    });
  }
});
