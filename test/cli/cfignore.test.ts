// .cfignore: gitignore's patterns as the cf CLI applies them, plus cf's default ignores.
import assert from 'node:assert/strict';
import { CfIgnore, DEFAULT_CFIGNORE, globToRegex } from '../../src/cli/cfignore.js';

const ignored = (ignore: CfIgnore, paths: string[]) => paths.filter((p) => ignore.ignores(p.replace(/\/$/, ''), p.endsWith('/')));

describe('.cfignore', () => {
  it("leaves out cf's defaults, but not node_modules", () => {
    assert.deepEqual(DEFAULT_CFIGNORE, ['.cfignore', '/manifest.yml', '.gitignore', '.git', '.hg', '.svn', '_darcs', '.DS_Store']);
    const ignore = new CfIgnore();
    assert.deepEqual(
      ignored(ignore, ['.cfignore', 'manifest.yml', 'sub/manifest.yml', '.gitignore', '.git/', '.git/config', 'lib/.git/HEAD', '.hg/x', '.svn/', '_darcs/y', 'a/.DS_Store', 'node_modules/', 'node_modules/ms/index.js', 'server.js']),
      ['.cfignore', 'manifest.yml', '.gitignore', '.git/', '.git/config', 'lib/.git/HEAD', '.hg/x', '.svn/', '_darcs/y', 'a/.DS_Store'],
    );
  });

  it('matches names at any depth, and everything inside a matched directory', () => {
    const ignore = new CfIgnore('node_modules\n*.log\ntmp/\n', { defaults: false });
    assert.deepEqual(
      ignored(ignore, ['node_modules/', 'node_modules/a/b.js', 'lib/node_modules/x', 'app.log', 'logs/today.log', 'log.txt', 'tmp/', 'tmp/a', 'a/tmp/b', 'tmp', 'src/tmp.js']),
      ['node_modules/', 'node_modules/a/b.js', 'lib/node_modules/x', 'app.log', 'logs/today.log', 'tmp/', 'tmp/a', 'a/tmp/b'],
    );
  });

  it('anchors patterns with a slash at the app directory', () => {
    const ignore = new CfIgnore('/build\ndocs/*.md\nsrc/**/test\n', { defaults: false });
    assert.deepEqual(
      ignored(ignore, ['build/', 'build/out.js', 'lib/build/x', 'docs/a.md', 'docs/sub/a.md', 'x/docs/a.md', 'src/test/a', 'src/a/b/test/c', 'src/testing']),
      ['build/', 'build/out.js', 'docs/a.md', 'src/test/a', 'src/a/b/test/c'],
    );
  });

  it('takes paths back in with !, the last matching pattern winning', () => {
    const ignore = new CfIgnore('*.env\n!public.env\nvendor\n!vendor/keep.js\n', { defaults: false });
    assert.deepEqual(ignored(ignore, ['secret.env', 'public.env', 'a/b.env', 'vendor/x.js', 'vendor/keep.js']), ['secret.env', 'a/b.env', 'vendor/x.js']);
    assert.equal(ignore.hasNegations, true);
    assert.equal(new CfIgnore('a\n').hasNegations, false);
    // A .cfignore can take one of cf's defaults back.
    assert.equal(new CfIgnore('!manifest.yml\n').ignores('manifest.yml'), false);
  });

  it('ignores comments and blank lines, honours escapes, ? and classes, and directory-only patterns', () => {
    const ignore = new CfIgnore('# a comment\n\n\\#hash\n\\!bang\nfile?.txt\n[ab]*.c\ncache/\n  \n', { defaults: false });
    assert.deepEqual(
      ignored(ignore, ['# a comment', '#hash', '!bang', 'file1.txt', 'file12.txt', 'a.c', 'b1.c', 'c.c', 'cache/', 'cache/x', 'cache']),
      ['#hash', '!bang', 'file1.txt', 'a.c', 'b1.c', 'cache/', 'cache/x'],
    );
  });

  it('turns globs into regular expressions that stay within a path segment', () => {
    assert.equal(globToRegex('*.js'), '[^/]*\\.js');
    assert.equal(globToRegex('**/x'), '(?:.*/)?x');
    assert.equal(globToRegex('a/**'), 'a\\/.*');
    assert.equal(globToRegex('[!a]'), '[^/a]');
    assert.ok(new RegExp(`^${globToRegex('a/**/b')}$`).test('a/b'));
    assert.ok(new RegExp(`^${globToRegex('a/**/b')}$`).test('a/x/y/b'));
    assert.ok(!new RegExp(`^${globToRegex('a*')}$`).test('ab/c'));
  });
});
