// Packages through the controller's API in the test process (helpers/controller.ts), on SQLite and
// on MySQL (where the blobstore shares its files through the database): resource matching, upload
// of only what is new, download, and the archives that must be refused (tar-slip, links out, too
// large, not a tarball).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { request } from '../../../src/runtime/common/http.js';
import { resource, sha1, tarball, untar, uploadBody, type ArchiveEntry } from '../../helpers/archives.js';
import { controllerTestDatabases, startController, type ControllerHarness } from '../../helpers/controller.js';

const LIMIT = 1024 * 1024;

for (const database of controllerTestDatabases()) {
  describe(`controller packages (resource matching, upload, download; ${database.name}, in-process)`, function () {
    this.timeout(30_000);
    let box: ControllerHarness;
    /** The controller's state directory: the blobstore is in it. */
    let home: string;
    let appGuid: string;

    before(async () => {
      await database.start();
      box = await startController({ database, maxPackageBytes: LIMIT });
      home = path.dirname(box.blobsDir);
      const space = (await box.call('GET', '/v3/spaces?names=dev')).json().resources[0];
      appGuid = (await box.call('POST', '/v3/apps', { name: 'bits-app', relationships: { space: { data: { guid: space.guid } } } })).json().guid;
    });
    after(async () => {
      await box?.stop();
      await database.stop();
    });

    const newPackage = async () => {
      const res = await box.call('POST', '/v3/packages', { type: 'bits', relationships: { app: { data: { guid: appGuid } } } });
      assert.equal(res.status, 201, res.text);
      assert.equal(res.json().state, 'AWAITING_UPLOAD');
      return res.json().guid as string;
    };
    const upload = async (guid: string, resources: unknown[], bits?: Buffer, headers: Record<string, string> = {}) => {
      const { body, contentType } = uploadBody(resources, bits);
      return request({ url: `${box.api}/v3/packages/${guid}/upload`, method: 'POST', headers: { authorization: `bearer ${box.token}`, 'content-type': contentType, ...headers }, body });
    };
    const matches = async (resources: unknown[]) => {
      const res = await box.call('POST', '/v3/resource_matches', { resources });
      assert.equal(res.status, 201, res.text);
      return (res.json().resources as { path: string }[]).map((r) => r.path).sort();
    };

    const files = { 'package.json': '{"name":"bits-app"}', 'server.js': 'console.log("v1")', 'lib/util.js': 'module.exports = 1' };

    it('uploads an app, then on a second push only what changed', async () => {
      const all = Object.entries(files).map(([p, c]) => resource(p, c));
      assert.deepEqual(await matches(all), [], 'nothing is known at first');

      const first = await newPackage();
      const entries: ArchiveEntry[] = [{ path: './', type: 'Directory', mode: 0o755 }, { path: 'lib', type: 'Directory', mode: 0o755 }, ...Object.entries(files).map(([p, c]) => ({ path: p, content: c })), { path: 'current', type: 'SymbolicLink', linkpath: 'lib/util.js' }];
      const res = await upload(first, [], tarball(entries));
      assert.equal(res.status, 200, res.text);
      const uploaded = JSON.parse(res.text);
      assert.equal(uploaded.state, 'READY');
      assert.match(uploaded.data.checksum.value, /^[0-9a-f]{64}$/);

      // Second push: server.js changed. The blobstore knows the other two.
      const changed = { ...files, 'server.js': 'console.log("v2")' };
      const wanted = Object.entries(changed).map(([p, c]) => resource(p, c));
      const known = await matches(wanted);
      assert.deepEqual(known, ['lib/util.js', 'package.json']);
      const second = await newPackage();
      const matched = wanted.filter((r) => known.includes(r.path));
      const res2 = await upload(second, matched, tarball([{ path: 'server.js', content: changed['server.js'] }, { path: 'lib', type: 'Directory', mode: 0o755 }]));
      assert.equal(res2.status, 200, res2.text);

      const download = await fetchDownload(second);
      const got = await untar(download);
      assert.equal(got.get('server.js')?.content, 'console.log("v2")');
      assert.equal(got.get('package.json')?.content, files['package.json']);
      assert.equal(got.get('lib/util.js')?.content, files['lib/util.js']);

      const firstDownload = await untar(await fetchDownload(first));
      assert.equal(firstDownload.get('server.js')?.content, 'console.log("v1")', 'the first package is unchanged');
      assert.equal(firstDownload.get('current')?.linkpath, 'lib/util.js');

      // Content-addressed: each distinct file stored once.
      const stored = fs.readdirSync(path.join(box.blobsDir, 'files'), { recursive: true }).filter((f) => /[0-9a-f]{40}$/.test(String(f)));
      assert.equal(stored.length, 4);
      assert.ok(stored.some((f) => String(f).endsWith(sha1('console.log("v2")'))));

      const listed = (await box.call('GET', `/v3/apps/${appGuid}/packages`)).json();
      assert.equal(listed.pagination.total_results, 2);
      const again = await upload(first, matched);
      assert.equal(again.status, 422, 'a package is uploaded once');
    });

    const fetchDownload = async (guid: string) => {
      const res = await fetch(`http://127.0.0.1:${new URL(box.api).port}/v3/packages/${guid}/download`, { headers: { authorization: `bearer ${box.token}` }, signal: AbortSignal.timeout(10_000) });
      if (!res.ok) throw new Error(`download: ${res.status} ${await res.text()}`);
      return Buffer.from(await res.arrayBuffer());
    };

    /**
     * An upload that declares `length` bytes and sends none: answered before any body arrives, or
     * not at all. On a connection of its own, which nothing may reuse (it still owes the body).
     */
    const declaredOnly = (guid: string, length: number) =>
      new Promise<{ status: number; text: string }>((resolve) => {
        const url = new URL(`${box.api}/v3/packages/${guid}/upload`);
        const req = http.request(
          { host: '127.0.0.1', port: url.port, path: url.pathname, method: 'POST', agent: false, timeout: 5_000, headers: { authorization: `bearer ${box.token}`, 'content-type': 'multipart/form-data; boundary=x', 'content-length': String(length) } },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => {
              resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() });
              req.destroy();
            });
          },
        );
        req.on('timeout', () => req.destroy(new Error('no answer within 5 s')));
        req.on('error', (e) => resolve({ status: 0, text: e.message }));
        req.flushHeaders();
      });

    const hostile: [string, ArchiveEntry[], RegExp][] = [
      ['a path with ../', [{ path: '../evil.txt', content: 'x' }], /entry '\.\.\/evil\.txt' is outside the app directory/],
      ['a path that climbs out midway', [{ path: 'a/../../evil.txt', content: 'x' }], /outside the app directory/],
      ['an absolute path', [{ path: '/tmp/devbox-evil.txt', content: 'x' }], /outside the app directory/],
      ['a symlink out of the app', [{ path: 'etc', type: 'SymbolicLink', linkpath: '../../../etc' }], /the link 'etc' points outside the app directory/],
      ['an absolute symlink', [{ path: 'passwd', type: 'SymbolicLink', linkpath: '/etc/passwd' }], /points outside the app directory/],
      ['a hard link', [{ path: 'hard', type: 'Link', linkpath: 'package.json' }], /only files, directories and links/],
      ['a device', [{ path: 'dev', type: 'CharacterDevice' }], /only files, directories and links/],
    ];
    for (const [what, entries, message] of hostile) {
      it(`refuses ${what}, and the package stays ready for a good upload`, async () => {
        const guid = await newPackage();
        const res = await upload(guid, [], tarball([{ path: 'ok.txt', content: 'fine' }, ...entries]));
        assert.equal(res.status, 422, res.text);
        assert.equal(JSON.parse(res.text).errors[0].title, 'CF-UnprocessableEntity');
        assert.match(JSON.parse(res.text).errors[0].detail, message);
        assert.equal((await box.call('GET', `/v3/packages/${guid}`)).json().state, 'AWAITING_UPLOAD');
        assert.equal(fs.existsSync('/tmp/devbox-evil.txt'), false);
        assert.equal(fs.existsSync(path.join(home, 'evil.txt')), false);
        assert.equal(fs.existsSync(path.join(path.dirname(home), 'evil.txt')), false);
        const retry = await upload(guid, [], tarball([{ path: 'ok.txt', content: 'fine' }]));
        assert.equal(retry.status, 200, retry.text);
      });
    }

    it('refuses resource paths that escape, and matches the blobstore does not have', async () => {
      const guid = await newPackage();
      const escape = await upload(guid, [resource('../x', files['package.json'])]);
      assert.equal(escape.status, 422);
      assert.match(escape.text, /outside the app directory/);
      const unknown = await upload(guid, [resource('new.txt', 'never uploaded')]);
      assert.equal(unknown.status, 422);
      assert.match(unknown.text, /is not in the blobstore/);
    });

    it('answers 413 for packages over the limit, declared or streamed', async () => {
      const guid = await newPackage();
      const big = randomBytes(LIMIT + 1024);
      const streamed = await upload(guid, [], tarball([{ path: 'big.bin', content: big }]));
      assert.equal(streamed.status, 413, streamed.text);
      assert.equal(JSON.parse(streamed.text).errors[0].title, 'CF-RequestEntityTooLarge');
      // A zip bomb: small on the wire, large unpacked.
      const bomb = await upload(guid, [], tarball([{ path: 'zeros.bin', content: Buffer.alloc(LIMIT * 4) }]));
      assert.equal(bomb.status, 413, bomb.text);
      const declared = await declaredOnly(guid, 1024 * 1024 * 1024);
      assert.equal(declared.status, 413, declared.text);
      assert.equal((await box.call('GET', `/v3/packages/${guid}`)).json().state, 'AWAITING_UPLOAD');
    });

    it('refuses bits that are not a gzipped tarball, and bodies that are not multipart', async () => {
      const guid = await newPackage();
      const notGzip = await upload(guid, [], Buffer.from('this is not an archive'));
      assert.equal(notGzip.status, 422, notGzip.text);
      assert.match(notGzip.text, /not a gzipped tarball/);
      const notMultipart = await box.call('POST', `/v3/packages/${guid}/upload`, { resources: [] });
      assert.equal(notMultipart.status, 400);
      assert.equal(notMultipart.json().errors[0].title, 'CF-MessageParseError');
    });
  });
}
