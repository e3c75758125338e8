// An app is untrusted code: from a shell inside a pushed app (the `shell` behaviour, what an
// attacker with code execution in an instance has), every probe of issue 17 is refused: the box's
// secrets and the CLI's session, another app's processes and environment, the components, the bus
// and MariaDB as root, an escape from the container with `setsid`, forking without bound, and
// filling /tmp or /dev/shm beyond the disk quota. Containers need bubblewrap (docs/security.md).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { statePaths } from '../../../src/runtime/common/config.js';
import { request } from '../../../src/runtime/common/http.js';
import { waitFor } from '../../../src/runtime/common/net.js';
import { processTree } from '../../../src/runtime/common/procfs.js';
import { basic, cmdline, securityBox, type SecurityBox } from './box.js';

const behaviours = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/apps/behaviours');

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Host pids of an app's instances, from the instance records the DEA keeps. */
function instancePids(box: SecurityBox, appGuid: string): number[] {
  const instances = path.join(box.home, 'dea', 'dea-0', 'instances');
  const pids: number[] = [];
  for (const dir of fs.readdirSync(instances)) {
    try {
      const record = JSON.parse(fs.readFileSync(path.join(instances, dir, 'instance.json'), 'utf8')) as { pid: number; app: string };
      if (record.app === appGuid) pids.push(...processTree(record.pid));
    } catch {
      // starting or gone meanwhile
    }
  }
  return pids;
}

/** Host processes whose command line is exactly `command`. */
function processesRunning(command: string): number[] {
  return fs
    .readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .map(Number)
    .filter((pid) => cmdline(pid).trim() === command);
}

describe('security: an app runs in a container of its own', function () {
  this.timeout(240_000);
  let box: SecurityBox;
  const ok = async (args: string[]) => {
    const r = await box.cli(args);
    assert.equal(r.exitCode, 0, `devbox ${args.join(' ')}: exit ${r.exitCode}\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  };
  /** Runs a shell command in app `app`'s instance. */
  const sh = async (command: string, app = 'shell'): Promise<Ran> => {
    const response = await request({ url: `http://${app}.localhost:${box.routerPort}/run`, method: 'POST', body: command, timeoutMs: 30_000, routeWaitMs: 10_000 });
    assert.equal(response.status, 200, response.text);
    return JSON.parse(response.text) as Ran;
  };

  before(async () => {
    box = await securityBox();
    await ok(['push', 'shell', '-p', behaviours, '-b', 'binary', '-c', 'node shell.js', '-m', '128M', '-k', '256M']);
    const varz = await request({ url: `http://127.0.0.1:${box.components.find((c) => c.name.startsWith('dea'))!.status_port}/varz`, headers: { authorization: basic(box.config.status.user, box.config.status.password) } });
    const isolation = (JSON.parse(varz.text) as { isolation: { containers: string; detail: string } }).isolation;
    assert.equal(isolation.containers, 'namespaces', `containers need bubblewrap (apt-get install bubblewrap): ${isolation.detail}`);
    assert.match(await ok(['status']), /dea\S*: apps run in containers \(bubblewrap/, 'devbox status says how apps are kept apart');
  });

  it('runs as an unprivileged user of its own, vcap at /home/vcap', async () => {
    const r = await sh('id -u; id -un 2>/dev/null; echo "$HOME"; pwd; cat /proc/self/status | grep CapEff');
    const [uid, , home, cwd, caps] = r.stdout.trim().split('\n');
    if (process.getuid?.() === 0) assert.equal(uid, '2000', 'a box run by root runs apps as uid 2000 (vcap)');
    else assert.equal(uid, String(process.getuid?.()), "the user's own uid, in a user namespace");
    assert.equal(home, '/home/vcap/app');
    assert.equal(cwd, '/home/vcap/app');
    assert.match(caps, /CapEff:\s+0+$/, 'no capabilities');
  });

  it("cannot see the state directory, its secrets or the CLI's session", async () => {
    const files = [path.join(box.home, 'config.json'), path.join(box.home, 'cli.json'), statePaths(box.home).portsFile];
    for (const file of files) assert.ok(fs.existsSync(file), `${file} exists on the host (the control)`);
    const r = await sh(`for f in ${files.join(' ')}; do cat "$f"; done; ls -A ${box.home}; ls -A /; ls -A /home; ls -A /root 2>&1; env`);
    for (const file of files) assert.match(r.stderr, new RegExp(`${file}: No such file or directory`));
    const output = r.stdout + r.stderr;
    for (const secret of box.secrets()) assert.ok(!output.includes(secret), 'a secret of the box is visible from inside an app');
    const top = r.stdout.split('\n');
    assert.ok(!top.includes(path.basename(box.home)), 'no state directory at the root');
    // Its own directory is the only one of the DEA's it has: from mountinfo, every mount's source
    const mounts = (await sh('cat /proc/self/mountinfo')).stdout.split('\n').filter(Boolean);
    const fromState = mounts.map((m) => m.split(' ')[3]).filter((root) => root.startsWith(box.home));
    assert.ok(fromState.length > 0, 'its home is mounted from its instance directory');
    // (and the host's /etc/passwd and /etc/group with its user vcap added, which the DEA writes)
    for (const root of fromState) assert.match(root, /\/dea\/dea-0\/(instances\/[0-9a-f-]{36}\/home(\/tmp)?|tmp\/container-(passwd|group))$/, `only its own home: ${root}`);
  });

  it("cannot see, signal or read another app's processes or their environment", async () => {
    const hello = instancePids(box, box.apps.hello);
    assert.ok(hello.length > 0, "hello's instance processes on the host");
    const router = box.components.find((c) => c.name.startsWith('router'))!.pid!;
    const visible = (await sh('ls /proc | grep -E "^[0-9]+$" | wc -l')).stdout.trim();
    assert.ok(Number(visible) < 10, `a pid namespace of its own: it sees ${visible} processes`);
    const r = await sh(`for p in ${hello.join(' ')}; do cat /proc/$p/environ; done | tr '\\0' '\\n'; kill -9 ${[router, ...hello].join(' ')}; echo "kill: $?"`);
    assert.ok(!(r.stdout + r.stderr).includes(box.keys.db1.password), "hello's binding password");
    assert.match(r.stdout, /kill: 1/);
    process.kill(router, 0);
    for (const pid of hello) process.kill(pid, 0);
    // Every environment it can read is its own (shell has no bindings; hello's has db1's).
    const seen = (await sh("cat /proc/[0-9]*/environ 2>/dev/null | tr '\\0' '\\n' | grep '^VCAP_SERVICES=' | sort -u")).stdout.trim();
    assert.equal(seen, 'VCAP_SERVICES={}');
    const helloAnswers = await request({ url: `http://hello.localhost:${box.routerPort}/` });
    assert.equal(helloAnswers.status, 200);
  });

  it('reaches neither the bus nor MariaDB as root without secrets it cannot find', async () => {
    const mysql = box.keys.db1.port;
    const r = await sh(
      [
        `exec 3<>/dev/tcp/127.0.0.1/${box.ports.bus_port}; head -n 1 <&3 >/dev/null; printf 'CONNECT {"verbose":false}\\r\\nPING\\r\\n' >&3; timeout 3 head -c 200 <&3; echo`,
        `command -v mariadb >/dev/null && mariadb -h 127.0.0.1 -P ${mysql} -u root -e 'select 1' 2>&1 || echo "no mariadb client"`,
      ].join('; '),
    );
    assert.match(r.stdout, /-ERR 'Authorization Violation'/i, r.stdout + r.stderr);
    assert.match(r.stdout, /Access denied|no mariadb client/, r.stdout + r.stderr);
  });

  it('takes everything it started with it: a setsid child ends with the instance', async () => {
    const marker = 'sleep 4242.5';
    await sh(`setsid ${marker} </dev/null >/dev/null 2>&1 & echo started`);
    await waitFor('the setsid child on the host', () => processesRunning(marker).length === 1, { timeoutMs: 5_000 });
    await ok(['stop', 'shell']);
    await waitFor('the setsid child gone with the instance', () => processesRunning(marker).length === 0, { timeoutMs: 10_000 });
    await ok(['start', 'shell']);
  });

  it('cannot fork past its process limit, and memory is what the kernel charges (shared pages once)', async () => {
    // 200 sleeps share their pages: summed RSS would count ~350 MB against this 128M app.
    const spawned = await sh('for i in $(seq 200); do sleep 300 </dev/null >/dev/null 2>&1 & done; echo spawned');
    assert.match(spawned.stdout, /spawned/);
    const fork = await sh(
      `perl -e 'my @c; while (@c < 5000) { my $p = fork(); if (!defined $p) { print "refused after ", scalar(@c), "\\n"; last } if ($p == 0) { sleep 60; exit 0 } push @c, $p } kill 9, @c; print "forked ", scalar(@c), "\\n"'`,
    );
    const refused = /refused after (\d+)/.exec(fork.stdout);
    assert.ok(refused, `a fork is refused at the limit: ${fork.stdout} ${fork.stderr}`);
    assert.ok(Number(refused[1]) < 256, `refused after ${refused[1]} more processes (the box's limit is 256)`);
    const web = (await box.api.call('GET', `/v3/apps/${await appGuid('shell')}/processes/web/stats`)).json() as { resources: { state: string; usage: { mem: number } }[] };
    assert.equal(web.resources[0].state, 'RUNNING', 'still running with 200 children');
    assert.ok(web.resources[0].usage.mem < 128 * 1024 * 1024, `memory in use ${web.resources[0].usage.mem}`);
    await sh('pkill -u "$(id -u)" -x sleep; true');
  });

  it('counts /tmp and /dev/shm as its disk: filling them crashes it with disk quota exceeded', async () => {
    const guid = await appGuid('shell');
    const r = await sh('head -c 150M /dev/zero > /tmp/a && head -c 150M /dev/zero > /dev/shm/b && echo filled');
    assert.match(r.stdout, /filled/, r.stderr);
    await waitFor(
      'a disk quota crash',
      async () => {
        const events = (await box.api.call('GET', `/v3/audit_events?types=audit.app.process.crash&target_guids=${guid}`)).json() as { resources: { data: { exit_description?: string } }[] };
        return events.resources.some((e) => e.data.exit_description === 'disk quota exceeded');
      },
      { timeoutMs: 30_000, intervalMs: 300 },
    );
  });

  async function appGuid(name: string): Promise<string> {
    const apps = (await box.api.call('GET', `/v3/apps?names=${name}`)).json() as { resources: { guid: string }[] };
    return apps.resources[0].guid;
  }
});
