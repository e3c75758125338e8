// What a running box exposes, read from the system rather than from devbox's own config: every
// listening socket of every process of the box is on loopback, secrets are in owner-only files, and
// no secret is written to any log. A push and a service binding run first, so that app instances,
// staging, the router's workers and the private MariaDB are all part of what is checked.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, waitFor } from '../../src/runtime/common/net.js';
import { readSupervisor } from '../../src/runtime/supervisor/lock.js';
import { statePaths, type DevboxConfig } from '../../src/runtime/common/config.js';
import { cleanupBox, devbox, tempHome } from '../helpers/devbox.js';

const app = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../templates/apps/hello-node');

/** The pid and its descendants, from /proc. */
function descendants(root: number): Set<number> {
  const parents = new Map<number, number>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // gone meanwhile
    }
  }
  const found = new Set([root]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, ppid] of parents) {
      if (found.has(ppid) && !found.has(pid)) {
        found.add(pid);
        grew = true;
      }
    }
  }
  return found;
}

describe('security of a running box', function () {
  this.timeout(120_000);
  let home: string;
  let config: DevboxConfig;

  before(async () => {
    home = tempHome('devbox-security-');
    const up = await devbox(home, ['up', '-d', '--port', String(await freePort())]);
    assert.equal(up.exitCode, 0, up.stdout + up.stderr);
    config = JSON.parse(fs.readFileSync(statePaths(home).config, 'utf8')) as DevboxConfig;
    const push = await devbox(home, ['push', 'hello', '-p', app, '--no-manifest']);
    assert.equal(push.exitCode, 0, push.stdout + push.stderr);
    await waitFor('a MySQL service', async () => (await devbox(home, ['create-service', 'p-mysql', 'small', 'db'])).exitCode === 0, { timeoutMs: 60_000, intervalMs: 500 });
    assert.equal((await devbox(home, ['bind-service', 'hello', 'db'])).exitCode, 0);
    assert.equal((await devbox(home, ['create-service-key', 'db', 'k'])).exitCode, 0);
  });
  after(async () => cleanupBox(home));

  // App instances are the user's code and bind where the app says (Cloud Foundry apps listen on
  // 0.0.0.0 by convention); keeping them on loopback needs network isolation, not yet built. What
  // devbox runs itself must listen on loopback only.
  it("listens only on loopback in every devbox process (as ss sees it; apps aside)", () => {
    const supervisor = readSupervisor(statePaths(home).pidFile)!;
    const instancesDir = path.join(home, 'dea');
    const appProcess = (pid: number) => {
      try {
        return fs.readlinkSync(`/proc/${pid}/cwd`).startsWith(instancesDir);
      } catch {
        return false;
      }
    };
    const pids = new Set([...descendants(supervisor.pid)].filter((pid) => !appProcess(pid)));
    assert.ok(pids.size >= 10, `the box's processes: ${pids.size}`);
    const sockets = execFileSync('ss', ['-Hltnup'], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map((line) => ({ line, local: line.split(/\s+/)[4], pids: [...line.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1])) }))
      .filter((s) => s.pids.some((pid) => pids.has(pid)));
    assert.ok(sockets.length >= 10, `listening sockets of the box: ${sockets.length}`);
    for (const socket of sockets) assert.match(socket.local, /^(127\.\d+\.\d+\.\d+|\[::1\]|\[::ffff:127\.\d+\.\d+\.\d+\]):\d+$/, `not loopback: ${socket.line}`);
  });

  it('keeps secrets in owner-only files', () => {
    const paths = statePaths(home);
    assert.equal(fs.statSync(paths.home).mode & 0o777, 0o700);
    for (const file of [paths.config, paths.portsFile, path.join(home, 'cli.json'), path.join(home, 'mysql-gateway', 'records.json')]) {
      assert.equal(fs.statSync(file).mode & 0o777, 0o600, file);
    }
  });

  it('writes no secret to any log', () => {
    const secrets = [
      config.bus.token,
      config.status.password,
      config.uaa.admin.password,
      config.uaa.components_client.secret,
      config.mysql.root_password,
      config.mysql.broker.password,
      config.uaa.signing_key.private_pem.split('\n')[1],
    ];
    const cli = JSON.parse(fs.readFileSync(path.join(home, 'cli.json'), 'utf8')) as Record<string, unknown>;
    for (const value of Object.values(cli)) if (typeof value === 'string' && value.length > 100) secrets.push(value.slice(20, 80)); // tokens
    const logs = fs.readdirSync(statePaths(home).logs, { recursive: true }).map(String).map((f) => path.join(statePaths(home).logs, f)).filter((f) => fs.statSync(f).isFile());
    assert.ok(logs.length >= 9, `log files: ${logs.length}`);
    for (const file of logs) {
      const text = fs.readFileSync(file, 'utf8');
      for (const secret of secrets) assert.ok(!text.includes(secret), `${path.basename(file)} contains a secret`);
    }
  });
});
