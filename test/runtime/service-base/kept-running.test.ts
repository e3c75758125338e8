// KeptRunning, the restart loop of the mysql-node's mysqld and of each Redis instance's redis-server,
// with servers written here (the nodes' tests run it with real ones): a server that exits is started
// again after a backoff, a first start that fails is retried, and stop() never waits out a backoff
// nor leaves a server that came up meanwhile.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { createLogger } from '../../../src/runtime/common/log.js';
import { waitFor } from '../../../src/runtime/common/poll.js';
import { KeptRunning, type RunningServer } from '../../../src/runtime/service-base/kept-running.js';

class TestServer implements RunningServer {
  private readonly events = new EventEmitter();
  alive = true;
  constructor(
    readonly pid: number,
    readonly port = 1,
  ) {}
  running = () => this.alive;
  onExit(listener: (code: number | null, signal: string | null) => void): void {
    this.events.once('exit', listener);
  }
  /** Dies by itself (a crash). */
  crash(): void {
    this.alive = false;
    this.events.emit('exit', null, 'SIGKILL');
  }
  async stop(): Promise<void> {
    this.alive = false;
  }
}

describe('service-base: KeptRunning', function () {
  this.timeout(10_000);
  const lines: string[] = [];
  const log = createLogger('kept-running-test', { write: (line) => void lines.push(line) });

  it('starts a server that died again, after a backoff, and says so', async () => {
    const launched: TestServer[] = [];
    const restarted: number[] = [];
    const keeper = new KeptRunning<TestServer>({ what: 'test-server', log, launch: async () => launched[launched.push(new TestServer(launched.length + 1)) - 1], onRestart: (s) => restarted.push(s.pid) });
    const first = await keeper.start();
    first.crash();
    await waitFor('a second server', () => keeper.current?.pid === 2 && keeper.running, { timeoutMs: 2_000 });
    assert.deepEqual([keeper.restarts, restarted], [1, [2]]);
    await keeper.stop();
    assert.equal(launched.every((s) => !s.alive), true);
  });

  it('tries a first start that failed again, in the background, until one works', async () => {
    let attempts = 0;
    const keeper = new KeptRunning<TestServer>({
      what: 'test-server',
      log,
      launch: async () => {
        attempts++;
        if (attempts < 3) throw new Error(`attempt ${attempts} failed`);
        return new TestServer(attempts);
      },
    });
    keeper.startInBackground();
    await waitFor('the third attempt to run', () => keeper.running, { timeoutMs: 3_000 });
    assert.equal(attempts, 3);
    await keeper.stop();
  });

  it('stop() does not wait out a backoff, and launches nothing after it', async () => {
    let launches = 0;
    const keeper = new KeptRunning<TestServer>({
      what: 'test-server',
      log,
      launch: async () => {
        launches++;
        throw new Error('never starts');
      },
    });
    keeper.startInBackground();
    // After a few failures the backoff is seconds long.
    await waitFor('three failed starts', () => launches >= 3, { timeoutMs: 3_000 });
    const started = Date.now();
    await keeper.stop();
    assert.ok(Date.now() - started < 200, `stop() took ${Date.now() - started} ms`);
    const after = launches;
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(launches, after);
  });

  it('stops a server that came up after stop() was called', async () => {
    let release = () => {};
    const server = new TestServer(7);
    const keeper = new KeptRunning<TestServer>({ what: 'test-server', log, launch: () => new Promise((resolve) => (release = () => resolve(server))) });
    const starting = keeper.start();
    const stopping = keeper.stop();
    release();
    await assert.rejects(starting, /stopped while it started/);
    await stopping;
    assert.equal(server.alive, false);
    assert.equal(keeper.current, undefined);
  });
});
