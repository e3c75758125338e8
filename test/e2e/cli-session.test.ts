// The CLI's session end to end: lazy admin login after `devbox up`, cli.json, token refresh (before
// expiry, and once on CF-InvalidAuthToken), logout/login, refused credentials. The box issues access
// tokens that live 3 s, so expiry is watched for real.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig, statePaths, type DevboxConfig } from '../../src/runtime/common/config.js';
import { freePort, sleep } from '../../src/runtime/common/net.js';
import type { SessionState } from '../../src/cli/session.js';
import { cleanupBox, devbox, tempHome, type DevboxResult } from '../helpers/devbox.js';

const ACCESS_VALIDITY_S = 3;
const NOT_LOGGED_IN = "Not logged in. Use 'devbox login' to log in.";

describe('devbox CLI session: login, tokens, logout', function () {
  this.timeout(60_000);
  let home: string;
  let config: DevboxConfig;

  const cli = (...args: string[]): Promise<DevboxResult> => devbox(home, args);
  const show = (r: DevboxResult) => `exit ${r.exitCode}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
  const ok = async (...args: string[]): Promise<string> => {
    const r = await cli(...args);
    assert.equal(r.exitCode, 0, `devbox ${args.join(' ')}: ${show(r)}`);
    return r.stdout;
  };
  const sessionPath = () => path.join(home, 'cli.json');
  const session = (): SessionState => JSON.parse(fs.readFileSync(sessionPath(), 'utf8')) as SessionState;
  const writeSession = (state: SessionState) => fs.writeFileSync(sessionPath(), JSON.stringify(state), { mode: 0o600 });
  const waitForExpiry = async () => {
    const left = (session().expires_at ?? 0) - Date.now();
    await sleep(Math.max(0, left) + 300);
  };

  before(async () => {
    home = tempHome('devbox-cli-session-');
    const up = await devbox(home, ['up', '-d', '--port', String(await freePort())], { env: { DEVBOX_UAA_ACCESS_TOKEN_VALIDITY: String(ACCESS_VALIDITY_S) } });
    assert.equal(up.exitCode, 0, show(up));
    config = loadConfig(statePaths(home));
  });
  after(async () => cleanupBox(home));

  it('logs in as the admin by itself after up and targets devbox/dev', async () => {
    const out = await ok('target');
    assert.match(out, /^user: {11}admin$/m);
    assert.match(out, /^org: {12}devbox$/m);
    assert.match(out, /^space: {10}dev$/m);
    const state = session();
    assert.equal(fs.statSync(sessionPath()).mode & 0o777, 0o600);
    assert.equal(state.user, 'admin');
    assert.equal(state.box, config.uaa.signing_key.kid);
    assert.ok(state.access_token && state.refresh_token);
    assert.equal(state.lifetime_ms, ACCESS_VALIDITY_S * 1000);
    assert.equal(JSON.stringify(state).includes(config.uaa.admin.password), false, 'the password is not kept');
  });

  it('refreshes an expired access token before using it', async () => {
    const before = session().access_token;
    await waitForExpiry();
    assert.match(await ok('apps'), /No apps found/);
    assert.notEqual(session().access_token, before, 'a new access token was fetched with the refresh token');
  });

  it('refreshes once and repeats the request when the API answers CF-InvalidAuthToken', async () => {
    const stale = session();
    await waitForExpiry();
    // The CLI believes the token is fresh; the API knows better.
    writeSession({ ...stale, expires_at: Date.now() + 3_600_000 });
    assert.match(await ok('apps'), /No apps found/);
    assert.notEqual(session().access_token, stale.access_token);
  });

  it('says Not logged in when uaa refuses the refresh token, and stays logged out', async () => {
    const stale = session();
    await waitForExpiry();
    writeSession({ ...stale, refresh_token: 'not-a-token', expires_at: Date.now() + 3_600_000 });
    const r = await cli('apps');
    assert.equal(r.exitCode, 1, show(r));
    assert.match(r.stdout, /^FAILED$/m);
    assert.match(r.stderr, new RegExp(`^${NOT_LOGGED_IN.replace(/[.()]/g, '\\$&')}`));
    const again = await cli('apps');
    assert.equal(again.exitCode, 1, show(again));
    assert.equal(again.stderr, NOT_LOGGED_IN);
    assert.equal(session().access_token, undefined);
  });

  it('login: -u/-p log in again, a wrong password fails clearly, no terminal and no -p is a usage error', async () => {
    const wrong = await cli('login', '-u', 'admin', '-p', 'wrong');
    assert.equal(wrong.exitCode, 1, show(wrong));
    assert.match(wrong.stdout, /^API endpoint: http:\/\/api\.localhost:\d+\n\nAuthenticating\.\.\.\nFAILED$/);
    assert.match(wrong.stderr, /Credentials were rejected \(Bad credentials\)\. Check the user name and password\. The box's admin user and password are in .*config\.json \(uaa\.admin\)\./);

    const noPassword = await cli('login', '-u', 'admin');
    assert.equal(noPassword.exitCode, 2, show(noPassword));
    assert.match(noPassword.stderr, /-p PASSWORD is required when there is no terminal/);

    const login = await ok('login', '-u', 'admin', '-p', config.uaa.admin.password);
    assert.match(login, /Authenticating\.\.\.\nOK\n\nTargeted org devbox\.\n\nTargeted space dev\.\n\nAPI endpoint: {3}http/);
    assert.match(await ok('apps'), /^Getting apps in org devbox \/ space dev as admin\.\.\./);
  });

  it('logout forgets the tokens: commands say how to log in, nothing logs in by itself', async () => {
    assert.equal(await ok('logout'), 'Logging out admin...\nOK');
    for (const args of [['apps'], ['target'], ['curl', '/v3/apps']]) {
      const r = await cli(...args);
      assert.equal(r.exitCode, 1, `${args.join(' ')}: ${show(r)}`);
      assert.equal(r.stderr, NOT_LOGGED_IN);
    }
    assert.equal(session().logged_out, true);
    assert.equal(session().refresh_token, undefined);

    await ok('login', '-u', 'admin', '-p', config.uaa.admin.password, '-s', 'dev');
    assert.match(await ok('apps'), /No apps found/);
  });

  it('replaces a session made for another box with a fresh admin login', async () => {
    const { access_token: _a, refresh_token: _r, ...rest } = session();
    writeSession({ ...rest, box: 'key-of-an-older-box', logged_out: true, org: { guid: 'gone', name: 'gone' }, space: undefined });
    assert.match(await ok('apps'), /^Getting apps in org devbox \/ space dev as admin\.\.\./);
    assert.equal(session().box, config.uaa.signing_key.kid);
  });

  it('follows the box to another router port, keeping the target', async () => {
    await ok('create-space', 'other');
    await ok('target', '-s', 'other');
    assert.equal((await devbox(home, ['down'])).exitCode, 0);
    const port = await freePort();
    const up = await devbox(home, ['up', '-d', '--port', String(port)], { env: { DEVBOX_UAA_ACCESS_TOKEN_VALIDITY: String(ACCESS_VALIDITY_S) } });
    assert.equal(up.exitCode, 0, show(up));
    const out = await ok('target');
    assert.match(out, new RegExp(`^API endpoint: {3}http://api\\.localhost:${port}$`, 'm'));
    assert.match(out, /^space: {10}other$/m);
    assert.match(await ok('apps'), /^Getting apps in org devbox \/ space other as admin\.\.\./);
  });

  it('tells how to start the box when it does not run', async () => {
    assert.equal((await devbox(home, ['down'])).exitCode, 0);
    const r = await cli('apps');
    assert.equal(r.exitCode, 1, show(r));
    assert.match(r.stderr, /devbox is not running .*Start it with 'devbox up'/);
  });
});
