// An app's log lines travel the bus as envelopes on `logs.<app guid>`, from every source that speaks
// about an app (DESIGN.md §9): the app itself, the stager, the router, the controller, the DEA and
// the health manager. The logs component keeps and streams them.
import { publish, type NatsConnection } from './bus.js';
import { appLogs, type LogEnvelope, type LogSourceType } from './bus-messages.js';

const originNs = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();

/** Now, in nanoseconds since the epoch, monotonic within a process. */
export function nowNs(): number {
  return Number(originNs + process.hrtime.bigint());
}

/** One line of devbox's own sources; `timestamp` defaults to now. */
export type AppLogLine = Omit<LogEnvelope, 'timestamp' | 'source_type'> & { source_type: LogSourceType; timestamp?: number };

export function publishAppLog(nc: NatsConnection, entry: AppLogLine): void {
  publish(nc, appLogs(entry.app_guid), { timestamp: nowNs(), ...entry });
}
