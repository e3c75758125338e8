// One box per state directory: run/supervisor.pid is created exclusively and holds the pid of the
// supervisor. A pid file whose process is gone (kill -9 of the whole tree, a reboot) is stale and
// is taken over; a live one means the box is running.
import fs from 'node:fs';

export interface SupervisorRecord {
  pid: number;
  started_at: string;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A recycled pid belonging to something else is not our supervisor.
  try {
    const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return /devbox|run\.js|dev\.js|supervisor/.test(cmdline);
  } catch {
    return true; // no /proc (not Linux): trust kill(0)
  }
}

export function readSupervisor(pidFile: string): SupervisorRecord | undefined {
  try {
    const record = JSON.parse(fs.readFileSync(pidFile, 'utf8')) as SupervisorRecord;
    return Number.isInteger(record.pid) ? record : undefined;
  } catch {
    return undefined;
  }
}

/** The running supervisor of this state directory, if any. */
export function runningSupervisor(pidFile: string): SupervisorRecord | undefined {
  const record = readSupervisor(pidFile);
  return record && isAlive(record.pid) ? record : undefined;
}

export class AlreadyRunningError extends Error {
  constructor(readonly record: SupervisorRecord) {
    super(`devbox is already running (supervisor pid ${record.pid}, since ${record.started_at}); stop it with 'devbox down'`);
  }
}

/** Takes the lock for this process; throws AlreadyRunningError when a live supervisor holds it. */
export function acquireLock(pidFile: string, pid = process.pid): SupervisorRecord {
  const record: SupervisorRecord = { pid, started_at: new Date().toISOString() };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      fs.writeFileSync(pidFile, `${JSON.stringify(record)}\n`, { flag: 'wx', mode: 0o600 });
      return record;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = readSupervisor(pidFile);
      if (holder && holder.pid !== pid && isAlive(holder.pid)) throw new AlreadyRunningError(holder);
      fs.rmSync(pidFile, { force: true }); // stale: its supervisor is gone
    }
  }
  throw new Error(`could not take the lock ${pidFile}; remove it if no devbox is running`);
}

export function releaseLock(pidFile: string, pid = process.pid): void {
  if (readSupervisor(pidFile)?.pid === pid) fs.rmSync(pidFile, { force: true });
}
