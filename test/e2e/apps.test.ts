// Apps through the whole box, as issue 5 asks: every built-in buildpack and a custom one pushed and
// reached through the router; two DEAs sharing the instances; an instance killed with -9 coming
// back; a crash loop backing off as Cloud Foundry's health manager does; an instance over its
// memory limit; and apps answering again after `down` and `up`.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { connect, JSONCodec, RequestStrategy } from 'nats';
import { parseNatsUrl } from '../../src/runtime/common/bus.js';
import { request, type HttpResponse } from '../../src/runtime/common/http.js';
import { freePort, waitFor } from '../../src/runtime/common/net.js';
import { boxApi, type BoxApi } from '../helpers/api.js';
import { busUrl, readBox } from '../helpers/box-probe.js';
import { cleanupBox, DEVBOX_BIN, tempHome, type DevboxResult } from '../helpers/devbox.js';

const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/apps');
const CRASH_BASE_MS = 500;

describe('apps through the whole box (two DEAs)', function () {
  this.timeout(120_000);
  let home: string;
  let routerPort: number;
  let api: BoxApi;
  const scratch: string[] = [];

  const cli = async (args: string[], { cwd = os.tmpdir(), timeoutMs = 90_000 } = {}): Promise<DevboxResult> => {
    const r = await execa(process.execPath, [DEVBOX_BIN, ...args], { cwd, env: { DEVBOX_HOME: home, NO_COLOR: '1', DEVBOX_HEALTH_CRASH_BASE_MS: String(CRASH_BASE_MS) }, extendEnv: true, stdin: 'ignore', reject: false, timeout: timeoutMs });
    return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
  };
  const ok = async (args: string[], options?: { cwd?: string }) => {
    const r = await cli(args, options);
    assert.equal(r.exitCode, 0, `devbox ${args.join(' ')}: exit ${r.exitCode}\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  };
  const visit = (host: string, urlPath = '/'): Promise<HttpResponse> => request({ url: `http://${host}.localhost:${routerPort}${urlPath}`, timeoutMs: 5_000 });
  const appGuid = async (name: string): Promise<string> => (await api.call('GET', `/v3/apps?names=${name}`)).json().resources[0].guid;
  const crashEvents = async (guid: string) =>
    (await api.call('GET', `/v3/audit_events?target_guids=${guid}&types=audit.app.process.crash&order_by=created_at&per_page=100`)).json().resources as { created_at: string; actor: { guid: string; type: string; name: string }; data: { exit_description?: string } }[];

  before(async () => {
    home = tempHome('devbox-apps-');
    routerPort = await freePort();
    await ok(['up', '-d', '--deas', '2', '--port', String(routerPort)]);
    api = await boxApi(home, routerPort);
  });
  after(async () => {
    await cleanupBox(home);
    for (const dir of scratch) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('pushes a Node app with an npm dependency, a Python app, a static site and a binary with -c', async () => {
    await ok(['push', 'with-dep', '-p', path.join(fixtures, 'node-dep')]);
    assert.equal((await visit('with-dep')).text, 'two hours is 7200000 ms\n');
    await ok(['push', 'py', '-p', path.join(fixtures, 'python-hello')]);
    assert.equal(JSON.parse((await visit('py')).text).hello, 'python');
    await ok(['push', 'site', '-p', path.join(fixtures, 'static-site')]);
    const site = await visit('site');
    assert.equal(site.status, 200);
    assert.equal(site.text, fs.readFileSync(path.join(fixtures, 'static-site/index.html'), 'utf8'));
    await ok(['push', 'bin', '-p', path.join(fixtures, 'binary-app'), '-b', 'binary', '-c', './serve']);
    assert.match((await visit('bin')).text, /^binary says hi on \d+\n$/);
  });

  it('stages with a buildpack directory of the user', async () => {
    const buildpack = fs.mkdtempSync(path.join(os.tmpdir(), 'devbox-buildpack-'));
    const app = fs.mkdtempSync(path.join(os.tmpdir(), 'devbox-custom-app-'));
    scratch.push(buildpack, app);
    fs.mkdirSync(path.join(buildpack, 'bin'));
    const script = (name: string, body: string) => fs.writeFileSync(path.join(buildpack, 'bin', name), `#!/usr/bin/env bash\nset -e\n${body}\n`, { mode: 0o755 });
    script('detect', 'test -f "$1/greeting.txt" && echo custom');
    script('compile', `echo "compiling with the custom buildpack"\ncat > "$1/server.js" <<'JS'\nconst text = require('fs').readFileSync(__dirname + '/greeting.txt', 'utf8');\nrequire('http').createServer((q, s) => s.end('custom: ' + text)).listen(process.env.PORT);\nJS`);
    script('release', 'printf -- "---\\ndefault_process_types:\\n  web: node server.js\\n"');
    fs.writeFileSync(path.join(app, 'greeting.txt'), 'built by my own buildpack\n');
    await ok(['push', 'custom', '-p', app, '-b', buildpack]);
    assert.equal((await visit('custom')).text, 'custom: built by my own buildpack\n');
  });

  it('spreads instances over both DEAs, and brings back an instance killed with -9', async () => {
    await ok(['push', 'spread', '-p', path.join(fixtures, 'node-hello'), '-i', '4']);
    const guid = await appGuid('spread');
    // status --json redacts the token: the bus URL with it comes from the state directory.
    const address = parseNatsUrl(busUrl(readBox(home)));
    const nc = await connect({ servers: address.servers, token: address.token });
    const json = JSONCodec<{ dea: string; index: number; state: string; stats?: { port?: number } }>();
    const instances = async () => {
      const found: { dea: string; index: number; state: string; stats?: { port?: number } }[] = [];
      for await (const msg of await nc.requestMany('dea.find.droplet', JSONCodec().encode({ droplet: guid, include_stats: true }), { strategy: RequestStrategy.Timer, maxWait: 500 })) found.push(json.decode(msg.data));
      return found;
    };
    try {
      const running = (await instances()).filter((i) => i.state === 'RUNNING');
      assert.equal(running.length, 4);
      const perDea = new Map<string, number>();
      for (const i of running) perDea.set(i.dea, (perDea.get(i.dea) ?? 0) + 1);
      assert.deepEqual([...perDea.values()].sort(), [2, 2], `placement: fewest instances of the app first (${JSON.stringify([...perDea])})`);

      const victim = running.find((i) => i.index === 0)!;
      const listening = execFileSync('ss', ['-ltnpH', `sport = :${victim.stats!.port}`], { encoding: 'utf8' });
      const pid = Number(/pid=(\d+)/.exec(listening)?.[1]);
      assert.ok(pid > 0, `the instance's pid from ss: ${listening}`);
      process.kill(pid, 'SIGKILL');
      await waitFor('a crash event for the killed instance', async () => (await crashEvents(guid)).length >= 1, { timeoutMs: 15_000, intervalMs: 200 });
      await waitFor('index 0 running again', async () => (await instances()).some((i) => i.index === 0 && i.state === 'RUNNING' && i.stats?.port !== victim.stats!.port), { timeoutMs: 20_000, intervalMs: 300 });
      for (let n = 0; n < 8; n++) assert.equal((await visit('spread')).status, 200, 'every request through the router succeeds');
    } finally {
      await nc.close();
    }
  });

  it('backs a crash loop off as Cloud Foundry does: three restarts at once, then a doubling delay', async () => {
    const r = await cli(['push', 'crasher', '-p', path.join(fixtures, 'behaviours'), '-c', 'node crash.js', '-b', 'binary']);
    try {
      assert.equal(r.exitCode, 1, r.stdout + r.stderr);
      assert.match(r.stderr, /Start unsuccessful/);
      const guid = await appGuid('crasher');
      const events = await waitFor('six crashes', async () => {
        const e = await crashEvents(guid);
        return e.length >= 6 ? e : undefined;
      }, { timeoutMs: 60_000, intervalMs: 500 });
      const at = events.map((e) => Date.parse(e.created_at));
      const gaps = at.slice(1).map((t, i) => t - at[i]);
      // A run lasts ~300 ms plus start-up. Restarts after crashes 2 and 3 come at once (the first
      // also waits for the droplet's first download); after the 4th the base, after the 5th twice it.
      const immediate = Math.max(gaps[1], gaps[2]);
      assert.ok(gaps[3] >= immediate + CRASH_BASE_MS * 0.7, `restart after crash 4 waits the base (gaps ${gaps})`);
      assert.ok(gaps[4] >= immediate + 2 * CRASH_BASE_MS * 0.7, `restart after crash 5 waits twice the base (gaps ${gaps})`);
      assert.ok(gaps[4] > gaps[3], `the delay doubles (gaps ${gaps})`);
      const recent = await ok(['logs', 'crasher', '--recent']);
      assert.match(recent, /\[HEALTH\/0\].*restart/i);
      // As Cloud Controller has it: the web process is the crash's actor, and the app's log says so.
      const web = (await api.call('GET', `/v3/apps/${guid}/processes/web`)).json() as { guid: string };
      assert.deepEqual(events[0].actor, { guid: web.guid, type: 'process', name: 'web' });
      assert.match(recent, /\[API\/0\] ERR Process has crashed with type: "web"/);
    } finally {
      await ok(['stop', 'crasher']);
    }
  });

  it('kills an instance over its memory limit and says out of memory in the events', async () => {
    const r = await cli(['push', 'hog', '-p', path.join(fixtures, 'behaviours'), '-c', 'node hog.js', '-b', 'binary', '-m', '96M']);
    try {
      const guid = await appGuid('hog');
      await waitFor('an out of memory crash', async () => (await crashEvents(guid)).some((x) => x.data.exit_description === 'out of memory'), { timeoutMs: 30_000, intervalMs: 300 });
      assert.match(await ok(['events', 'hog']), /out of memory/, r.stdout);
    } finally {
      await ok(['stop', 'hog']);
    }
  });

  it('brings every started app back after down and up', async () => {
    await ok(['down']);
    await ok(['up', '-d', '--deas', '2', '--port', String(routerPort)]);
    for (const host of ['with-dep', 'py', 'site', 'spread']) {
      await waitFor(`${host} answering after up`, async () => (await visit(host)).status === 200, { timeoutMs: 30_000, intervalMs: 250 });
    }
    const apps = await ok(['apps']);
    assert.match(apps, /crasher\s+stopped/);
  });
});
