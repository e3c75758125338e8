// The redis-node end to end: a real bus, the component running a real redis-server (Debian's Redis 7)
// per instance in a temporary DEVBOX_HOME, and real clients with the credentials it hands out:
// instances apart, the administrative commands gone, a dead server restarted, data across a restart
// of the node, nothing left behind by a deprovision or a stop.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { connect, JSONCodec, type NatsConnection, type Subscription } from 'nats';
import { BusServer } from '../../../src/runtime/bus/server.js';
import { waitFor } from '../../../src/runtime/common/net.js';
import { REDIS_MISSING_HELP } from '../../../src/runtime/redis-node/settings.js';
import { redisCommands, RespError } from '../../../src/runtime/redis-node/resp.js';
import { DISABLED_COMMANDS } from '../../../src/runtime/redis-node/server.js';
import { setEnv } from '../service-base/env.js';
import { asClient, isRunning, serversUnder, startRedisNode, type Credentials, type RunningRedisNode } from './helpers.js';

const json = JSONCodec();
const ENV: Record<string, string | undefined> = { DEVBOX_REDIS_ANNOUNCE_MS: '60000', DEVBOX_REDIS_CAPACITY: '10', DEVBOX_REDIS_NODE_ID: undefined };
const NODE = 'redis-node-0';

type Reply = { success?: boolean; error?: { code: number; description: string }; credentials?: Record<string, unknown> } & Record<string, unknown>;
interface Announcement {
  id: string;
  plan: string;
  available_capacity: number;
  host: string;
  supported_versions: string[];
}

describe('redis-node: the component on a real bus with a redis-server per instance', function () {
  this.timeout(30_000);
  let bus: BusServer;
  let nc: NatsConnection;
  let home: string;
  let node: RunningRedisNode | undefined;
  let announceSub: Subscription;
  const announcements: Announcement[] = [];
  let restoreEnv = () => {};
  const passwords: string[] = [];
  const allLines: string[] = [];

  const request = async (op: string, body: unknown): Promise<Reply> => {
    const subject = op === 'check_orphan' ? 'RaaS.check_orphan' : `RaaS.${op}.${NODE}`;
    const msg = await nc.request(subject, json.encode(body), { timeout: 15_000 });
    return json.decode(msg.data) as Reply;
  };
  const startNode = async () => {
    node = await startRedisNode({ home, busPort: bus.port });
  };
  const stopNode = async () => {
    if (node) allLines.push(...node.lines);
    await node?.stop();
    node = undefined;
  };
  const provision = async (name = randomUUID()) => {
    const reply = await request('provision', { plan: 'shared-vm', version: '7.0', name });
    assert.equal(reply.success, true, JSON.stringify(reply));
    return name;
  };
  const bind = async (name: string): Promise<Credentials> => {
    const reply = await request('bind', { name, binding_id: randomUUID(), bind_opts: {} });
    assert.equal(reply.success, true, JSON.stringify(reply));
    const credentials = reply.credentials as unknown as Credentials;
    passwords.push(credentials.password);
    return credentials;
  };
  const server = (name: string) => node!.varz().servers.find((s) => s.name === name);
  const dirOf = (name: string) => path.join(home, 'redis', 'node-0', 'instances', name);

  before(async () => {
    restoreEnv = setEnv(ENV);
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'devbox-redis-node-'));
    bus = new BusServer({ host: '127.0.0.1', port: 0 });
    await bus.listen();
    nc = await connect({ servers: `127.0.0.1:${bus.port}`, name: 'gateway-stand-in' });
    announceSub = nc.subscribe('RaaS.announce', { callback: (_err, msg) => void announcements.push(json.decode(msg.data) as Announcement) });
    await nc.flush();
    await startNode();
  });
  after(async () => {
    await stopNode();
    announceSub?.unsubscribe();
    await nc?.close();
    await bus?.close();
    const left = serversUnder(home);
    for (const pid of left) process.kill(pid, 'SIGKILL');
    fs.rmSync(home, { recursive: true, force: true });
    restoreEnv();
    assert.deepEqual(left, [], 'no redis-server left behind');
    // The passwords are the credentials': never in the node's log.
    for (const password of passwords) assert.ok(!allLines.some((l) => l.includes(password)), 'a password reached the log');
  });

  it('starts no redis-server until an instance exists, and announces shared-vm with its capacity at start and on RaaS.discover', async () => {
    assert.deepEqual(serversUnder(home), []);
    assert.deepEqual(node!.varz().servers, []);
    await waitFor('the announcement at start', () => announcements.length > 0, { timeoutMs: 5_000 });
    assert.deepEqual(
      announcements.map((a) => [a.id, a.plan, a.available_capacity, a.supported_versions]),
      [[NODE, 'shared-vm', 10, ['7.0']]],
    );
    announcements.length = 0;
    nc.publish('RaaS.discover', json.encode({}));
    await waitFor('an announcement on discover', () => announcements.length === 1, { timeoutMs: 5_000 });
  });

  it('provisions a redis-server of its own on a free port (never 6379), its password owner-only; idempotently; bad names, plans and versions refused', async () => {
    const name = await provision();
    const first = server(name)!;
    assert.equal(first.running, true);
    assert.notEqual(first.port, 6379);
    assert.deepEqual(serversUnder(home), [first.pid]);
    for (const file of ['instance.json', 'redis.conf']) assert.equal(fs.statSync(path.join(dirOf(name), file)).mode & 0o777, 0o600, file);
    assert.equal(fs.statSync(path.join(dirOf(name), 'data')).mode & 0o777, 0o700);
    assert.equal(fs.statSync(dirOf(name)).mode & 0o777, 0o700);
    // Again: the same server, nothing new.
    const again = await request('provision', { plan: 'shared-vm', name });
    assert.equal(again.success, true);
    assert.deepEqual(again.credentials, { host: '127.0.0.1', port: first.port, name });
    assert.equal(server(name)!.pid, first.pid);
    assert.equal(announcements.at(-1)?.available_capacity, 9);

    for (const [body, code] of [
      [{ plan: 'shared-vm', name: '../../etc' }, 400],
      [{ plan: 'shared-vm', name: `cf_${randomUUID().replace(/-/g, '_')}` }, 400],
      [{ plan: 'dedicated-vm', name: randomUUID() }, 400],
      [{ plan: 'shared-vm', version: '6.2', name: randomUUID() }, 400],
      [{ plan: 'shared-vm' }, 400],
    ] as const) {
      const reply = await request('provision', body);
      assert.deepEqual([reply.success, reply.error?.code], [false, code], JSON.stringify(body));
    }
    assert.equal(node!.varz().instances, 1);
  });

  it("binds with p-redis's credentials (host, port, password, uri) that set and get; without the password, nothing", async () => {
    const name = await provision();
    const credentials = await bind(name);
    assert.deepEqual(Object.keys(credentials).sort(), ['host', 'password', 'port', 'uri']);
    assert.equal(credentials.uri, `redis://:${encodeURIComponent(credentials.password)}@${credentials.host}:${credentials.port}`);
    assert.ok(credentials.password.length >= 24);
    assert.deepEqual(await bind(name), credentials, 'a retried bind gets the same');
    assert.deepEqual(await asClient(credentials, ['SET', 'greeting', 'hello'], ['GET', 'greeting']), ['OK', 'hello']);
    const [noAuth] = await redisCommands({ host: credentials.host, port: credentials.port }, [['GET', 'greeting']]);
    assert.match(String((noAuth as RespError).message), /NOAUTH/);
    assert.equal((await request('bind', { name: randomUUID(), binding_id: 'b' })).error?.code, 404);
    assert.equal((await request('unbind', { credentials: { name, username: '' } })).success, true, 'unbind leaves the instance alone');
    assert.deepEqual(await asClient(credentials, ['GET', 'greeting']), ['hello']);
  });

  it("keeps instances apart: one instance's password opens no other's server, and no instance sees another's keys", async () => {
    const a = await bind(await provision());
    const b = await bind(await provision());
    assert.notEqual(a.port, b.port);
    assert.notEqual(a.password, b.password);
    await asClient(a, ['SET', 'secret', 'only-a']);
    const [wrong] = await redisCommands({ host: a.host, port: a.port }, [['AUTH', b.password], ['GET', 'secret']]);
    assert.match(String((wrong as RespError).message), /WRONGPASS/);
    // Every database index of b's server is b's own.
    assert.deepEqual(await asClient(b, ['GET', 'secret'], ['SELECT', '1'], ['KEYS', '*'], ['SELECT', '0'], ['KEYS', '*']), [null, 'OK', [], 'OK', []]);
  });

  it('renames to nothing the commands an app could leave its instance with, in scripts too', async () => {
    const credentials = await bind(await provision());
    const replies = await asClient(
      credentials,
      ['CONFIG', 'SET', 'dir', '/tmp'],
      ['CONFIG', 'GET', 'requirepass'],
      ['DEBUG', 'SLEEP', '0'],
      ['MODULE', 'LOAD', '/tmp/x.so'],
      ['SHUTDOWN', 'NOSAVE'],
      ['ACL', 'SETUSER', 'default', 'nopass'],
      ['REPLICAOF', '127.0.0.1', '6379'],
      ['SLAVEOF', '127.0.0.1', '6379'],
      ['MIGRATE', '127.0.0.1', '6379', 'k', '0', '1000'],
      ['EVAL', "return redis.call('CONFIG', 'GET', 'dir')", '0'],
    );
    for (const reply of replies) assert.ok(reply instanceof RespError && /unknown command|Unknown Redis command/i.test(reply.message), String(reply));
    for (const command of ['CONFIG', 'DEBUG', 'SHUTDOWN', 'MODULE']) assert.ok((DISABLED_COMMANDS as readonly string[]).includes(command));
    // The server still runs, its password still the one.
    assert.deepEqual(await asClient(credentials, ['PING']), ['PONG']);
  });

  it('restarts a redis-server that dies, on its port, with its data', async () => {
    const name = await provision();
    const credentials = await bind(name);
    await asClient(credentials, ['SET', 'survives', 'a kill -9']);
    const { pid } = server(name)!;
    process.kill(pid!, 'SIGKILL');
    await waitFor('a new redis-server for the instance', () => server(name)?.running && server(name)?.pid !== pid, { timeoutMs: 10_000 });
    assert.equal(server(name)!.restarts, 1);
    assert.equal(server(name)!.port, credentials.port);
    assert.deepEqual(await asClient(credentials, ['GET', 'survives']), ['a kill -9']);
    assert.ok(!isRunning(pid!));
  });

  it('keeps its instances across a stop and a start of the node: no server while it is stopped, then the same port, password and data', async () => {
    const name = await provision();
    const credentials = await bind(name);
    await asClient(credentials, ['SET', 'persisted', 'yes'], ['SELECT', '5'], ['RPUSH', 'list', 'a', 'b']);
    const before = node!.varz().instances;
    await stopNode();
    assert.deepEqual(serversUnder(home), [], 'the stop left no redis-server');
    await startNode();
    assert.equal(node!.varz().instances, before);
    await waitFor('the servers back', () => node!.varz().servers.every((s) => s.running), { timeoutMs: 10_000 });
    assert.deepEqual(await bind(name), credentials);
    assert.deepEqual(await asClient(credentials, ['GET', 'persisted'], ['SELECT', '5'], ['LRANGE', 'list', '0', '-1']), ['yes', 'OK', ['a', 'b']]);
  });

  it('moves an instance whose port was taken while the node was stopped (new bindings get the new one), and stops a redis-server left on its data', async () => {
    const name = await provision();
    const old = await bind(name);
    await asClient(old, ['SET', 'moved', 'along']);
    await stopNode();
    // Something else took its port meanwhile…
    const squatter = net.createServer();
    await new Promise<void>((resolve) => squatter.listen(old.port, '127.0.0.1', resolve));
    try {
      await startNode();
      await waitFor('its server on another port', () => server(name)?.running && server(name)!.port !== old.port, { timeoutMs: 10_000 });
      const moved = await bind(name);
      assert.notEqual(moved.port, old.port);
      assert.equal(moved.password, old.password);
      assert.deepEqual(await asClient(moved, ['GET', 'moved']), ['along']);
    } finally {
      squatter.close();
    }
    // …and a redis-server a killed node could not stop still works on another instance's data.
    const other = await provision();
    const { pid: before } = server(other)!;
    await stopNode();
    const conf = path.join(dirOf(other), 'redis.conf');
    const stray = (await import('node:child_process')).spawn('/usr/bin/redis-server', [conf], { stdio: 'ignore', cwd: dirOf(other) });
    try {
      await waitFor('the stray server', () => serversUnder(home).includes(stray.pid!), { timeoutMs: 5_000 });
      await startNode();
      await waitFor('the node\'s own server', () => server(other)?.running, { timeoutMs: 15_000 });
      assert.ok(!isRunning(stray.pid!) || stray.exitCode !== null || stray.signalCode !== null, 'the stray server was stopped');
      assert.notEqual(server(other)!.pid, before);
      assert.notEqual(server(other)!.pid, stray.pid);
      assert.ok(node!.lines.some((l) => l.includes('stopped a redis-server an earlier node left running')));
    } finally {
      stray.kill('SIGKILL');
    }
  });

  it('unprovision stops the server and removes its data, idempotently; check_orphan lists the instances and purge_orphan removes them', async () => {
    const name = await provision();
    const { pid } = server(name)!;
    assert.equal((await request('unprovision', { name, bindings: [] })).success, true);
    assert.ok(!isRunning(pid!), 'its redis-server is gone');
    assert.equal(fs.existsSync(dirOf(name)), false, 'its data is gone');
    assert.equal(server(name), undefined);
    assert.equal((await request('unprovision', { name })).success, true, 'again: fine');
    assert.equal((await request('unprovision', { name: '../x' })).error?.code, 400);

    const listed = (await request('check_orphan', {})) as unknown as { node_id: string; databases: string[]; users: string[] };
    assert.equal(listed.node_id, NODE);
    assert.deepEqual(listed.databases, node!.varz().servers.map((s) => s.name).sort());
    assert.deepEqual(listed.users, []);
    const [victim] = listed.databases;
    const victimPid = server(victim)!.pid!;
    assert.equal((await request('purge_orphan', { databases: [victim, '..', 'nope'], users: [] })).success, true);
    assert.equal(server(victim), undefined);
    assert.ok(!isRunning(victimPid));
  });

  it('refuses a provision past its capacity (507), and takes one again once there is room', async () => {
    while (node!.varz().instances < 10) await provision();
    const full = await request('provision', { plan: 'shared-vm', name: randomUUID() });
    assert.deepEqual([full.success, full.error?.code], [false, 507]);
    assert.equal(announcements.at(-1)?.available_capacity, 0);
    const [some] = node!.varz().servers;
    await request('unprovision', { name: some.name });
    await provision();
  });
});

describe('redis-node: no redis-server binary', function () {
  this.timeout(15_000);

  it('starts healthy, serves nothing, says why in /varz and logs the help once', async () => {
    const bus = new BusServer({ host: '127.0.0.1', port: 0 });
    await bus.listen();
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'devbox-redis-none-'));
    const node = await startRedisNode({ home, busPort: bus.port, options: { findServer: () => undefined } });
    const nc = await connect({ servers: `127.0.0.1:${bus.port}` });
    try {
      assert.equal(node.component.healthy(), true);
      assert.deepEqual(node.varz(), { id: NODE, redis: 'unavailable', reason: REDIS_MISSING_HELP } as unknown as ReturnType<RunningRedisNode['varz']>);
      assert.equal(node.lines.filter((l) => l.includes('no redis-server found')).length, 1);
      await assert.rejects(nc.request(`RaaS.provision.${NODE}`, json.encode({ plan: 'shared-vm', name: randomUUID() }), { timeout: 500 }));
    } finally {
      await nc.close();
      await node.stop();
      await bus.close();
      fs.rmSync(home, { recursive: true, force: true });
    }
  });
});
