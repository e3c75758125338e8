import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { acquireLock, AlreadyRunningError, releaseLock, runningSupervisor } from '../../../src/runtime/supervisor/lock.js';

describe('supervisor lock', () => {
  let dir: string;
  let pidFile: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'devbox-lock-'));
    pidFile = path.join(dir, 'supervisor.pid');
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('is held by one live devbox process at a time', () => {
    // This test process runs mocha, not devbox: a second acquire from a "devbox" pid is what counts.
    const record = acquireLock(pidFile);
    assert.equal(record.pid, process.pid);
    assert.equal(fs.statSync(pidFile).mode & 0o777, 0o600);
    releaseLock(pidFile);
    assert.equal(fs.existsSync(pidFile), false);
  });

  it('refuses while a live devbox process holds it', async () => {
    // A child whose command line names devbox stands in for a running supervisor.
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 20000)', 'devbox-supervisor-standin'], { stdio: 'ignore' });
    try {
      fs.writeFileSync(pidFile, JSON.stringify({ pid: child.pid, started_at: new Date().toISOString() }));
      assert.equal(runningSupervisor(pidFile)?.pid, child.pid);
      assert.throws(() => acquireLock(pidFile), AlreadyRunningError);
      assert.throws(() => acquireLock(pidFile), /already running.*devbox down/);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('takes over a stale lock: dead pid, or a pid reused by something else', async () => {
    const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
    await new Promise((resolve) => child.once('exit', resolve));
    fs.writeFileSync(pidFile, JSON.stringify({ pid: child.pid, started_at: 'then' }));
    assert.equal(runningSupervisor(pidFile), undefined);
    assert.equal(acquireLock(pidFile).pid, process.pid);
    releaseLock(pidFile);

    const other = spawn('sleep', ['20'], { stdio: 'ignore' });
    try {
      fs.writeFileSync(pidFile, JSON.stringify({ pid: other.pid, started_at: 'then' }));
      assert.equal(acquireLock(pidFile).pid, process.pid, 'a live non-devbox pid does not hold the lock');
    } finally {
      other.kill('SIGKILL');
    }
  });
});
