// Hostile manifests and commands on apps that do not exist, through the real CLI against the box:
// recursion and alias bombs, nesting bombs, binary garbage, wrong types everywhere. Each fails with
// `FAILED`, exit 1 and a message naming the problem, and nothing is created on the box.
// (Single wrong fields, broken YAML and an app missing from a manifest are in test/e2e/push.test.ts.)
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fixtures, show, type BadInputBox } from './box.js';

const laughs = (levels: number) => {
  let yaml = 'a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n';
  for (let i = 1; i < levels; i++) yaml += `a${i}: &a${i} [${Array.from({ length: 10 }, () => `*a${i - 1}`).join(',')}]\n`;
  return `${yaml}applications:\n- name: laughs\n  env:\n    BOMB: *a${levels - 1}\n`;
};

const CASES: [string, string | Buffer, RegExp[]][] = [
  ['a billion laughs (alias bomb)', laughs(9), [/its YAML aliases expand too much \(more than 100 expansions\)/]],
  ['an anchor aliased inside itself', 'applications:\n- &app\n  name: selfref\n  env: *app\n', [/applications\[0\]\.env is an alias of a node that contains it \(a YAML recursion\): write the values out instead/]],
  ['lists nested 100,000 deep', `applications:\n- name: deep\n  env: ${'['.repeat(100_000)}${']'.repeat(100_000)}\n`, [/it nests lists or maps too deeply; a manifest needs only a few levels/]],
  ['maps nested 20,000 deep', `applications:\n- name: deep\n  env: ${'{a: '.repeat(20_000)}1${'}'.repeat(20_000)}\n`, [/it nests lists or maps too deeply/]],
  ['a manifest over 1 MiB', `applications:\n- name: big\n  env:\n${Array.from({ length: 40_000 }, (_, i) => `    K${i}: "${'x'.repeat(24)}"`).join('\n')}\n`, [/the file is \d+ bytes; a manifest may have at most 1048576/]],
  ['random bytes', randomBytes(8192), [/cannot be used:/]],
  ['applications is a string', 'applications: hello\n', [/applications must be a list/]],
  [
    'wrong types in every field',
    'applications:\n- name: [a, b]\n  instances: -3\n  memory: lots\n  disk_quota: {size: 1G}\n  env: FOO=bar\n  routes: typed.localhost\n  buildpacks: 7\n  command: [node, x]\n  health-check-type: sometimes\n  timeout: forever\n',
    [/applications\[0\]\.name/, /applications\[0\]\.instances/, /applications\[0\]\.memory/, /applications\[0\]\.disk_quota/, /applications\[0\]\.env/, /applications\[0\]\.routes/, /applications\[0\]\.buildpacks/, /applications\[0\]\.command/, /applications\[0\]\.health-check-type/, /applications\[0\]\.timeout/],
  ],
  ['a name with control characters', 'applications:\n- name: "bell\\u0007\\nline"\n', [/[Nn]ame must not contain control characters/]],
];

export function manifests(get: () => BadInputBox): void {
  describe('hostile manifests and unknown apps', () => {
    const appNames = async () => ((await get().api.call('GET', '/v3/apps?per_page=5000')).json().resources as { name: string }[]).map((a) => a.name).sort();

    for (const [what, content, messages] of CASES) {
      it(`refuses ${what} with a clear error, and creates nothing`, async () => {
        const box = get();
        const before = await appNames();
        const dir = box.scratch('devbox-bad-manifest-');
        fs.cpSync(path.join(fixtures, 'apps/node-hello'), dir, { recursive: true });
        fs.writeFileSync(path.join(dir, 'manifest.yml'), content);
        const started = Date.now();
        const r = await box.cli(['push', '-f', path.join(dir, 'manifest.yml')], { cwd: dir, timeoutMs: 30_000 });
        assert.equal(r.exitCode, 1, show(r));
        assert.match(r.stdout, /^FAILED$/m, show(r));
        assert.ok(Date.now() - started < 15_000, `${what} took ${Date.now() - started} ms`);
        for (const m of messages) assert.match(r.stderr, m, show(r));
        assert.doesNotMatch(r.stderr, /\n\s+at .*\(.*:\d+:\d+\)|TypeError|circular structure/, `a stack trace or an internal error: ${r.stderr}`);
        assert.deepEqual(await appNames(), before, 'the box changed');
      });
    }

    it('says an app does not exist for every command that names one, and exits 1', async () => {
      const box = get();
      for (const args of [['app', 'nosuch'], ['start', 'nosuch'], ['stop', 'nosuch'], ['restart', 'nosuch'], ['restage', 'nosuch'], ['scale', 'nosuch', '-i', '2'], ['env', 'nosuch'], ['set-env', 'nosuch', 'A', 'b'], ['logs', 'nosuch', '--recent'], ['events', 'nosuch'], ['bind-service', 'nosuch', 'nodb'], ['map-route', 'nosuch', 'localhost', '--hostname', 'x']]) {
        const r = await box.cli(args);
        assert.equal(r.exitCode, 1, `devbox ${args.join(' ')}: ${show(r)}`);
        assert.match(r.stderr, /App 'nosuch' not found/, `devbox ${args.join(' ')}: ${show(r)}`);
      }
      const deleted = await box.cli(['delete', 'nosuch', '-f']);
      assert.equal(deleted.exitCode, 0, 'cf: deleting an app that does not exist is not an error');
      assert.match(deleted.stdout + deleted.stderr, /App 'nosuch' does not exist/);
      await box.stillWorks('unknown apps');
    });
  });
}
