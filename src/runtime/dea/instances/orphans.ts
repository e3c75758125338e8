// After a crash of the DEA (kill -9, a crash of the whole box), its instances may still run: they
// are session leaders of their own and outlive it. At start the DEA kills what its instance
// directories say still runs (checking the start time, so a reused pid is left alone) and removes
// the directories; the health manager starts the instances again where there is room.
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../../common/log.js';
import { INSTANCE_RECORD, type InstanceRecord } from './instance.js';
import { killSession, readStat, scanSessions } from './procfs.js';

export async function reapOrphans(instancesDir: string, log: Logger): Promise<number> {
  let entries: string[];
  try {
    entries = fs.readdirSync(instancesDir);
  } catch {
    return 0;
  }
  let killed = 0;
  const sessions = entries.length > 0 ? scanSessions() : new Map();
  for (const name of entries) {
    const dir = path.join(instancesDir, name);
    try {
      const record = JSON.parse(fs.readFileSync(path.join(dir, INSTANCE_RECORD), 'utf8')) as InstanceRecord;
      const stat = readStat(record.pid);
      // The leader itself, or (leader gone) what is left of its session: Linux never reuses a pid
      // that is still some session's id, so those processes are the instance's.
      const ours = stat ? stat.starttime === record.starttime : (sessions.get(record.pid)?.length ?? 0) > 0;
      if (ours) {
        killSession(record.pid, 'SIGKILL', sessions);
        killed += 1;
        log.warn('killed an instance left running by a previous run of this DEA', { pid: record.pid, app_guid: record.app, index: record.index });
      }
    } catch {
      // no record: nothing was started from it
    }
    await fs.promises.rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }
  return killed;
}
