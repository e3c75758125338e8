// The DEA's ssh server (src/runtime/dea/ssh/) on a real DEA with a real instance: `dea.ssh.open`
// gives a one-time login to the DEA that runs the instance; with it an ssh2 client runs commands
// (the app's environment, exit statuses, stdout and stderr apart, signals), a shell on a terminal
// (tty, window changes) and port forwards, inside the instance's container; the login works once;
// the sessions end when the instance stops.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import ssh2, { type ClientChannel, type PseudoTtyOptions } from 'ssh2';
import { publish, request, requestMany } from '../../../src/runtime/common/bus.js';
import { deaSshOpen, deaStop, type SshOpenReply, type SshOpenRequest } from '../../../src/runtime/common/bus-messages.js';
import { waitFor } from '../../../src/runtime/common/net.js';
import { keyFingerprint } from '../../../src/runtime/common/ssh-keys.js';
import { dropletOf, FIXTURES, newGuid, quietLog, startHarness, startInstance, type Harness } from './helpers.js';

/** Settles with `promise`, or fails after `ms`. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const cmdline = (pid: string) => {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return '';
  }
};

interface Finished {
  out: string;
  err: string;
  code?: number | null;
  signal?: string;
}

/** Collects a channel's output until it closes, with how its process ended. */
/**
 * How each channel's command ended, recorded from the moment the channel opened: a quick command's
 * `exit` can come before a test attaches its listeners (output waits in the stream; events do not).
 */
const exits = new WeakMap<ClientChannel, { code: number | null; signal?: string }>();
function recordExit(stream: ClientChannel): ClientChannel {
  stream.once('exit', (code: number | null, signal?: string) => exits.set(stream, { code, ...(signal ? { signal } : {}) }));
  return stream;
}

function finished(stream: ClientChannel, ms = 15_000): Promise<Finished> {
  const result: Finished = { out: '', err: '' };
  stream.on('data', (c: Buffer) => (result.out += c.toString()));
  stream.stderr.on('data', (c: Buffer) => (result.err += c.toString()));
  return within(
    new Promise((resolve) =>
      stream.on('close', () => {
        const exit = exits.get(stream);
        if (exit) {
          result.code = exit.code;
          if (exit.signal) result.signal = exit.signal;
        }
        resolve(result);
      }),
    ),
    ms,
    'the channel to close',
  );
}

// In containers (where the machine has them), and as plain processes (DEVBOX_DEA_CONTAINERS=off).
for (const containers of ['auto', 'off'] as const) describe(`dea ssh (containers ${containers})`, function () {
  this.timeout(60_000);
  let h: Harness;
  const droplet = 'ssh-hello';
  const clients: ssh2.Client[] = [];

  before(async () => {
    // The machine's cgroups where the DEA can make them, so that sessions are seen entering them.
    h = await startHarness({ memoryEnforcement: 'auto', containers });
    h.controller.droplets.set(droplet, await dropletOf(path.join(FIXTURES, 'node-hello'), 'node server.js', h.home));
  });
  afterEach(() => {
    for (const client of clients.splice(0)) client.end();
  });
  after(async () => h?.close());

  /** Starts an instance of a new app and waits until it runs: its guid and port. */
  async function running(index = 0): Promise<{ app: string; instance: string; port: number }> {
    const app = newGuid();
    startInstance(h, app, droplet, { index });
    const reg = await h.rec.wait('router.register', (d) => d.app === app, 30_000);
    return { app, instance: reg.data.private_instance_id, port: reg.data.port };
  }

  const open = (req: SshOpenRequest) => request(h.nc, deaSshOpen, req, { timeout: 5_000 });

  /** Connects with a `dea.ssh.open` reply's login, checking the host key by its fingerprint. */
  function connect(login: SshOpenReply, password = login.password, username = login.instance): Promise<ssh2.Client> {
    const client = new ssh2.Client();
    clients.push(client);
    return within(
      new Promise((resolve, reject) => {
        client.once('ready', () => resolve(client));
        client.once('error', reject);
        client.connect({ host: login.host, port: login.port, username, password, readyTimeout: 10_000, hostVerifier: (key: Buffer) => keyFingerprint(key) === login.host_key_fingerprint });
      }),
      15_000,
      'the ssh login',
    );
  }

  const exec = (client: ssh2.Client, command: string, options: ssh2.ExecOptions = {}) =>
    within(new Promise<ClientChannel>((resolve, reject) => client.exec(command, options, (error, stream) => (error ? reject(error) : resolve(recordExit(stream))))), 10_000, `exec ${command}`);

  const shell = (client: ssh2.Client, window: PseudoTtyOptions) =>
    within(new Promise<ClientChannel>((resolve, reject) => client.shell(window, (error, stream) => (error ? reject(error) : resolve(recordExit(stream))))), 10_000, 'a shell');

  /** Waits until a channel's output so far matches `pattern`. */
  function output(stream: ClientChannel): { seen(pattern: RegExp, what: string): Promise<string> } {
    let text = '';
    stream.on('data', (c: Buffer) => (text += c.toString()));
    return { seen: (pattern, what) => waitFor(what, () => pattern.test(text) && text, { timeoutMs: 10_000, intervalMs: 20 }) };
  }

  it('dea.ssh.open: the DEA running the instance answers with its ssh server, the instance, a one-time password and its host key; nobody for another index or version', async () => {
    const { app, instance } = await running(1);
    const login = await open({ droplet: app, version: 'v1', index: 1 });
    assert.equal(login.dea, h.dea.id);
    assert.equal(login.instance, instance);
    assert.equal(login.host, '127.0.0.1');
    assert.equal(login.port, h.dea.ssh.port);
    assert.equal(login.host_key_fingerprint, h.dea.ssh.fingerprint);
    assert.match(login.password, /^[A-Za-z0-9_-]{32}$/);
    assert.notEqual((await open({ droplet: app, index: 1 })).password, login.password, 'a new password each time');

    const replies = async (req: SshOpenRequest) => {
      const out: SshOpenReply[] = [];
      for await (const reply of requestMany(h.nc, deaSshOpen, req, { log: quietLog, maxWait: 500 })) out.push(reply);
      return out;
    };
    assert.deepEqual(await replies({ droplet: app, index: 0 }), [], 'no instance at index 0');
    assert.deepEqual(await replies({ droplet: app, version: 'v2', index: 1 }), [], 'no instance of version v2');
    assert.deepEqual(await replies({ droplet: newGuid(), index: 1 }), [], 'no such process');
  });

  it("runs a command in the instance's container with the app's environment: stdout and stderr apart, its exit status", async () => {
    const { app, instance, port } = await running();
    const client = await connect(await open({ droplet: app, index: 0 }));
    const stream = await exec(client, 'echo "port=$PORT greeting=$GREETING pwd=$(pwd)"; echo "$VCAP_APPLICATION"; echo oops >&2; exit 3', { env: { GREETING: 'hi' } });
    const result = await finished(stream);
    assert.equal(result.code, 3, JSON.stringify(result));
    assert.equal(result.err, 'oops\n');
    const [first, vcap] = result.out.trim().split('\n');
    const inContainer = h.dea.containers.isolation === 'namespaces';
    const appDir = inContainer ? '/home/vcap/app' : path.join(h.dea.paths.instances, instance, 'home', 'app');
    assert.equal(first, `port=${port} greeting=hi pwd=${appDir}`);
    const application = JSON.parse(vcap);
    assert.equal(application.instance_id, instance);
    assert.equal(application.port, port);

    // The loader's variables reach the command, not the host programs that enter the container:
    // a preload that is no library on the host would be refused there ("invalid ELF header").
    const notALibrary = path.join(h.home, 'not-a-library.so');
    fs.writeFileSync(notALibrary, 'not an ELF file\n');
    const loader = await finished(
      await exec(client, 'echo "$TMPDIR|$LD_LIBRARY_PATH|$MALLOC_ARENA_MAX|${CONTAINER_LOADER_ENV-unset}"', { env: { LD_PRELOAD: notALibrary, LD_LIBRARY_PATH: '/a b\nc', MALLOC_ARENA_MAX: '2' } }),
    );
    assert.equal(loader.code, 0, JSON.stringify(loader));
    assert.equal(loader.out, `${inContainer ? '/home/vcap/tmp' : path.join(h.dea.paths.instances, instance, 'home', 'tmp')}|/a b\nc|2|unset\n`);
    if (inContainer) assert.doesNotMatch(loader.err, /ELF|too short/, 'no host program loaded it');

    // Another session on the same connection: `true` exits 0.
    assert.equal((await finished(await exec(client, 'true'))).code, 0);
  });

  it("is in the instance's container: its hostname, its pid namespace, its uid, the instance's cgroup", async () => {
    const { app, instance } = await running();
    const client = await connect(await open({ droplet: app, index: 0 }));
    const result = await finished(await exec(client, `hostname; id -u; cat /proc/1/comm; ls /proc | grep -cE '^[0-9]+$'; cat /proc/self/cgroup`));
    assert.equal(result.code, 0, JSON.stringify(result));
    const [hostname, uid, init, count, ...cgroups] = result.out.trim().split('\n');
    const limits = h.dea.varz().limits as { memory_enforcement: string };
    const withCgroups = limits.memory_enforcement !== 'pss-sampling';
    assert.equal(uid, String(h.dea.containers.uid), 'the container uid (in its own user namespace without root)');
    if (containers === 'auto') assert.equal(h.dea.containers.isolation, 'namespaces', `containers need bubblewrap: ${h.dea.containers.detail}`);
    if (h.dea.containers.isolation === 'namespaces') {
      assert.equal(hostname, instance.slice(0, 63));
      if (process.getuid?.() === 0) assert.equal(uid, '2000', 'the container uid, not root');
      assert.equal(init, 'bwrap', "pid 1 is the container's init");
      assert.ok(Number(count) < 15, `its own processes only: ${count}`);
      // The instance's cgroup is the root of its cgroup namespace (the DEA's would show as "/..").
      if (withCgroups) assert.ok(cgroups.every((line) => !line.includes('..')), cgroups.join('\n'));
    } else if (withCgroups) {
      assert.ok(cgroups.some((line) => line.includes(instance)), `in the instance's cgroup: ${cgroups.join('\n')}`);
    }
  });

  it('ends what a session runs when the client goes away', async () => {
    const { app } = await running();
    const client = await connect(await open({ droplet: app, index: 0 }));
    const marker = `${60 + Math.floor(Math.random() * 1000) / 1000}`;
    const stream = await exec(client, `echo started; sleep ${marker}`);
    await output(stream).seen(/started/, 'the command started');
    const sleeping = () => fs.readdirSync('/proc').filter((e) => /^\d+$/.test(e) && cmdline(e) === `sleep ${marker}`);
    await waitFor('the sleep to run', () => sleeping().length === 1, { timeoutMs: 5_000 });
    client.end();
    await waitFor('the sleep to end', () => sleeping().length === 0, { timeoutMs: 5_000 });
  });

  it('runs a shell on a terminal: tty says one, stty size follows window changes, exit ends it with its status', async () => {
    const { app } = await running();
    const client = await connect(await open({ droplet: app, index: 0 }));
    const stream = await shell(client, { term: 'xterm-256color', rows: 24, cols: 80 });
    const done = finished(stream);
    const seen = output(stream);
    stream.write('tty; stty size; echo "term=$TERM"\n');
    await seen.seen(/\/dev\/pts\/\d+\r?\n/, 'tty');
    await seen.seen(/24 80\r?\n/, 'stty size 24 80');
    await seen.seen(/term=xterm-256color/, 'TERM from the pty request');
    stream.setWindow(40, 100, 0, 0);
    stream.write('stty size\n');
    await seen.seen(/40 100\r?\n/, 'stty size 40 100 after the window change');
    stream.write('exit 5\n');
    const result = await done;
    assert.equal(result.code, 5, JSON.stringify(result));
  });

  it('passes signals to the command: a trap runs, an untrapped TERM ends it with the signal', async () => {
    const { app } = await running();
    const client = await connect(await open({ droplet: app, index: 0 }));
    const trapped = await exec(client, 'trap "echo got-usr1; exit 7" USR1; echo ready; while :; do sleep 0.1; done');
    const trappedDone = finished(trapped);
    await output(trapped).seen(/ready/, 'the trap set');
    trapped.signal('USR1');
    const first = await trappedDone;
    assert.equal(first.code, 7, JSON.stringify(first));
    assert.match(first.out, /got-usr1/);

    const sleeper = await exec(client, 'echo ready; exec sleep 60');
    const sleeperDone = finished(sleeper);
    await output(sleeper).seen(/ready/, 'sleep started');
    sleeper.signal('TERM');
    const second = await sleeperDone;
    assert.equal(second.signal, 'SIGTERM', JSON.stringify(second));
  });

  it("forwards a port (direct-tcpip) from the DEA: the instance's own HTTP port", async () => {
    const { app, port } = await running();
    const client = await connect(await open({ droplet: app, index: 0 }));
    const stream = await within(new Promise<ClientChannel>((resolve, reject) => client.forwardOut('127.0.0.1', 0, '127.0.0.1', port, (error, s) => (error ? reject(error) : resolve(s)))), 10_000, 'the forward');
    const response = finished(stream);
    stream.end('GET / HTTP/1.0\r\nHost: x\r\n\r\n');
    const { out } = await response;
    assert.match(out, /^HTTP\/1\.[01] 200/);
    assert.match(out, /hello from node-hello, instance 0/);
    // A port nobody listens on: the channel is refused.
    await assert.rejects(new Promise((resolve, reject) => client.forwardOut('127.0.0.1', 0, '127.0.0.1', 1, (error, s) => (error ? reject(error) : resolve(s)))));
  });

  it('takes a one-time password once, for its instance only; nothing else logs in', async () => {
    const a = await running();
    const b = await running();
    const login = await open({ droplet: a.app, index: 0 });
    await assert.rejects(connect(login, 'not-the-password'), /authentication methods failed/);
    const other = await open({ droplet: b.app, index: 0 });
    await assert.rejects(connect(other, other.password, a.instance), /authentication methods failed/, "b's password is not a's");
    await connect(login);
    await assert.rejects(connect(login), /authentication methods failed/, 'the second use');
    // b's password, used up by the refused try above? No: a refusal for another user keeps it.
    await connect(other);
  });

  it('ends the sessions when the instance stops: a running command ends, its channel and the connection close', async () => {
    const { app } = await running();
    const client = await connect(await open({ droplet: app, index: 0 }));
    const connectionClosed = within(new Promise<void>((resolve) => client.once('close', () => resolve())), 20_000, 'the connection to close');
    const stream = await exec(client, 'echo started; exec sleep 60');
    const done = finished(stream, 20_000);
    await output(stream).seen(/started/, 'the command started');
    const terminal = await shell(client, { term: 'xterm', rows: 24, cols: 80 });
    const terminalDone = finished(terminal, 20_000);
    publish(h.nc, deaStop, { droplet: app });
    const result = await done;
    assert.ok(result.signal || (result.code !== undefined && result.code !== 0), `ended by the stop: ${JSON.stringify(result)}`);
    await terminalDone;
    await connectionClosed;
    await h.rec.wait('droplet.exited', (d) => d.droplet === app, 20_000);
  });
});
