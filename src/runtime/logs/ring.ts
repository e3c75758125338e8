// A bounded ring of an app's most recent log records: at most `maxLines` records and (about)
// `maxBytes` of their JSON, the oldest dropped first. Arrival order is kept.
import type { LogRecord } from './envelope.js';

export class Ring {
  private items: (LogRecord | undefined)[];
  private head = 0;
  private count = 0;
  private bytes = 0;

  constructor(
    readonly maxLines: number,
    readonly maxBytes: number = Number.POSITIVE_INFINITY,
  ) {
    // Grows up to maxLines as lines come: an app that logs little costs little.
    this.items = new Array<LogRecord | undefined>(Math.min(maxLines, 64));
  }

  get size(): number {
    return this.count;
  }

  get byteSize(): number {
    return this.bytes;
  }

  push(record: LogRecord): void {
    if (this.count === this.maxLines) this.shift();
    else if (this.count === this.items.length) this.grow();
    this.items[(this.head + this.count) % this.items.length] = record;
    this.count++;
    this.bytes += record.json.length;
    // Keep at least the newest line, however long.
    while (this.bytes > this.maxBytes && this.count > 1) this.shift();
  }

  /** The records, oldest first; only the newest `limit` when given. */
  toArray(limit = this.count): LogRecord[] {
    const n = Math.max(0, Math.min(limit, this.count));
    const out = new Array<LogRecord>(n);
    const start = this.count - n;
    for (let i = 0; i < n; i++) out[i] = this.items[(this.head + start + i) % this.items.length] as LogRecord;
    return out;
  }

  private shift(): void {
    const record = this.items[this.head];
    this.items[this.head] = undefined;
    this.head = (this.head + 1) % this.items.length;
    this.count--;
    this.bytes -= record?.json.length ?? 0;
  }

  private grow(): void {
    const next = new Array<LogRecord | undefined>(Math.min(this.maxLines, this.items.length * 2));
    for (let i = 0; i < this.count; i++) next[i] = this.items[(this.head + i) % this.items.length];
    this.items = next;
    this.head = 0;
  }
}
