// Faults under steady traffic (issue 8): one box (two DEAs) runs the MySQL sample app with two
// instances and a bound service while requests flow through the router without pause and rows are
// written. Each component is then killed with -9 in turn, and the private mysqld too: the supervisor
// (or the mysql-node, for mysqld) restarts it, the app keeps its routes, no instance is restarted
// that did not need to be, and no row is lost. Then an app instance is killed, an app crash-loops and
// one goes over its memory limit, and last the bus is killed while a scale-up's messages are in
// flight. docs/faults.md says what is expected and records the figures this suite prints.
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from '../../../src/runtime/common/http.js';
import { freePort, sleep, waitFor } from '../../../src/runtime/common/net.js';
import { boxApi, jobOutcome, passwordToken, type BoxApi } from '../../helpers/api.js';
import { appInstances, boxCli, brokerRows, controllerRows, healthy, missing, nodeRows, readBox, REGISTER_INTERVAL_S, table, varz, waitForRestart, type AppInstance, type Box } from '../../helpers/box-probe.js';
import { cleanupBox, tempHome } from '../../helpers/devbox.js';
import { Traffic, type TrafficStats } from '../../helpers/traffic.js';

const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/apps');


interface KillResult {
  component: string;
  healthyMs: number;
  app: TrafficStats;
  writes: TrafficStats;
  restarted: number;
}

describe('faults: kill -9 of each component under steady traffic', function () {
  this.timeout(90_000);
  let home: string;
  let routerPort: number;
  let box: Box;
  let api: BoxApi;
  let appGuid: string;
  let web: Traffic;
  let writes: Traffic;
  let written = 0;
  const acknowledged: string[] = [];
  const results: KillResult[] = [];
  let rowsBefore: { controller: Map<string, string>; broker: Set<string>; node: Set<string> };

  const { cli, ok } = boxCli(() => home);
  const running = async () => (await appInstances(box, appGuid)).filter((i) => i.state === 'RUNNING');
  /** Two RUNNING instances, at indices 0 and 1, each with a listening process. */
  const steady = async (): Promise<AppInstance[] | undefined> => {
    const r = await running();
    return r.length === 2 && r[0].index === 0 && r[1].index === 1 && r.every((i) => i.pid > 0) ? r : undefined;
  };
  const serviceInstanceGuid = async () => (await api.call('GET', '/v3/service_instances?names=notes-db')).json().resources[0].guid as string;
  /** A service key: a request through the controller, the broker, the node and its mysqld. */
  const createKey = async (name: string) => {
    try {
      const res = await api.call('POST', '/v3/service_credential_bindings', { type: 'key', name, relationships: { service_instance: { data: { guid: await serviceInstanceGuid() } } } });
      return (await jobOutcome(api, res, 30_000)).state === 'COMPLETE';
    } catch {
      return false;
    }
  };

  before(async function () {
    this.timeout(180_000);
    home = tempHome('devbox-faults-');
    routerPort = await freePort();
    await ok(['up', '-d', '--deas', '2', '--port', String(routerPort)]);
    box = readBox(home);
    api = await boxApi(home, routerPort);
    // The mysql-node serves once its private MariaDB is up (it starts in the background of `up`).
    await waitFor('the broker to provision notes-db', async () => (await cli(['create-service', 'p-mysql', 'small', 'notes-db'])).exitCode === 0, { timeoutMs: 60_000, intervalMs: 500 });
    await ok(['push', '-i', '2'], { cwd: path.join(fixtures, 'mysql-app') });
    appGuid = (await api.call('GET', '/v3/apps?names=notes')).json().resources[0].guid;
    await waitFor('two running instances', steady, { timeoutMs: 30_000, intervalMs: 200 });
    web = new Traffic({ routerPort, host: 'notes.localhost', path: () => '/', accept: (s, body) => s === 200 && body === 'mysql-app\n' }).start();
    writes = new Traffic({
      routerPort,
      host: 'notes.localhost',
      path: () => `/write?text=w${++written}`,
      pauseMs: 100,
      onOutcome: (o, p) => {
        if (o.ok) acknowledged.push(new URL(p, 'http://x').searchParams.get('text')!);
      },
    }).start();
    await waitFor('rows written', () => acknowledged.length >= 3, { timeoutMs: 10_000 });
    rowsBefore = { controller: controllerRows(home), broker: brokerRows(home), node: await nodeRows(box) };
  });

  after(async function () {
    this.timeout(60_000);
    await web?.stop();
    await writes?.stop();
    if (results.length > 0) {
      const s = (ms: number) => (ms / 1000).toFixed(1);
      console.log(
        `\n${table(
          ['killed', 'healthy again (s)', 'app requests', 'failed', 'longest gap (s)', 'writes', 'failed writes', 'longest write gap (s)', 'instances restarted'],
          results.map((r) => [r.component, s(r.healthyMs), r.app.requests, r.app.failed, s(r.app.longestGapMs), r.writes.requests, r.writes.failed, s(r.writes.longestGapMs), r.restarted]),
        )}\n`,
      );
    }
    await cleanupBox(home);
  });

  /**
   * Kills `pid`, waits until `back()` says the component serves again and the app answers through
   * the router after that, and checks the instances: only those in `mayRestart` may have changed.
   */
  const killAndRecover = async (component: string, pid: number, back: () => Promise<boolean>, mayRestart: (i: AppInstance) => boolean = () => false) => {
    const before = await waitFor('the app steady before the kill', steady, { timeoutMs: 30_000, intervalMs: 200 });
    const killedAt = Date.now();
    process.kill(pid, 'SIGKILL');
    await waitFor(`${component} back`, back, { timeoutMs: 45_000, intervalMs: 50 });
    const backAt = Date.now();
    await waitFor('a request through the router answered after that', () => web.lastSuccessAt() > backAt, { timeoutMs: 30_000, intervalMs: 20 });
    const healthyMs = Date.now() - killedAt;
    const after = await waitFor('the app steady again', steady, { timeoutMs: 30_000, intervalMs: 200 });
    // A little traffic after recovery, so that a late failure is not missed.
    await sleep(300);
    const result: KillResult = { component, healthyMs, app: web.stats(killedAt), writes: writes.stats(killedAt), restarted: 0 };
    results.push(result);
    for (const b of before) {
      const now = after.find((a) => a.index === b.index)!;
      if (now.instance === b.instance && now.pid === b.pid) continue;
      result.restarted++;
      assert.ok(mayRestart(b), `instance ${b.index} (${b.dea}) was restarted by a kill -9 of ${component}: ${JSON.stringify(b)} → ${JSON.stringify(now)}`);
    }
    assert.ok(result.app.longestGapMs < REGISTER_INTERVAL_S * 1000, `requests to the app failed for ${result.app.longestGapMs} ms after a kill -9 of ${component} (${JSON.stringify(result.app.failures)})`);
    return result;
  };

  /** A component killed with -9: restarted by the supervisor, healthy, and doing its job (`works`). */
  const killComponent = async (key: string, works: () => Promise<boolean>, mayRestart?: (i: AppInstance) => boolean) => {
    const old = await varz(box, key);
    assert.ok(old, `${key} answers /varz`);
    let restartedPid = 0;
    const result = await killAndRecover(
      key,
      old.pid,
      async () => {
        if (!restartedPid) {
          const v = await varz(box, key);
          if (!v || v.pid === old.pid || !(await healthy(box, key))) return false;
          restartedPid = v.pid;
        }
        return works();
      },
      mayRestart,
    );
    assert.notEqual(restartedPid, old.pid);
    return result;
  };

  const appAnswers = async () => (await request({ url: `http://notes.localhost:${routerPort}/`, timeoutMs: 2_000 }).catch(() => undefined))?.status === 200;

  it('bus: components reconnect and re-register; no request fails', async () => {
    const result = await killComponent('bus', async () => (await running()).length === 2 && (await api.call('GET', '/v3/apps').catch(() => undefined))?.status === 200);
    assert.equal(result.app.failed, 0, `failed requests: ${JSON.stringify(result.app.failures)}`);
  });

  it('router: regains every route (the app, api, uaa, logs); no request fails, none is answered 404 meanwhile', async () => {
    const result = await killComponent('router', async () => {
      if (!(await appAnswers())) return false;
      const token = await passwordToken(api.uaa, box.config.uaa.admin.username, box.config.uaa.admin.password).catch(() => undefined);
      const logs = await request({ url: `http://logs.${box.config.domain}:${routerPort}/apps/${appGuid}/recent`, headers: { authorization: `bearer ${api.token}` }, timeoutMs: 2_000 }).catch(() => undefined);
      return token?.status === 200 && logs?.status === 200 && (await api.call('GET', '/v3/apps').catch(() => undefined))?.status === 200;
    });
    // The restarted router waits for its table before it answers (no 404 for the app's route), and
    // the supervisor kept its listening socket open meanwhile (no connection refused).
    // The killed router's workers finish the requests they had (router/worker.ts): nothing is
    // refused, reset or answered 404.
    for (const traffic of [result.app, result.writes]) {
      assert.equal(traffic.failures['404'], undefined, `404s for a registered route: ${JSON.stringify(traffic.failures)}`);
      assert.equal(traffic.failures.ECONNREFUSED, undefined, `refused connections while the router restarted: ${JSON.stringify(traffic.failures)}`);
    }
    assert.equal(result.app.failed + result.writes.failed, 0, `failed requests: ${JSON.stringify(result.app.failures)} ${JSON.stringify(result.writes.failures)}`);
  });

  it('uaa: issues tokens again, and tokens issued before still work', async () => {
    await killComponent('uaa', async () => (await passwordToken(api.uaa, box.config.uaa.admin.username, box.config.uaa.admin.password).catch(() => undefined))?.status === 200);
    assert.equal((await api.call('GET', '/v3/apps')).status, 200);
  });

  it('controller: the API answers again; the app is not disturbed', async () => {
    const result = await killComponent('controller', async () => (await api.call('GET', `/v3/apps/${appGuid}`).catch(() => undefined))?.status === 200);
    assert.equal(result.app.failed, 0, `failed requests: ${JSON.stringify(result.app.failures)}`);
  });

  it('logs: serves the recent lines, including those from before the kill', async () => {
    const recent = async () => {
      const res = await request({ url: `http://logs.${box.config.domain}:${routerPort}/apps/${appGuid}/recent`, headers: { authorization: `bearer ${api.token}` }, timeoutMs: 2_000 }).catch(() => undefined);
      return res?.status === 200 ? (JSON.parse(res.text) as { message?: string }[]).map((e) => e.message ?? '') : undefined;
    };
    const before = await recent();
    assert.ok(before && before.some((m) => /Container became healthy/.test(m)), 'the app has recent lines before the kill');
    await killComponent('logs', async () => ((await recent()) ?? []).some((m) => /Container became healthy/.test(m)));
  });

  it('dea: its instance is replaced (documented choice), the other keeps serving', async () => {
    const result = await killComponent('dea', async () => !!(await steady()), (i) => i.dea === 'dea-0');
    assert.equal(result.app.failed, 0, `the instance on dea-1 served every request: ${JSON.stringify(result.app.failures)}`);
  });

  it('health: acts again after its restart, and restarts nothing', async () => {
    await killComponent('health', async () => (await varz<{ acting: boolean }>(box, 'health'))?.acting === true);
    // Long enough for a health manager that misread the state to have acted on it.
    await sleep(2_500);
    assert.ok(await steady(), 'the instances are the same');
  });

  it('mysql-gateway: provisions and binds again', async () => {
    await killComponent('mysql-gateway', () => createKey(`after-gateway-${Date.now()}`));
  });

  it('mysql-node: serves again, on the same mysqld (adopted): no write fails', async () => {
    const before = await varz<{ mysql: { pid: number } }>(box, 'mysql-node');
    const result = await killComponent('mysql-node', () => createKey(`after-node-${Date.now()}`));
    const after = await varz<{ mysql: { pid: number; running: boolean } }>(box, 'mysql-node');
    assert.equal(after?.mysql.pid, before?.mysql.pid, 'the restarted node adopted the mysqld its predecessor left running');
    assert.equal(result.writes.failed, 0, `failed writes: ${JSON.stringify(result.writes.failures)}`);
  });

  it('the private mysqld: the mysql-node restarts it; acknowledged writes survive', async () => {
    const node = await varz<{ mysql: { pid: number } }>(box, 'mysql-node');
    const oldPid = node!.mysql.pid;
    const lastAck = acknowledged.length;
    await killAndRecover('mysqld', oldPid, async () => {
      const v = await varz<{ mysql: { pid: number; running: boolean } }>(box, 'mysql-node');
      return !!v && v.mysql.running && v.mysql.pid !== oldPid && acknowledged.length > lastAck;
    });
  });

  const crashEvents = async (guid: string) =>
    (await api.call('GET', `/v3/audit_events?target_guids=${guid}&types=audit.app.process.crash&per_page=100`)).json().resources as { data: { index?: number; reason?: string; exit_description?: string } }[];
  const recentLogs = async (app: string) => ok(['logs', app, '--recent']);

  it('an app instance killed with -9: a crash event, restarted at once, the other instance untouched', async () => {
    const before = (await waitFor('the app steady', steady, { timeoutMs: 30_000, intervalMs: 200 }))!;
    const killedAt = Date.now();
    process.kill(before[0].pid, 'SIGKILL');
    const events = await waitFor('a crash event for index 0', async () => {
      const e = (await crashEvents(appGuid)).filter((x) => x.data.index === 0);
      return e.length > 0 ? e : undefined;
    }, { timeoutMs: 15_000, intervalMs: 200 });
    assert.equal(events[0].data.reason, 'CRASHED');
    assert.match(events[0].data.exit_description ?? '', /137/);
    const after = await waitFor('index 0 running again', async () => {
      const s = await steady();
      return s && s[0].instance !== before[0].instance ? s : undefined;
    }, { timeoutMs: 20_000, intervalMs: 200 });
    const healthyMs = Date.now() - killedAt;
    assert.deepEqual([after[1].instance, after[1].pid], [before[1].instance, before[1].pid], 'index 1 was not restarted');
    assert.match(await recentLogs('notes'), /\[HEALTH\/0\].*Instance 0 crashed 1 time; restarting it now/);
    const stats = web.stats(killedAt);
    results.push({ component: 'app instance', healthyMs, app: stats, writes: writes.stats(killedAt), restarted: 1 });
    assert.ok(stats.longestGapMs < REGISTER_INTERVAL_S * 1000, `requests failed for ${stats.longestGapMs} ms`);
  });

  it('a crash loop backs off as the health manager policy says, without disturbing other apps', async () => {
    const before = (await steady())!;
    const from = Date.now();
    const r = await cli(['push', 'crasher', '-p', path.join(fixtures, 'behaviours'), '-c', 'node crash.js', '-b', 'binary']);
    assert.equal(r.exitCode, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /Start unsuccessful/);
    const guid = (await api.call('GET', '/v3/apps?names=crasher')).json().resources[0].guid as string;
    try {
      await waitFor('five crashes', async () => (await crashEvents(guid)).length >= 5, { timeoutMs: 40_000, intervalMs: 300 });
      const logs = await recentLogs('crasher');
      assert.match(logs, /\[HEALTH\/0\].*crashed 3 times; restarting it now/);
      assert.match(logs, /\[HEALTH\/0\].*crashed 4 times; restart scheduled in/);
      // Between its backed-off restarts, the app says it crashed.
      await waitFor('`devbox app crasher` to show the instance crashed', async () => /#0\s+crashed/.test((await cli(['app', 'crasher'])).stdout), { timeoutMs: 20_000, intervalMs: 200 });
    } finally {
      await ok(['stop', 'crasher']);
    }
    assert.deepEqual(await steady(), before, 'the notes app was not disturbed');
    assert.equal(web.stats(from).failed, 0);
  });

  it('an instance over its memory limit is killed and reported out of memory, without disturbing other apps', async () => {
    const before = (await steady())!;
    const from = Date.now();
    await cli(['push', 'hog', '-p', path.join(fixtures, 'behaviours'), '-c', 'node hog.js', '-b', 'binary', '-m', '96M']);
    const guid = (await api.call('GET', '/v3/apps?names=hog')).json().resources[0].guid as string;
    try {
      await waitFor('an out of memory crash', async () => (await crashEvents(guid)).some((x) => x.data.exit_description === 'out of memory'), { timeoutMs: 30_000, intervalMs: 300 });
      assert.match(await ok(['events', 'hog']), /out of memory/);
    } finally {
      await ok(['stop', 'hog']);
    }
    assert.deepEqual(await steady(), before, 'the notes app was not disturbed');
    assert.equal(web.stats(from).failed, 0);
  });

  it('the bus killed while a scale-up is in flight: everything reconnects, no instance is started twice', async () => {
    const deaKeys = Object.keys(box.ports.components).filter((k) => k.startsWith('dea'));
    const started = async () => {
      let n = 0;
      for (const key of deaKeys) n += (await varz<{ instances_started: number }>(box, key))!.instances_started;
      return n;
    };
    const before = (await steady())!;
    const startedBefore = await started();
    const bus = (await varz(box, 'bus'))!;
    const processGuid = (await api.call('GET', `/v3/apps/${appGuid}/processes`)).json().resources[0].guid as string;
    const killedAt = Date.now();
    // The kill lands while the controller's dea.<id>.start messages, the DEAs' heartbeats and the
    // new instances' registrations are on their way.
    const scaled = api.call('POST', `/v3/processes/${processGuid}/actions/scale`, { instances: 4 });
    await sleep(5);
    process.kill(bus.pid, 'SIGKILL');
    assert.equal((await scaled).status, 202);
    await waitForRestart(box, 'bus', bus.pid);
    for (const key of Object.keys(box.ports.components)) await waitFor(`${key} healthy`, () => healthy(box, key), { timeoutMs: 20_000, intervalMs: 100 });
    const four = async () => {
      const r = await running();
      return r.length === 4 && r.map((i) => i.index).join() === '0,1,2,3' ? r : undefined;
    };
    await waitFor('four running instances', four, { timeoutMs: 30_000, intervalMs: 200 });
    const healthyMs = Date.now() - killedAt;
    // Long enough for a duplicate start to show, and for the health manager to act on one.
    await sleep(3_000);
    const now = await four();
    assert.ok(now, `still exactly one instance per index: ${JSON.stringify(await appInstances(box, appGuid))}`);
    assert.deepEqual(now.slice(0, 2), before, 'the instances that ran were not restarted');
    assert.equal((await started()) - startedBefore, 2, 'exactly two instances were started');
    assert.doesNotMatch(await recentLogs('notes'), /Stopping duplicate instance/);
    assert.equal((await api.call('GET', '/v3/apps')).status, 200);
    assert.equal((await passwordToken(api.uaa, box.config.uaa.admin.username, box.config.uaa.admin.password)).status, 200);
    results.push({ component: 'bus (scale-up in flight)', healthyMs, app: web.stats(killedAt), writes: writes.stats(killedAt), restarted: 0 });
    assert.equal(web.stats(killedAt).failed, 0);
  });

  it('loses no controller, broker or database row, and no acknowledged write', async () => {
    await writes.stop();
    const read = await request({ url: `http://notes.localhost:${routerPort}/read`, timeoutMs: 10_000 });
    assert.equal(read.status, 200, read.text);
    const notes = new Set((JSON.parse(read.text) as { notes: string[] }).notes);
    assert.deepEqual(missing(acknowledged, notes), [], 'every write the app acknowledged is in the database');
    assert.deepEqual(missing(rowsBefore.controller.keys(), controllerRows(home)), [], 'controller rows');
    assert.deepEqual(missing(rowsBefore.broker, brokerRows(home)), [], 'broker records');
    assert.deepEqual(missing(rowsBefore.node, await nodeRows(box)), [], "the mysql-node's bookkeeping, databases and users");
  });
});
