// On a real DEA: apps of the languages devbox has no buildpack for (Go, Ruby, PHP) are known by
// their files and NoAppDetectedError says so and how to push them; Cloud Foundry's
// `<name>_buildpack` names; and the versions an app pins (runtime.txt, .python-version,
// engines.node) against the machine's.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { BUILTIN_ORDER } from '../../../src/runtime/dea/staging/buildpacks.js';
import { newGuid, packageOf, stageApp, startHarness, type Harness } from './helpers.js';


describe('apps devbox has no buildpack for, buildpack names, and version pins', function () {
  this.timeout(60_000);
  let h: Harness;
  let scratch: string;

  before(async () => {
    h = await startHarness();
    scratch = fs.mkdtempSync(path.join(h.home, 'scratch-'));
  });
  after(async () => h?.close());

  const appDir = (name: string, files: Record<string, string>) => {
    const dir = path.join(scratch, name);
    for (const [file, content] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
      fs.writeFileSync(path.join(dir, file), content);
    }
    return dir;
  };

  const GO_MAIN = 'package main\n\nimport (\n\t"net/http"\n\t"os"\n)\n\nfunc main() {\n\thttp.ListenAndServe(":"+os.Getenv("PORT"), nil)\n}\n';
  const cases: { language: string; marker: string; files: Record<string, string>; hint: RegExp }[] = [
    { language: 'Go', marker: 'go.mod', files: { 'go.mod': 'module example.com/hello\n\ngo 1.21\n', 'main.go': GO_MAIN }, hint: /-b binary_buildpack -c \.\/app$/ },
    { language: 'Go', marker: 'Godeps/Godeps.json', files: { 'Godeps/Godeps.json': '{}', 'main.go': GO_MAIN }, hint: /go build/ },
    { language: 'Go', marker: 'vendor/modules.txt', files: { 'vendor/modules.txt': '# example.com/dep v1.0.0\n', 'main.go': GO_MAIN }, hint: /go build/ },
    { language: 'Ruby', marker: 'Gemfile', files: { Gemfile: "source 'https://rubygems.org'\ngem 'sinatra'\n", 'config.ru': "require './app'\nrun Sinatra::Application\n" }, hint: /bundle exec rackup -p \$PORT/ },
    { language: 'PHP', marker: 'composer.json', files: { 'composer.json': '{}' }, hint: /php -S 0\.0\.0\.0:\$PORT/ },
    { language: 'PHP', marker: 'index.php', files: { 'index.php': '<?php echo "hello";\n' }, hint: /php -S/ },
  ];

  it('an app of a language devbox has no buildpack for (Go, Ruby, PHP): NoAppDetectedError saying what it looks like and how to push it', async () => {
    for (const c of cases) {
      const { reply } = await stageApp(h, newGuid(), await packageOf(appDir(`${c.language}-${newGuid()}`, c.files)));
      assert.equal(reply.error?.id, 'NoAppDetectedError', JSON.stringify(reply));
      const prefix = `An app was not successfully detected by any available buildpack: it looks like a ${c.language} app (${c.marker}), and devbox has no ${c.language} buildpack: `;
      assert.ok(reply.error.message.startsWith(prefix), reply.error.message);
      assert.match(reply.error.message, c.hint);
    }
    const nothing = await stageApp(h, newGuid(), await packageOf(appDir('nothing', { 'README.md': 'nothing to detect\n' })));
    assert.equal(nothing.reply.error?.message, 'An app was not successfully detected by any available buildpack');
  });

  it("CF's <name>_buildpack names select every built-in; an unknown one lists them", async () => {
    const pkg = await packageOf(appDir('named', { 'README.md': 'nothing to detect\n' }));
    for (const name of BUILTIN_ORDER) {
      const { reply } = await stageApp(h, newGuid(), pkg, { buildpacks: [`${name}_buildpack`], start_command: 'true' });
      assert.notEqual(reply.error?.id, 'NoSuchBuildpack', `${name}_buildpack: ${JSON.stringify(reply)}`);
    }
    const unknown = await stageApp(h, newGuid(), pkg, { buildpacks: ['go_buildpack'] });
    assert.equal(unknown.reply.error?.id, 'NoSuchBuildpack');
    assert.match(unknown.reply.error.message, /Available buildpacks: java, nodejs, python, staticfile, binary/);
  });

  it('python: an exact runtime.txt or .python-version the machine lacks fails, a version line it lacks warns', async () => {
    // The python a staging finds (a version manager's choice may differ from this process's).
    const app = 'print("hello")\n';
    const probe = newGuid();
    await stageApp(h, probe, await packageOf(appDir('py-probe', { 'app.py': app })));
    const host = /^STG\/0 OUT {8}Using Python (\d+\.\d+\.\d+) from the host$/m.exec(h.rec.logs(probe, 'STG').join('\n'))?.[1];
    assert.ok(host, h.rec.logs(probe).join('\n'));
    const [major, minor] = host.split('.').map(Number);

    const exact = await stageApp(h, newGuid(), await packageOf(appDir('py-exact', { 'app.py': app, 'runtime.txt': `python-${major}.${minor}.999\n` })));
    assert.equal(exact.reply.error?.id, 'BuildpackCompileFailed', JSON.stringify(exact.reply));
    assert.equal(
      exact.reply.error.message,
      `App staging failed in the buildpack compile phase (bin/compile of python exited with status 1): The app asks for Python ${major}.${minor}.999 exactly (runtime.txt), and this machine's python3 is ${host}: devbox runs apps with the host's python3. Install Python ${major}.${minor}.999 on the machine, or ask for the version line (${major}.${minor}) in runtime.txt.`,
    );

    const guid = newGuid();
    const line = await stageApp(h, guid, await packageOf(appDir('py-line', { 'app.py': app, 'runtime.txt': `python-${major}.${minor + 50}.x\n` })));
    assert.equal(line.reply.error, undefined, JSON.stringify(line.reply));
    assert.ok(
      h.rec.logs(guid, 'STG').includes(`STG/0 OUT        **WARNING** The app asks for Python ${major}.${minor + 50}.x (runtime.txt), and this machine's python3 is ${host}: the app runs with ${host}. Install Python ${major}.${minor + 50} on the machine to run it with that version.`),
      h.rec.logs(guid).join('\n'),
    );

    const same = newGuid();
    assert.equal((await stageApp(h, same, await packageOf(appDir('py-same', { 'app.py': app, 'runtime.txt': `python-${host}\n` })))).reply.error, undefined);
    assert.ok(!h.rec.logs(same, 'STG').some((l) => l.includes('**')), h.rec.logs(same).join('\n'));

    // .python-version names a version pyenv does not have here either: an exact one fails.
    const pinned = await stageApp(h, newGuid(), await packageOf(appDir('py-pinned', { 'app.py': app, '.python-version': `${major}.${minor}.999\n` })));
    assert.equal(pinned.reply.error?.id, 'BuildpackCompileFailed', JSON.stringify(pinned.reply));
    assert.match(pinned.reply.error.message, new RegExp(`The app asks for Python ${major}\\.${minor}\\.999 exactly \\(\\.python-version\\)`));
  });

  it("node: an exact engines.node the machine's node is not fails, a range it does not satisfy warns", async () => {
    const host = process.versions.node;
    const major = Number(host.split('.')[0]);
    const app = (node: string) => ({ 'package.json': JSON.stringify({ name: 'pinned', engines: { node }, scripts: { start: 'node server.js' } }), 'server.js': '\n' });

    const exact = await stageApp(h, newGuid(), await packageOf(appDir('node-exact', app(`${major - 1}.0.0`))));
    assert.equal(exact.reply.error?.id, 'BuildpackCompileFailed', JSON.stringify(exact.reply));
    assert.match(exact.reply.error.message, new RegExp(`: The app asks for Node\\.js ${major - 1}\\.0\\.0 exactly \\(engines\\.node in package\\.json\\), and this machine's node is v${host.replace(/\./g, '\\.')}`));

    const guid = newGuid();
    const range = await stageApp(h, guid, await packageOf(appDir('node-range', app(`^${major - 1}`))));
    assert.equal(range.reply.error, undefined, JSON.stringify(range.reply));
    assert.ok(
      h.rec.logs(guid, 'STG').includes(`STG/0 OUT        **WARNING** The app asks for Node.js ^${major - 1} (engines.node in package.json), and this machine's node is v${host}: the app runs with v${host}. Install a Node.js that satisfies ^${major - 1} on the machine to run it with that version.`),
      h.rec.logs(guid).join('\n'),
    );

    const fine = newGuid();
    assert.equal((await stageApp(h, fine, await packageOf(appDir('node-fine', app(`>=${major - 2}`))))).reply.error, undefined);
    assert.ok(!h.rec.logs(fine, 'STG').some((l) => l.includes('**')), h.rec.logs(fine).join('\n'));
  });
});
