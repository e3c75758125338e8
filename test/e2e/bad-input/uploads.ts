// Uploads a box must refuse: a 1 GB package and a 1 GB JSON body (streamed, generated on the fly),
// archives whose links climb out together or carry files through a link, broken tarballs. Each is
// refused at once with a clear error, writes nothing outside the app, and the package stays ready
// for a good upload. (Single-entry tar-slip cases are in test/runtime/controller/packages.test.ts.)
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { request, type HttpResponse } from '../../../src/runtime/common/http.js';
import { tarball, uploadBody, type ArchiveEntry } from '../../helpers/archives.js';
import { assertCfError, type BadInputBox } from './box.js';

const GiB = 1024 * 1024 * 1024;

interface Flooded {
  status: number;
  text: string;
  /** Milliseconds from the first byte sent to the answer. */
  ms: number;
  /** Body bytes written before the answer came. */
  sent: number;
}

/**
 * Sends `total` bytes of body through the router (one 64 KiB buffer written again and again, so
 * nothing of that size is ever held), stopping as soon as an answer arrives.
 */
function flood(box: BadInputBox, urlPath: string, total: number, headers: Record<string, string>, prefix = Buffer.alloc(0)): Promise<Flooded> {
  const chunk = Buffer.alloc(64 * 1024, 'a');
  return new Promise((resolve, reject) => {
    const started = Date.now();
    let sent = 0;
    let answered = false;
    const req = http.request({ host: '127.0.0.1', port: box.routerPort, method: 'POST', path: urlPath, headers: { host: `api.${box.config.domain}:${box.routerPort}`, authorization: `bearer ${box.api.token}`, ...headers } });
    const timer = setTimeout(() => req.destroy(new Error(`no answer after ${Math.round(sent / 1024 / 1024)} MiB sent in 20 s`)), 20_000);
    req.on('response', (res) => {
      answered = true;
      const ms = Date.now() - started;
      const body: Buffer[] = [];
      res.on('data', (c: Buffer) => body.push(c));
      res.on('end', () => {
        clearTimeout(timer);
        req.destroy();
        resolve({ status: res.statusCode ?? 0, text: Buffer.concat(body).toString(), ms, sent });
      });
    });
    req.on('error', (error) => {
      clearTimeout(timer);
      if (!answered) reject(error);
    });
    const pump = () => {
      if (sent === 0 && prefix.length > 0) {
        req.write(prefix);
        sent += prefix.length;
      }
      while (!answered && sent < total) {
        const n = Math.min(chunk.length, total - sent);
        sent += n;
        if (!req.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return void req.once('drain', pump);
      }
      if (!answered) req.end();
    };
    pump();
  });
}

export function uploads(get: () => BadInputBox): void {
  describe('uploads', () => {
    let appGuid: string;
    const newPackage = async () => {
      const res = await get().api.call('POST', '/v3/packages', { type: 'bits', relationships: { app: { data: { guid: appGuid } } } });
      assert.equal(res.status, 201, res.text);
      return res.json().guid as string;
    };
    const upload = (guid: string, entries: ArchiveEntry[]): Promise<HttpResponse> => {
      const box = get();
      const { body, contentType } = uploadBody([], tarball(entries));
      return request({ url: `${box.api.api}/v3/packages/${guid}/upload`, method: 'POST', headers: { authorization: `bearer ${box.api.token}`, 'content-type': contentType }, body });
    };
    const packageState = async (guid: string) => (await get().api.call('GET', `/v3/packages/${guid}`)).json().state as string;

    before(async () => {
      const box = get();
      const space = (await box.api.call('GET', '/v3/spaces?names=dev')).json().resources[0].guid;
      const res = await box.api.call('POST', '/v3/apps', { name: 'bad-input-uploads', relationships: { space: { data: { guid: space } } } });
      assert.equal(res.status, 201, res.text);
      appGuid = res.json().guid;
    });

    it('answers a 1 GB package upload with 413 at once, without reading it', async () => {
      const box = get();
      const guid = await newPackage();
      const boundary = 'devbox-bad-input';
      const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="bits"; filename="app.tgz"\r\nContent-Type: application/gzip\r\n\r\n`);
      const total = GiB + 1024 * 1024;
      const res = await flood(box, `/v3/packages/${guid}/upload`, total, { 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': String(total) }, head);
      assertCfError({ status: res.status, text: res.text, headers: {} }, 413, 'CF-RequestEntityTooLarge', /larger than the limit of 1024 MB/, 'a 1 GB upload');
      assert.ok(res.ms < 3_000, `the 413 took ${res.ms} ms`);
      assert.ok(res.sent < total / 4, `${Math.round(res.sent / 1024 / 1024)} MiB were sent before the answer`);
      assert.equal(await packageState(guid), 'AWAITING_UPLOAD', 'the package waits for a good upload');
      assert.equal((await upload(guid, [{ path: 'index.html', content: 'ok' }])).status, 200);
      await box.stillWorks('a 1 GB upload');
    });

    it('answers a 1 GB JSON body with 413 after reading its first MiB', async () => {
      const box = get();
      const res = await flood(box, '/v3/apps', GiB, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' }, Buffer.from('{"name":"'));
      assertCfError({ status: res.status, text: res.text, headers: {} }, 413, 'CF-RequestEntityTooLarge', /larger than 1048576 bytes/, 'a 1 GB JSON body');
      assert.ok(res.ms < 5_000, `the 413 took ${res.ms} ms`);
      assert.ok(res.sent < 256 * 1024 * 1024, `${Math.round(res.sent / 1024 / 1024)} MiB were sent before the answer`);
      await box.stillWorks('a 1 GB JSON body');
    });

    const marker = `pwned-${randomBytes(4).toString('hex')}.txt`;
    const hostile: [string, ArchiveEntry[], RegExp][] = [
      // Each link alone stays inside; the second leaves through the first.
      ['links that climb out together', [{ path: 'sub', type: 'Directory', mode: 0o755 }, { path: 'sub/up', type: 'SymbolicLink', linkpath: '..' }, { path: 'out', type: 'SymbolicLink', linkpath: 'sub/up/..' }], /the link 'out' points outside the app directory through other links/],
      ['a file written through a link', [{ path: 'lib', type: 'Directory', mode: 0o755 }, { path: 'alias', type: 'SymbolicLink', linkpath: 'lib' }, { path: `alias/${marker}`, content: 'x' }], new RegExp(`the entry 'alias/${marker.replace('.', '\\.')}' is inside the link 'alias'`)],
      ['links that loop', [{ path: 'a', type: 'SymbolicLink', linkpath: 'b' }, { path: 'b', type: 'SymbolicLink', linkpath: 'a' }], /or the links loop/],
      ['a long (pax) path that climbs out', [{ path: `${'d/'.repeat(60)}${'../'.repeat(61)}${marker}`, content: 'x' }], /is outside the app directory/],
      ['a backslash path that climbs out', [{ path: `..\\..\\${marker}`, content: 'x' }], /is outside the app directory/],
    ];
    for (const [what, entries, detail] of hostile) {
      it(`refuses ${what}; nothing lands outside; a good upload follows`, async () => {
        const box = get();
        const guid = await newPackage();
        const res = await upload(guid, [{ path: 'index.html', content: 'ok' }, ...entries]);
        assertCfError(res, 422, 'CF-UnprocessableEntity', detail, what);
        assert.match(JSON.parse(res.text).errors[0].detail, /^The uploaded package is invalid: /);
        assert.equal(await packageState(guid), 'AWAITING_UPLOAD');
        for (const dir of [box.home, path.dirname(box.home), '/tmp']) assert.equal(fs.existsSync(path.join(dir, marker)), false, `${marker} in ${dir}`);
        assert.equal((await upload(guid, [{ path: 'index.html', content: 'ok' }])).status, 200);
      });
    }

    it('refuses truncated and corrupted tarballs with 422, and the box carries on', async () => {
      const box = get();
      const good = tarball([{ path: 'index.html', content: 'x'.repeat(10_000) }]);
      const corrupt = Buffer.from(good);
      corrupt.fill(0x55, 40, 80);
      const cases: [string, Buffer][] = [
        ['truncated', good.subarray(0, good.length - 30)],
        ['corrupted', corrupt],
        ['random bytes', randomBytes(4096)],
        ['empty', Buffer.alloc(0)],
      ];
      for (const [what, bits] of cases) {
        const guid = await newPackage();
        const { body, contentType } = uploadBody([], bits);
        const res = await request({ url: `${box.api.api}/v3/packages/${guid}/upload`, method: 'POST', headers: { authorization: `bearer ${box.api.token}`, 'content-type': contentType }, body });
        assertCfError(res, 422, 'CF-UnprocessableEntity', /^The uploaded package is invalid: /, what);
        assert.equal(await packageState(guid), 'AWAITING_UPLOAD', what);
      }
      await box.stillWorks('broken tarballs');
    });
  });
}
