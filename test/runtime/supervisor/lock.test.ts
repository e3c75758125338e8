import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import {
  acquireLock,
  AlreadyRunningError,
  isAlive,
  parseProcStat,
  procStat,
  processStartTime,
  readSupervisor,
  releaseLock,
  runningSupervisor,
} from '../../../src/runtime/supervisor/lock.js';

const hasProc = fs.existsSync('/proc/self/stat');

async function waitUntil(what: string, check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('supervisor lock', () => {
  let dir: string;
  let pidFile: string;
  let children: ChildProcess[];

  /** A child process that runs until the test ends; stopped in afterEach. */
  async function start(command: string, args: string[]): Promise<ChildProcess & { pid: number }> {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'ignore'] });
    children.push(child);
    await once(child, 'spawn');
    return child as ChildProcess & { pid: number };
  }

  /** A child whose command line names devbox: what the old check took for a running supervisor. */
  const devboxLookalike = () => start(process.execPath, ['-e', 'setTimeout(() => {}, 20000)', 'devbox-supervisor-standin']);

  const writeRecord = (record: object) => fs.writeFileSync(pidFile, `${JSON.stringify(record)}\n`, { mode: 0o600 });

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'devbox-lock-'));
    pidFile = path.join(dir, 'supervisor.pid');
    children = [];
  });
  afterEach(async () => {
    for (const child of children) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5_000))]);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('is taken and released by its holder; the pid file holds pid, time and /proc start time, mode 0600', () => {
    const record = acquireLock(pidFile);
    assert.equal(record.pid, process.pid);
    assert.equal(fs.statSync(pidFile).mode & 0o777, 0o600);
    const onDisk = JSON.parse(fs.readFileSync(pidFile, 'utf8')) as Record<string, unknown>;
    assert.deepEqual(onDisk, record);
    assert.ok(!Number.isNaN(Date.parse(record.started_at)));
    if (hasProc) assert.equal(record.proc_starttime, processStartTime(process.pid));
    assert.deepEqual(runningSupervisor(pidFile), record);
    releaseLock(pidFile);
    assert.equal(fs.existsSync(pidFile), false);
  });

  it('refuses while its holder runs, whatever that process is called', async () => {
    // identity is pid + start time: the holder's command line does not matter
    const holder = await start('sleep', ['20']);
    writeRecord({ pid: holder.pid, started_at: new Date().toISOString(), proc_starttime: processStartTime(holder.pid) });
    assert.equal(runningSupervisor(pidFile)?.pid, holder.pid);
    assert.throws(() => acquireLock(pidFile), AlreadyRunningError);
    assert.throws(() => acquireLock(pidFile), /already running.*devbox down/);
    releaseLock(pidFile); // not ours: left alone
    assert.equal(readSupervisor(pidFile)?.pid, holder.pid);
  });

  describe('a pid file with a start time', () => {
    before(function () {
      if (!hasProc) this.skip();
    });

    it('is live when the pid runs and started at the recorded time', () => {
      const starttime = processStartTime(process.pid)!;
      writeRecord({ pid: process.pid, started_at: 'then', proc_starttime: starttime });
      assert.equal(runningSupervisor(pidFile)?.pid, process.pid);
      assert.equal(isAlive({ pid: process.pid, proc_starttime: starttime }), true);
    });

    it('is not live when the pid runs but started at another time (a reused pid)', async () => {
      const starttime = processStartTime(process.pid)!;
      for (const other of [starttime - 1, starttime + 1, 0]) {
        writeRecord({ pid: process.pid, started_at: 'then', proc_starttime: other });
        assert.equal(runningSupervisor(pidFile), undefined, `start time ${other} vs ${starttime}`);
      }
      const sleeper = await start('sleep', ['20']);
      writeRecord({ pid: sleeper.pid, started_at: 'then', proc_starttime: processStartTime(sleeper.pid)! - 1 });
      assert.equal(acquireLock(pidFile).pid, process.pid, 'the stale lock is taken over');
      releaseLock(pidFile);
    });

    it('is not live when the pid runs a devbox-looking command line but started at another time', async () => {
      const lookalike = await devboxLookalike();
      assert.match(fs.readFileSync(`/proc/${lookalike.pid}/cmdline`, 'utf8'), /devbox/);
      const starttime = processStartTime(lookalike.pid)!;
      writeRecord({ pid: lookalike.pid, started_at: 'then', proc_starttime: starttime - 1 });
      assert.equal(runningSupervisor(pidFile), undefined);
      const record = acquireLock(pidFile);
      assert.equal(record.pid, process.pid);
      assert.equal(readSupervisor(pidFile)?.proc_starttime, processStartTime(process.pid));
      releaseLock(pidFile);
    });

    it('is not live when the pid is dead', async () => {
      const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
      await once(child, 'spawn');
      const starttime = processStartTime(child.pid!);
      await once(child, 'exit');
      writeRecord({ pid: child.pid, started_at: 'then', proc_starttime: starttime ?? 1 });
      assert.equal(runningSupervisor(pidFile), undefined);
      assert.equal(acquireLock(pidFile).pid, process.pid);
      releaseLock(pidFile);
    });

    it('is not live when the pid is a zombie (exited, not yet reaped), even with its start time', async () => {
      // sh forks `sleep 1` and then becomes `sleep 20`, which never reaps it
      const parent = await start('sh', ['-c', 'sleep 1 & echo $!; exec sleep 20']);
      const [line] = (await once(parent.stdout!, 'data')) as [Buffer];
      const zombie = Number(line.toString().trim());
      await waitUntil(`pid ${zombie} to be a zombie`, () => procStat(zombie)?.state === 'Z');
      writeRecord({ pid: zombie, started_at: 'then', proc_starttime: processStartTime(zombie) });
      assert.equal(runningSupervisor(pidFile), undefined);
    });
  });

  describe('an old pid file (no start time, from an earlier devbox)', () => {
    it('is live when the pid runs a devbox command line, so an upgrade does not orphan a running box', async () => {
      const lookalike = await devboxLookalike();
      writeRecord({ pid: lookalike.pid, started_at: new Date().toISOString() });
      assert.equal(runningSupervisor(pidFile)?.pid, lookalike.pid);
      assert.throws(() => acquireLock(pidFile), AlreadyRunningError);
    });

    it('is not live when the pid runs something else, or nothing', async () => {
      const sleeper = await start('sleep', ['20']);
      writeRecord({ pid: sleeper.pid, started_at: 'then' });
      assert.equal(runningSupervisor(pidFile), undefined);
      assert.equal(acquireLock(pidFile).pid, process.pid, 'a live non-devbox pid does not hold the lock');
      releaseLock(pidFile);

      const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
      await once(child, 'exit');
      writeRecord({ pid: child.pid, started_at: 'then' });
      assert.equal(runningSupervisor(pidFile), undefined);
      assert.equal(acquireLock(pidFile).pid, process.pid);
      releaseLock(pidFile);
    });
  });

  it('takes a pid file that is not a record for stale', () => {
    for (const text of ['', 'garbage', '12345', 'null', '{"pid":0}', '{"pid":-1}', '{"pid":1.5}', `{"pid":${process.pid},"proc_starttime":"x"}`]) {
      fs.writeFileSync(pidFile, text);
      assert.equal(readSupervisor(pidFile), undefined, text);
      assert.equal(acquireLock(pidFile).pid, process.pid, text);
      releaseLock(pidFile);
    }
  });

  describe('/proc/<pid>/stat', () => {
    it('is read from the last ")": the command name may hold spaces and parentheses', () => {
      const tail = 'S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 987654 20 21';
      assert.deepEqual(parseProcStat(`42 (a) b (c)) ${tail}\n`), { state: 'S', starttime: 987654 });
      assert.deepEqual(parseProcStat(`42 (plain) ${tail}`), { state: 'S', starttime: 987654 });
      assert.equal(parseProcStat('42 (short) S 1 2'), undefined);
      assert.equal(parseProcStat(''), undefined);
    });

    it('gives the start time of a live process named with spaces and ")"', async function () {
      if (!hasProc) this.skip();
      const sleep = ['/bin/sleep', '/usr/bin/sleep'].find((p) => fs.existsSync(p));
      if (!sleep) this.skip();
      const odd = path.join(dir, 'x) y (z');
      fs.symlinkSync(sleep!, odd);
      const child = await start(odd, ['20']);
      assert.match(fs.readFileSync(`/proc/${child.pid}/stat`, 'utf8'), /\(x\) y \(z\)/);
      const stat = procStat(child.pid);
      assert.ok(stat);
      assert.equal(stat.state.length, 1);
      assert.ok(stat.starttime >= processStartTime(process.pid)!, 'started after this test process');
      writeRecord({ pid: child.pid, started_at: 'then', proc_starttime: stat.starttime });
      assert.equal(runningSupervisor(pidFile)?.pid, child.pid);
    });
  });
});
