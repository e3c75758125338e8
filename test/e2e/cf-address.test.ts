// The cf address end to end: the real cf CLI 8 (helpers/cf.ts: ../shared/tools/cf-cli/cf, or
// DEVBOX_CF_CLI) against a real `devbox up -d`, with no HTTP proxy and nothing in /etc/hosts:
// `cf api http://127.0.0.1:<router port>` (what `devbox up` prints and `status --json` reports as
// `cf_api`), `cf login -u -p`, `cf apps`; and the platform's host names refused as routes through
// cf (`create-route`, `map-route`) and through devbox's CLI (`map-route`, push with a manifest route).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig, statePaths } from '../../src/runtime/common/config.js';
import { freePort, waitFor } from '../../src/runtime/common/net.js';
import { cfFor, type Cf, type CfResult } from '../helpers/cf.js';
import { cleanupBox, devbox, tempHome, type DevboxResult } from '../helpers/devbox.js';

const RESERVED = /Route conflicts with a reserved system route: the hostname '(\S+)' is reserved for the platform in domain 'localhost'\./;

describe('the cf address: the real cf CLI without /etc/hosts or a proxy', function () {
  this.timeout(120_000);
  let home: string;
  let routerPort: number;
  let up: DevboxResult;
  let cf: Cf | undefined;

  const show = (r: CfResult | DevboxResult) => `exit ${r.exitCode}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;

  before(async () => {
    home = tempHome('devbox-cf-address-');
    routerPort = await freePort();
    // Access tokens shorter than a minute: cf refreshes those before use (`cf oauth-token` below).
    up = await devbox(home, ['up', '-d', '--port', String(routerPort)], { timeoutMs: 90_000, env: { DEVBOX_UAA_ACCESS_TOKEN_VALIDITY: '50' } });
    assert.equal(up.exitCode, 0, show(up));
  });
  after(async () => {
    cf?.cleanup();
    if (home) await cleanupBox(home);
  });

  it('prints the two cf lines at up, never the password, and reports cf_api in status --json', async () => {
    const api = `http://127.0.0.1:${routerPort}`;
    const { username, password } = loadConfig(statePaths(home)).uaa.admin;
    assert.match(up.stdout, new RegExp(`^ +cf api ${api.replace(/\./g, '\\.')}$`, 'm'));
    assert.match(up.stdout, new RegExp(`^ +cf login -u ${username} -p <password> +# uaa\\.admin\\.password in ${statePaths(home).config.replace(/[.\\/]/g, '\\$&')} \\(mode 0600\\)$`, 'm'));
    assert.ok(!up.stdout.includes(password) && !up.stderr.includes(password), 'the password is not printed');
    assert.equal(fs.statSync(statePaths(home).config).mode & 0o777, 0o600);

    const status = await devbox(home, ['status', '--json']);
    assert.equal(status.exitCode, 0, show(status));
    assert.equal(JSON.parse(status.stdout).cf_api, api);
  });

  it('cf api, cf login -u -p and cf apps work on that address, with no proxy', async () => {
    cf = await cfFor({ home });
    assert.equal(cf.api, `http://127.0.0.1:${routerPort}`, 'the helper uses cf_api');
    // Nothing between cf and the box: no proxy variables at all.
    const direct = { HTTP_PROXY: '', http_proxy: '', HTTPS_PROXY: '', https_proxy: '' };
    const api = await cf.run(['api', cf.api], { env: direct });
    assert.equal(api.exitCode, 0, show(api));
    assert.match(api.stdout, /API endpoint: +http:\/\/127\.0\.0\.1:\d+/);
    const login = await cf.run(['login', '-u', cf.admin.username, '-p', cf.admin.password, '-o', 'devbox', '-s', 'dev'], { env: direct });
    assert.equal(login.exitCode, 0, show(login));
    assert.match(login.stdout, /user: +admin/);
    assert.match(login.stdout, /space: +dev/);
    const apps = await cf.run(['apps'], { env: direct });
    assert.equal(apps.exitCode, 0, show(apps));
    assert.match(apps.stdout, /Getting apps in org devbox \/ space dev as admin/);
    // cf oauth-token refreshes a token with less than a minute left: the refresh grant through /uaa.
    const uaaLog = path.join(statePaths(home).logs, 'uaa.log');
    const refreshes = () => fs.readFileSync(uaaLog, 'utf8').split('\n').filter((l) => l.includes('token issued') && l.includes('"grant_type":"refresh_token"')).length;
    const before = refreshes();
    const token = await cf.run(['oauth-token'], { env: direct });
    assert.equal(token.exitCode, 0, show(token));
    assert.match(token.stdout, /^bearer ey/);
    // (the component's log reaches its file through the supervisor, a moment later)
    await waitFor('the refresh grant in uaa.log', () => refreshes() === before + 1, { timeoutMs: 5_000 });
    // …and the API takes the refreshed token.
    const orgs = await cf.run(['orgs'], { env: direct });
    assert.equal(orgs.exitCode, 0, show(orgs));
    assert.match(orgs.stdout, /^devbox$/m);
  });

  it('refuses routes on the platform host names through cf, and through devbox, creating none', async () => {
    assert.ok(cf, 'logged in by the previous test');
    const direct = { HTTP_PROXY: '', http_proxy: '' };
    const create = await cf.run(['create-route', 'localhost', '--hostname', 'api'], { env: direct });
    assert.equal(create.exitCode, 1, show(create));
    assert.match(create.stdout + create.stderr, RESERVED);
    assert.match(create.stdout, /FAILED/);

    await cf.ok(['create-app', 'reserved-test'], { env: direct });
    const map = await cf.run(['map-route', 'reserved-test', 'localhost', '--hostname', 'uaa'], { env: direct });
    assert.equal(map.exitCode, 1, show(map));
    assert.match(map.stdout + map.stderr, RESERVED);

    const devboxMap = await devbox(home, ['map-route', 'reserved-test', 'localhost', '--hostname', 'login']);
    assert.notEqual(devboxMap.exitCode, 0, show(devboxMap));
    assert.match(devboxMap.stdout + devboxMap.stderr, RESERVED);

    // A manifest route on a reserved host: push stops at the route, nothing is uploaded.
    const dir = tempHome('devbox-cf-address-app-');
    try {
      fs.writeFileSync(path.join(dir, 'server.js'), "require('http').createServer((q, s) => s.end('hi')).listen(process.env.PORT);\n");
      fs.writeFileSync(path.join(dir, 'package.json'), '{"name":"reserved-push","version":"1.0.0"}\n');
      fs.writeFileSync(path.join(dir, 'manifest.yml'), 'applications:\n- name: reserved-push\n  routes:\n  - route: logs.localhost\n');
      const push = await devbox(home, ['push', '-f', path.join(dir, 'manifest.yml'), '-p', dir], { timeoutMs: 60_000 });
      assert.notEqual(push.exitCode, 0, show(push));
      assert.match(push.stdout + push.stderr, RESERVED);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }

    const routes = JSON.parse(await cf.ok(['curl', '/v3/routes?hosts=api,uaa,login,logs'], { env: direct }));
    assert.equal(routes.pagination.total_results, 0, JSON.stringify(routes));
  });
});
