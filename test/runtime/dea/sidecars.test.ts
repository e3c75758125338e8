// Sidecars on a real DEA: started in the instance's container beside the app, each on a port of its
// own (SIDECAR_<NAME>_PORT in every environment), with Cloud Controller's memory variables, their
// lines as APP/PROC/WEB/SIDECAR/<NAME>; a sidecar that exits crashes the instance, a stop ends them
// all gracefully; tasks run none.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { publish } from '../../../src/runtime/common/bus.js';
import { deaStart, deaStop, deaTaskStart, type SidecarStart } from '../../../src/runtime/common/bus-messages.js';
import { waitFor } from '../../../src/runtime/common/net.js';
import { dropletOf, FIXTURES, get, newGuid, startHarness, type Harness } from './helpers.js';

const SIDE_KICK: SidecarStart = { name: 'side-kick', command: 'node sidecar.js', memory_in_mb: 64 };
const TICKER: SidecarStart = { name: 'ticker', command: 'echo "ticker sees MEMORY_LIMIT=$MEMORY_LIMIT side-kick on $SIDECAR_SIDE_KICK_PORT"; exec sleep 600' };

describe('dea sidecars', function () {
  this.timeout(60_000);
  let h: Harness;
  const droplet = 'sidecar-app';

  before(async () => {
    h = await startHarness();
    h.controller.droplets.set(droplet, await dropletOf(path.join(FIXTURES, 'sidecar-app'), 'node server.js', h.home));
  });
  after(async () => h?.close());

  /** dea.<id>.start of the sidecar app's web process with these sidecars (mem 256M). */
  const start = (app: string, sidecars: SidecarStart[], index = 0) =>
    publish(h.nc, deaStart(h.dea.id), {
      droplet: app,
      app_guid: app,
      version: 'v1',
      name: `app-${app}`,
      index,
      process_guid: app,
      process_type: 'web',
      space_guid: 'space-1',
      uris: [`${app}.localhost`],
      limits: { mem: 256, disk: 1024, fds: 16384 },
      env: {},
      services: [],
      start_command: null,
      health_check_type: 'port',
      health_check_timeout: 30,
      vcap_application: { application_id: app, application_name: `app-${app}`, limits: { mem: 256, disk: 1024, fds: 16384 } },
      executableUri: h.controller.url(`/v3/droplets/${droplet}/download`),
      droplet_guid: droplet,
      sidecars,
    });
  const running = async (app: string) => {
    const reg = await h.rec.wait('router.register', (d) => d.app === app, 30_000);
    return { port: reg.data.port as number, instance: reg.data.private_instance_id as string };
  };
  const exited = (app: string) => h.rec.wait('droplet.exited', (d) => d.droplet === app, 30_000);
  /** The app's /sidecar once its sidecar listens: only the app is health checked, the sidecar may still be starting. */
  const throughApp = (port: number, p = '/sidecar') => waitFor(`the sidecar behind port ${port}`, async () => {
    const res = await get(port, p);
    return res.status !== 502 && res;
  }, { timeoutMs: 10_000, intervalMs: 50 });

  it('starts each sidecar in the instance\'s container with a port of its own, CC\'s memory variables and its lines tagged by name', async () => {
    const app = newGuid();
    start(app, [SIDE_KICK, TICKER], 1);
    const { port, instance } = await running(app);

    const env = JSON.parse((await get(port, '/env')).body) as Record<string, string>;
    const sideKickPort = Number(env.SIDECAR_SIDE_KICK_PORT);
    const tickerPort = Number(env.SIDECAR_TICKER_PORT);
    assert.ok(sideKickPort > 0 && tickerPort > 0, JSON.stringify(env));
    assert.equal(new Set([port, sideKickPort, tickerPort]).size, 3, 'the app and each sidecar have ports of their own');
    // As Cloud Controller: the app's memory is the process's less what its sidecars reserve.
    assert.equal(env.MEMORY_LIMIT, '192m');
    assert.equal(JSON.parse(env.VCAP_APPLICATION).limits.mem, 192);
    assert.equal(env.PROFILE_SOURCED, 'yes');

    // The app reaches its sidecar on the sidecar's port; the sidecar runs in the same container.
    const answer = await throughApp(port);
    assert.equal(answer.status, 200, answer.body);
    const seen = JSON.parse(answer.body);
    assert.equal(seen.from, 'side-kick');
    assert.equal(seen.hostname, instance, 'the same container (its hostname is the instance guid)');
    assert.equal(seen.cwd, '/home/vcap/app');
    assert.equal(seen.index, '1');
    assert.equal(seen.memory_limit, '64m', 'a sidecar with memory gets its own as MEMORY_LIMIT');
    assert.equal(seen.vcap_memory, 64);
    assert.equal(seen.app_port, String(port), 'PORT is the app\'s, as on Diego');
    assert.equal(seen.sidecar_port, sideKickPort);
    assert.equal(seen.profile, 'yes', 'the launcher sourced .profile for the sidecar too');
    assert.match((await get(port, '/')).body, new RegExp(`^app here, instance 1 on ${instance}`));

    await waitFor('the sidecars\' lines', () => h.rec.logs(app).some((l) => l.startsWith('APP/PROC/WEB/SIDECAR/TICKER/1 OUT')) && h.rec.logs(app).some((l) => l.startsWith('APP/PROC/WEB/SIDECAR/SIDE-KICK/1 OUT')));
    const logs = h.rec.logs(app);
    assert.ok(logs.includes(`APP/PROC/WEB/SIDECAR/SIDE-KICK/1 OUT side-kick listening on ${sideKickPort} (memory 64m)`), logs.join('\n'));
    assert.ok(logs.includes(`APP/PROC/WEB/SIDECAR/TICKER/1 OUT ticker sees MEMORY_LIMIT=256m side-kick on ${sideKickPort}`), 'a sidecar without memory gets the process\'s');
    assert.ok(logs.includes(`APP/PROC/WEB/1 OUT app listening on ${port}`), logs.join('\n'));
    assert.ok(!logs.some((l) => l.startsWith('APP/PROC/WEB/1') && l.includes('side-kick')), 'the sidecar\'s lines are not the app\'s');

    // A stop ends them all with SIGTERM, each as it would end alone; the exit status is the app's.
    const instanceDir = path.join(h.dea.paths.instances, instance);
    publish(h.nc, deaStop, { droplet: app });
    const exit = await exited(app);
    assert.equal(exit.data.reason, 'STOPPED');
    assert.equal(exit.data.exit_status, 0);
    const after = h.rec.logs(app);
    assert.ok(after.includes('APP/PROC/WEB/1 OUT app got SIGTERM, stopping'), after.join('\n'));
    assert.ok(after.includes('APP/PROC/WEB/SIDECAR/SIDE-KICK/1 OUT side-kick got SIGTERM, stopping'), after.join('\n'));
    await waitFor('the instance dir removed', () => !fs.existsSync(instanceDir));
  });

  it('a sidecar that exits crashes its instance (as on Diego), named in the exit description; the app goes with it', async () => {
    const app = newGuid();
    start(app, [SIDE_KICK]);
    const { port } = await running(app);
    assert.equal((await throughApp(port, '/sidecar/exit?status=7')).body, 'exiting\n');
    const exit = await exited(app);
    assert.equal(exit.data.reason, 'CRASHED');
    assert.equal(exit.data.exit_status, 7);
    assert.equal(exit.data.exit_description, 'APP/PROC/WEB/SIDECAR/SIDE-KICK: Exited with status 7');
    await assert.rejects(get(port, '/'), 'the app ended with its sidecar');
    assert.ok(h.rec.logs(app, 'CELL').some((l) => l.includes('Exit status 7 (APP/PROC/WEB/SIDECAR/SIDE-KICK: Exited with status 7)')), h.rec.logs(app, 'CELL').join('\n'));
  });

  it('the app exiting crashes the instance as before, and its sidecars end with it', async () => {
    const app = newGuid();
    start(app, [{ name: 'sleeper', command: 'exec sleep 600' }]);
    const { instance } = await running(app);
    const sleeper = () => fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p)).some((p) => {
      try {
        return fs.readFileSync(`/proc/${p}/environ`, 'utf8').includes(`CF_INSTANCE_GUID=${instance}`) && fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').startsWith('sleep');
      } catch {
        return false;
      }
    });
    await waitFor('the sidecar to run', () => sleeper(), { timeoutMs: 5_000 });
    // The app is killed from outside (as the kernel would): its sidecar goes too.
    const appPid = fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p)).find((p) => {
      try {
        return fs.readFileSync(`/proc/${p}/environ`, 'utf8').includes(`CF_INSTANCE_GUID=${instance}`) && fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').startsWith('node\0server.js');
      } catch {
        return false;
      }
    });
    assert.ok(appPid, 'the app\'s process');
    process.kill(Number(appPid), 'SIGKILL');
    const exit = await exited(app);
    assert.equal(exit.data.reason, 'CRASHED');
    assert.equal(exit.data.exit_description, 'APP/PROC/WEB: Exited with status 137');
    await waitFor('the sidecar gone', () => !sleeper(), { timeoutMs: 5_000 });
  });

  it('a task runs no sidecars, even when its start message names some', async () => {
    const app = newGuid();
    const task = newGuid('task');
    publish(h.nc, deaTaskStart(h.dea.id), {
      droplet: task,
      app_guid: app,
      task_guid: task,
      task_name: 'once',
      version: task,
      name: `app-${app}`,
      index: 0,
      uris: [],
      limits: { mem: 256, disk: 1024, fds: 16384 },
      env: {},
      start_command: 'echo "task alone, SIDECAR_SIDE_KICK_PORT=${SIDECAR_SIDE_KICK_PORT:-none}"',
      health_check_type: 'none',
      executableUri: h.controller.url(`/v3/droplets/${droplet}/download`),
      droplet_guid: droplet,
      sidecars: [SIDE_KICK],
    });
    const ended = await h.rec.wait('task.exited', (d) => d.task_guid === task, 30_000);
    assert.equal(ended.data.state, 'SUCCEEDED', JSON.stringify(ended.data));
    const logs = h.rec.logs(app);
    assert.ok(logs.includes('APP/TASK/once/0 OUT task alone, SIDECAR_SIDE_KICK_PORT=none'), logs.join('\n'));
    assert.ok(!logs.some((l) => l.includes('SIDECAR/')), logs.join('\n'));
  });

  it('the start message\'s check refuses a sidecar without a command or with a name that is not a log source', () => {
    const message = { droplet: 'd', version: 'v', name: 'n', index: 0, executableUri: 'http://x/' };
    const check = deaStart(h.dea.id).check;
    assert.equal(check.problem({ ...message, sidecars: [SIDE_KICK] }), undefined);
    assert.match(check.problem({ ...message, sidecars: [{ name: 'side kick', command: 'x' }] }) ?? '', /sidecars\[0\]\.name: expected a sidecar name/);
    assert.match(check.problem({ ...message, sidecars: [{ name: 'a', command: ' ' }] }) ?? '', /sidecars\[0\]\.command: expected a command/);
    assert.match(check.problem({ ...message, sidecars: [{ name: 'a', command: 'x', memory_in_mb: 0 }] }) ?? '', /sidecars\[0\]\.memory_in_mb/);
  });
});
