// What push uploads: the app directory walked with .cfignore, sha1s and modes for resource_matches,
// links kept inside and refused when they point out, and the tarball of what the API lacks.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { collectAppFiles, fileResources, tarballStream } from '../../src/cli/app-files.js';
import { CliError } from '../../src/cli/base-command.js';
import { untar } from '../helpers/archives.js';

const sha1 = (text: string) => createHash('sha1').update(text).digest('hex');

async function collect(stream: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return Buffer.concat(chunks);
}

describe('app files for push', () => {
  let dir: string;
  const write = (rel: string, content: string, mode = 0o644) => {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), content);
    fs.chmodSync(path.join(dir, rel), mode);
  };

  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'devbox-files-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('lists files with sha1, size and mode, honouring .cfignore and the defaults', async () => {
    write('server.js', 'console.log(1)\n');
    write('bin/run', '#!/bin/sh\necho hi\n', 0o755);
    write('manifest.yml', 'applications: []\n');
    write('.cfignore', 'secret.txt\nlogs/\n');
    write('secret.txt', 'password');
    write('logs/a.log', 'x');
    write('.git/HEAD', 'ref');
    write('node_modules/ms/index.js', 'module.exports = 1\n');
    fs.mkdirSync(path.join(dir, 'empty'));

    const files = await collectAppFiles(dir);
    assert.equal(files.root, dir);
    assert.deepEqual(
      // (directory modes depend on the umask: only files' modes are checked)
      files.entries.map((e) => [e.path, e.type, e.type === 'file' ? e.mode.toString(8) : '-', e.empty ?? null]),
      [
        ['bin', 'directory', '-', false],
        ['bin/run', 'file', '755', null],
        ['empty', 'directory', '-', true],
        ['node_modules', 'directory', '-', false],
        ['node_modules/ms', 'directory', '-', false],
        ['node_modules/ms/index.js', 'file', '644', null],
        ['server.js', 'file', '644', null],
      ],
    );
    assert.deepEqual(fileResources(files), [
      { path: 'bin/run', checksum: { value: sha1('#!/bin/sh\necho hi\n') }, size_in_bytes: 18, mode: '755' },
      { path: 'node_modules/ms/index.js', checksum: { value: sha1('module.exports = 1\n') }, size_in_bytes: 19, mode: '644' },
      { path: 'server.js', checksum: { value: sha1('console.log(1)\n') }, size_in_bytes: 15, mode: '644' },
    ]);
  });

  it('looks into an ignored directory only to take back what a ! pattern names', async () => {
    write('.cfignore', 'vendor\n!vendor/keep.js\n');
    write('vendor/keep.js', 'k');
    write('vendor/drop.js', 'd');
    write('vendor/sub/drop.js', 'd');
    const files = await collectAppFiles(dir);
    assert.deepEqual(
      files.entries.map((e) => e.path),
      ['vendor', 'vendor/keep.js'],
    );
  });

  it('keeps links that stay inside (absolute ones made relative) and refuses links that point out', async () => {
    write('lib/real.js', 'x');
    fs.symlinkSync('real.js', path.join(dir, 'lib/alias.js'));
    fs.symlinkSync(path.join(dir, 'lib'), path.join(dir, 'libdir'));
    fs.symlinkSync('lib/missing.js', path.join(dir, 'dangling'));
    const files = await collectAppFiles(dir);
    const links = files.entries.filter((e) => e.type === 'symlink').map((e) => [e.path, e.target]);
    assert.deepEqual(links, [
      ['dangling', 'lib/missing.js'],
      ['lib/alias.js', 'real.js'],
      ['libdir', 'lib'],
    ]);
    assert.equal(files.entries.some((e) => e.path.startsWith('libdir/')), false, 'a link to a directory is not followed');

    fs.symlinkSync('/etc/passwd', path.join(dir, 'passwd'));
    await assert.rejects(collectAppFiles(dir), (error: Error) => {
      assert.ok(error instanceof CliError);
      assert.match(error.message, /The link passwd points outside the app directory \(to \/etc\/passwd\)/);
      assert.match(error.message, /leave the link out in \.cfignore/);
      return true;
    });
    fs.unlinkSync(path.join(dir, 'passwd'));
    fs.symlinkSync('../../x', path.join(dir, 'lib/up'));
    await assert.rejects(collectAppFiles(dir), /The link lib\/up points outside the app directory \(to \.\.\/\.\.\/x\)/);
    // A link that points out but is ignored does not matter.
    write('.cfignore', 'lib/up\n');
    await collectAppFiles(dir);
  });

  it('leaves out sockets and fifos, and refuses a path that is neither a directory nor a zip archive', async () => {
    write('a.txt', 'a');
    execFileSync('mkfifo', [path.join(dir, 'pipe')]);
    const files = await collectAppFiles(dir);
    assert.deepEqual(files.skipped, ['pipe']);
    assert.deepEqual(files.entries.map((e) => e.path), ['a.txt']);
    await assert.rejects(collectAppFiles(path.join(dir, 'a.txt')), /is neither a directory nor a zip archive \(\.jar, \.war, \.zip\)/);
    // A zip (a jar) is the app as it is, uploaded whole.
    const jar = path.join(dir, 'app.jar');
    fs.writeFileSync(jar, Buffer.from([0x50, 0x4b, 0x05, 0x06, ...new Array(18).fill(0)]));
    assert.deepEqual(await collectAppFiles(jar), { root: jar, entries: [], skipped: [], archive: { path: jar, size: 22 } });
    await assert.rejects(collectAppFiles(path.join(dir, 'nope')), /does not exist/);
  });

  it('packs the chosen entries into a gzipped tarball with modes and links, counting bytes', async () => {
    write('server.js', 'hello');
    write('bin/run', 'run!', 0o755);
    write('big.bin', 'z'.repeat(70_000));
    fs.symlinkSync('server.js', path.join(dir, 'link.js'));
    fs.mkdirSync(path.join(dir, 'empty'));
    const files = await collectAppFiles(dir);
    const send = files.entries.filter((e) => (e.path !== 'server.js' && e.type !== 'directory') || e.empty);
    const seen: number[] = [];
    const tgz = await collect(tarballStream(dir, send, (bytes) => seen.push(bytes)));
    const entries = await untar(tgz);
    assert.deepEqual([...entries.keys()].sort(), ['big.bin', 'bin/run', 'empty', 'link.js']);
    assert.equal(entries.get('bin/run')?.content, 'run!');
    assert.equal(entries.get('big.bin')?.content.length, 70_000);
    assert.equal(entries.get('link.js')?.type, 'SymbolicLink');
    assert.equal(entries.get('link.js')?.linkpath, 'server.js');
    assert.equal(entries.get('empty')?.type, 'Directory');
    assert.equal(seen.at(-1), 70_004);
  });

  it('fails the tarball when a file shrank after it was listed', async () => {
    write('a.txt', 'long content');
    const files = await collectAppFiles(dir);
    write('a.txt', 'short');
    await assert.rejects(collect(tarballStream(dir, files.entries, () => undefined)), /a\.txt changed while it was being pushed/);
  });
});
