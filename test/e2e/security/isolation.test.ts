// What one tenant of the box can reach of another: a binding's MySQL user reaches its own database
// and nothing else on the shared MariaDB, app files on disk are owner-only (no permission for the
// group or others, down to what the running app itself writes), and an app gets no credential of
// devbox's own that would let it into the bus, the API or the status servers.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createConnection, type Connection } from 'mysql2/promise';
import type { MysqlCredentials as Credentials } from '../../../src/runtime/mysql-node/node.js';
import { appPids, securityBox, walk, type SecurityBox } from './box.js';

describe('security: isolation between tenants of a box', function () {
  this.timeout(180_000);
  let box: SecurityBox;
  before(async () => (box = await securityBox()));

  describe("MySQL: a binding's user reaches its own database only", () => {
    let mine: Connection;
    let theirs: Connection;
    let db1: Credentials;
    let db2: Credentials;
    const connect = (c: Credentials, database?: string) => createConnection({ host: c.hostname, port: c.port, user: c.username, password: c.password, database, connectTimeout: 5_000 });
    before(async () => {
      ({ db1, db2 } = box.keys);
      assert.notEqual(db1.name, db2.name);
      assert.equal(db1.port, db2.port, 'both on the same MariaDB (the case that matters)');
      mine = await connect(db1, db1.name);
      theirs = await connect(db2, db2.name);
      await theirs.query('CREATE TABLE private (secret VARCHAR(64))');
      await theirs.query("INSERT INTO private VALUES ('db2 only')");
    });
    after(async () => {
      await mine?.end();
      await theirs?.end();
    });

    it('works in its own database', async () => {
      await mine.query('CREATE TABLE notes (text VARCHAR(64))');
      await mine.query("INSERT INTO notes VALUES ('mine')");
      assert.deepEqual((await mine.query('SELECT text FROM notes'))[0], [{ text: 'mine' }]);
    });

    it("cannot read or write another instance's database", async () => {
      await assert.rejects(mine.query(`SELECT secret FROM \`${db2.name}\`.private`), /denied/i);
      await assert.rejects(mine.query(`INSERT INTO \`${db2.name}\`.private VALUES ('x')`), /denied/i);
      await assert.rejects(mine.query(`DROP TABLE \`${db2.name}\`.private`), /denied/i);
      await assert.rejects(mine.query(`USE \`${db2.name}\``), /denied/i);
      await assert.rejects(connect(db1, db2.name), /denied/i, 'nor log in to it');
      const [rows] = await mine.query('SHOW DATABASES');
      assert.deepEqual((rows as { Database: string }[]).map((r) => r.Database).sort(), ['information_schema', db1.name].sort(), 'sees no other database');
      assert.deepEqual((await theirs.query('SELECT secret FROM private'))[0], [{ secret: 'db2 only' }], 'the data is intact');
    });

    it("cannot read the server's own databases, nor create new ones", async () => {
      for (const table of ['mysql.user', 'mysql.global_priv', 'devbox_node.bindings', 'devbox_node.settings']) {
        await assert.rejects(mine.query(`SELECT * FROM ${table}`), /denied/i, table);
      }
      // `_` is a wildcard in grants: cf_abc… must not also cover cfXabc…
      const lookalike = `cfX${db1.name.slice(3)}`;
      await assert.rejects(mine.query(`CREATE DATABASE \`${lookalike}\``), /denied/i, lookalike);
      await assert.rejects(mine.query('CREATE DATABASE anything'), /denied/i);
      await assert.rejects(mine.query(`CREATE USER 'someone'@'%' IDENTIFIED BY 'x'`), /denied/i);
    });
  });

  describe('app files: nothing for the group or others', () => {
    it('instance directories, the files in them and what the running app wrote are owner-only', () => {
      const instances = path.join(box.home, 'dea', 'dea-0', 'instances');
      const entries = walk(instances);
      const names = entries.map((e) => path.basename(e.file));
      // Not vacuous: both apps' instances are there, with their code, and what npm wrote at start.
      for (const name of ['server.js', 'index.html', 'server.mjs', 'instance.json']) assert.ok(names.includes(name), `${name} is among ${entries.length} entries`);
      assert.ok(entries.some((e) => e.file.includes(`${path.sep}.npm${path.sep}`) && !e.dir), 'files the app itself created at run time');
      const open = entries.filter((e) => (e.mode & 0o077) !== 0).map((e) => `${e.mode.toString(8)} ${path.relative(instances, e.file)}`);
      assert.deepEqual(open, [], 'entries the group or others may use');
      for (const e of entries.filter((e) => e.dir && path.dirname(e.file) === instances)) assert.equal(e.mode, 0o700, e.file);
    });

    it('droplets, buildpack caches and the rest of the DEA directory are owner-only', () => {
      const dea = path.join(box.home, 'dea');
      const entries = walk(dea);
      assert.ok(entries.some((e) => e.file.endsWith('.tgz')), 'droplets are cached');
      assert.ok(entries.some((e) => e.dir && path.basename(path.dirname(path.dirname(e.file))) === 'cache'), 'buildpack caches exist');
      const open = entries.filter((e) => (e.mode & 0o077) !== 0).map((e) => `${e.mode.toString(8)} ${path.relative(dea, e.file)}`);
      assert.deepEqual(open, [], 'entries the group or others may use');
    });

    it('app blobs at the controller (packages, droplets) are owner-only', () => {
      const blobs = walk(path.join(box.home, 'blobs'));
      assert.ok(blobs.filter((e) => !e.dir).length >= 4, 'two packages and two droplets at least');
      assert.deepEqual(blobs.filter((e) => (e.mode & 0o077) !== 0).map((e) => e.file), []);
    });
  });

  it("gives an app none of devbox's credentials (bus token, status, uaa, MySQL root), only its own bindings", () => {
    const pids = appPids(box);
    assert.ok(pids.length >= 2, `app processes: ${pids.length}`);
    const forbidden = box.secrets().filter((s) => s !== box.keys.db1.password); // hello is bound to db1: its own
    for (const pid of pids) {
      let environ: string;
      try {
        environ = fs.readFileSync(`/proc/${pid}/environ`, 'utf8');
      } catch {
        continue; // exited meanwhile (a shell between exec's)
      }
      const vars = environ.split('\0').filter(Boolean);
      assert.deepEqual(vars.filter((v) => v.startsWith('DEVBOX_')), [], `pid ${pid}`);
      for (const secret of forbidden) assert.ok(!environ.includes(secret), `pid ${pid} has a devbox secret in its environment`);
      // Where devbox tells apps to listen: loopback, where the router reaches them (docs/security.md).
      assert.ok(vars.includes('VCAP_APP_HOST=127.0.0.1'), `pid ${pid}: ${vars.find((v) => v.startsWith('VCAP_APP_HOST')) ?? 'no VCAP_APP_HOST'}`);
    }
  });
});
