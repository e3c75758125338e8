// Containers for instances and stagings (src/runtime/dea/containers/): what a container's root
// holds, that a real one (bubblewrap) keeps the DEA's directories out and takes everything it
// started with it, and that a machine where bubblewrap cannot make one still runs the command and
// says why.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { waitFor } from '../../../src/runtime/common/poll.js';
import { CONTAINER_HOME, Containers, type ContainerSpec } from '../../../src/runtime/dea/containers/container.js';
import { rootfsFor } from '../../../src/runtime/dea/containers/rootfs.js';
import { InstanceLimits } from '../../../src/runtime/dea/instances/limits.js';
import { quietLog } from './helpers.js';

/** Runs to the end; stdout, stderr and the exit code. */
function finished(child: ChildProcess): Promise<{ code: number | null; out: string; err: string }> {
  let out = '';
  let err = '';
  child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (err += c.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, out, err })));
}

const cmdline = (pid: string) => {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return '';
  }
};
const running = (command: string) => fs.readdirSync('/proc').filter((e) => /^\d+$/.test(e) && cmdline(e) === command);

describe('dea containers', function () {
  this.timeout(30_000);
  let tmp: string;
  let stateDir: string;
  const limits = () => new InstanceLimits('sampling', 'dea-test', quietLog);
  const spec = (name: string): ContainerSpec => ({ handle: name, mounts: [{ source: path.join(tmp, name, 'home'), target: CONTAINER_HOME }], tmp: path.join(tmp, name, 'home', 'tmp') });

  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'devbox-containers-'));
    stateDir = path.join(tmp, 'state');
    fs.mkdirSync(stateDir, { mode: 0o700 });
    fs.writeFileSync(path.join(stateDir, 'config.json'), '{"secret":"s3cret-of-the-box"}', { mode: 0o600 });
  });
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it("holds the system read-only and a toolchain's prefix (its directories, not its top files), never a home or the state directory", () => {
    const tool = path.join(tmp, 'tools', 'mytool');
    fs.mkdirSync(path.join(tool, 'bin'), { recursive: true });
    fs.mkdirSync(path.join(tool, 'lib'), { recursive: true });
    // Where cargo keeps a crates.io token: beside bin, in the prefix.
    fs.writeFileSync(path.join(tool, 'credentials.toml'), 'token = "secret"\n');
    fs.mkdirSync(path.join(stateDir, 'bin'));
    const rootfs = rootfsFor([path.join(tool, 'bin'), path.join(stateDir, 'bin'), '/usr/bin', '/nonexistent/bin'].join(':'), [stateDir]);
    const binds = rootfs.entries.filter((e) => e.kind === 'ro-bind').map((e) => e.kind === 'ro-bind' && e.target);
    assert.ok(binds.includes('/usr') && binds.includes('/etc'), `system directories: ${binds}`);
    assert.ok(binds.includes(path.join(tool, 'bin')) && binds.includes(path.join(tool, 'lib')), `the toolchain's prefix (its lib beside bin): ${binds}`);
    assert.ok(!binds.includes(tool) && !binds.some((b) => b && b.endsWith('credentials.toml')), `not the prefix's own files: ${binds}`);
    assert.ok(!binds.some((b) => b && (stateDir.startsWith(b) || b.startsWith(stateDir))), `nothing holding the state directory: ${binds}`);
    assert.equal(rootfs.path, [path.join(tool, 'bin'), '/usr/bin'].join(':'), 'PATH keeps what is there, in order');
    // A PATH dir right in a home directory binds itself only, not the home.
    const home = rootfsFor('/root/bin', [stateDir]).entries.find((e) => e.kind === 'ro-bind' && e.target.startsWith('/root'));
    if (fs.existsSync('/root/bin')) assert.equal(home && home.kind === 'ro-bind' && home.target, '/root/bin');
    else assert.equal(home, undefined);
  });

  it('runs a command in a container: its own uid, home and processes; nothing of the state directory', async () => {
    const containers = new Containers({ containers: 'auto', containerUid: 2000 }, limits(), quietLog, [stateDir, tmp], path.join(tmp, 'probe'));
    assert.equal(containers.isolation, 'namespaces', `containers need bubblewrap (apt-get install bubblewrap): ${containers.detail}`);
    const container = containers.create(spec('one'));
    const script = `id -u; echo "$HOME"; ls /proc | grep -cE '^[0-9]+$'; cat ${path.join(stateDir, 'config.json')} 2>&1; touch /home/vcap/written && echo wrote`;
    const result = await finished(container.run(['/bin/sh', '-c', script], { cwd: CONTAINER_HOME, env: { PATH: containers.path, HOME: '/home/vcap' } }));
    const [uid, home, processes, cat, wrote] = result.out.trim().split('\n');
    assert.equal(result.code, 0, result.err);
    assert.equal(uid, process.getuid?.() === 0 ? '2000' : String(process.getuid?.()));
    assert.equal(home, '/home/vcap');
    assert.ok(Number(processes) <= 4, `its own processes only: ${processes}`);
    assert.match(cat, /No such file or directory/);
    assert.equal(wrote, 'wrote');
    assert.ok(fs.existsSync(path.join(tmp, 'one', 'home', 'written')), 'written to its home on the host');
    container.destroy();
  });

  it("names the container user: vcap with its home at /home/vcap as on Cloud Foundry (as root; else the user's own name)", async () => {
    const containers = new Containers({ containers: 'auto', containerUid: 2000 }, limits(), quietLog, [stateDir, tmp], path.join(tmp, 'probe'));
    assert.equal(containers.isolation, 'namespaces', `containers need bubblewrap (apt-get install bubblewrap): ${containers.detail}`);
    const container = containers.create(spec('named'));
    const result = await finished(container.run(['/bin/sh', '-c', 'id -un; getent passwd "$(id -un)" | cut -d: -f6; test -w /etc/passwd && echo writable || echo read-only'], { cwd: CONTAINER_HOME, env: { PATH: containers.path } }));
    assert.equal(result.code, 0, result.err);
    const root = process.getuid?.() === 0;
    assert.deepEqual(result.out.trim().split('\n'), [root ? 'vcap' : os.userInfo().username, root ? '/home/vcap' : os.userInfo().homedir, 'read-only']);
    container.destroy();
  });

  it("gives the app's loader variables (LD_PRELOAD from set-env) to its command only, never to the host programs that make the container", async () => {
    const containers = new Containers({ containers: 'auto', containerUid: 2000 }, limits(), quietLog, [stateDir, tmp], path.join(tmp, 'probe'));
    assert.equal(containers.isolation, 'namespaces', `containers need bubblewrap (apt-get install bubblewrap): ${containers.detail}`);
    const container = containers.create(spec('preload'));
    // A preload that is no library, on the host only: the loader of a host program given it says
    // "file too short"; in the container the file is not there at all.
    const notALibrary = path.join(tmp, 'not-a-library.so');
    fs.writeFileSync(notALibrary, 'not an ELF file\n');
    const env = { PATH: containers.path, LD_PRELOAD: notALibrary, GLIBC_TUNABLES: 'glibc.malloc.check=3', TMPDIR: '/home/vcap/tmp x' };
    const script = 'printf "%s|%s|%s|%s\\n" "$LD_PRELOAD" "$GLIBC_TUNABLES" "$TMPDIR" "${CONTAINER_LOADER_ENV-unset}"';
    const result = await finished(container.run(['/bin/sh', '-c', script], { cwd: CONTAINER_HOME, env }));
    assert.equal(result.code, 0, result.err);
    assert.equal(result.out.split('\n').filter((l) => l.includes('|')).pop(), `${notALibrary}|glibc.malloc.check=3|/home/vcap/tmp x|unset`);
    assert.doesNotMatch(result.err, /too short|ELF/, 'no host program (sh, bwrap, setpriv) loaded it');
    container.destroy();
  });

  it('shows a container its own cgroup, so that Node sizes its heap by the memory limit', async () => {
    const cgroups = new InstanceLimits('auto', `dea-test-view-${process.pid}`, quietLog);
    assert.notEqual(cgroups.mechanism, 'pss-sampling', `this test needs cgroups (root on a machine with cgroup v1 or v2): ${cgroups.detail}`);
    const containers = new Containers({ containers: 'auto', containerUid: 2000 }, cgroups, quietLog, [stateDir, tmp], path.join(tmp, 'probe'));
    const container = containers.create({ ...spec('mem'), limits: { memoryBytes: 96 * 1024 * 1024, pids: 64 } });
    try {
      const script = `node -e 'console.log(process.constrainedMemory(), require("v8").getHeapStatistics().heap_size_limit)'; touch /sys/fs/cgroup/x 2>/dev/null && echo writable`;
      const result = await finished(container.run(['/bin/sh', '-c', script], { cwd: CONTAINER_HOME, env: { PATH: containers.path, HOME: '/home/vcap' } }));
      const [limit, heap] = result.out.trim().split(/\s+/).map(Number);
      assert.equal(limit, 96 * 1024 * 1024, `${result.out}\n${result.err}`);
      assert.ok(heap < 512 * 1024 * 1024, `the heap limit follows the memory limit, not the machine's memory: ${heap}`);
      assert.ok(!result.out.includes('writable'), 'its cgroup is read-only inside');
    } finally {
      container.destroy();
    }
  });

  it('takes everything it started with it when killed: a setsid child included', async () => {
    const containers = new Containers({ containers: 'auto', containerUid: 2000 }, limits(), quietLog, [stateDir, tmp], path.join(tmp, 'probe'));
    const container = containers.create(spec('two'));
    const marker = 'sleep 4343.25';
    const child = container.run(['/bin/sh', '-c', `setsid ${marker} </dev/null >/dev/null 2>&1 & exec sleep 600`], { cwd: CONTAINER_HOME, env: { PATH: containers.path } });
    const done = finished(child);
    await waitFor('the setsid child', () => running(marker).length === 1, { timeoutMs: 5_000 });
    assert.ok(container.members().length >= 3, `the container's processes: ${container.members()}`);
    container.kill();
    await done;
    await waitFor('the setsid child gone', () => running(marker).length === 0, { timeoutMs: 5_000 });
  });

  it('without a working bubblewrap runs the command anyway, and says which protections are missing', async () => {
    const fake = path.join(tmp, 'bwrap');
    fs.writeFileSync(fake, '#!/bin/sh\necho "bwrap: setting up uid map: Permission denied" >&2\nexit 1\n', { mode: 0o755 });
    const containers = new Containers({ containers: 'auto', containerUid: 2000, bwrap: fake }, limits(), quietLog, [stateDir], path.join(tmp, 'probe'));
    assert.equal(containers.isolation, 'none');
    assert.match(containers.detail, /setting up uid map: Permission denied/);
    assert.match(containers.detail, /run as processes of/);
    const container = containers.create(spec('three'));
    const result = await finished(container.run(['/bin/sh', '-c', 'id -u; pwd'], { cwd: path.join(tmp, 'three', 'home'), env: { PATH: containers.path } }));
    assert.deepEqual(result.out.trim().split('\n'), [String(process.getuid?.()), path.join(tmp, 'three', 'home')]);
  });
});
