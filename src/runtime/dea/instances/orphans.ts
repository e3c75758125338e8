// After a crash of the DEA (kill -9, a crash of the whole box), its instances may still run: they
// are session leaders of their own and outlive it. At start the DEA kills what its instance
// directories say still runs (checking the start time, so a reused pid is left alone) and removes
// the directories; the health manager starts the instances again where there is room. Their routes
// are unregistered first, as an orderly stop does, so that the routers stop sending them requests
// before they are killed rather than having requests in flight cut off.
import fs from 'node:fs';
import path from 'node:path';
import type { RouterRegisterMessage } from '../../common/bus-messages.js';
import type { Logger } from '../../common/log.js';
import { sleep } from '../../common/net.js';
import { INSTANCE_RECORD, type InstanceRecord } from './instance.js';
import { killSession, readStat, scanSessions } from '../../common/procfs.js';

/** Between unregistering the orphans' routes and killing them: requests already sent get answered. */
const DRAIN_MS = 250;

export async function reapOrphans(instancesDir: string, log: Logger, unregister?: (route: RouterRegisterMessage) => void): Promise<number> {
  let entries: string[];
  try {
    entries = fs.readdirSync(instancesDir);
  } catch {
    return 0;
  }
  const sessions = entries.length > 0 ? scanSessions() : new Map();
  const orphans: InstanceRecord[] = [];
  for (const name of entries) {
    try {
      const record = JSON.parse(fs.readFileSync(path.join(instancesDir, name, INSTANCE_RECORD), 'utf8')) as InstanceRecord;
      const stat = readStat(record.pid);
      // The leader itself, or (leader gone) what is left of its session: Linux never reuses a pid
      // that is still some session's id, so those processes are the instance's.
      const ours = stat ? stat.starttime === record.starttime : (sessions.get(record.pid)?.length ?? 0) > 0;
      if (ours) orphans.push(record);
    } catch {
      // no record: nothing was started from it
    }
  }
  const routes = orphans.flatMap((o) => (o.route && o.route.uris.length > 0 ? [o.route] : []));
  if (unregister && routes.length > 0) {
    for (const route of routes) unregister(route);
    await sleep(DRAIN_MS);
  }
  for (const record of orphans) {
    killSession(record.pid, 'SIGKILL', sessions);
    log.warn('killed an instance left running by a previous run of this DEA', { pid: record.pid, app_guid: record.app, index: record.index });
  }
  for (const name of entries) await fs.promises.rm(path.join(instancesDir, name), { recursive: true, force: true }).catch(() => undefined);
  return orphans.length;
}
