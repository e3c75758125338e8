// MySQL as a service through the whole box (issue 7): the built-in broker and a private MariaDB run
// by the mysql-node, an app bound through its manifest storing rows, credentials that reach only
// their own database, unbinding that revokes access at once, and data that outlives `down`/`up`
// and a kill -9 of the private mysqld.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { createConnection } from 'mysql2/promise';
import { request, type HttpResponse } from '../../src/runtime/common/http.js';
import { freePort, waitFor } from '../../src/runtime/common/net.js';
import { cleanupBox, DEVBOX_BIN, tempHome, type DevboxResult } from '../helpers/devbox.js';
import type { MysqlCredentials as Credentials } from '../../src/runtime/mysql-node/node.js';

const app = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/apps/mysql-app');


describe('MySQL as a service (real broker, node and MariaDB)', function () {
  this.timeout(120_000);
  let home: string;
  let routerPort: number;

  const cli = async (args: string[], { cwd = os.tmpdir() } = {}): Promise<DevboxResult> => {
    const r = await execa(process.execPath, [DEVBOX_BIN, ...args], { cwd, env: { DEVBOX_HOME: home, NO_COLOR: '1' }, extendEnv: true, stdin: 'ignore', reject: false, timeout: 110_000 });
    return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
  };
  const ok = async (args: string[], options?: { cwd?: string }) => {
    const r = await cli(args, options);
    assert.equal(r.exitCode, 0, `devbox ${args.join(' ')}: exit ${r.exitCode}\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  };
  const visit = (urlPath: string): Promise<HttpResponse> => request({ url: `http://notes.localhost:${routerPort}${urlPath}`, timeoutMs: 10_000 });
  const key = async (instance: string, name: string): Promise<Credentials> => {
    await ok(['create-service-key', instance, name]);
    const out = await ok(['service-key', instance, name]);
    return JSON.parse(out.slice(out.indexOf('{'))) as Credentials;
  };
  /** Whether these credentials can log in and read their database's notes. */
  const canRead = async (creds: Credentials, database = creds.name) => {
    try {
      const c = await createConnection({ host: creds.hostname, port: creds.port, user: creds.username, password: creds.password, database });
      try {
        await c.query('SELECT COUNT(*) FROM notes');
        return true;
      } finally {
        await c.end();
      }
    } catch {
      return false;
    }
  };
  /** The mysql-node serves once its private MariaDB is up (in the background of `up`). */
  const createService = async (name: string) => {
    await waitFor(`the broker to provision ${name}`, async () => (await cli(['create-service', 'p-mysql', 'small', name])).exitCode === 0, { timeoutMs: 60_000, intervalMs: 500 });
  };

  before(async () => {
    home = tempHome('devbox-mysql-');
    routerPort = await freePort();
    await ok(['up', '-d', '--port', String(routerPort)]);
  });
  after(async () => cleanupBox(home));

  it('lists p-mysql in the marketplace and binds it to an app through the manifest', async () => {
    // The gateway registers its broker with the controller in the background once the box is up
    // (its first try may come before the router listens): bounded, it is listed.
    const listed = await waitFor('p-mysql in the marketplace', async () => {
      const out = await ok(['marketplace']);
      return /p-mysql\s+small, medium/.test(out) && out;
    }, { timeoutMs: 30_000, intervalMs: 250 });
    assert.match(listed, /p-mysql\s+small, medium/);
    await createService('notes-db');
    await ok(['push'], { cwd: app });
    assert.equal((await visit('/write?text=first')).status, 200);
    const read = JSON.parse((await visit('/read')).text);
    assert.deepEqual(read.notes, ['first']);
    assert.equal(read.database_url, 'set');
    assert.match(await ok(['services']), /notes-db\s+p-mysql\s+small\s+notes/);
  });

  it('gives each binding credentials that reach only their own database', async () => {
    await createService('other-db');
    const mine = await key('notes-db', 'mine');
    const other = await key('other-db', 'theirs');
    assert.equal(await canRead(mine), true);
    assert.equal(await canRead(other, mine.name), false, "other-db's user cannot read notes-db");
    await ok(['delete-service-key', 'notes-db', 'mine', '-f']);
    assert.equal(await canRead(mine), false, 'a deleted key no longer logs in');
  });

  it('refuses to delete a bound instance, with what to do', async () => {
    const r = await cli(['delete-service', 'notes-db', '-f']);
    assert.equal(r.exitCode, 1);
    assert.match(r.stderr, /unbind/i);
  });

  it('keeps the data across down and up, and across a kill -9 of the private mysqld', async () => {
    await ok(['down']);
    await ok(['up', '-d', '--port', String(routerPort)]);
    await waitFor('the app and its data back', async () => {
      const res = await visit('/read').catch(() => undefined);
      return res?.status === 200 && JSON.parse(res.text).notes.includes('first');
    }, { timeoutMs: 60_000, intervalMs: 500 });

    const status = JSON.parse(await ok(['status', '--json'])) as { components: { name: string; status_port: number }[] };
    const node = status.components.find((c) => c.name === 'mysql-node')!;
    const config = JSON.parse(fs.readFileSync(path.join(home, 'config.json'), 'utf8')) as { status: { user: string; password: string } };
    const varz = await fetch(`http://127.0.0.1:${node.status_port}/varz`, { headers: { authorization: `Basic ${Buffer.from(`${config.status.user}:${config.status.password}`).toString('base64')}` } }).then((r) => r.json() as Promise<{ mysql: { pid: number } }>);
    process.kill(varz.mysql.pid, 'SIGKILL');
    await waitFor('the data back after mysqld was killed', async () => {
      const res = await visit('/read').catch(() => undefined);
      return res?.status === 200 && JSON.parse(res.text).notes.includes('first');
    }, { timeoutMs: 60_000, intervalMs: 500 });
  });

  it('sends provisions to the node with the most capacity (a second, larger node joins)', async () => {
    const nodePort = async (index: number) => {
      const status = JSON.parse(await ok(['status', '--json'])) as { components: { name: string; status_port: number }[] };
      const node = status.components.find((c) => c.name === (index === 0 ? 'mysql-node' : `mysql-node-${index}`))!;
      const config = JSON.parse(fs.readFileSync(path.join(home, 'config.json'), 'utf8')) as { status: { user: string; password: string } };
      const varz = await fetch(`http://127.0.0.1:${node.status_port}/varz`, { headers: { authorization: `Basic ${Buffer.from(`${config.status.user}:${config.status.password}`).toString('base64')}` } }).then((r) => r.json() as Promise<{ mysql: { port: number } }>);
      return varz.mysql.port;
    };
    const first = await nodePort(0);
    // The same component a machine of its own would run, joining this box's bus.
    const second = execa(process.execPath, [DEVBOX_BIN, 'component', 'mysql-node', '--index', '1', '--status-port', '0'], {
      env: { DEVBOX_HOME: home, DEVBOX_MYSQL_CAPACITY: '500' },
      extendEnv: true,
      reject: false,
      stdio: 'ignore',
    });
    try {
      const creds = await waitFor('a provision on the larger node', async () => {
        const name = `big-${Date.now()}`;
        if ((await cli(['create-service', 'p-mysql', 'small', name])).exitCode !== 0) return undefined;
        const c = await key(name, 'k');
        return c.port !== first ? c : undefined;
      }, { timeoutMs: 60_000, intervalMs: 500 });
      assert.notEqual(creds.port, first, 'served by the second node');
      const c = await createConnection({ host: creds.hostname, port: creds.port, user: creds.username, password: creds.password, database: creds.name });
      assert.deepEqual((await c.query('SELECT DATABASE() AS db'))[0], [{ db: creds.name }], 'the credentials log in to their database on that node');
      await c.end();
    } finally {
      second.kill('SIGTERM');
      await second;
    }
  });

  it('revokes the app user at once on unbind', async () => {
    await ok(['unbind-service', 'notes', 'notes-db']);
    // No restart: the instance still has the old credentials, which no longer work.
    const res = await visit('/read');
    assert.equal(res.status, 500);
    assert.match(res.text, /denied|not allowed|Access/i);
    await ok(['delete-service', 'notes-db', '-f']);
  });
});
