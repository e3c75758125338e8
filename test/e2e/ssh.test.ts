// ssh into instances end to end on a real box (docs/ssh.md): `devbox ssh` and the real `cf ssh`
// run a command in the instance's container and return its exit status; an interactive session at a
// real pseudo-terminal (node-pty) sees the app's environment; -L reaches the instance's port; plain
// OpenSSH logs in with a `cf ssh-code`; a code works once; refusals say why; a session ends when its
// instance stops; the ssh proxy killed with -9 is restarted and serves again.
import assert from 'node:assert/strict';
import { spawn as spawnChild } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import pty from 'node-pty';
import ssh2 from 'ssh2';
import { request } from '../../src/runtime/common/http.js';
import { freePort } from '../../src/runtime/common/net.js';
import { waitFor } from '../../src/runtime/common/poll.js';
import { cfCliPath, startCfBox, type CfBox } from '../helpers/cf.js';
import { DEVBOX_BIN, devbox, isPidAlive, waitForExit } from '../helpers/devbox.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const hello = path.join(root, 'test/fixtures/apps/node-hello');

interface StatusJson {
  ssh: { endpoint: string; host_key_fingerprint: string | null } | null;
  components: { name: string; pid?: number; healthy: boolean }[];
}

/** Runs a program at a real pseudo-terminal, types `input` once `ready` shows, and collects what it printed until it exits. */
function atTerminal(file: string, args: string[], env: Record<string, string>, ready: RegExp, input: string, timeoutMs = 30_000): Promise<{ output: string; exitCode: number }> {
  return new Promise((resolve, reject) => {
    const term = pty.spawn(file, args, { name: 'xterm', cols: 100, rows: 30, env: { ...(process.env as Record<string, string>), ...env } });
    let output = '';
    let typed = false;
    const timer = setTimeout(() => {
      term.kill('SIGKILL');
      reject(new Error(`${path.basename(file)} ${args.join(' ')} did not end within ${timeoutMs} ms; it printed:\n${output}`));
    }, timeoutMs);
    term.onData((data) => {
      output += data;
      if (!typed && ready.test(output)) {
        typed = true;
        term.write(input);
      }
    });
    term.onExit(({ exitCode }) => {
      clearTimeout(timer);
      resolve({ output, exitCode });
    });
  });
}

describe('ssh: devbox ssh, cf ssh and plain ssh into a running instance', function () {
  this.timeout(300_000);
  let box: CfBox;
  let status: StatusJson;
  let appPort: number;
  let processGuid: string;
  const ok = async (args: string[], timeoutMs = 120_000) => {
    const r = await devbox(box.home, args, { timeoutMs });
    assert.equal(r.exitCode, 0, `devbox ${args.join(' ')}: exit ${r.exitCode}\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  };
  const readStatus = async () => JSON.parse(await ok(['status', '--json'])) as StatusJson;
  const sshEndpoint = () => {
    const [host, port] = status.ssh!.endpoint.split(':');
    return { host, port: Number(port) };
  };
  /** One ssh2 login with `code`: resolves with the output of `command`, rejects when refused. */
  const sshWithCode = (code: string, command: string) =>
    new Promise<string>((resolve, reject) => {
      const client = new ssh2.Client();
      client.once('error', reject);
      client.once('ready', () =>
        client.exec(command, (error, channel) => {
          if (error) return reject(error);
          let out = '';
          channel.on('data', (d: Buffer) => (out += d.toString()));
          channel.once('close', () => {
            client.end();
            resolve(out);
          });
        }),
      );
      client.connect({ ...sshEndpoint(), username: `cf:${processGuid}/0`, password: code, readyTimeout: 15_000, hostVerifier: () => true });
    });

  before(async function () {
    this.timeout(240_000);
    box = await startCfBox({ prefix: 'devbox-ssh-' });
    await box.cf.login();
    await ok(['push', 'hello', '-p', hello]);
    status = await readStatus();
    assert.ok(status.ssh, `status names the ssh endpoint: ${JSON.stringify(status)}`);
    assert.match(status.ssh.host_key_fingerprint ?? '', /^[A-Za-z0-9+/]{43}$/);
    processGuid = (await box.cf.ok(['app', 'hello', '--guid'])).trim();
  });
  after(async function () {
    this.timeout(60_000);
    await box?.close();
  });

  it('devbox ssh -c runs the command in the instance, with its environment, and exits with its status', async () => {
    const started = performance.now();
    const quick = await devbox(box.home, ['ssh', 'hello', '-c', 'true'], { timeoutMs: 30_000 });
    const ms = performance.now() - started;
    assert.equal(quick.exitCode, 0, quick.stderr);
    console.log(`      devbox ssh hello -c true: ${ms.toFixed(0)} ms`);

    const r = await devbox(box.home, ['ssh', 'hello', '-c', 'echo "port=$PORT home=$HOME user=$(id -un 2>/dev/null || id -u) cwd=$(pwd)"; echo oops >&2; exit 3'], { timeoutMs: 30_000 });
    assert.equal(r.exitCode, 3, `${r.stdout}\n${r.stderr}`);
    const port = /port=(\d+)/.exec(r.stdout);
    assert.ok(port, r.stdout);
    appPort = Number(port[1]);
    assert.match(r.stdout, /home=\/home\/vcap\/app/);
    assert.match(r.stdout, /cwd=\/home\/vcap\/app/);
    assert.match(r.stderr, /oops/, 'stderr comes back apart');
    assert.doesNotMatch(r.stdout, /oops/);
  });

  it('cf ssh -c runs the command with VCAP_APPLICATION and returns its exit status', async () => {
    const r = await box.cf.run(['ssh', 'hello', '-c', 'echo "$VCAP_APPLICATION"; exit 4'], { timeoutMs: 60_000 });
    assert.equal(r.exitCode, 4, `${r.stdout}\n${r.stderr}`);
    const vcap = JSON.parse(r.stdout.trim().split('\n').pop()!) as { application_name: string; instance_index: number };
    assert.equal(vcap.application_name, 'hello');
    assert.equal(vcap.instance_index, 0);
  });

  it('an interactive session at a terminal: a pty shell with the app environment (devbox ssh and cf ssh)', async () => {
    const typed = 'echo "tty=$(tty) app=$(echo $VCAP_APPLICATION | grep -o hello | head -1) size=$(stty size)"; exit 5\r';
    const mine = await atTerminal(process.execPath, [DEVBOX_BIN, 'ssh', 'hello'], { DEVBOX_HOME: box.home, TERM: 'xterm' }, /\$ $/m, typed);
    assert.equal(mine.exitCode, 5, mine.output);
    assert.match(mine.output, /tty=\/dev\/pts\/\d+ app=hello size=30 100/);

    const theirs = await atTerminal(cfCliPath(), ['ssh', 'hello'], { CF_HOME: box.cf.cfHome, CF_COLOR: 'false', TERM: 'xterm' }, /\$ $/m, typed);
    assert.equal(theirs.exitCode, 5, theirs.output);
    assert.match(theirs.output, /tty=\/dev\/pts\/\d+ app=hello size=30 100/);
  });

  it("-L forwards a local port to the instance's port", async () => {
    assert.ok(appPort, 'the first test found the port');
    const local = await freePort();
    const forwarder = spawnChild(process.execPath, [DEVBOX_BIN, 'ssh', 'hello', '-N', '-L', `${local}:localhost:${appPort}`], { env: { ...process.env, DEVBOX_HOME: box.home }, stdio: 'ignore' });
    try {
      const res = await waitFor(
        'the forwarded port to answer',
        async () => {
          const r = await request({ url: `http://127.0.0.1:${local}/`, timeoutMs: 3_000 }).catch(() => undefined);
          return r?.status === 200 && r;
        },
        { timeoutMs: 20_000, intervalMs: 200 },
      );
      assert.match(res.text, /hello from node-hello, instance 0/);
    } finally {
      forwarder.kill('SIGTERM');
      await waitForExit(forwarder.pid!, 10_000);
    }
  });

  it('plain ssh with a cf ssh-code logs in once; the same code is refused the second time', async () => {
    const code = (await box.cf.ok(['ssh-code'])).trim();
    assert.match(code, /^[A-Za-z0-9_-]+$/);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'devbox-ssh-askpass-'));
    try {
      const askpass = path.join(dir, 'askpass.sh');
      fs.writeFileSync(askpass, `#!/bin/sh\necho '${code}'\n`, { mode: 0o700 });
      const { host, port } = sshEndpoint();
      const r = await execa(
        'ssh',
        ['-p', String(port), '-o', 'StrictHostKeyChecking=no', '-o', `UserKnownHostsFile=${path.join(dir, 'known_hosts')}`, '-o', 'PubkeyAuthentication=no', '-o', 'NumberOfPasswordPrompts=1', `cf:${processGuid}/0@${host}`, 'echo plain-ssh-$CF_INSTANCE_INDEX'],
        { env: { SSH_ASKPASS: askpass, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: ':0' }, stdin: 'ignore', reject: false, timeout: 30_000 },
      );
      assert.equal(r.exitCode, 0, `${r.stdout}\n${r.stderr}`);
      assert.match(String(r.stdout), /plain-ssh-0/);
      await assert.rejects(sshWithCode(code, 'true'), /authentication methods failed/i, 'a used code is refused');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refusals say why: a stopped app, an index that does not exist, ssh disabled for the app', async () => {
    const missing = await devbox(box.home, ['ssh', 'hello', '-i', '5', '-c', 'true'], { timeoutMs: 30_000 });
    assert.equal(missing.exitCode, 1);
    assert.match(missing.stderr, /Instance 5 of process web not found/);

    await box.cf.ok(['disable-ssh', 'hello']);
    const refusedCf = await box.cf.run(['ssh', 'hello', '-c', 'true'], { timeoutMs: 60_000 });
    assert.notEqual(refusedCf.exitCode, 0);
    assert.match(refusedCf.stderr + refusedCf.stdout, /not authorized/);
    const refused = await devbox(box.home, ['ssh', 'hello', '-c', 'true'], { timeoutMs: 30_000 });
    assert.equal(refused.exitCode, 1);
    assert.match(refused.stderr, /not authorized[\s\S]*ssh is disabled for app: enable it with 'devbox enable-ssh hello'/);
    const events = await box.cf.ok(['events', 'hello']);
    assert.match(events, /audit\.app\.ssh-unauthorized/);
    assert.match(events, /audit\.app\.ssh-authorized/);
    await box.cf.ok(['enable-ssh', 'hello']);
    assert.equal((await devbox(box.home, ['ssh', 'hello', '-c', 'true'], { timeoutMs: 30_000 })).exitCode, 0, 'enabled again');

    await ok(['stop', 'hello']);
    const stopped = await devbox(box.home, ['ssh', 'hello', '-c', 'true'], { timeoutMs: 30_000 });
    assert.equal(stopped.exitCode, 1);
    assert.match(stopped.stderr, /Application 'hello' is not in the STARTED state/);
    await ok(['start', 'hello']);
  });

  it('a session ends when its instance stops', async () => {
    const session = spawnChild(process.execPath, [DEVBOX_BIN, 'ssh', 'hello', '-c', 'echo started; sleep 120'], { env: { ...process.env, DEVBOX_HOME: box.home }, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('the session did not start within 20 s')), 20_000);
        session.stdout.once('data', () => {
          clearTimeout(timer);
          resolve();
        });
      });
      await ok(['stop', 'hello']);
      await waitForExit(session.pid!, 20_000);
    } finally {
      if (isPidAlive(session.pid!)) session.kill('SIGKILL');
      await ok(['start', 'hello']);
    }
  });

  it('the ssh proxy killed with -9 is restarted and serves again', async () => {
    const before = (await readStatus()).components.find((c) => c.name === 'ssh-proxy');
    assert.ok(before?.pid, 'status shows the proxy with its pid');
    process.kill(before.pid, 'SIGKILL');
    await waitFor(
      'the ssh proxy to be back',
      async () => {
        const proxy = (await readStatus()).components.find((c) => c.name === 'ssh-proxy');
        return proxy?.healthy && proxy.pid !== before.pid;
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    const r = await devbox(box.home, ['ssh', 'hello', '-c', 'echo back'], { timeoutMs: 30_000 });
    assert.equal(r.exitCode, 0, r.stderr);
    assert.match(r.stdout, /back/);
  });
});
