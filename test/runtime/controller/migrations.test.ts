// Migrations on rows an older controller wrote: 0014 (brokers get a state, AVAILABLE for those
// registered before it) and 0015 (the built-in MySQL broker's old bindings lose devbox's internal
// node id and `host`, as cf-mysql's credentials have neither; other brokers' credentials are theirs).
import assert from 'node:assert/strict';
import { Migrator, sql } from 'kysely';
import { now } from '../../../src/runtime/controller/context.js';
import { IN_MEMORY, openDatabase } from '../../../src/runtime/controller/db/index.js';
import { migrations } from '../../../src/runtime/controller/db/migrations.js';
import { controllerTestDatabases } from '../../helpers/controller.js';

describe('controller: migrations 0014 and 0015 on rows made before them', function () {
  this.timeout(30_000);
  for (const database of controllerTestDatabases()) {
    it(`brokers are AVAILABLE; p-mysql's bindings keep only cf-mysql's keys, another broker's are untouched (${database.name})`, async () => {
      await database.start();
      const opened = await openDatabase(database.upArgs()[1] ?? IN_MEMORY);
      try {
        const { db } = opened;
        const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations } });
        const down = await migrator.migrateTo('0013_service_jobs');
        assert.equal(down.error, undefined, String(down.error));
        const at = now();
        const [org, space] = ['0ld00000-0000-4000-8000-00000000000a', '0ld00000-0000-4000-8000-00000000000b'];
        await sql`insert into organizations (guid, name, suspended, metadata, created_at, updated_at) values (${org}, 'old', 0, '{}', ${at}, ${at})`.execute(db);
        await sql`insert into spaces (guid, name, organization_guid, metadata, allow_ssh, created_at, updated_at) values (${space}, 'old', ${org}, '{}', 1, ${at}, ${at})`.execute(db);
        const old = { hostname: '127.0.0.1', host: '127.0.0.1', port: 3307, name: 'cf_0ld', username: 'u', password: 'p', uri: 'mysql://u:p@127.0.0.1:3307/cf_0ld', node_id: 'mysql-node-0' };
        for (const broker of ['p-mysql', 'other']) {
          await sql`insert into service_brokers (guid, name, url, username, password, metadata, created_at, updated_at) values (${`${broker}-b`}, ${broker}, 'http://broker.example', 'u', 'p', '{}', ${at}, ${at})`.execute(db);
          await sql`insert into service_offerings (guid, broker_guid, broker_id, name, description, catalog, created_at, updated_at) values (${`${broker}-o`}, ${`${broker}-b`}, 'svc', ${broker}, 'd', '{}', ${at}, ${at})`.execute(db);
          await sql`insert into service_plans (guid, offering_guid, broker_id, name, description, catalog, created_at, updated_at) values (${`${broker}-p`}, ${`${broker}-o`}, 'plan', 'small', 'd', '{}', ${at}, ${at})`.execute(db);
          await sql`insert into service_instances (guid, name, type, space_guid, plan_guid, credentials, tags, syslog_drain_url, route_service_url, dashboard_url, last_operation, metadata, created_at, updated_at)
            values (${`${broker}-i`}, ${broker}, 'managed', ${space}, ${`${broker}-p`}, null, '[]', null, null, null, '{}', '{}', ${at}, ${at})`.execute(db);
          await sql`insert into service_bindings (guid, type, name, instance_guid, app_guid, credentials, syslog_drain_url, last_operation, metadata, claim, created_at, updated_at)
            values (${`${broker}-k`}, 'key', 'k', ${`${broker}-i`}, null, ${JSON.stringify(old)}, null, '{}', '{}', 'key:k', ${at}, ${at})`.execute(db);
        }
        const up = await migrator.migrateToLatest();
        assert.equal(up.error, undefined, String(up.error));
        assert.deepEqual(await db.selectFrom('service_brokers').select(['name', 'state']).orderBy('name').execute(), [
          { name: 'other', state: 'AVAILABLE' },
          { name: 'p-mysql', state: 'AVAILABLE' },
        ]);
        const credentials = async (guid: string) => JSON.parse((await db.selectFrom('service_bindings').select('credentials').where('guid', '=', guid).executeTakeFirstOrThrow()).credentials);
        const { node_id: _node, host: _host, ...cfMysql } = old;
        assert.deepEqual(await credentials('p-mysql-k'), cfMysql);
        assert.deepEqual(await credentials('other-k'), old, "another broker's credentials are its own");
      } finally {
        await opened.close();
        await database.stop();
      }
    });
  }
});
