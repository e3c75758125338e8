// Scale out (issue 9): every component run alone with `devbox component NAME`, each with its own
// state directory (nothing shared on disk but a copy of config.json), joined by a real nats-server
// with a token and a private MariaDB as the controllers' database. Loopback addresses stand in for
// machines: 127.0.0.11-14 are four "machines", and each component listens on and advertises its
// own, so a component that registered 127.0.0.1 instead of its advertised address would not be
// reached. The routers listen on 127.0.0.1 because *.localhost resolves there (the system domain).
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { statePaths, type DevboxConfig } from '../../src/runtime/common/config.js';
import { request } from '../../src/runtime/common/http.js';
import { sleep, waitFor } from '../../src/runtime/common/net.js';
import { boxApi, jobOutcome, type BoxApi } from '../helpers/api.js';
import { mysqlDatabase } from '../helpers/databases.js';
import { DEVBOX_BIN, tempHome } from '../helpers/devbox.js';
import { startNatsServer, type NatsServerProcess } from '../helpers/nats-server.js';

const fixture = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/apps/node-hello');
const MACHINE = { a: '127.0.0.11', b: '127.0.0.12', c: '127.0.0.13', d: '127.0.0.14' };
const HEALTH_POLL_MS = 500;
const HEALTH_GRACE_MS = 1_000;
/** The health manager's interval: a missing instance is seen after the grace, acted on at the next poll. */
const HEALTH_INTERVAL_MS = HEALTH_GRACE_MS + HEALTH_POLL_MS;
const NODE_TIMEOUT_MS = 2_000;

/** Short timers for every component, so that the test runs in seconds. */
const TIMERS = {
  DEVBOX_DEA_ADVERTISE_MS: '1000',
  DEVBOX_DEA_HEARTBEAT_MS: '500',
  DEVBOX_HEALTH_POLL_MS: String(HEALTH_POLL_MS),
  DEVBOX_HEALTH_GRACE_MS: String(HEALTH_GRACE_MS),
  DEVBOX_MYSQL_ANNOUNCE_MS: '500',
  DEVBOX_MYSQL_NODE_TIMEOUT_MS: String(NODE_TIMEOUT_MS),
  DEVBOX_ROUTER_WORKERS: '1',
  DEVBOX_DEA_STOP_TIMEOUT_MS: '3000',
};

interface Started {
  key: string;
  home: string;
  host: string;
  /** Chosen by the OS (--status-port 0) and read from the component's `started` log line. */
  statusPort: number;
  child: ChildProcess;
  exited: Promise<void>;
}

/** The fields of the first JSON log line of `file` whose msg is `msg`. */
function logLine(file: string, msg: string): Record<string, unknown> | undefined {
  const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  for (const line of text.split('\n')) {
    if (!line.includes(`"msg":"${msg}"`)) continue;
    try {
      return JSON.parse(line) as Record<string, unknown>;
    } catch {
      // a line cut short: read again later
    }
  }
  return undefined;
}

interface InstanceStat {
  index: number;
  state: string;
  host: string;
}

describe('scale out: components apart on a real nats-server and a shared MariaDB', function () {
  this.timeout(240_000);
  const root = tempHome('devbox-scale-');
  const mariadb = mysqlDatabase();
  const running = new Map<string, Started>();
  let nats: NatsServerProcess;
  let natsUrl: string;
  let config: DevboxConfig;
  let routerPorts: [number, number];
  let api: BoxApi;
  let cliHome: string;
  let appGuid: string;

  /** `devbox component NAME ARGS` alone, in its own DEVBOX_HOME holding only a copy of config.json. */
  const start = async (key: string, name: string, host: string, args: string[] = []): Promise<Started> => {
    const home = path.join(root, key);
    fs.mkdirSync(home, { recursive: true, mode: 0o700 });
    fs.copyFileSync(statePaths(path.join(root, 'seed')).config, statePaths(home).config);
    fs.chmodSync(statePaths(home).config, 0o600);
    const out = fs.openSync(path.join(home, 'component.log'), 'a');
    const child = spawn(process.execPath, [DEVBOX_BIN, 'component', name, '--nats-url', natsUrl, '--status-port', '0', '--host', host, ...args], {
      env: { ...process.env, ...TIMERS, DEVBOX_HOME: home },
      stdio: ['ignore', out, out],
    });
    fs.closeSync(out);
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const started = { key, home, host, statusPort: 0, child, exited };
    running.set(key, started);
    return started;
  };

  const status = async (c: Started, what: 'healthz' | 'varz') => {
    const auth = Buffer.from(`${config.status.user}:${config.status.password}`).toString('base64');
    return request({ url: `http://${c.host}:${c.statusPort}/${what}`, headers: { authorization: `Basic ${auth}` }, timeoutMs: 2_000 });
  };
  /** Waits for `msg` in the component's log; fails at once, with the log's end, if it exited. */
  const logged = async (c: Started, msg: string) => {
    const file = path.join(c.home, 'component.log');
    const line = await waitFor(`${c.key}: '${msg}'`, () => (c.child.exitCode !== null ? 'exited' : logLine(file, msg)), { timeoutMs: 60_000, intervalMs: 100 });
    if (line === 'exited') throw new Error(`${c.key} exited ${c.child.exitCode}:\n${fs.readFileSync(file, 'utf8').split('\n').slice(-15).join('\n')}`);
    return line;
  };
  const healthy = async (c: Started) => {
    c.statusPort = Number((await logged(c, 'started')).status_port);
    await waitFor(`${c.key} healthy`, async () => (await status(c, 'healthz').catch(() => undefined))?.status === 200, { timeoutMs: 30_000, intervalMs: 100 });
  };
  const varz = async (key: string) => JSON.parse((await status(running.get(key)!, 'varz')).text) as Record<string, unknown>;

  const stop = async (key: string, signal: NodeJS.Signals = 'SIGTERM') => {
    const c = running.get(key);
    if (!c) return;
    running.delete(key);
    if (c.child.exitCode !== null || c.child.signalCode !== null) return;
    c.child.kill(signal);
    const timer = setTimeout(() => c.child.kill('SIGKILL'), 15_000);
    await c.exited;
    clearTimeout(timer);
  };

  const cli = async (args: string[]) => {
    const r = await execa(process.execPath, [DEVBOX_BIN, ...args], { env: { DEVBOX_HOME: cliHome, NO_COLOR: '1' }, extendEnv: true, stdin: 'ignore', reject: false, timeout: 120_000 });
    assert.equal(r.exitCode, 0, `devbox ${args.join(' ')}: exit ${r.exitCode}\n${String(r.stdout)}\n${String(r.stderr)}`);
    return String(r.stdout);
  };

  const visit = (port: number) => request({ url: `http://spread.localhost:${port}/`, timeoutMs: 3_000 });
  const instances = async (): Promise<InstanceStat[]> => {
    const res = await api.call('GET', `/v3/apps/${appGuid}/processes/web/stats`);
    assert.equal(res.status, 200, res.text);
    return res.json().resources as InstanceStat[];
  };
  const perHost = (list: InstanceStat[]) => {
    const counts: Record<string, number> = {};
    for (const i of list) if (i.state === 'RUNNING') counts[i.host] = (counts[i.host] ?? 0) + 1;
    return counts;
  };

  before(async () => {
    [nats] = await Promise.all([startNatsServer({ token: 'scale-out-bus-token' }), mariadb.start()]);
    natsUrl = `nats://scale-out-bus-token@127.0.0.1:${nats.port}`;
    // The one config.json of the whole box: made once, copied to every component's DEVBOX_HOME.
    const init = async (args: string[]) => {
      const r = await execa(process.execPath, [DEVBOX_BIN, 'component', '--init', ...args], { env: { DEVBOX_HOME: path.join(root, 'seed') }, extendEnv: true, reject: false });
      assert.equal(r.exitCode, 0, String(r.stderr));
      config = JSON.parse(fs.readFileSync(statePaths(path.join(root, 'seed')).config, 'utf8')) as DevboxConfig;
    };
    await init(['--domain', 'localhost']);
    // Router ports from the OS; the first is the public port every component builds its URLs with.
    const routers = await Promise.all([0, 1].map((i) => start(`router-${i}`, 'router', '127.0.0.1', ['--index', String(i), '--port', '0'])));
    routerPorts = [Number((await logged(routers[0], 'router listening')).port), Number((await logged(routers[1], 'router listening')).port)];
    await init(['--router-port', String(routerPorts[0])]);
    const db = ['--db', `${mariadb.server().url}/controller`];
    const deaArgs = (id: string) => ['--dea-id', id, '--memory', '1024', '--dir', path.join(root, `${id}-dir`), '--advertise'];
    const all = await Promise.all([
      ...routers,
      start('uaa', 'uaa', MACHINE.a),
      start('controller-0', 'controller', MACHINE.a, db),
      start('controller-1', 'controller', MACHINE.b, ['--index', '1', ...db]),
      start('logs', 'logs', MACHINE.c),
      start('health', 'health', MACHINE.b),
      start('dea-a', 'dea', MACHINE.a, [...deaArgs('dea-a'), MACHINE.a]),
      start('dea-b', 'dea', MACHINE.b, [...deaArgs('dea-b'), MACHINE.b]),
      start('dea-c', 'dea', MACHINE.c, [...deaArgs('dea-c'), MACHINE.c]),
      start('mysql-gateway', 'mysql-gateway', MACHINE.c),
      // One node on an existing server (the controllers' MariaDB), one running its own private one.
      start('node-big', 'mysql-node', MACHINE.b, ['--node-id', 'node-big', '--capacity', '8', '--plan', 'small', '--mysql-url', mariadb.server().url]),
      start('node-small', 'mysql-node', MACHINE.c, ['--node-id', 'node-small', '--capacity', '4', '--plan', 'small,medium']),
    ]);
    await Promise.all(all.map(healthy));
    api = await boxApi(path.join(root, 'seed'), routerPorts[0]);
    cliHome = tempHome('devbox-scale-cli-');
  });

  after(async () => {
    await Promise.all([...running.keys()].map((key) => stop(key)));
    await Promise.all([nats?.stop(), mariadb.stop()]);
    fs.rmSync(root, { recursive: true, force: true });
    if (cliHome) fs.rmSync(cliHome, { recursive: true, force: true });
  });

  it('pushes 6 instances spread two per DEA, reachable through both routers', async () => {
    await cli(['login', '-a', `http://api.localhost:${routerPorts[0]}`, '-u', config.uaa.admin.username, '-p', config.uaa.admin.password, '-o', 'devbox', '-s', 'dev']);
    await cli(['push', 'spread', '-p', fixture, '-i', '6', '-m', '128M']);
    appGuid = (await api.call('GET', '/v3/apps?names=spread')).json().resources[0].guid;
    await waitFor('6 running instances', async () => (await instances()).filter((i) => i.state === 'RUNNING').length === 6, { timeoutMs: 30_000 });
    // Placement: the fewest instances of the app first, so two on each DEA, at each DEA's advertised address.
    assert.deepEqual(perHost(await instances()), { [MACHINE.a]: 2, [MACHINE.b]: 2, [MACHINE.c]: 2 });
    const seen = new Set<string>();
    for (let i = 0; i < 12; i++) {
      const res = await visit(routerPorts[i % 2]);
      assert.equal(res.status, 200, `through router ${i % 2}: ${res.status} ${res.text}`);
      seen.add(`${i % 2}:${res.text}`);
    }
    assert.ok([...seen].some((s) => s.startsWith('0:')) && [...seen].some((s) => s.startsWith('1:')));
    assert.ok(seen.size > 2, `round robin over the instances: ${[...seen].join(', ')}`);
  });

  it('starts the instances of a stopped DEA on the others within the health interval, no request failing longer', async () => {
    const failures: number[] = [];
    let longestOutage = 0;
    let outageSince: number | undefined;
    let load = true;
    const loader = (async () => {
      for (let i = 0; load; i++) {
        const ok = (await visit(routerPorts[i % 2]).catch(() => undefined))?.status === 200;
        const now = Date.now();
        if (!ok) {
          failures.push(now);
          outageSince ??= now;
        } else if (outageSince !== undefined) {
          longestOutage = Math.max(longestOutage, now - outageSince);
          outageSince = undefined;
        }
        await sleep(25);
      }
    })();
    const stoppedAt = Date.now();
    await stop('dea-c');
    await waitFor(
      "dea-c's instances running on dea-a and dea-b",
      async () => {
        const counts = perHost(await instances());
        return counts[MACHINE.a] === 3 && counts[MACHINE.b] === 3 && !counts[MACHINE.c];
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    const recoveredMs = Date.now() - stoppedAt;
    load = false;
    await loader;
    if (outageSince !== undefined) longestOutage = Math.max(longestOutage, Date.now() - outageSince);
    assert.ok(longestOutage <= HEALTH_INTERVAL_MS, `requests failed for ${longestOutage} ms in a row (${failures.length} failures)`);
    // Stopping the DEA (instances get a 3 s grace), then the health interval, then starting the instance.
    assert.ok(recoveredMs < 3_000 + HEALTH_INTERVAL_MS + 10_000, `took ${recoveredMs} ms`);
  });

  it('provisions 10 service instances across the two nodes by capacity; a node that stops announcing gets none', async () => {
    const space = (await api.call('GET', '/v3/spaces?names=dev')).json().resources[0].guid as string;
    let plan = '';
    await waitFor('the p-mysql broker registered by the gateway', async () => {
      plan = (await api.call('GET', '/v3/service_plans?names=small&service_offering_names=p-mysql')).json().resources[0]?.guid ?? '';
      return plan !== '';
    }, { timeoutMs: 30_000 });
    const provision = (name: string) =>
      api.call('POST', '/v3/service_instances', { type: 'managed', name, relationships: { space: { data: { guid: space } }, service_plan: { data: { guid: plan } } } });
    const databases = async (key: string) => Number((await varz(key)).databases);
    await waitFor('both nodes announced', async () => ((await varz('mysql-gateway')).nodes as { id: string }[]).length >= 2, { timeoutMs: 60_000 });
    for (let i = 0; i < 10; i++) {
      const job = await jobOutcome(api, await provision(`db-${i}`));
      assert.equal(job.state, 'COMPLETE', JSON.stringify(job.errors));
    }
    // The most available capacity first: 8 and 4 places leave 1 and 1 after 10.
    assert.deepEqual([await databases('node-big'), await databases('node-small')], [7, 3]);

    await stop('node-small');
    await sleep(NODE_TIMEOUT_MS + 1_000);
    assert.equal((await jobOutcome(api, await provision('db-10'))).state, 'COMPLETE');
    assert.equal(await databases('node-big'), 8, 'the provision went to the node still announcing');
    // node-small still had room for one, but it is gone: nothing is offered to it.
    const refused = await jobOutcome(api, await provision('db-11'));
    assert.equal(refused.state, 'FAILED');
    assert.match(refused.errors[0]?.detail ?? '', /no mysql-node is available/);
  });

  it('serves on when a controller is killed: the other answers, and serves the droplet to a new DEA', async () => {
    const droplet = (await api.call('GET', `/v3/apps/${appGuid}/droplets/current`)).json().guid as string;
    // The controller that received the droplet's upload is the one killed: the other has it only
    // through the shared database.
    const holder = ['controller-0', 'controller-1'].find((key) => fs.existsSync(path.join(running.get(key)!.home, 'blobs', 'droplets', `${droplet}.tgz`)));
    assert.ok(holder, 'one controller stored the uploaded droplet');
    await stop(holder, 'SIGKILL');
    for (let i = 0; i < 6; i++) {
      const res = await request({ url: `http://api.localhost:${routerPorts[i % 2]}/v3/apps/${appGuid}`, headers: { authorization: `bearer ${api.token}` } });
      assert.equal(res.status, 200, `through router ${i % 2}: ${res.text}`);
    }
    const d = await start('dea-d', 'dea', MACHINE.d, ['--dea-id', 'dea-d', '--memory', '1024', '--dir', path.join(root, 'dea-d-dir'), '--advertise', MACHINE.d]);
    await healthy(d);
    await waitFor('dea-d placeable', async () => Number((await varz(holder === 'controller-0' ? 'controller-1' : 'controller-0')).deas) === 3, { timeoutMs: 10_000 });
    const scaled = await api.call('POST', `/v3/apps/${appGuid}/processes/web/actions/scale`, { instances: 7 });
    assert.equal(scaled.status, 202, scaled.text);
    await waitFor('the 7th instance running on dea-d', async () => perHost(await instances())[MACHINE.d] === 1, { timeoutMs: 30_000 });
  });
});
