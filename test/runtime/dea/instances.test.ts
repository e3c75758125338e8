// Running instances on a real DEA: states in heartbeats, routes, the environment apps see, logs,
// stop, crash, limits, health checks, the log rate limit and stats.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { publish, requestMany } from '../../../src/runtime/common/bus.js';
import { deaFindDroplet, deaStop, deaUpdate, type FindDropletReply } from '../../../src/runtime/common/bus-messages.js';
import { sleep, waitFor } from '../../../src/runtime/common/net.js';
import { dropletOf, FIXTURES, get, newGuid, packageOf, quietLog, stageApp, startHarness, startInstance, type Harness } from './helpers.js';

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('dea instances', function () {
  this.timeout(60_000);
  let h: Harness;
  let behaviours: string;
  let nodeHello: string;

  before(async () => {
    h = await startHarness({ logRateLimit: 200 });
    // Droplets served by the fake controller: node-hello staged for real, behaviours packed directly.
    const staged = await stageApp(h, 'node-hello-app', await packageOf(path.join(FIXTURES, 'node-hello')));
    assert.equal(staged.reply.error, undefined, JSON.stringify(staged.reply));
    nodeHello = staged.dropletGuid;
    h.controller.droplets.set('behaviours', await dropletOf(path.join(FIXTURES, 'behaviours'), 'node crash.js', h.home));
    behaviours = 'behaviours';
  });
  after(async () => h?.close());

  const heartbeatState = async (app: string, state: string, since = 0) =>
    waitFor(`a heartbeat with ${app} ${state}`, () => h.rec.find('dea.heartbeat', (d) => d.droplets.some((e: { droplet: string; state: string }) => e.droplet === app && e.state === state)).find((m) => m.at >= since), { timeoutMs: 15_000, intervalMs: 20 });
  const exited = (app: string) => h.rec.wait('droplet.exited', (d) => d.droplet === app, 20_000);

  it('starts an instance: STARTING, then RUNNING once healthy, registered with its uris, answering with CF\'s env', async () => {
    const app = newGuid();
    startInstance(h, app, nodeHello, { index: 2, uris: ['hello.localhost', 'hi.localhost'], env: { GREETING: 'hi', PORT: '1' }, services: [
      { name: 'db', label: 'p-mysql', plan: '100mb', tags: ['mysql'], instance_guid: 'si-1', instance_name: 'db', binding_guid: 'b-1', binding_name: null, credentials: { uri: 'mysql://u:p@127.0.0.1:3306/d', hostname: '127.0.0.1' } },
    ] });
    const starting = await heartbeatState(app, 'STARTING');
    const running = await heartbeatState(app, 'RUNNING');
    assert.ok(starting.at <= running.at);
    const reg = await h.rec.wait('router.register', (d) => d.app === app);
    assert.deepEqual(reg.data.uris, ['hello.localhost', 'hi.localhost']);
    assert.equal(reg.data.host, '127.0.0.1');
    assert.equal(reg.data.tags.component, 'dea-0');
    assert.equal(reg.data.private_instance_index, '2');
    const entry = running.data.droplets.find((e: { droplet: string }) => e.droplet === app);
    assert.equal(reg.data.private_instance_id, entry.instance);
    assert.equal(entry.index, 2);
    assert.equal(entry.version, 'v1');
    // Registered only after RUNNING was reported.
    const order = h.rec.messages.filter((m) => m === reg || m === running);
    assert.deepEqual(order, [running, reg]);

    const env = JSON.parse((await get(reg.data.port, '/env')).body) as Record<string, string>;
    assert.equal(env.PORT, String(reg.data.port), 'the platform PORT wins over the user\'s');
    assert.equal(env.VCAP_APP_PORT, String(reg.data.port));
    assert.equal(env.CF_INSTANCE_INDEX, '2');
    assert.equal(env.INSTANCE_INDEX, '2');
    assert.equal(env.CF_INSTANCE_GUID, entry.instance);
    assert.equal(env.CF_INSTANCE_PORT, String(reg.data.port));
    assert.equal(env.CF_INSTANCE_ADDR, `127.0.0.1:${reg.data.port}`);
    assert.equal(env.MEMORY_LIMIT, '256m');
    assert.equal(env.GREETING, 'hi');
    assert.equal(env.NODE_ENV, 'production', 'the buildpack\'s .profile.d was sourced');
    assert.equal(env.DATABASE_URL, 'mysql2://u:p@127.0.0.1:3306/d');
    const vcap = JSON.parse(env.VCAP_APPLICATION);
    assert.equal(vcap.instance_index, 2);
    assert.equal(vcap.instance_id, entry.instance);
    assert.equal(vcap.port, reg.data.port);
    assert.equal(vcap.host, '127.0.0.1');
    assert.equal(vcap.application_id, app);
    assert.equal(vcap.space_name, 'dev');
    assert.deepEqual(vcap.uris, ['hello.localhost', 'hi.localhost']);
    assert.deepEqual(vcap.limits, { mem: 256, disk: 1024, fds: 16384 });
    const services = JSON.parse(env.VCAP_SERVICES);
    assert.equal(services['p-mysql'][0].name, 'db');
    assert.equal(services['p-mysql'][0].credentials.hostname, '127.0.0.1');
    const instanceDir = path.join(h.dea.paths.instances, entry.instance);
    assert.equal(h.dea.containers.isolation, 'namespaces', 'containers need bubblewrap: apt-get install bubblewrap');
    assert.equal(env.HOME, '/home/vcap/app', 'the home CF gives, in the container');
    assert.equal(env.TMPDIR, '/home/vcap/tmp');
    assert.equal(env.USER, 'vcap');
    assert.ok(!Object.keys(env).some((k) => k.startsWith('DEVBOX_')), 'nothing of devbox\'s own settings leaks to apps');
    assert.equal(fs.statSync(instanceDir).mode & 0o777, 0o700);
    assert.equal(fs.statSync(path.join(instanceDir, 'home', 'app', 'server.js')).mode & 0o007, 0, 'app files are not world-readable');

    // stdout and stderr as APP/PROC/WEB lines.
    await get(reg.data.port, '/log?m=marker-1');
    await waitFor('app log lines', () => h.rec.logs(app, 'APP/PROC/WEB').includes('APP/PROC/WEB/2 ERR err: marker-1'));
    const appLogs = h.rec.logs(app, 'APP/PROC/WEB');
    assert.ok(appLogs.includes('APP/PROC/WEB/2 OUT out: marker-1'));
    assert.ok(appLogs.some((l) => /^APP\/PROC\/WEB\/2 OUT listening on \d+$/.test(l)), appLogs.join('\n'));
    const cell = h.rec.logs(app, 'CELL');
    for (const expected of ['Downloading droplet...', 'Starting health monitoring of container', 'Container became healthy']) {
      assert.ok(cell.includes(`CELL/2 OUT ${expected}`), cell.join('\n'));
    }
    assert.ok(cell.some((l) => l.startsWith('CELL/2 OUT Creating container for app')));

    // dea.stop: unregistered first, SIGTERM, droplet.exited STOPPED, gone from heartbeats.
    publish(h.nc, deaStop, { droplet: app });
    const exit = await exited(app);
    assert.equal(exit.data.reason, 'STOPPED');
    assert.ok([0, 143].includes(exit.data.exit_status), `exit status ${exit.data.exit_status}`);
    assert.equal(exit.data.instance, entry.instance);
    const unreg = await h.rec.wait('router.unregister', (d) => d.app === app);
    assert.ok(unreg.at <= exit.at);
    assert.ok(h.rec.logs(app, 'APP/PROC/WEB').includes('APP/PROC/WEB/2 OUT got SIGTERM, stopping'));
    await waitFor('the instance dir removed', () => !fs.existsSync(instanceDir));
    const after = h.rec.messages.filter((m) => m.subject === 'dea.heartbeat' && m.at > exit.at + 10).at(-1);
    await waitFor('a heartbeat without the app', () => h.rec.find('dea.heartbeat', (d) => !d.droplets.some((e: { droplet: string }) => e.droplet === app)).some((m) => m.at > exit.at));
    void after;
  });

  it('reports a crash: droplet.exited CRASHED with the exit status, CRASHED in heartbeats until the index starts again', async () => {
    const app = newGuid();
    startInstance(h, app, behaviours, { command: 'node crash.js', healthCheckType: 'process' });
    const exit = await exited(app);
    assert.equal(exit.data.reason, 'CRASHED');
    assert.equal(exit.data.exit_status, 3);
    assert.equal(exit.data.exit_description, 'APP/PROC/WEB: Exited with status 3');
    assert.equal(typeof exit.data.crash_timestamp, 'number');
    await heartbeatState(app, 'CRASHED');
    assert.ok(h.rec.logs(app, 'APP/PROC/WEB').includes('APP/PROC/WEB/0 ERR crashing now'));
    assert.ok(h.rec.logs(app, 'CELL').includes('CELL/0 OUT Exit status 3'));
    // Still CRASHED a few heartbeats later.
    await sleep(700);
    const last = h.rec.find('dea.heartbeat').at(-1)!;
    assert.equal(last.data.droplets.find((e: { droplet: string }) => e.droplet === app)?.state, 'CRASHED');
    // Starting that index again replaces the crashed entry.
    const restartedAt = Date.now();
    startInstance(h, app, nodeHello, { command: null });
    await heartbeatState(app, 'RUNNING', restartedAt).catch((error: Error) => {
      throw new Error(`${error.message}\n${h.rec.logs(app).join('\n')}`);
    });
    const now = h.rec.find('dea.heartbeat').at(-1)!;
    const entries = now.data.droplets.filter((e: { droplet: string }) => e.droplet === app);
    assert.deepEqual(entries.map((e: { state: string }) => e.state), ['RUNNING']);
    publish(h.nc, deaStop, { droplet: app });
    await h.rec.wait('droplet.exited', (d) => d.droplet === app && d.reason === 'STOPPED');
  });

  it('kills an instance over its memory limit: out of memory', async () => {
    const app = newGuid();
    startInstance(h, app, behaviours, { command: 'node hog.js', mem: 128 });
    const exit = await exited(app);
    assert.equal(exit.data.reason, 'CRASHED');
    assert.equal(exit.data.exit_description, 'out of memory');
    assert.equal(exit.data.exit_status, 137);
    assert.ok(h.rec.logs(app, 'CELL').some((l) => l.includes('exceeded its memory limit of 128M')));
    assert.ok(h.rec.find('router.unregister', (d) => d.app === app).length <= h.rec.find('router.register', (d) => d.app === app).length);
  });

  it('kills an instance over its disk quota: disk quota exceeded', async () => {
    const app = newGuid();
    startInstance(h, app, behaviours, { command: 'node disk.js', disk: 16 });
    const exit = await exited(app);
    assert.equal(exit.data.reason, 'CRASHED');
    assert.equal(exit.data.exit_description, 'disk quota exceeded');
  });

  it('crashes an instance whose http health check never passes, after the start timeout, never registered', async () => {
    const app = newGuid();
    startInstance(h, app, behaviours, { command: 'node unhealthy.js', healthCheckType: 'http', endpoint: '/health', timeout: 2 });
    await heartbeatState(app, 'STARTING');
    const exit = await exited(app);
    assert.equal(exit.data.reason, 'CRASHED');
    assert.match(exit.data.exit_description, /^Instance never healthy after 2s: Failed to make HTTP request to '\/health' on port \d+: received status code 503$/);
    assert.equal(h.rec.find('router.register', (d) => d.app === app).length, 0);
    assert.equal(h.rec.find('dea.heartbeat', (d) => d.droplets.some((e: { droplet: string; state: string }) => e.droplet === app && e.state === 'RUNNING')).length, 0);
  });

  it('rate-limits a log flood without slowing the app', async () => {
    const app = newGuid();
    startInstance(h, app, behaviours, { command: 'node flood.js', env: { LINES: '30000' } });
    const reg = await h.rec.wait('router.register', (d) => d.app === app);
    const done = await waitFor('the flood to end', async () => (await get(reg.data.port)).body.match(/in (\d+) ms/) ?? undefined, { timeoutMs: 20_000, intervalMs: 100 });
    const ms = Number(done[1]);
    assert.ok(ms < 5_000, `30000 lines took ${ms} ms: the app was slowed`);
    const logs = h.rec.logs(app, 'APP/PROC/WEB');
    assert.ok(logs.includes('APP/PROC/WEB/0 ERR app instance exceeded log rate limit (200 lines/s)'), logs.slice(0, 5).join('\n'));
    assert.ok(logs.length < 2_000, `${logs.length} lines forwarded`);
    publish(h.nc, deaStop, { droplet: app });
    await exited(app);
  });

  it('answers dea.find.droplet with stats per instance', async () => {
    const app = newGuid();
    startInstance(h, app, nodeHello, { index: 0 });
    startInstance(h, app, nodeHello, { index: 1 });
    await waitFor('two running', () => h.rec.find('dea.heartbeat', (d) => d.droplets.filter((e: { droplet: string; state: string }) => e.droplet === app && e.state === 'RUNNING').length === 2)[0]);
    await sleep(600); // a couple of samples
    const replies: FindDropletReply[] = [];
    for await (const reply of requestMany(h.nc, deaFindDroplet, { droplet: app, include_stats: true }, { log: quietLog, maxWait: 5_000 })) {
      replies.push(reply);
      if (replies.length === 2) break;
    }
    replies.sort((a, b) => a.index - b.index);
    assert.deepEqual(replies.map((r) => [r.dea, r.droplet, r.index, r.state]), [['dea-0', app, 0, 'RUNNING'], ['dea-0', app, 1, 'RUNNING']]);
    for (const r of replies) {
      const stats = r.stats!;
      assert.equal(stats.name, `app-${app}`);
      assert.equal(stats.host, '127.0.0.1');
      assert.ok(stats.port > 0);
      assert.equal(stats.mem_quota, 256 * 1024 * 1024);
      assert.equal(stats.disk_quota, 1024 * 1024 * 1024);
      assert.equal(stats.fds_quota, 16384);
      assert.ok(stats.usage.mem > 10 * 1024 * 1024 && stats.usage.mem < 256 * 1024 * 1024, `mem ${stats.usage.mem}`);
      assert.ok(stats.usage.disk > 0, 'disk sampled');
      assert.ok(stats.usage.cpu >= 0 && stats.usage.cpu < 2);
      assert.ok(stats.uptime >= 0);
      assert.ok(!Number.isNaN(Date.parse(stats.usage.time)));
    }
    // dea.stop by index stops only that one.
    publish(h.nc, deaStop, { droplet: app, indices: [1] });
    const exit = await exited(app);
    assert.equal(exit.data.index, 1);
    await sleep(300);
    assert.equal(h.rec.find('droplet.exited', (d) => d.droplet === app).length, 1);
    publish(h.nc, deaStop, { droplet: app });
    await h.rec.wait('droplet.exited', (d) => d.droplet === app && d.index === 0);
  });

  it('follows dea.update: registers the new uris, unregisters only the ones that went', async () => {
    const app = newGuid();
    startInstance(h, app, nodeHello, { uris: ['a.localhost'] });
    const first = await h.rec.wait('router.register', (d) => d.app === app);
    assert.deepEqual(first.data.uris, ['a.localhost']);
    publish(h.nc, deaUpdate, { droplet: app, uris: ['a.localhost', 'b.localhost'] });
    await h.rec.wait('router.register', (d) => d.app === app && d.uris.length === 2);
    publish(h.nc, deaUpdate, { droplet: app, uris: ['b.localhost'] });
    const unreg = await h.rec.wait('router.unregister', (d) => d.app === app);
    assert.deepEqual(unreg.data.uris, ['a.localhost']);
    const last = await h.rec.wait('router.register', (d) => d.app === app && d.uris.length === 1 && d.uris[0] === 'b.localhost');
    // The instance's record (what a DEA restarted after a crash unregisters) names the routes it has now.
    const record = JSON.parse(fs.readFileSync(path.join(h.dea.paths.instances, last.data.private_instance_id, 'instance.json'), 'utf8'));
    assert.deepEqual(record.route.uris, ['b.localhost']);
    assert.equal(record.route.port, last.data.port);
    publish(h.nc, deaStop, { droplet: app });
    const exit = await exited(app);
    assert.equal(exit.data.reason, 'STOPPED');
    assert.ok(h.rec.find('router.unregister', (d) => d.app === app && d.uris.length === 1 && d.uris[0] === 'b.localhost').length > 0);
  });

  it('SIGKILLs an instance that ignores SIGTERM after the grace period', async () => {
    const app = newGuid();
    startInstance(h, app, behaviours, { command: 'node stubborn.js' });
    await heartbeatState(app, 'RUNNING');
    const stoppedAt = Date.now();
    publish(h.nc, deaStop, { droplet: app });
    await heartbeatState(app, 'STOPPING');
    const exit = await exited(app);
    assert.equal(exit.data.reason, 'STOPPED');
    assert.equal(exit.data.exit_status, 137);
    assert.ok(exit.at - stoppedAt >= h.settings.stopTimeoutMs - 100, `stopped after ${exit.at - stoppedAt} ms`);
    assert.ok(h.rec.logs(app, 'APP/PROC/WEB').includes('APP/PROC/WEB/0 OUT ignoring SIGTERM'));
  });

  it('advertises its room: available memory minus the instances\' limits, instances per app', async () => {
    const app = newGuid();
    const before = (await h.rec.wait('dea.advertise')).data;
    assert.equal(before.id, 'dea-0');
    assert.deepEqual(before.stacks, ['host']);
    assert.deepEqual(before.placement_properties, { zone: 'default' });
    startInstance(h, app, nodeHello, { mem: 512 });
    const adv = await h.rec.wait('dea.advertise', (d) => d.app_id_to_count[app] === 1);
    assert.ok(adv.data.available_memory <= 4096 - 512);
    assert.ok(adv.data.available_disk <= 8192 - 1024);
    publish(h.nc, deaStop, { droplet: app });
    await exited(app);
  });

  it('downloads a droplet once per sha1', async () => {
    const app = newGuid();
    const { createHash } = await import('node:crypto');
    const sha1 = createHash('sha1').update(h.controller.droplets.get(nodeHello)!).digest('hex');
    const downloads = () => h.controller.requests.filter((r) => r === `GET /v3/droplets/${nodeHello}/download`).length;
    startInstance(h, app, nodeHello, { index: 0, sha1 });
    await heartbeatState(app, 'RUNNING');
    const count = downloads();
    startInstance(h, app, nodeHello, { index: 1, sha1 });
    await waitFor('index 1 running', () => h.rec.find('dea.heartbeat', (d) => d.droplets.some((e: { droplet: string; index: number; state: string }) => e.droplet === app && e.index === 1 && e.state === 'RUNNING'))[0]);
    assert.equal(downloads(), count);
    assert.ok(h.rec.logs(app, 'CELL').some((l) => l.includes('cached')));
    publish(h.nc, deaStop, { droplet: app });
    await waitFor('both stopped', () => h.rec.find('droplet.exited', (d) => d.droplet === app).length === 2);
  });

  it('stops its instances with DEA_SHUTDOWN when it stops', async () => {
    const other = await startHarness({}, 'dea-7');
    try {
      other.controller.droplets.set('hello', h.controller.droplets.get(nodeHello)!);
      const app = newGuid();
      startInstance(other, app, 'hello');
      const reg = await other.rec.wait('router.register', (d) => d.app === app);
      const pid = other.dea.list()[0].pid!;
      await other.dea.stop();
      const exit = await other.rec.wait('droplet.exited', (d) => d.droplet === app);
      assert.equal(exit.data.reason, 'DEA_SHUTDOWN');
      assert.ok(other.rec.find('router.unregister', (d) => d.app === app && d.port === reg.data.port).length > 0);
      assert.equal(isAlive(pid), false);
    } finally {
      await other.close();
    }
  });
});
