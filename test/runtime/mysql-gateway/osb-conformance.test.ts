// The gateway as an Open Service Broker, through the cases of the API's own conformance suites
// (osb-checker, its Go and mocha suites: catalog, provision, last_operation, update, bind, unbind,
// deprovision, each with its request syntax, new, existed and conflict cases) and the status codes of
// spec.md (v2.17), for both plans. Real HTTP to the gateway, a real bus, the real mysql-node and its
// private MariaDB: the credentials handed out log in, and a plan change is refused when the data does
// not fit. The cases run in order within a plan, as osb-checker's do: each builds on the one before.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import { createConnection, type Connection, type RowDataPacket } from 'mysql2/promise';
import { BusServer } from '../../../src/runtime/bus/server.js';
import { waitFor } from '../../../src/runtime/common/net.js';
import { PLANS, SERVICE_ID } from '../../../src/runtime/mysql-gateway/catalog.js';
import { BROKER, osb, startGateway, startMysqlNode, tempHome, type RealNode, type RunningGateway } from './helpers.js';

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

describe('mysql-gateway: Open Service Broker API conformance (osb-checker cases; real node and MariaDB)', function () {
  this.timeout(60_000);
  const homes: string[] = [];
  const saved: Record<string, string | undefined> = {};
  const opened: Connection[] = [];
  let bus: BusServer;
  let node: RealNode | undefined;
  let g: RunningGateway | undefined;
  let url = '';

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

    it('412 without X-Broker-API-Version and 401 without or with wrong credentials, on every endpoint', async () => {
      const id = randomUUID();
      const endpoints: Array<[string, string]> = [
        ['GET', '/v2/catalog'],
        ['PUT', `/v2/service_instances/${id}`],
        ['PATCH', `/v2/service_instances/${id}`],
        ['DELETE', `/v2/service_instances/${id}?service_id=${SERVICE_ID}&plan_id=${SMALL}`],
        ['GET', `/v2/service_instances/${id}/last_operation`],
        ['PUT', `/v2/service_instances/${id}/service_bindings/${id}`],
        ['DELETE', `/v2/service_instances/${id}/service_bindings/${id}?service_id=${SERVICE_ID}&plan_id=${SMALL}`],
        ['GET', `/v2/service_instances/${id}/service_bindings/${id}/last_operation`],
      ];
      for (const [method, path] of endpoints) {
        assert.equal((await osb(url, method, path, { body: {}, version: null })).status, 412, `${method} ${path} without a version`);
        assert.equal((await osb(url, method, path, { body: {}, auth: null })).status, 401, `${method} ${path} without credentials`);
        assert.equal((await osb(url, method, path, { body: {}, auth: { username: BROKER.username, password: 'wrong' } })).status, 401, `${method} ${path} with wrong credentials`);
      }
    });
  });

  describe('last_operation of what does not exist', () => {
    it('404 for an unknown service instance and an unknown service binding (MUST)', async () => {
      const res = await osb(url, 'GET', `/v2/service_instances/${randomUUID()}/last_operation?service_id=${SERVICE_ID}&plan_id=${SMALL}`);
      assert.equal(res.status, 404);
      assert.ok(String(res.json.description).length > 0);
      assert.equal((await osb(url, 'GET', `/v2/service_instances/${randomUUID()}/service_bindings/${randomUUID()}/last_operation`)).status, 404);
    });
  });

  for (const [planName, planId, otherName, otherId] of [
    ['small', SMALL, 'medium', MEDIUM],
    ['medium', MEDIUM, 'small', SMALL],
  ] as const) {
    describe(`lifecycle, plan ${planName}`, () => {
      const instanceId = randomUUID();
      const bindingId = randomUUID();
      const instance = `/v2/service_instances/${instanceId}`;
      const binding = `${instance}/service_bindings/${bindingId}`;
      const database = `cf_${instanceId.replaceAll('-', '_')}`;
      const provisionBody = (over: Record<string, unknown> = {}) => ({
        service_id: SERVICE_ID,
        plan_id: planId,
        organization_guid: 'org-guid-here',
        space_guid: 'space-guid-here',
        context: { platform: 'cloudfoundry', organization_guid: 'org-guid-here', space_guid: 'space-guid-here', instance_name: `osb-${planName}` },
        ...over,
      });
      const bindBody = (over: Record<string, unknown> = {}) => ({ service_id: SERVICE_ID, plan_id: planId, bind_resource: { app_guid: 'app-guid-here' }, context: { platform: 'cloudfoundry' }, ...over });
      const query = (omit?: 'service_id' | 'plan_id') => `?${[omit !== 'service_id' && `service_id=${SERVICE_ID}`, omit !== 'plan_id' && `plan_id=${planId}`].filter(Boolean).join('&')}`;
      let credentials: Record<string, unknown> = {};

      describe('PROVISION - request syntax', () => {
        const rejected: Array<[string, Record<string, unknown>]> = [
          ['missing service_id', provisionBody({ service_id: undefined })],
          ['missing plan_id', provisionBody({ plan_id: undefined })],
          ['missing organization_guid', provisionBody({ organization_guid: undefined })],
          ['missing space_guid', provisionBody({ space_guid: undefined })],
          ['an invalid service_id', provisionBody({ service_id: 'xxxx-xxxx-xxxx-xxxx' })],
          ['an invalid plan_id', provisionBody({ plan_id: 'xxxx-xxxx-xxxx-xxxx' })],
        ];
        for (const [what, body] of rejected) {
          it(`400 for ${what}, and nothing is created`, async () => {
            const res = await osb(url, 'PUT', `${instance}?accepts_incomplete=true`, { body });
            assert.equal(res.status, 400);
            assert.ok(String(res.json.description).length > 0);
            assert.equal((await osb(url, 'GET', instance)).status, 404);
            assert.equal(await databaseExists(database), false);
          });
        }
      });

      describe('PROVISION - new', () => {
        it('201 {} (synchronous: done when answered, with or without accepts_incomplete)', async () => {
          const res = await osb(url, 'PUT', `${instance}?accepts_incomplete=true`, { body: provisionBody() });
          assert.deepEqual([res.status, res.json], [201, {}]);
          assert.equal(await databaseExists(database), true, `the database ${database}`);
        });
        it('last_operation: 200 succeeded', async () => {
          const res = await osb(url, 'GET', `${instance}/last_operation${query()}`);
          assert.deepEqual([res.status, res.json], [200, { state: 'succeeded' }]);
        });
        it('fetch: 200 with its service_id and plan_id', async () => {
          const res = await osb(url, 'GET', instance);
          assert.equal(res.status, 200);
          assert.deepEqual([res.json.service_id, res.json.plan_id], [SERVICE_ID, planId]);
        });
      });

      describe('PROVISION - existed', () => {
        it('200 {} when the instance exists with identical attributes', async () => {
          const res = await osb(url, 'PUT', `${instance}?accepts_incomplete=true`, { body: provisionBody() });
          assert.deepEqual([res.status, res.json], [200, {}]);
        });
      });

      describe('PROVISION - conflict', () => {
        for (const [what, over] of [
          ['another plan', { plan_id: otherId }],
          ['another space', { space_guid: 'another-space-guid' }],
          ['other parameters', { parameters: { a: 1 } }],
        ] as const) {
          it(`409 when the instance exists with ${what}`, async () => {
            const res = await osb(url, 'PUT', `${instance}?accepts_incomplete=true`, { body: provisionBody(over) });
            assert.equal(res.status, 409);
            assert.ok(String(res.json.description).length > 0);
            assert.equal((await osb(url, 'GET', instance)).json.plan_id, planId, 'unchanged');
          });
        }
      });

      describe('UPDATE - request syntax', () => {
        for (const [what, body, target] of [
          ['missing service_id', { plan_id: otherId }, instance],
          ['an invalid service_id', { service_id: 'xxxx-xxxx-xxxx-xxxx', plan_id: otherId }, instance],
          ['an unknown plan_id', { service_id: SERVICE_ID, plan_id: 'xxxx-xxxx-xxxx-xxxx' }, instance],
          ['an unknown instance', { service_id: SERVICE_ID, plan_id: otherId }, `/v2/service_instances/${randomUUID()}`],
        ] as const) {
          it(`400 for ${what}, and nothing changes`, async () => {
            const res = await osb(url, 'PATCH', `${target}?accepts_incomplete=true`, { body });
            assert.equal(res.status, 400);
            assert.ok(String(res.json.description).length > 0);
            assert.equal((await osb(url, 'GET', instance)).json.plan_id, planId);
          });
        }
      });

      describe('UPDATE', () => {
        it('200 {} for a request that changes nothing', async () => {
          for (const body of [{ service_id: SERVICE_ID }, { service_id: SERVICE_ID, plan_id: planId, previous_values: { plan_id: planId } }]) {
            const res = await osb(url, 'PATCH', `${instance}?accepts_incomplete=true`, { body });
            assert.deepEqual([res.status, res.json], [200, {}], JSON.stringify(body));
          }
        });
        it(`200 {} for a valid update (plan ${planName} → ${otherName}): the node moves the database`, async () => {
          const res = await osb(url, 'PATCH', `${instance}?accepts_incomplete=true`, { body: { service_id: SERVICE_ID, plan_id: otherId, previous_values: { plan_id: planId } } });
          assert.deepEqual([res.status, res.json], [200, {}]);
          assert.equal((await osb(url, 'GET', instance)).json.plan_id, otherId);
          const [rows] = await (await root()).query<RowDataPacket[]>('SELECT plan FROM devbox_node.instances WHERE name = ?', [database]);
          assert.equal(rows[0].plan, otherName);
        });
        it('200 when the same update is sent again (its changes are applied)', async () => {
          const res = await osb(url, 'PATCH', `${instance}?accepts_incomplete=true`, { body: { service_id: SERVICE_ID, plan_id: otherId } });
          assert.deepEqual([res.status, res.json], [200, {}]);
        });
        it(`200 back to plan ${planName}`, async () => {
          const res = await osb(url, 'PATCH', `${instance}?accepts_incomplete=true`, { body: { service_id: SERVICE_ID, plan_id: planId, previous_values: { plan_id: otherId } } });
          assert.deepEqual([res.status, res.json], [200, {}]);
          assert.equal((await osb(url, 'GET', instance)).json.plan_id, planId);
        });
      });

      describe('BINDING - request syntax', () => {
        for (const [what, body, target] of [
          ['missing service_id', bindBody({ service_id: undefined }), binding],
          ['missing plan_id', bindBody({ plan_id: undefined }), binding],
          ['an unknown service instance', bindBody(), `/v2/service_instances/${randomUUID()}/service_bindings/${bindingId}`],
        ] as const) {
          it(`400 for ${what}`, async () => {
            const res = await osb(url, 'PUT', target, { body });
            assert.equal(res.status, 400);
            assert.ok(String(res.json.description).length > 0);
          });
        }
      });

      describe('BINDING - new', () => {
        it("201 with cf-mysql's credentials, and nothing else, that log in to the instance's database", async () => {
          const res = await osb(url, 'PUT', `${binding}?accepts_incomplete=true`, { body: bindBody() });
          assert.equal(res.status, 201);
          credentials = res.json.credentials as Record<string, unknown>;
          assert.deepEqual(Object.keys(credentials).sort(), CF_MYSQL_FIELDS);
          const { hostname, port, name, username, password } = credentials as { hostname: string; port: number; name: string; username: string; password: string };
          assert.equal(name, database);
          assert.equal(typeof port, 'number');
          assert.equal(credentials.uri, `mysql://${username}:${encodeURIComponent(password)}@${hostname}:${port}/${name}?reconnect=true`);
          assert.equal(credentials.jdbcUrl, `jdbc:mysql://${hostname}:${port}/${name}?user=${username}&password=${encodeURIComponent(password)}`);
          const c = await connectWith(credentials);
          assert.deepEqual((await c.query('SELECT DATABASE() AS db'))[0], [{ db: database }]);
          // The uri works as apps use it.
          const viaUri = await createConnection(String(credentials.uri).replace('?reconnect=true', ''));
          opened.push(viaUri);
          await viaUri.query('CREATE TABLE notes (id INT PRIMARY KEY, text TEXT)');
        });
        it('last_operation and fetch: 200 succeeded, 200 with the same credentials', async () => {
          assert.deepEqual(await osb(url, 'GET', `${binding}/last_operation`).then((r) => [r.status, r.json]), [200, { state: 'succeeded' }]);
          const fetched = await osb(url, 'GET', binding);
          assert.equal(fetched.status, 200);
          assert.deepEqual(fetched.json.credentials, credentials);
        });
      });

      describe('BINDING - existed', () => {
        it('200 with the same credentials when the binding exists with identical attributes', async () => {
          const res = await osb(url, 'PUT', `${binding}?accepts_incomplete=true`, { body: bindBody() });
          assert.equal(res.status, 200);
          assert.deepEqual(res.json.credentials, credentials);
        });
      });

      describe('BINDING - conflict', () => {
        it('409 when the binding exists with other attributes', async () => {
          for (const over of [{ bind_resource: { app_guid: 'another-app-guid' } }, { parameters: { a: 1 } }]) {
            const res = await osb(url, 'PUT', `${binding}?accepts_incomplete=true`, { body: bindBody(over) });
            assert.equal(res.status, 409, JSON.stringify(over));
            assert.ok(String(res.json.description).length > 0);
          }
        });
      });

      describe('UPDATE - the data and the plan', () => {
        /** What the server says the database takes, as the node measures it (InnoDB's files). */
        const size = async () => {
          const [rows] = await (await root()).query<RowDataPacket[]>("SELECT COALESCE(SUM(ALLOCATED_SIZE), 0) AS n FROM information_schema.INNODB_SYS_TABLESPACES WHERE SUBSTRING_INDEX(NAME, '/', 1) = ?", [database]);
          return Number(rows[0].n);
        };
        /** 2 MB of rows: more than small's 1 MB here. A small database loses its writes part-way. */
        const fill = async () => {
          const c = await connectWith(credentials);
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
            await (await connectWith(credentials)).query("INSERT INTO notes VALUES (FLOOR(RAND() * 1000000000), 'x')");
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
            const res = await osb(url, 'PATCH', `${instance}?accepts_incomplete=true`, { body: { service_id: SERVICE_ID, plan_id: SMALL, previous_values: { plan_id: MEDIUM } } });
            assert.equal(res.status, 422);
            assert.match(String(res.json.description), /cannot move to plan small: the database holds [\d.]+ MB, more than plan small allows \(1\.0 MB\); drop or truncate tables/);
            assert.equal((await osb(url, 'GET', instance)).json.plan_id, MEDIUM);
            assert.equal(await canWrite(), true);
          });
          it('200 once the data fits', async () => {
            await (await connectWith(credentials)).query('DROP TABLE blobs');
            assert.equal((await osb(url, 'PATCH', instance, { body: { service_id: SERVICE_ID, plan_id: SMALL } })).status, 200);
            assert.equal((await osb(url, 'PATCH', instance, { body: { service_id: SERVICE_ID, plan_id: MEDIUM } })).status, 200);
          });
        } else {
          it('a small database over its size loses its writes; moved to medium it has them back when the update answers', async () => {
            await fill();
            await waitFor('the writes to be revoked', async () => !(await canWrite()), { timeoutMs: 10_000 });
            const res = await osb(url, 'PATCH', `${instance}?accepts_incomplete=true`, { body: { service_id: SERVICE_ID, plan_id: MEDIUM, previous_values: { plan_id: SMALL } } });
            assert.deepEqual([res.status, res.json], [200, {}]);
            assert.equal(await canWrite(), true);
            // And back to small it may not go while the data is there.
            assert.equal((await osb(url, 'PATCH', instance, { body: { service_id: SERVICE_ID, plan_id: SMALL } })).status, 422);
          });
          it('200 back to small once the data fits', async () => {
            await (await connectWith(credentials)).query('DROP TABLE blobs');
            assert.equal((await osb(url, 'PATCH', instance, { body: { service_id: SERVICE_ID, plan_id: SMALL } })).status, 200);
            assert.equal((await osb(url, 'GET', instance)).json.plan_id, SMALL);
          });
        }
      });

      describe('UNBINDING', () => {
        it('400 for a missing service_id or plan_id; the binding stays', async () => {
          for (const omit of ['service_id', 'plan_id'] as const) assert.equal((await osb(url, 'DELETE', `${binding}${query(omit)}&accepts_incomplete=true`)).status, 400, omit);
          assert.equal((await osb(url, 'GET', binding)).status, 200);
        });
        it('200 {}: the credentials no longer log in', async () => {
          const res = await osb(url, 'DELETE', `${binding}${query()}&accepts_incomplete=true`);
          assert.deepEqual([res.status, res.json], [200, {}]);
          await assert.rejects(connectWith(credentials), /denied/i);
          assert.equal((await osb(url, 'GET', binding)).status, 404);
        });
        it('410 {} when the binding does not exist', async () => {
          const res = await osb(url, 'DELETE', `${binding}${query()}&accepts_incomplete=true`);
          assert.deepEqual([res.status, res.json], [410, {}]);
        });
      });

      describe('DEPROVISIONING', () => {
        it('400 for a missing service_id or plan_id; the instance stays', async () => {
          for (const omit of ['service_id', 'plan_id'] as const) assert.equal((await osb(url, 'DELETE', `${instance}${query(omit)}&accepts_incomplete=true`)).status, 400, omit);
          assert.equal((await osb(url, 'GET', instance)).status, 200);
          assert.equal(await databaseExists(database), true);
        });
        it('200 {}: the database is gone', async () => {
          const res = await osb(url, 'DELETE', `${instance}${query()}&accepts_incomplete=true`);
          assert.deepEqual([res.status, res.json], [200, {}]);
          assert.equal(await databaseExists(database), false);
        });
        it('410 {} when the instance does not exist; last_operation 404', async () => {
          const res = await osb(url, 'DELETE', `${instance}${query()}&accepts_incomplete=true`);
          assert.deepEqual([res.status, res.json], [410, {}]);
          assert.equal((await osb(url, 'GET', `${instance}/last_operation`)).status, 404);
          assert.equal((await osb(url, 'GET', instance)).status, 404);
        });
      });
    });
  }
});
