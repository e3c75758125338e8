// One box per state directory: run/supervisor.pid is created exclusively and names the supervisor:
// its pid and, on Linux, the start time of that process (field 22 `starttime` of /proc/<pid>/stat,
// clock ticks since boot). A pid alone is not an identity: once the supervisor is gone (kill -9 of
// the whole tree, a reboot) its pid may be reused by anything, an editor on ~/devbox/... included.
// The holder is live only while a process with that pid exists AND started at the recorded time;
// otherwise the pid file is stale and is taken over.
//
// A pid file written by an earlier devbox has no start time. It is taken as live when the process
// exists and its command line looks like devbox (the check earlier versions made), so that an
// upgrade while a box runs neither starts a second box over it nor loses `devbox down` for it; such
// a file is gone with the next `devbox down`.
import fs from 'node:fs';
import { parseStat, readStat, type ProcStat } from '../common/procfs.js';

export interface SupervisorRecord {
  pid: number;
  /** When the lock was taken (ISO 8601), for messages. */
  started_at: string;
  /** The holder's start time, field 22 of /proc/<pid>/stat; absent where there is no /proc, and in old pid files. */
  proc_starttime?: number;
}

/** What the lock needs to know of a process: whether it is a zombie, and when it started. */
export type ProcessIdentity = Pick<ProcStat, 'state' | 'starttime'>;

/** State (field 3) and start time (field 22) from the text of /proc/<pid>/stat. */
export function parseProcStat(text: string): ProcessIdentity | undefined {
  const stat = parseStat(text);
  return stat && { state: stat.state, starttime: stat.starttime };
}

/** State and start time of a process, or undefined (no such process, no /proc). */
export function procStat(pid: number): ProcessIdentity | undefined {
  const stat = readStat(pid);
  return stat && { state: stat.state, starttime: stat.starttime };
}

/** The start time to record for `pid`; undefined where /proc cannot tell it. */
export function processStartTime(pid: number): number | undefined {
  return procStat(pid)?.starttime;
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether the process a pid file names still runs: same pid and, when recorded, same start time. */
export function isAlive(record: Pick<SupervisorRecord, 'pid' | 'proc_starttime'>): boolean {
  const { pid } = record;
  if (!processExists(pid)) return false;
  const stat = procStat(pid);
  if (!stat) {
    // No /proc at all (not Linux): kill(0) is all there is. With /proc, the process just went.
    return procStat(process.pid) === undefined;
  }
  if (stat.state === 'Z' || stat.state === 'X') return false; // exited, not yet reaped
  if (record.proc_starttime !== undefined) return stat.starttime === record.proc_starttime;
  // An old pid file (no start time): its holder is taken as live when its command line looks like
  // devbox's, as earlier versions did; see the comment at the top.
  try {
    const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return /devbox|run\.js|dev\.js|supervisor/.test(cmdline);
  } catch {
    return false;
  }
}

/** The pid file's record, or undefined when there is none or it is not one (then it is stale). */
export function readSupervisor(pidFile: string): SupervisorRecord | undefined {
  try {
    const record = JSON.parse(fs.readFileSync(pidFile, 'utf8')) as SupervisorRecord | null;
    if (!record || !isNatural(record.pid) || record.pid === 0) return undefined; // kill(0) would signal our own group
    if (record.proc_starttime !== undefined && !isNatural(record.proc_starttime)) return undefined;
    return record;
  } catch {
    return undefined;
  }
}

function isNatural(n: unknown): n is number {
  return Number.isSafeInteger(n) && (n as number) >= 0;
}

/** The running supervisor of this state directory, if any. */
export function runningSupervisor(pidFile: string): SupervisorRecord | undefined {
  const record = readSupervisor(pidFile);
  return record && isAlive(record) ? record : undefined;
}

export class AlreadyRunningError extends Error {
  constructor(readonly record: SupervisorRecord) {
    super(`devbox is already running (supervisor pid ${record.pid}, since ${record.started_at}); stop it with 'devbox down'`);
  }
}

/** Takes the lock for this process; throws AlreadyRunningError when a live supervisor holds it. */
export function acquireLock(pidFile: string, pid = process.pid): SupervisorRecord {
  const record: SupervisorRecord = { pid, started_at: new Date().toISOString() };
  const starttime = processStartTime(pid);
  if (starttime !== undefined) record.proc_starttime = starttime;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      fs.writeFileSync(pidFile, `${JSON.stringify(record)}\n`, { flag: 'wx', mode: 0o600 });
      return record;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = readSupervisor(pidFile);
      if (holder && holder.pid !== pid && isAlive(holder)) throw new AlreadyRunningError(holder);
      fs.rmSync(pidFile, { force: true }); // stale: its supervisor is gone
    }
  }
  throw new Error(`could not take the lock ${pidFile}; remove it if no devbox is running`);
}

export function releaseLock(pidFile: string, pid = process.pid): void {
  if (readSupervisor(pidFile)?.pid === pid) fs.rmSync(pidFile, { force: true });
}
