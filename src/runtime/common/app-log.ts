// An app's log lines travel the bus as envelopes on `logs.<app guid>`, from every source that speaks
// about an app (DESIGN.md §9): the app itself, the stager, the router, the controller, the DEA and
// the health manager. The logs component keeps and streams them.
import { publishJson, type NatsConnection } from './bus.js';

/** Where a line came from, as the cf CLI prints it: `[APP/PROC/WEB/0]`, `[RTR/0]`, `[STG/0]`... */
export type LogSourceType = 'APP/PROC/WEB' | 'STG' | 'RTR' | 'API' | 'CELL' | 'HEALTH';

export interface LogEnvelope {
  /** Nanoseconds since the epoch (a JSON number: precise to well under a microsecond). */
  timestamp: number;
  app_guid: string;
  source_type: LogSourceType;
  /** The instance index, or the component's index for platform sources. */
  source_instance: string;
  message_type: 'OUT' | 'ERR';
  message: string;
}

const originNs = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();

/** Now, in nanoseconds since the epoch, monotonic within a process. */
export function nowNs(): number {
  return Number(originNs + process.hrtime.bigint());
}

export const appLogSubject = (appGuid: string) => `logs.${appGuid}`;

export function publishAppLog(nc: NatsConnection, entry: Omit<LogEnvelope, 'timestamp'> & { timestamp?: number }): void {
  publishJson(nc, appLogSubject(entry.app_guid), { timestamp: nowNs(), ...entry });
}
