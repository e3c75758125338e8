// Sidecars end to end on a real box, with the real cf CLI and devbox's: an app whose manifest has a
// sidecar answering on its own port (SIDECAR_SIDE_KICK_PORT), pushed, requested through the router
// (the app proxies /sidecar to it), listed by `cf app`, its lines in the logs as
// APP/PROC/WEB/SIDECAR/SIDE-KICK/0; a sidecar that exits crashes its instance, which the health
// manager starts again, sidecar and all.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from '../../src/runtime/common/http.js';
import { waitFor } from '../../src/runtime/common/poll.js';
import { startCfBox, type CfBox } from '../helpers/cf.js';
import { devbox } from '../helpers/devbox.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const fixture = path.join(root, 'test/fixtures/apps/sidecar-app');

interface SidecarAnswer {
  from: string;
  hostname: string;
  index: string;
  memory_limit: string;
  vcap_memory: number;
  app_port: string;
  sidecar_port: number;
  profile: string | null;
}

describe('sidecars: an app with a sidecar on its own port, pushed with cf and with devbox', function () {
  this.timeout(240_000);
  let box: CfBox;
  let dir: string;
  const ok = async (args: string[], timeoutMs = 120_000) => {
    const r = await devbox(box.home, args, { timeoutMs });
    assert.equal(r.exitCode, 0, `devbox ${args.join(' ')}: exit ${r.exitCode}\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  };
  const get = (host: string, p: string) => request({ url: `http://${host}.localhost:${box.port}${p}`, timeoutMs: 5_000, routeWaitMs: 15_000 });
  /**
   * The sidecar's answer through the app, through the router. Only the app is health checked (as on
   * Diego): its sidecar may still be starting when the app is RUNNING, so a 502 is asked again.
   */
  const sidecarSays = async (host: string): Promise<SidecarAnswer> => {
    const res = await waitFor(`the sidecar of ${host} to answer`, async () => {
      const r = await get(host, '/sidecar');
      return r.status !== 502 && r;
    }, { timeoutMs: 15_000, intervalMs: 100 });
    assert.equal(res.status, 200, res.text);
    return JSON.parse(res.text) as SidecarAnswer;
  };

  before(async function () {
    this.timeout(240_000);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'devbox-sidecars-'));
    box = await startCfBox({ prefix: 'devbox-sidecars-' });
    await box.cf.login();
  });
  after(async function () {
    this.timeout(60_000);
    await box?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("cf push with the manifest's sidecars: the app answers /sidecar from its sidecar, in its container, through the router", async () => {
    await box.cf.ok(['push', '-f', path.join(fixture, 'manifest.yml'), '-p', fixture]);
    const app = await get('sidecar-app', '/');
    assert.equal(app.status, 200, app.text);
    const seen = await sidecarSays('sidecar-app');
    assert.equal(seen.from, 'side-kick');
    assert.match(app.text, new RegExp(`^app here, instance 0 on ${seen.hostname}`), 'the sidecar runs in the app\'s container');
    assert.equal(seen.index, '0');
    assert.equal(seen.memory_limit, '64m', 'the sidecar\'s memory, from the manifest');
    assert.equal(seen.vcap_memory, 64);
    assert.equal(seen.profile, 'yes', 'started through the launcher, as the app');
    assert.notEqual(String(seen.sidecar_port), seen.app_port, 'a port of its own');
  });

  it("cf app lists the sidecar, cf curl shows it as CC does, and its lines are APP/PROC/WEB/SIDECAR/SIDE-KICK/0", async () => {
    const shown = await box.cf.ok(['app', 'sidecar-app']);
    assert.match(shown, /type:\s+web\s*\n\s*sidecars:\s+side-kick\s*\n/, shown);
    const guid = (await box.cf.ok(['app', 'sidecar-app', '--guid'])).trim();
    const listed = JSON.parse(await box.cf.ok(['curl', `/v3/apps/${guid}/sidecars`])).resources;
    assert.deepEqual(listed.map((s: { name: string; command: string; process_types: string[]; memory_in_mb: number; origin: string }) => [s.name, s.command, s.process_types, s.memory_in_mb, s.origin]), [['side-kick', 'node sidecar.js', ['web'], 64, 'user']]);
    const logs = await waitFor('the sidecar\'s lines in cf logs', async () => {
      const out = await box.cf.ok(['logs', 'sidecar-app', '--recent']);
      return /\[APP\/PROC\/WEB\/SIDECAR\/SIDE-KICK\/0\] OUT side-kick listening on \d+ \(memory 64m\)/.test(out) && out;
    }, { timeoutMs: 20_000, intervalMs: 500 });
    assert.match(logs, /\[APP\/PROC\/WEB\/0\] OUT app listening on \d+/);
    const env = JSON.parse((await get('sidecar-app', '/env')).text) as Record<string, string>;
    assert.equal(env.MEMORY_LIMIT, '192m', 'the app\'s memory is the process\'s less its sidecar\'s, as in CC');
    assert.ok(Number(env.SIDECAR_SIDE_KICK_PORT) > 0);
  });

  it('a sidecar that exits crashes its instance, named in the crash; the health manager starts it again, sidecar and all', async () => {
    const before = await sidecarSays('sidecar-app');
    const res = await get('sidecar-app', '/sidecar/exit?status=3');
    assert.equal(res.text, 'exiting\n');
    const guid = (await box.cf.ok(['app', 'sidecar-app', '--guid'])).trim();
    const crash = await waitFor('the crash event', async () => {
      const events = JSON.parse(await box.cf.ok(['curl', `/v3/audit_events?types=audit.app.process.crash&target_guids=${guid}`])).resources;
      return events[0];
    }, { timeoutMs: 20_000, intervalMs: 500 });
    assert.equal(crash.data.exit_description, 'APP/PROC/WEB/SIDECAR/SIDE-KICK: Exited with status 3');
    assert.equal(crash.data.exit_status, 3);
    const again = await waitFor('a new instance with its sidecar', async () => {
      const r = await request({ url: `http://sidecar-app.localhost:${box.port}/sidecar`, timeoutMs: 5_000 }).catch(() => undefined);
      const seen = r?.status === 200 ? (JSON.parse(r.text) as SidecarAnswer) : undefined;
      return seen && seen.hostname !== before.hostname && seen;
    }, { timeoutMs: 30_000, intervalMs: 300 });
    assert.equal(again.from, 'side-kick');
  });

  it("devbox push applies the manifest's sidecars the same way", async () => {
    const file = path.join(dir, 'manifest.yml');
    fs.writeFileSync(file, fs.readFileSync(path.join(fixture, 'manifest.yml'), 'utf8').replace('name: sidecar-app', `name: sidecar-devbox\n  path: ${fixture}`));
    const out = await ok(['push', '-f', file]);
    assert.match(out, /Applying sidecars side-kick\.\.\./);
    const seen = await sidecarSays('sidecar-devbox');
    assert.equal(seen.from, 'side-kick');
    assert.equal(seen.memory_limit, '64m');
    await waitFor('the sidecar\'s lines in devbox logs', async () => /\[APP\/PROC\/WEB\/SIDECAR\/SIDE-KICK\/0\] OUT side-kick listening/.test(await ok(['logs', 'sidecar-devbox', '--recent'])), { timeoutMs: 20_000, intervalMs: 500 });

    // A second push with another command for it: applied, and the restarted instance runs it.
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('command: node sidecar.js', 'command: PROFILE_SOURCED=changed exec node sidecar.js'));
    await ok(['push', '-f', file]);
    assert.equal((await sidecarSays('sidecar-devbox')).profile, 'changed');
    const sidecars = JSON.parse(await ok(['curl', `/v3/apps/${(JSON.parse(await ok(['curl', '/v3/apps?names=sidecar-devbox'])) as { resources: { guid: string }[] }).resources[0].guid}/sidecars`])).resources;
    assert.deepEqual(sidecars.map((s: { name: string; command: string }) => [s.name, s.command]), [['side-kick', 'PROFILE_SOURCED=changed exec node sidecar.js']]);
  });
});
