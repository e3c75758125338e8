// The pieces of the logs component that need no bus: envelope checks, the ring's bounds, and the
// store's files (torn writes, lazy loading, oversized batches, expiry).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createLogger } from '../../../src/runtime/common/log.js';
import { parseRecord, subjectGuid, type LogRecord } from '../../../src/runtime/logs/envelope.js';
import { Ring } from '../../../src/runtime/logs/ring.js';
import { logsSettings } from '../../../src/runtime/logs/settings.js';
import { LogStore, type StoreOptions } from '../../../src/runtime/logs/store.js';
import { envelope, tempHome } from './helpers.js';

const record = (app: string, message: string, over = {}): LogRecord => parseRecord(JSON.stringify(envelope(app, message, over)), app) as LogRecord;

describe('logs: envelopes, ring, store', () => {
  describe('envelopes', () => {
    it('takes the guid from a one-token logs.<guid> subject only', () => {
      assert.equal(subjectGuid('logs.0c6f-44_aa'), '0c6f-44_aa');
      for (const s of ['logs.', 'logs.a.b', 'logs.a/b', 'logs.../x', 'log.abc', `logs.${'a'.repeat(65)}`]) assert.equal(subjectGuid(s), undefined, s);
    });

    it('keeps exactly the envelope fields; refuses what breaks the envelope contract or names another app', () => {
      const parse = (value: unknown) => parseRecord(JSON.stringify(value), 'a');
      const base = { timestamp: 1, app_guid: 'a', source_type: 'RTR', source_instance: '0', message_type: 'OUT', message: 'm' };
      assert.deepEqual(parse({ ...base, source_type: 'APP/PROC/WEB', extra: true })?.envelope, { ...base, source_type: 'APP/PROC/WEB' });
      assert.equal(parse({ ...base, extra: true })?.json, JSON.stringify(base));
      for (const bad of [
        { ...base, timestamp: -1 },
        { ...base, timestamp: Number.NaN },
        { ...base, source_type: 'rtr' },
        { ...base, source_type: 'APP//WEB' },
        { ...base, source_instance: null },
        { ...base, source_instance: 2 },
        { ...base, message: 42 },
        { ...base, message: 'x'.repeat(200 * 1024) },
        { ...base, app_guid: 'b' },
      ]) {
        assert.equal(parse(bad), undefined, JSON.stringify(bad).slice(0, 100));
      }
      assert.equal(parseRecord('{not json', 'a'), undefined);
    });
  });

  describe('ring', () => {
    it('keeps the newest maxLines, oldest first, growing only as lines come', () => {
      const ring = new Ring(5);
      for (let i = 0; i < 12; i++) ring.push(record('a', `m${i}`));
      assert.deepEqual(ring.toArray().map((r) => r.envelope.message), ['m7', 'm8', 'm9', 'm10', 'm11']);
      assert.deepEqual(ring.toArray(2).map((r) => r.envelope.message), ['m10', 'm11']);
      assert.equal(ring.size, 5);
    });

    it('keeps about maxBytes of JSON, but always the newest line', () => {
      const ring = new Ring(1000, 2000);
      for (let i = 0; i < 100; i++) ring.push(record('a', `${i} ${'z'.repeat(300)}`));
      assert.ok(ring.byteSize <= 2000);
      assert.ok(ring.size >= 4 && ring.size <= 5, `${ring.size}`);
      ring.push(record('a', 'w'.repeat(5000)));
      assert.equal(ring.size, 1);
    });
  });

  describe('store', () => {
    let dir: string;
    const lines: string[] = [];
    const options = (over: Partial<StoreOptions> = {}): StoreOptions => ({
      dir,
      ringLines: 100,
      ringBytes: 1024 * 1024,
      fileBytes: 64 * 1024,
      flushMs: 0,
      log: createLogger('logs', { write: (l) => void lines.push(l) }),
      ...over,
    });
    beforeEach(() => {
      dir = path.join(tempHome(), 'apps');
    });
    afterEach(() => fs.rmSync(path.dirname(dir), { recursive: true, force: true }));

    it('creates its directory owner-only', () => {
      new LogStore(options()).open();
      assert.equal(fs.statSync(dir).mode & 0o777, 0o700);
    });

    it('cuts a torn last line (a write interrupted by kill -9) and goes on appending cleanly', () => {
      const store = new LogStore(options());
      store.open();
      const a = record('app', 'whole line');
      store.append(a);
      const file = store.files('app').current;
      fs.appendFileSync(file, '{"timestamp":1,"app_gu');
      const again = new LogStore(options());
      again.open();
      assert.deepEqual(again.recent('app').map((r) => r.envelope), [a.envelope]);
      const b = record('app', 'next line');
      again.append(b);
      assert.deepEqual(fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l)), [a.envelope, b.envelope]);
      assert.equal(again.counters.disk_lines_skipped, 1);
    });

    it('reads the rotated file too when the current one has fewer lines than the ring', () => {
      const store = new LogStore(options({ fileBytes: 1024 }));
      store.open();
      const sent = Array.from({ length: 12 }, (_, i) => record('app', `line ${i}`));
      for (const r of sent) store.append(r);
      assert.ok(fs.existsSync(store.files('app').old));
      const again = new LogStore(options({ fileBytes: 1024 }));
      again.open();
      const back = again.recent('app').map((r) => r.envelope);
      assert.ok(back.length > fs.readFileSync(store.files('app').current, 'utf8').trim().split('\n').length, 'more than the current file alone');
      assert.deepEqual(back, sent.slice(-back.length).map((r) => r.envelope));
    });

    it('writes batches after flushMs, and never more than one file of a batch larger than a file', async () => {
      const store = new LogStore(options({ fileBytes: 2048, flushMs: 30 }));
      store.open();
      const sent = Array.from({ length: 100 }, (_, i) => record('app', `batched ${i}`));
      for (const r of sent) store.append(r);
      assert.equal(fs.existsSync(store.files('app').current), false, 'not written yet');
      await new Promise((resolve) => setTimeout(resolve, 80));
      const text = fs.readFileSync(store.files('app').current, 'utf8');
      assert.ok(Buffer.byteLength(text) <= 2048);
      assert.deepEqual(text.trim().split('\n').map((l) => JSON.parse(l).message).at(-1), 'batched 99');
      assert.equal(store.recent('app').length, 100, 'the ring has them all');
    });

    it('removes the files of apps silent for longer than the retention', () => {
      fs.mkdirSync(dir, { recursive: true });
      const old = path.join(dir, 'gone.log');
      const fresh = path.join(dir, 'here.log');
      fs.writeFileSync(old, '');
      fs.writeFileSync(fresh, '');
      const longAgo = new Date(Date.now() - 40 * 24 * 3600 * 1000);
      fs.utimesSync(old, longAgo, longAgo);
      const store = new LogStore(options({ retentionDays: 30 }));
      store.open();
      store.close();
      assert.deepEqual(fs.readdirSync(dir), ['here.log']);
      assert.equal(store.counters.files_expired, 1);
    });

    it('drops the least recently used rings beyond maxApps from memory, and reads them back from disk', () => {
      const store = new LogStore(options({ maxApps: 2 }));
      store.open();
      store.append(record('a1', 'one'));
      store.append(record('a2', 'two'));
      store.append(record('a3', 'three'));
      assert.equal(store.appCount, 2);
      assert.deepEqual(store.recent('a1').map((r) => r.envelope.message), ['one']);
    });
  });

  describe('settings', () => {
    it('reads DEVBOX_LOGS_* and refuses nonsense', () => {
      const config = { domain: 'localhost', router_port: 8080 };
      const s = logsSettings(config, { logs: '/h/logs' }, 9090, { DEVBOX_LOGS_RING: '50', DEVBOX_LOGS_FILE_BYTES: '2048' });
      assert.equal(s.ringLines, 50);
      assert.equal(s.fileBytes, 2048);
      assert.equal(s.apiUrl, 'http://api.localhost:9090');
      assert.equal(s.dir, '/h/logs/apps');
      assert.equal(s.host, 'logs.localhost');
      assert.equal(logsSettings(config, { logs: '/h/logs' }, undefined, {}).ringLines, 1000);
      assert.throws(() => logsSettings(config, { logs: '/h' }, 1, { DEVBOX_LOGS_RING: '0' }), /DEVBOX_LOGS_RING must be a whole number/);
      assert.throws(() => logsSettings(config, { logs: '/h' }, 1, { DEVBOX_LOGS_FILE_BYTES: 'lots' }), /DEVBOX_LOGS_FILE_BYTES/);
    });
  });
});
