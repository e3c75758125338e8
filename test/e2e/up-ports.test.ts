// `devbox up` when the router's port is taken (issue 22): one message naming the port and the flag
// that changes it, said once (not once per component), before any component starts, so nothing is
// left running and the state directory holds no lock. `up -d` and the foreground `up`, which must
// exit too (a component spawned while the failed start was being stopped once kept it running).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import { execa } from 'execa';
import { statePaths } from '../../src/runtime/common/config.js';
import { freePort } from '../../src/runtime/common/net.js';
import { cleanupBox, DEVBOX_BIN, devbox, tempHome } from '../helpers/devbox.js';

const MESSAGE = /port (\d+) \(HTTP, for router\) is already in use; free it or choose another with --port/g;

describe('devbox up with the router port in use', function () {
  this.timeout(60_000);
  let home: string;
  let taken: net.Server;
  let port: number;

  beforeEach(async () => {
    home = tempHome('devbox-up-ports-');
    port = await freePort();
    taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(port, '127.0.0.1', resolve));
  });
  afterEach(async () => {
    await new Promise<void>((resolve) => taken.close(() => resolve()));
    await cleanupBox(home);
  });

  const nothingLeft = () => {
    const paths = statePaths(home);
    assert.equal(fs.existsSync(paths.pidFile), false, 'no lock is left');
    assert.equal(fs.existsSync(paths.portsFile), false, 'no ports file is left');
    // No component was started: none has a log file.
    assert.deepEqual(fs.existsSync(paths.logs) ? fs.readdirSync(paths.logs).filter((f) => f !== 'supervisor.log' && f !== 'supervisor.out') : [], []);
  };

  it('up -d says it once, starts nothing, exits 1', async () => {
    const up = await devbox(home, ['up', '-d', '--port', String(port)]);
    assert.equal(up.exitCode, 1, up.stdout + up.stderr);
    const all = up.stdout + up.stderr;
    assert.deepEqual([...all.matchAll(MESSAGE)].map((m) => Number(m[1])), [port], all);
    assert.doesNotMatch(all, /starting (bus|router)/, 'no component progress is drawn');
    assert.match(up.stdout, /FAILED/);
    nothingLeft();
  });

  it('the foreground up says it once and exits', async () => {
    const up = await execa(process.execPath, [DEVBOX_BIN, 'up', '--port', String(port)], {
      env: { DEVBOX_HOME: home, NO_COLOR: '1', DEVBOX_TLS_PORT: String(await freePort()) },
      reject: false,
      timeout: 30_000,
    });
    assert.equal(up.timedOut, false, 'up exited');
    assert.equal(up.exitCode, 1, String(up.stdout) + String(up.stderr));
    const all = String(up.stdout) + String(up.stderr);
    assert.deepEqual([...all.matchAll(MESSAGE)].map((m) => Number(m[1])), [port], all);
    nothingLeft();
  });
});
