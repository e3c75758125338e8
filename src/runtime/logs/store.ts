// Where the logs component keeps every app's recent lines: a bounded ring per app in memory, also
// appended to `<dir>/<guid>.log` (JSON lines) so that a restart of the component (or of devbox)
// loses nothing recent. An app's file is rotated to `<guid>.log.1` when it would pass `fileBytes`,
// so an app never has more than two files of at most `fileBytes` each on disk. An app's ring is read
// back from its files the first time the app is touched after a start (lazily: a box with many apps
// starts as fast as one with none).
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../common/log.js';
import { parseRecord, type LogRecord } from './envelope.js';
import { Ring } from './ring.js';

export interface StoreOptions {
  dir: string;
  ringLines: number;
  ringBytes: number;
  fileBytes: number;
  /** Lines are appended to disk at most this long after they arrive (0: at once). */
  flushMs: number;
  /** Files untouched for this many days are removed at open and once a day (0: never). */
  retentionDays?: number;
  /** Rings of apps beyond this many are dropped from memory (least recently used first; they stay on disk). */
  maxApps?: number;
  log: Logger;
}

export interface StoreCounters {
  /** Lines appended to a ring. */
  stored: number;
  /** Lines read back from disk into rings. */
  loaded: number;
  /** Lines of the files that were not envelopes (a torn write, a hand edit): skipped. */
  disk_lines_skipped: number;
  disk_bytes_written: number;
  disk_write_errors: number;
  rotations: number;
  files_expired: number;
}

interface AppLog {
  guid: string;
  ring: Ring;
  pending: string[];
  fileSize: number;
  touched: number;
}

const DAY_MS = 24 * 3600 * 1000;

export class LogStore {
  readonly counters: StoreCounters = { stored: 0, loaded: 0, disk_lines_skipped: 0, disk_bytes_written: 0, disk_write_errors: 0, rotations: 0, files_expired: 0 };
  private readonly apps = new Map<string, AppLog>();
  private readonly dirty = new Set<AppLog>();
  private flushTimer?: NodeJS.Timeout;
  private expireTimer?: NodeJS.Timeout;
  private lastWriteError = 0;

  constructor(private readonly options: StoreOptions) {}

  /** Creates the directory (owner only) and removes expired files. */
  open(): void {
    fs.mkdirSync(this.options.dir, { recursive: true, mode: 0o700 });
    this.expire();
    if (this.options.retentionDays) {
      this.expireTimer = setInterval(() => this.expire(), DAY_MS);
      this.expireTimer.unref();
    }
  }

  /** Apps with a ring in memory. */
  get appCount(): number {
    return this.apps.size;
  }

  append(record: LogRecord): void {
    const app = this.app(record.envelope.app_guid);
    app.ring.push(record);
    app.pending.push(`${record.json}\n`);
    this.counters.stored++;
    if (this.options.flushMs === 0) {
      this.write(app);
      return;
    }
    this.dirty.add(app);
    this.flushTimer ??= setTimeout(() => this.flush(), this.options.flushMs);
  }

  /**
   * The app's recent records, oldest first by timestamp (lines from different sources arrive a
   * little out of order; each source's own order is kept), the newest `limit` when given.
   */
  recent(guid: string, limit?: number): LogRecord[] {
    const records = this.app(guid).ring.toArray();
    records.sort((a, b) => a.envelope.timestamp - b.envelope.timestamp);
    return limit === undefined || limit >= records.length ? records : records.slice(records.length - limit);
  }

  /** Appends every pending line to disk now. */
  flush(): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    for (const app of this.dirty) this.write(app);
    this.dirty.clear();
  }

  close(): void {
    this.flush();
    clearInterval(this.expireTimer);
  }

  /** Paths of an app's current and rotated file. */
  files(guid: string): { current: string; old: string } {
    const current = path.join(this.options.dir, `${guid}.log`);
    return { current, old: `${current}.1` };
  }

  private app(guid: string): AppLog {
    let app = this.apps.get(guid);
    if (!app) {
      app = this.load(guid);
      this.apps.set(guid, app);
      if (this.apps.size > (this.options.maxApps ?? 1000)) this.evict();
    }
    app.touched = Date.now();
    return app;
  }

  /** The app's ring as its files hold it (newest lines last); a torn last line is cut off first. */
  private load(guid: string): AppLog {
    const { ringLines, ringBytes } = this.options;
    const { current, old } = this.files(guid);
    const ring = new Ring(ringLines, ringBytes);
    const app: AppLog = { guid, ring, pending: [], fileSize: 0, touched: Date.now() };
    const currentText = this.readCut(current);
    app.fileSize = Buffer.byteLength(currentText);
    let lines = currentText === '' ? [] : currentText.slice(0, -1).split('\n');
    if (lines.length < ringLines) {
      const oldText = this.readCut(old);
      if (oldText !== '') lines = [...oldText.slice(0, -1).split('\n').slice(-(ringLines - lines.length)), ...lines];
    }
    for (const line of lines.slice(-ringLines)) {
      const record = parseRecord(line, guid);
      if (!record) {
        this.counters.disk_lines_skipped++;
        continue;
      }
      ring.push(record);
      this.counters.loaded++;
    }
    return app;
  }

  /** A file's text up to its last newline ('' when missing); a torn tail is truncated away on disk. */
  private readCut(file: string): string {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') this.options.log.warn('cannot read an app log file', { file, error: (error as Error).message });
      return '';
    }
    if (text === '' || text.endsWith('\n')) return text;
    const cut = text.slice(0, text.lastIndexOf('\n') + 1);
    try {
      fs.truncateSync(file, Buffer.byteLength(cut));
    } catch {
      // read-only or gone: the next append would join the torn line to a new one; that line is skipped at the next load
    }
    this.counters.disk_lines_skipped++;
    return cut;
  }

  private write(app: AppLog): void {
    if (app.pending.length === 0) return;
    const { fileBytes } = this.options;
    let lines = app.pending;
    app.pending = [];
    let data = lines.join('');
    let bytes = Buffer.byteLength(data);
    if (bytes > fileBytes) {
      // More than a whole file at once: only the newest lines that fit are kept on disk.
      let kept = 0;
      let keptBytes = 0;
      for (let i = lines.length - 1; i >= 0; i--) {
        const b = Buffer.byteLength(lines[i]);
        if (kept > 0 && keptBytes + b > fileBytes) break;
        kept++;
        keptBytes += b;
      }
      lines = lines.slice(lines.length - kept);
      data = lines.join('');
      bytes = keptBytes;
    }
    const { current, old } = this.files(app.guid);
    try {
      if (app.fileSize > 0 && app.fileSize + bytes > fileBytes) {
        fs.renameSync(current, old);
        app.fileSize = 0;
        this.counters.rotations++;
      }
      this.appendFile(current, data);
      app.fileSize += bytes;
      this.counters.disk_bytes_written += bytes;
    } catch (error) {
      this.counters.disk_write_errors++;
      // Said once a minute at most: a full disk must not also flood the component's own log.
      if (Date.now() - this.lastWriteError > 60_000) {
        this.lastWriteError = Date.now();
        this.options.log.error('cannot append to an app log file; lines stay in memory only', { file: current, error: (error as Error).message });
      }
    }
  }

  private appendFile(file: string, data: string): void {
    try {
      fs.appendFileSync(file, data, { mode: 0o600 });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      // The directory went away (a `destroy` of a running box, a test): make it again, once.
      fs.mkdirSync(this.options.dir, { recursive: true, mode: 0o700 });
      fs.appendFileSync(file, data, { mode: 0o600 });
    }
  }

  /** Drops the least recently used ring from memory (its lines are on disk). */
  private evict(): void {
    let oldest: AppLog | undefined;
    for (const app of this.apps.values()) if (!oldest || app.touched < oldest.touched) oldest = app;
    if (!oldest) return;
    this.write(oldest);
    this.dirty.delete(oldest);
    this.apps.delete(oldest.guid);
  }

  private expire(): void {
    const days = this.options.retentionDays ?? 0;
    if (!days) return;
    const before = Date.now() - days * DAY_MS;
    let names: string[];
    try {
      names = fs.readdirSync(this.options.dir);
    } catch {
      return;
    }
    for (const name of names) {
      if (!/\.log(\.1)?$/.test(name)) continue;
      const file = path.join(this.options.dir, name);
      try {
        if (fs.statSync(file).mtimeMs >= before) continue;
        const guid = name.replace(/\.log(\.1)?$/, '');
        if (this.apps.has(guid)) continue;
        fs.unlinkSync(file);
        this.counters.files_expired++;
      } catch {
        // gone meanwhile
      }
    }
  }
}
