// `devbox status` says how apps are kept apart (docs/security.md, "Where containers cannot be
// made"): on a box whose DEA makes containers, that apps run in containers; on a box started with
// DEVBOX_DEA_CONTAINERS=off, a warning that they run as processes of the user who started it. Both
// in the text and in `status --json` (each DEA's `isolation`, from its /varz). The default box is
// the security suite's shared one; the box without containers is this file's own.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../../src/runtime/common/net.js';
import { processTree } from '../../../src/runtime/common/procfs.js';
import { cleanupBox, devbox, tempHome, type DevboxResult } from '../../helpers/devbox.js';
import { cmdline, securityBox } from './box.js';

const helloApp = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../templates/apps/hello-node');

interface StatusJson {
  components: { name: string; type: string; healthy: boolean; isolation?: { containers: string; detail: string } }[];
}

/** The DEAs of a `status --json`, each with its isolation; the other components have none. */
function deas(result: DevboxResult): { name: string; isolation: { containers: string; detail: string } }[] {
  assert.equal(result.exitCode, 0, `devbox status --json: exit ${result.exitCode}\n${result.stdout}\n${result.stderr}`);
  const status = JSON.parse(result.stdout) as StatusJson;
  const found = status.components.filter((c) => c.name.startsWith('dea'));
  assert.ok(found.length > 0, 'status --json lists a DEA');
  for (const c of status.components) {
    if (c.name.startsWith('dea')) assert.ok(c.isolation, `${c.name} has an isolation in status --json`);
    else assert.equal(c.isolation, undefined, `${c.name} runs no apps: no isolation`);
  }
  return found.map((c) => ({ name: c.name, isolation: c.isolation! }));
}

describe('security: devbox status says whether apps run in containers', function () {
  this.timeout(180_000);

  it('on a default box: apps run in containers, no warning', async () => {
    const box = await securityBox();
    const text = await box.cli(['status']);
    assert.equal(text.exitCode, 0, `devbox status: exit ${text.exitCode}\n${text.stdout}\n${text.stderr}`);
    assert.match(text.stdout, /^dea\S*: apps run in containers \(bubblewrap: mount, pid, ipc and uts namespaces, .+\)$/m, text.stdout);
    assert.doesNotMatch(text.stdout + text.stderr, /WARNING|no containers/);
    for (const dea of deas(await box.cli(['status', '--json']))) {
      assert.equal(dea.isolation.containers, 'namespaces', `${dea.name}: ${dea.isolation.detail}`);
      assert.match(dea.isolation.detail, /^bubblewrap: /);
    }
  });

  describe('on a box started with DEVBOX_DEA_CONTAINERS=off', () => {
    let home = '';
    const cli = (args: string[]) => devbox(home, args, { timeoutMs: 90_000 });
    const user = os.userInfo().username;

    before(async () => {
      home = tempHome('devbox-no-containers-');
      const up = await devbox(home, ['up', '-d', '--port', String(await freePort())], { timeoutMs: 90_000, env: { DEVBOX_DEA_CONTAINERS: 'off' } });
      assert.equal(up.exitCode, 0, `devbox up: ${up.stdout}\n${up.stderr}`);
    });
    after(async function () {
      this.timeout(60_000);
      if (home) await cleanupBox(home);
    });

    it('warns that apps run without containers, as processes of the user, and says why', async () => {
      const text = await cli(['status']);
      assert.equal(text.exitCode, 0, `devbox status: exit ${text.exitCode}\n${text.stdout}\n${text.stderr}`);
      const warning = new RegExp(`^dea\\S*: WARNING no containers \\(DEVBOX_DEA_CONTAINERS=off\\): instances and stagings run as processes of ${user}\\b.*$`, 'm');
      assert.match(text.stdout, warning, text.stdout);
      assert.doesNotMatch(text.stdout, /apps run in containers/);
      for (const dea of deas(await cli(['status', '--json']))) {
        assert.equal(dea.isolation.containers, 'none', `${dea.name}: ${dea.isolation.detail}`);
        assert.match(dea.isolation.detail, new RegExp(`^no containers \\(DEVBOX_DEA_CONTAINERS=off\\): .*processes of ${user}\\b`));
      }
    });

    it('and that is what happens: a pushed app runs as the user, outside any container', async () => {
      const pushed = await cli(['push', 'hello', '-p', helloApp, '--no-manifest']);
      assert.equal(pushed.exitCode, 0, `devbox push: ${pushed.stdout}\n${pushed.stderr}`);
      const instances = fs.readdirSync(path.join(home, 'dea', 'dea-0', 'instances'));
      assert.equal(instances.length, 1, 'one instance');
      const record = JSON.parse(fs.readFileSync(path.join(home, 'dea', 'dea-0', 'instances', instances[0], 'instance.json'), 'utf8')) as { pid: number };
      const pids = processTree(record.pid);
      assert.ok(pids.some((pid) => /node server\.js/.test(cmdline(pid))), `the app's node among ${pids.map(cmdline).join(' | ')}`);
      for (const pid of pids) {
        assert.doesNotMatch(cmdline(pid), /bwrap/, 'no bubblewrap');
        const uid = /^Uid:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
        assert.equal(uid, String(process.getuid?.()), `${cmdline(pid)} runs as ${user}`);
      }
    });
  });
});
