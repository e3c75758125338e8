// An instance's stdout and stderr → `APP/PROC/<TYPE>` log lines on the bus. The pipes are always read
// at once (an app never waits on its logging); beyond the per-instance rate limit lines are
// dropped, with one notice per second saying so, as Cloud Foundry's log rate limit does.
import type { Readable } from 'node:stream';
import { publishAppLog } from '../../common/app-log.js';
import type { NatsConnection } from '../../common/bus.js';
import type { LogSourceType } from '../../common/bus-messages.js';
import { LineSplitter } from '../lines.js';

export class LogForwarder {
  private windowStart = 0;
  private windowCount = 0;
  private noticed = false;
  forwarded = 0;
  dropped = 0;

  constructor(
    private readonly nc: NatsConnection,
    /** Whose lines they are: the app's, as `APP/PROC/WEB/<index>` (or a task's source). */
    private readonly source: { appGuid: string; sourceType: LogSourceType; index: number },
    /** Lines per second; 0 = no limit. */
    private readonly limit: number,
  ) {}

  attach(stream: Readable, type: 'OUT' | 'ERR'): Promise<void> {
    const splitter = new LineSplitter((line) => this.line(line, type));
    return new Promise((resolve) => {
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        splitter.end();
        resolve();
      };
      stream.on('data', (chunk: Buffer) => splitter.push(chunk));
      stream.on('end', finish);
      stream.on('close', finish);
      stream.on('error', finish);
    });
  }

  line(message: string, type: 'OUT' | 'ERR'): void {
    if (this.nc.isClosed()) return;
    if (this.limit > 0) {
      const now = Date.now();
      if (now - this.windowStart >= 1000) {
        this.windowStart = now;
        this.windowCount = 0;
        this.noticed = false;
      }
      this.windowCount += 1;
      if (this.windowCount > this.limit) {
        this.dropped += 1;
        if (!this.noticed) {
          this.noticed = true;
          this.publish(`app instance exceeded log rate limit (${this.limit} lines/s)`, 'ERR');
        }
        return;
      }
    }
    this.forwarded += 1;
    this.publish(message, type);
  }

  private publish(message: string, type: 'OUT' | 'ERR'): void {
    publishAppLog(this.nc, { app_guid: this.source.appGuid, source_type: this.source.sourceType, source_instance: String(this.source.index), message_type: type, message });
  }
}
