// The ssh switches end to end on a real box, with the real cf CLI (cf 8) and devbox's: an app's
// (enable-ssh, disable-ssh, ssh-enabled) and a space's (allow-space-ssh, disallow-space-ssh,
// space-ssh-allowed), with cf's words, each CLI seeing what the other set; and the ssh proxy's
// question (`/internal/apps/:guid/ssh_access/:index`) through the router, with its audit events.
// Nothing here uses the ssh proxy itself (docs/ssh.md; its own tests cover sessions).
import assert from 'node:assert/strict';
import { startCfBox, type CfBox } from '../helpers/cf.js';
import { devbox } from '../helpers/devbox.js';

const APP = 'ssh-switches';

describe('ssh features: cf and devbox turn ssh on and off for an app and a space', function () {
  this.timeout(240_000);
  let box: CfBox;
  let appGuid: string;
  const cf = (...args: string[]) => box.cf.run(args);
  const cfOk = (...args: string[]) => box.cf.ok(args);
  const dev = (...args: string[]) => devbox(box.home, args, { timeoutMs: 60_000 });
  const devOk = async (...args: string[]) => {
    const r = await dev(...args);
    assert.equal(r.exitCode, 0, `devbox ${args.join(' ')}: exit ${r.exitCode}\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  };
  /** The lines of an output, without blank ones (cf adds some). */
  const lines = (stdout: string) => stdout.split('\n').map((l) => l.trimEnd()).filter((l) => l !== '');
  const curl = async (path: string) => JSON.parse(await cfOk('curl', path));

  before(async function () {
    this.timeout(240_000);
    box = await startCfBox({ prefix: 'devbox-ssh-features-' });
    await box.cf.login();
    await cfOk('create-app', APP);
    appGuid = (await curl(`/v3/apps?names=${APP}`)).resources[0].guid;
  });
  after(async function () {
    this.timeout(60_000);
    await box?.close();
  });

  it('cf: ssh-enabled, disable-ssh (twice), enable-ssh, with cf 8\'s words', async () => {
    assert.deepEqual(lines(await cfOk('ssh-enabled', APP)), [`ssh support is enabled for app '${APP}'.`]);
    assert.deepEqual(lines(await cfOk('disable-ssh', APP)), [`Disabling ssh support for app ${APP} as admin...`, 'OK']);
    assert.deepEqual(lines(await cfOk('disable-ssh', APP)), [`Disabling ssh support for app ${APP} as admin...`, `ssh support for app '${APP}' is already disabled.`, 'OK']);
    assert.deepEqual(lines(await cfOk('ssh-enabled', APP)), [`ssh support is disabled for app '${APP}'.`, 'ssh is disabled for app']);
    assert.deepEqual(lines(await cfOk('enable-ssh', APP)), [`Enabling ssh support for app ${APP} as admin...`, 'OK']);
    assert.deepEqual(lines(await cfOk('enable-ssh', APP)), [`Enabling ssh support for app ${APP} as admin...`, `ssh support for app '${APP}' is already enabled.`, 'OK']);
    const features = await curl(`/v3/apps/${appGuid}/features`);
    assert.deepEqual(features.resources.map((f: { name: string; enabled: boolean }) => [f.name, f.enabled]), [['ssh', true], ['revisions', false]]);
  });

  it('cf: disallow-space-ssh, space-ssh-allowed, the app\'s reason and TIP, allow-space-ssh', async () => {
    assert.deepEqual(lines(await cfOk('space-ssh-allowed', 'dev')), ["ssh support is enabled in space 'dev'."]);
    assert.deepEqual(lines(await cfOk('disallow-space-ssh', 'dev')), ['Disabling ssh support for space dev as admin...', 'OK']);
    assert.deepEqual(lines(await cfOk('disallow-space-ssh', 'dev')), ['Disabling ssh support for space dev as admin...', "ssh support for space 'dev' is already disabled.", 'OK']);
    assert.deepEqual(lines(await cfOk('space-ssh-allowed', 'dev')), ["ssh support is disabled in space 'dev'."]);
    assert.deepEqual(lines(await cfOk('ssh-enabled', APP)), [`ssh support is disabled for app '${APP}'.`, "ssh is disabled for space 'dev'"]);
    // The app's own switch is on, the space's off: cf says where else to look.
    assert.deepEqual(lines(await cfOk('enable-ssh', APP)), [`Enabling ssh support for app ${APP} as admin...`, `ssh support for app '${APP}' is already enabled.`, 'OK', 'TIP: Ensure ssh is also enabled on the space and global level.']);
    assert.deepEqual(lines(await cfOk('allow-space-ssh', 'dev')), ['Enabling ssh support for space dev as admin...', 'OK']);
    assert.deepEqual(lines(await cfOk('allow-space-ssh', 'dev')), ['Enabling ssh support for space dev as admin...', "ssh support for space 'dev' is already enabled.", 'OK']);
    assert.deepEqual(lines(await cfOk('ssh-enabled', APP)), [`ssh support is enabled for app '${APP}'.`]);
  });

  it('cf: an unknown app or space fails as cf says it', async () => {
    const app = await cf('disable-ssh', 'no-such-app');
    assert.equal(app.exitCode, 1, app.stdout);
    assert.match(app.stdout + app.stderr, /App 'no-such-app' not found/);
    const space = await cf('allow-space-ssh', 'no-such-space');
    assert.equal(space.exitCode, 1, space.stdout);
    assert.match(space.stdout + space.stderr, /Space 'no-such-space' not found/);
  });

  it('devbox: the same commands and words, and each CLI sees what the other set', async () => {
    assert.deepEqual(lines(await devOk('ssh-enabled', APP)), [`ssh support is enabled for app '${APP}'.`]);
    assert.deepEqual(lines(await devOk('disable-ssh', APP)), [`Disabling ssh support for app ${APP} as admin...`, 'OK']);
    assert.deepEqual(lines(await devOk('disable-ssh', APP)), [`Disabling ssh support for app ${APP} as admin...`, `ssh support for app '${APP}' is already disabled.`, 'OK']);
    assert.deepEqual(lines(await cfOk('ssh-enabled', APP)), [`ssh support is disabled for app '${APP}'.`, 'ssh is disabled for app'], 'cf sees it');
    assert.deepEqual(lines(await devOk('ssh-enabled', APP)), [`ssh support is disabled for app '${APP}'.`, 'ssh is disabled for app']);
    assert.deepEqual(lines(await devOk('enable-ssh', APP)), [`Enabling ssh support for app ${APP} as admin...`, 'OK']);

    assert.deepEqual(lines(await devOk('disallow-space-ssh', 'dev')), ['Disabling ssh support for space dev as admin...', 'OK']);
    assert.deepEqual(lines(await devOk('disallow-space-ssh', 'dev')), ['Disabling ssh support for space dev as admin...', "ssh support for space 'dev' is already disabled.", 'OK']);
    assert.deepEqual(lines(await cfOk('space-ssh-allowed', 'dev')), ["ssh support is disabled in space 'dev'."], 'cf sees it');
    assert.deepEqual(lines(await devOk('space-ssh-allowed', 'dev')), ["ssh support is disabled in space 'dev'."]);
    assert.deepEqual(lines(await devOk('ssh-enabled', APP)), [`ssh support is disabled for app '${APP}'.`, "ssh is disabled for space 'dev'"]);
    assert.deepEqual(lines(await devOk('enable-ssh', APP)), [`Enabling ssh support for app ${APP} as admin...`, `ssh support for app '${APP}' is already enabled.`, 'OK', 'TIP: Ensure ssh is also enabled on the space and global level.']);
    assert.deepEqual(lines(await devOk('allow-space-ssh', 'dev')), ['Enabling ssh support for space dev as admin...', 'OK']);
    assert.deepEqual(lines(await devOk('allow-space-ssh', 'dev')), ['Enabling ssh support for space dev as admin...', "ssh support for space 'dev' is already enabled.", 'OK']);
    assert.deepEqual(lines(await cfOk('space-ssh-allowed', 'dev')), ["ssh support is enabled in space 'dev'."]);

    const app = await dev('enable-ssh', 'no-such-app');
    assert.equal(app.exitCode, 1, app.stdout);
    assert.match(app.stderr, /App 'no-such-app' not found/);
    const space = await dev('space-ssh-allowed', 'no-such-space');
    assert.equal(space.exitCode, 1, space.stdout);
    assert.match(space.stderr, /Space 'no-such-space' not found in org devbox/);
    const usage = await dev('enable-ssh');
    assert.equal(usage.exitCode, 2, 'no app name and no terminal to ask at: a usage error');
    assert.match((await devOk('help', 'allow-space-ssh')), /Allow SSH access for the space/);
  });

  it("the ssh proxy's question through the router: allowed while ssh is on, InvalidRequest while off, each answer an audit event", async () => {
    const access = await curl(`/internal/apps/${appGuid}/ssh_access/0`);
    assert.equal(access.process_guid, appGuid, 'the web process has the app\'s guid');
    assert.equal(access.app_guid, appGuid);
    assert.equal(access.index, 0);
    assert.match(access.version, /^[0-9a-f-]{36}$/);
    await devOk('disable-ssh', APP);
    const refused = await curl(`/internal/apps/${appGuid}/ssh_access/1`);
    assert.deepEqual(refused.errors.map((e: { title: string; detail: string }) => [e.title, e.detail]), [['CF-InvalidRequest', 'The request is invalid']]);
    await devOk('enable-ssh', APP);
    const events = await curl(`/v3/audit_events?target_guids=${appGuid}&types=audit.app.ssh-authorized,audit.app.ssh-unauthorized&order_by=created_at`);
    assert.deepEqual(events.resources.map((e: { type: string; actor: { name: string }; data: unknown }) => [e.type, e.actor.name, e.data]), [
      ['audit.app.ssh-authorized', 'admin', { index: 0 }],
      ['audit.app.ssh-unauthorized', 'admin', { index: 1 }],
    ]);
  });
});
