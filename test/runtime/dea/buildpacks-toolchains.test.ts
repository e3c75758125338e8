// On a real DEA: the versions an app pins (runtime.txt, .python-version, engines.node) against the
// machine's. (Go, Ruby and PHP, and Cloud Foundry's `<name>_buildpack` names: staging-languages.test.ts.)
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { newGuid, packageOf, stageApp, startHarness, type Harness } from './helpers.js';


describe('version pins of node and python apps', function () {
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
