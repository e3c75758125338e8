// `devbox up`, `status`, `down` and the supervisor, through the real executable and real processes.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { execa } from 'execa';
import { connect, StringCodec } from 'nats';
import { statePaths } from '../../src/runtime/common/config.js';
import { freePort, waitFor } from '../../src/runtime/common/net.js';
import { readSupervisor } from '../../src/runtime/supervisor/lock.js';
import { parseNatsUrl } from '../../src/runtime/common/bus.js';
import { busUrl, readBox } from '../helpers/box-probe.js';
import { cleanupBox, DEVBOX_BIN, devbox, isPidAlive, tempHome, waitForExit } from '../helpers/devbox.js';
import { startNatsServer, type NatsServerProcess } from '../helpers/nats-server.js';

interface StatusJson {
  supervisor_pid: number;
  nats_url: string;
  components: { name: string; pid?: number; healthy: boolean; status_port: number; rss_bytes?: number; uptime?: string }[];
}

async function statusJson(home: string): Promise<StatusJson> {
  const result = await devbox(home, ['status', '--json']);
  assert.equal(result.exitCode, 0, `status failed: ${result.stdout}${result.stderr}`);
  return JSON.parse(result.stdout) as StatusJson;
}

async function natsConnect(url: string) {
  const address = parseNatsUrl(url);
  return connect({ servers: address.servers, token: address.token, reconnectTimeWait: 100, maxReconnectAttempts: -1 });
}

describe('devbox up / status / down', function () {
  this.timeout(60_000);
  let home: string;
  let routerPort: number;

  beforeEach(async () => {
    home = tempHome();
    routerPort = await freePort();
  });
  afterEach(async () => cleanupBox(home));

  it('up -d starts a healthy bus, status lists it, down stops everything', async () => {
    const up = await devbox(home, ['up', '-d', '--port', String(routerPort)]);
    assert.equal(up.exitCode, 0, up.stdout + up.stderr);
    assert.match(up.stdout, /devbox is up in \d+\.\d+ s/);

    const paths = statePaths(home);
    assert.equal(fs.statSync(paths.config).mode & 0o777, 0o600, 'config.json holds secrets: mode 0600');
    const status = await statusJson(home);
    const bus = status.components.find((c) => c.name === 'bus');
    assert.ok(bus, 'the bus is listed');
    assert.equal(bus.healthy, true);
    assert.ok(bus.pid && isPidAlive(bus.pid));
    assert.ok((bus.rss_bytes ?? 0) > 1_000_000, 'reports its RSS');
    assert.match(status.nats_url, /^nats:\/\/\[redacted\]@127\.0\.0\.1:\d+$/, 'nats_url without its token (no secret in --json)');
    const withToken = busUrl(readBox(home));
    assert.equal(withToken.replace(/\/\/[^@]+@/, '//[redacted]@'), status.nats_url);

    // The bus works for a client that has the token, and refuses one that has not.
    const nc = await natsConnect(withToken);
    const sc = StringCodec();
    const sub = nc.subscribe('hello.*', { max: 1 });
    nc.publish('hello.world', sc.encode('hi'));
    for await (const msg of sub) assert.equal(sc.decode(msg.data), 'hi');
    await nc.close();
    const noToken = withToken.replace(/\/\/[^@]+@/, '//');
    await assert.rejects(natsConnect(noToken).then((c) => c.close()), /Authorization|AUTHORIZATION/i);

    const text = await devbox(home, ['status']);
    assert.equal(text.exitCode, 0);
    assert.match(text.stdout, /component\s+pid\s+status port\s+healthy\s+uptime\s+memory/);
    assert.match(text.stdout, /bus\s+\d+\s+\d+\s+yes/);
    assert.doesNotMatch(text.stdout, new RegExp(JSON.parse(fs.readFileSync(paths.config, 'utf8')).bus.token), 'plain status hides the token');

    const down = await devbox(home, ['down']);
    assert.equal(down.exitCode, 0, down.stdout + down.stderr);
    await waitForExit(status.supervisor_pid);
    await waitForExit(bus.pid);
    assert.equal(fs.existsSync(paths.pidFile), false, 'the lock is released');

    const again = await devbox(home, ['down']);
    assert.equal(again.exitCode, 0);
    assert.match(again.stdout, /devbox is not running/);
    const notRunning = await devbox(home, ['status']);
    assert.equal(notRunning.exitCode, 1);
    assert.match(notRunning.stderr, /devbox is not running.*devbox up/);
  });

  it('refuses a second up on the same DEVBOX_HOME', async () => {
    const up = await devbox(home, ['up', '-d', '--port', String(routerPort)]);
    assert.equal(up.exitCode, 0, up.stdout + up.stderr);
    const second = await devbox(home, ['up', '-d', '--port', String(routerPort)]);
    assert.equal(second.exitCode, 1);
    assert.match(second.stderr, /devbox is already running \(supervisor pid \d+.*devbox down/);
    const foreground = await devbox(home, ['up', '--port', String(routerPort)]);
    assert.equal(foreground.exitCode, 1);
    assert.match(foreground.stderr, /already running/);
    assert.equal((await statusJson(home)).components.every((c) => c.healthy), true, 'the first box is untouched');
  });

  it('restarts a bus killed with -9, and a connected client reconnects', async () => {
    const up = await devbox(home, ['up', '-d', '--port', String(routerPort)]);
    assert.equal(up.exitCode, 0, up.stdout + up.stderr);
    const before = await statusJson(home);
    const busPid = before.components.find((c) => c.name === 'bus')!.pid!;
    const nc = await natsConnect(busUrl(readBox(home)));
    const sc = StringCodec();
    const received: string[] = [];
    nc.subscribe('after.restart', { callback: (_e, msg) => received.push(sc.decode(msg.data)) });
    await nc.flush();

    process.kill(busPid, 'SIGKILL');
    const restarted = await waitFor('the bus to be restarted and healthy', async () => {
      const s = await devbox(home, ['status', '--json']);
      if (s.exitCode !== 0) return undefined;
      const bus = (JSON.parse(s.stdout) as StatusJson).components.find((c) => c.name === 'bus');
      return bus?.healthy && bus.pid !== busPid ? bus : undefined;
    }, { timeoutMs: 20_000, intervalMs: 200 });
    assert.notEqual(restarted.pid, busPid);

    // The client resubscribes on reconnect; keep publishing until the message gets through.
    await waitFor('the client to reconnect and receive', async () => {
      nc.publish('after.restart', sc.encode('back'));
      await nc.flush().catch(() => undefined);
      return received.includes('back');
    }, { timeoutMs: 15_000, intervalMs: 100 });
    await nc.close();
    const log = fs.readFileSync(`${statePaths(home).logs}/supervisor.log`, 'utf8');
    assert.match(log, /component exited unexpectedly; restarting.*"name":"bus"/);
  });

  it('recovers after kill -9 of the whole tree', async () => {
    const up = await devbox(home, ['up', '-d', '--port', String(routerPort)]);
    assert.equal(up.exitCode, 0, up.stdout + up.stderr);
    const status = await statusJson(home);
    const supervisorPid = status.supervisor_pid;
    const busPid = status.components.find((c) => c.name === 'bus')!.pid!;
    // The detached supervisor leads its own process group: kill -9 the whole tree at once.
    process.kill(-supervisorPid, 'SIGKILL');
    await waitForExit(supervisorPid);
    await waitForExit(busPid);
    assert.ok(readSupervisor(statePaths(home).pidFile), 'a stale pid file is left behind');

    const again = await devbox(home, ['up', '-d', '--port', String(routerPort)]);
    assert.equal(again.exitCode, 0, again.stdout + again.stderr);
    const after = await statusJson(home);
    assert.notEqual(after.supervisor_pid, supervisorPid);
    assert.equal(after.components.find((c) => c.name === 'bus')?.healthy, true);
  });

  it('runs in the foreground until Ctrl-C, then stops its components', async () => {
    const child = execa(process.execPath, [DEVBOX_BIN, 'up', '--port', String(routerPort)], {
      env: { DEVBOX_HOME: home, NO_COLOR: '1' },
      reject: false,
      timeout: 45_000,
    });
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    await waitFor('devbox up to report it is up', () => /devbox is up/.test(out), { timeoutMs: 20_000 });
    const status = await statusJson(home);
    assert.equal(status.supervisor_pid, child.pid);
    const busPid = status.components.find((c) => c.name === 'bus')!.pid!;
    child.kill('SIGINT');
    const result = await child;
    assert.equal(result.exitCode, 0, String(result.stderr));
    assert.match(out + String(result.stdout), /devbox stopped/);
    await waitForExit(busPid);
    assert.equal(fs.existsSync(statePaths(home).pidFile), false);
  });

  describe('with --nats-url (a real nats-server as the bus)', () => {
    let nats: NatsServerProcess;
    before(async () => (nats = await startNatsServer({ token: 's3cret-token' })));
    after(async () => nats?.stop());

    it('starts no bus of its own and uses the given server', async () => {
      const url = `nats://s3cret-token@127.0.0.1:${nats.port}`;
      const up = await devbox(home, ['up', '-d', '--port', String(routerPort), '--nats-url', url]);
      assert.equal(up.exitCode, 0, up.stdout + up.stderr);
      assert.doesNotMatch(up.stdout, /s3cret-token/, 'credentials are not printed');
      const status = await statusJson(home);
      assert.equal(status.nats_url, `nats://[redacted]@127.0.0.1:${nats.port}`, 'the credentials are not printed');
      assert.equal(status.components.some((c) => c.name === 'bus'), false, 'no embedded bus');
      // The router was found through `vcap.component.discover` on the external server.
      assert.equal(status.components.find((c) => c.name === 'router')?.healthy, true);
      const ports = JSON.parse(fs.readFileSync(statePaths(home).portsFile, 'utf8')) as { external_bus: boolean; bus_port?: number };
      assert.equal(ports.external_bus, true);
      assert.equal(ports.bus_port, undefined);
    });
  });
});
