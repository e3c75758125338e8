// One-time ssh codes end to end (docs/uaa.md, "One-time codes"): a real `devbox up -d`, then
// `devbox ssh-code` and the real cf CLI's `cf ssh-code` (helpers/cf.ts) each print a code, which the
// ssh proxy's client redeems at uaa through the router, once, for the admin's token that the
// controller accepts. Needs the built executable (`npm run build`) and the cf CLI.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig, statePaths, uaaBaseUrl, uaaIssuer, type DevboxConfig } from '../../src/runtime/common/config.js';
import { request, type HttpResponse } from '../../src/runtime/common/http.js';
import { CONTROLLER_AUDIENCE, createTokenVerifier } from '../../src/runtime/common/tokens.js';
import { startCfBox, type CfBox } from '../helpers/cf.js';
import { devbox, type DevboxResult } from '../helpers/devbox.js';

/** What a code looks like: url-safe, long enough not to be guessed. */
const CODE = /^[A-Za-z0-9_-]{20,}$/;

describe('ssh codes: devbox ssh-code and cf ssh-code', function () {
  this.timeout(120_000);
  let box: CfBox | undefined;
  let config: DevboxConfig;

  const show = (r: DevboxResult) => `exit ${r.exitCode}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
  /** The ssh proxy's side: the authorization_code grant at uaa, through the router. */
  const redeem = (code: string): Promise<HttpResponse> => {
    const { id, secret } = config.uaa.ssh_proxy_client;
    return request({
      url: `${uaaBaseUrl(config.domain, (box as CfBox).port)}/oauth/token`,
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code }).toString(),
      timeoutMs: 10_000,
      routeWaitMs: 5_000,
    });
  };
  /** Redeems a code and checks that the controller takes the token as the admin's. */
  const assertRedeemsForAdmin = async (code: string) => {
    const res = await redeem(code);
    assert.equal(res.status, 200, res.text);
    const verifier = createTokenVerifier({
      publicPem: config.uaa.signing_key.public_pem,
      kid: config.uaa.signing_key.kid,
      issuer: uaaIssuer(uaaBaseUrl(config.domain, (box as CfBox).port)),
      audience: CONTROLLER_AUDIENCE,
    });
    const claims = await verifier.verify((JSON.parse(res.text) as { access_token: string }).access_token);
    assert.equal(claims.user_name, config.uaa.admin.username);
    assert.ok(claims.scope.includes('cloud_controller.admin'), claims.scope.join(' '));
  };

  before(async function () {
    this.timeout(180_000);
    box = await startCfBox({ prefix: 'devbox-ssh-code-' });
    config = loadConfig(statePaths(box.home));
  });
  after(async function () {
    this.timeout(60_000);
    await box?.close();
  });

  it('devbox ssh-code prints one code, which redeems once for the user\'s token', async () => {
    const home = (box as CfBox).home;
    const first = await devbox(home, ['ssh-code']);
    assert.equal(first.exitCode, 0, show(first));
    const code = first.stdout.trim();
    assert.match(code, CODE, show(first));
    assert.equal(first.stdout, code, 'the code alone, on one line');
    const second = (await devbox(home, ['ssh-code'])).stdout.trim();
    assert.match(second, CODE);
    assert.notEqual(second, code);

    await assertRedeemsForAdmin(code);
    const reused = await redeem(code);
    assert.equal(reused.status, 400);
    assert.deepEqual(JSON.parse(reused.text), { error: 'invalid_grant', error_description: `Invalid authorization code: ${code}` });
    await assertRedeemsForAdmin(second);

    // uaa's log says a code was issued and redeemed, for whom, but never the code.
    const log = fs.readFileSync(path.join(statePaths(home).logs, 'uaa.log'), 'utf8');
    assert.match(log, /"msg":"authorization code issued","client_id":"ssh-proxy","user_name":"admin"/);
    assert.match(log, /"msg":"token issued","grant_type":"authorization_code","client_id":"ssh-proxy","user_name":"admin"/);
    assert.ok(!log.includes(code) && !log.includes(second), 'no code is logged');
  });

  it('devbox ssh-code needs a login', async () => {
    const home = (box as CfBox).home;
    assert.equal((await devbox(home, ['logout'])).exitCode, 0);
    try {
      const refused = await devbox(home, ['ssh-code']);
      assert.equal(refused.exitCode, 1, show(refused));
      assert.match(refused.stderr, /Not logged in/);
      assert.doesNotMatch(refused.stdout, CODE);
    } finally {
      const { username, password } = config.uaa.admin;
      const login = await devbox(home, ['login', '-u', username, '-p', password]);
      assert.equal(login.exitCode, 0, show(login));
    }
  });

  it('cf ssh-code (the real cf CLI, on the cf address) prints a code the ssh proxy redeems', async () => {
    const { cf } = box as CfBox;
    await cf.login();
    const out = await cf.ok(['ssh-code']);
    const code = out.trim();
    assert.match(code, CODE, out);
    await assertRedeemsForAdmin(code);
    assert.equal((await redeem(code)).status, 400, 'once only');
  });
});
