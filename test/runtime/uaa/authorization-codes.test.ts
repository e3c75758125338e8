// One-time codes for the ssh proxy (`cf ssh-code`): GET /oauth/authorize with the user's token, the
// authorization_code grant with the ssh proxy's client, their refusals, and the bounds of the store.
// The uaa server runs in this process on a port from the OS, with a clock the tests move (no
// waiting 5 minutes for a code to expire); the store alone has a few cases of its own.
import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import { SignJWT } from 'jose';
import { SshCodeRefused, sshCode } from '../../../src/cli/uaa-client.js';
import { createLogger } from '../../../src/runtime/common/log.js';
import { CONTROLLER_AUDIENCE, createTokenVerifier } from '../../../src/runtime/common/tokens.js';
import { AuthorizationCodes } from '../../../src/runtime/uaa/authorization-codes.js';
import { UaaServer } from '../../../src/runtime/uaa/server.js';
import { ADMIN_SCOPES, uaaSettings } from '../../../src/runtime/uaa/settings.js';
import { basic, claimsOf, httpRequest, testConfig, testKey, tokenRequest, type HttpReply, type TestKey } from './helpers.js';

const CF = basic('cf', '');
const SSH_PROXY = basic('ssh-proxy', 'ssh-proxy-secret');
const ISSUER = 'http://uaa.localhost:8080/oauth/token';
const PASSWORD = { grant_type: 'password', username: 'admin', password: 'admin-secret-pw' };
const AUTHORIZE = '/oauth/authorize?response_type=code&client_id=ssh-proxy';
/** What a code looks like: url-safe, long enough not to be guessed. */
const CODE = /^[A-Za-z0-9_-]{20,}$/;

function assertOAuthError(reply: HttpReply, status: number, error: string, description?: string | RegExp) {
  assert.equal(reply.status, status, reply.text);
  assert.match(String(reply.headers['content-type']), /^application\/json/);
  assert.equal(reply.json.error, error, reply.text);
  if (typeof description === 'string') assert.equal(reply.json.error_description, description);
  else if (description) assert.match(reply.json.error_description, description);
}

describe('uaa one-time codes (/oauth/authorize, authorization_code grant)', function () {
  this.timeout(20_000);
  let key: TestKey;
  let server: UaaServer;
  let port: number;
  let now: number;
  const logLines: string[] = [];
  /** A user token as `cf` has it, from the password grant. */
  let userToken: string;

  const authorize = (token: string | undefined, path = AUTHORIZE, extra: { host?: string } = {}) =>
    httpRequest(port, { path, ...extra, headers: { accept: 'application/json', ...(token ? { authorization: `bearer ${token}` } : {}) } });
  /** The code in a 302's Location. */
  const codeOf = (reply: HttpReply): string => {
    assert.equal(reply.status, 302, reply.text);
    const code = new URL(String(reply.headers.location)).searchParams.get('code');
    assert.ok(code, String(reply.headers.location));
    return code;
  };
  const newCode = async (token = userToken) => codeOf(await authorize(token));
  const redeem = (code: string, auth = SSH_PROXY) => tokenRequest(port, { grant_type: 'authorization_code', code }, auth);

  before(async () => {
    key = testKey('key-codes');
    now = Date.now();
    const settings = uaaSettings(testConfig(key), { env: {} });
    server = new UaaServer({ settings, log: createLogger('uaa', { write: (line) => void logLines.push(line) }), now: () => now });
    port = await server.listen(0);
    const login = await tokenRequest(port, PASSWORD, CF);
    assert.equal(login.status, 200, login.text);
    userToken = login.json.access_token;
  });
  after(async () => server.close());

  it('answers 302 to <uaa>/login?code=CODE; the ssh proxy redeems the code once for the user\'s token', async () => {
    const reply = await authorize(userToken);
    assert.equal(reply.status, 302, reply.text);
    assert.equal(reply.headers['cache-control'], 'no-store');
    const location = new URL(String(reply.headers.location));
    assert.equal(`${location.origin}${location.pathname}`, 'http://uaa.localhost:8080/login');
    const code = codeOf(reply);
    assert.match(code, CODE);
    assert.notEqual(await newCode(), code, 'every code is new');

    const redeemed = await redeem(code);
    assert.equal(redeemed.status, 200, redeemed.text);
    assert.equal(redeemed.json.token_type, 'bearer');
    assert.equal(redeemed.json.refresh_token, undefined, 'no refresh token for a code');
    assert.equal(redeemed.json.expires_in, 1200);
    assert.equal(redeemed.json.scope, ADMIN_SCOPES.join(' '));

    // The token the password grant gives the user: same user, scopes, audience's resources, lifetime.
    const password = claimsOf(userToken);
    const claims = claimsOf(redeemed.json.access_token);
    for (const name of ['sub', 'user_id', 'user_name', 'email', 'origin', 'scope', 'iss', 'zid', 'auth_time']) assert.deepEqual(claims[name], password[name], name);
    assert.deepEqual(claims.aud, (password.aud as string[]).map((a) => (a === 'cf' ? 'ssh-proxy' : a)));
    assert.equal((claims.exp as number) - (claims.iat as number), 1200);
    assert.equal(claims.cid, 'ssh-proxy');
    assert.equal(claims.client_id, 'ssh-proxy');
    assert.equal(claims.grant_type, 'authorization_code');
    assert.match(String(claims.rev_sig), /^[0-9a-f]{8}$/);

    // The controller takes it as it takes the user's own token.
    const controller = createTokenVerifier({ publicPem: key.public_pem, kid: key.kid, issuer: ISSUER, audience: CONTROLLER_AUDIENCE });
    const verified = await controller.verify(`bearer ${redeemed.json.access_token}`);
    assert.equal(verified.user_name, 'admin');
    assert.ok(verified.scope.includes('cloud_controller.admin'));
    // and so does uaa itself (/userinfo checks rev_sig too)
    const me = await httpRequest(port, { path: '/userinfo', headers: { authorization: `bearer ${redeemed.json.access_token}` } });
    assert.equal(me.status, 200, me.text);
    assert.equal(me.json.user_name, 'admin');

    // Once only.
    const again = await redeem(code);
    assert.equal(again.status, 400);
    assert.deepEqual(again.json, { error: 'invalid_grant', error_description: `Invalid authorization code: ${code}` });
  });

  it('refuses an expired code (5 minutes), and a wrong one, with invalid_grant', async () => {
    const fresh = await newCode();
    const late = await newCode();
    now += 300_000 - 1;
    assert.equal((await redeem(fresh)).status, 200, 'still good just before 5 minutes');
    now += 1;
    assert.deepEqual((await redeem(late)).json, { error: 'invalid_grant', error_description: `Invalid authorization code: ${late}` });
    const wrong = await redeem('not-a-code-at-all');
    assert.equal(wrong.status, 400);
    assert.deepEqual(wrong.json, { error: 'invalid_grant', error_description: 'Invalid authorization code: not-a-code-at-all' });
    // A very long code is not echoed whole.
    const long = await redeem('x'.repeat(5_000));
    assertOAuthError(long, 400, 'invalid_grant', `Invalid authorization code: ${'x'.repeat(100)}...`);
  });

  it('redeems only with the ssh proxy\'s client credentials (401 as for other grants)', async () => {
    const code = await newCode();
    for (const auth of [basic('ssh-proxy', 'wrong'), basic('nobody', 'ssh-proxy-secret')]) {
      const reply = await redeem(code, auth);
      assertOAuthError(reply, 401, 'invalid_client', 'Bad client credentials');
      assert.match(String(reply.headers['www-authenticate']), /^Basic realm="UAA\/client"/);
    }
    assertOAuthError(await redeem(code, CF), 401, 'invalid_client', 'Unauthorized grant type: authorization_code');
    assertOAuthError(await tokenRequest(port, { grant_type: 'authorization_code' }, SSH_PROXY), 400, 'invalid_request', 'Missing parameter: code');
    assertOAuthError(await tokenRequest(port, { grant_type: 'authorization_code' }, SSH_PROXY, { path: `/oauth/token?code=${code}` }), 400, 'invalid_request', 'Parameters must be passed in the body of the request');
    // The ssh proxy may not log users in with a password.
    assertOAuthError(await tokenRequest(port, PASSWORD, SSH_PROXY), 401, 'invalid_client', 'Unauthorized grant type: password');
    // None of that spent the code (the wrong credentials never reached it).
    assert.equal((await redeem(code)).status, 200);
  });

  it('refuses a missing, bad or expired token with 401, a client token too', async () => {
    const none = await authorize(undefined);
    assertOAuthError(none, 401, 'unauthorized', 'Full authentication is required to access this resource');
    assert.match(String(none.headers['www-authenticate']), /^Bearer realm="UAA\/oauth"/);
    assert.equal(none.headers.location, undefined);
    assertOAuthError(await authorize('not.a.token'), 401, 'invalid_token');
    assertOAuthError(await authorize(`${userToken}x`), 401, 'invalid_token');
    // An expired user token (signed with the box's key, expired a second ago): cf refreshes on invalid_token.
    const claims = claimsOf(userToken);
    const seconds = Math.floor(Date.now() / 1000);
    const expired = await new SignJWT({ ...claims, iat: seconds - 1201, exp: seconds - 1 })
      .setProtectedHeader({ alg: 'RS256', kid: key.kid, typ: 'JWT' })
      .sign(createPrivateKey(key.private_pem));
    assertOAuthError(await authorize(expired), 401, 'invalid_token', /^Token expired at \d+$/);
    // A refresh token is no access token.
    const { refresh_token } = (await tokenRequest(port, PASSWORD, CF)).json;
    assertOAuthError(await authorize(refresh_token), 401, 'invalid_token', 'Invalid access token.');
    const client = (await tokenRequest(port, { grant_type: 'client_credentials' }, basic('devbox_components', 'components-secret'))).json.access_token;
    assertOAuthError(await authorize(client), 401, 'unauthorized', 'A user token is required to get an authorization code');
  });

  it('refuses another client (400 invalid_client) and another response_type (400 unsupported_response_type)', async () => {
    assertOAuthError(await authorize(userToken, '/oauth/authorize?response_type=code&client_id=cf'), 400, 'invalid_client', 'Unauthorized grant type: authorization_code');
    assertOAuthError(await authorize(userToken, '/oauth/authorize?response_type=code&client_id=devbox_components'), 400, 'invalid_client');
    assertOAuthError(await authorize(userToken, '/oauth/authorize?response_type=code&client_id=nobody'), 400, 'invalid_client', 'No client with requested id: nobody');
    assertOAuthError(await authorize(userToken, '/oauth/authorize?response_type=code'), 400, 'invalid_client', 'A client id must be provided in the authorization request.');
    assertOAuthError(await authorize(userToken, '/oauth/authorize?response_type=token&client_id=ssh-proxy'), 400, 'unsupported_response_type', 'Unsupported response types: [token]');
    assertOAuthError(await authorize(userToken, '/oauth/authorize?client_id=ssh-proxy'), 400, 'unsupported_response_type', 'Unsupported response types: []');
    assertOAuthError(await authorize(userToken, `${AUTHORIZE}&client_id=cf`), 400, 'invalid_request', 'Duplicate parameter: client_id');
    const post = await httpRequest(port, { method: 'POST', path: AUTHORIZE, headers: { authorization: `bearer ${userToken}` } });
    assert.equal(post.status, 405);
    assert.equal(post.headers.allow, 'GET');
  });

  it('on the cf address (/uaa prefix) the Location is there; a state comes back', async () => {
    const onAddress = await authorize(userToken, `/uaa${AUTHORIZE}&state=abc%20d`, { host: '127.0.0.1:8080' });
    const location = new URL(String(onAddress.headers.location));
    assert.equal(`${location.origin}${location.pathname}`, 'http://127.0.0.1:8080/uaa/login');
    assert.equal(location.searchParams.get('state'), 'abc d');
    assert.equal((await redeem(codeOf(onAddress))).status, 200, 'redeemed at the name-based address');
    const named = await authorize(userToken, AUTHORIZE, { host: 'uaa.localhost:8080' });
    assert.match(String(named.headers.location), /^http:\/\/uaa\.localhost:8080\/login\?code=[A-Za-z0-9_-]+$/);
  });

  it('never gives more scopes than the token asking has', async () => {
    const narrow = await tokenRequest(port, { ...PASSWORD, scope: 'openid cloud_controller.read' }, CF);
    const reply = await redeem(await newCode(narrow.json.access_token));
    assert.equal(reply.status, 200, reply.text);
    assert.equal(reply.json.scope, 'openid cloud_controller.read');
    // and narrows further when asked
    const narrower = await tokenRequest(port, { grant_type: 'authorization_code', code: await newCode(), scope: 'openid' }, SSH_PROXY);
    assert.equal(narrower.json.scope, 'openid', narrower.text);
  });

  it("the CLI's sshCode() reads the code from the redirect, and says uaa's refusals", async () => {
    const uaa = `http://127.0.0.1:${port}`;
    const code = await sshCode(uaa, userToken);
    assert.match(code, CODE);
    assert.equal((await redeem(code)).status, 200);
    assert.match(await sshCode(`${uaa}/uaa/`, userToken, 'ssh-proxy'), CODE, 'under the /uaa prefix too');
    await assert.rejects(sshCode(uaa, userToken, 'cf'), (error: unknown) => {
      assert.ok(error instanceof SshCodeRefused);
      assert.equal(error.error, 'invalid_client');
      assert.equal(error.status, 400);
      assert.equal(error.message, 'uaa refused to give an ssh code: Unauthorized grant type: authorization_code');
      return true;
    });
    await assert.rejects(sshCode(uaa, 'not.a.token'), (error: unknown) => error instanceof SshCodeRefused && error.error === 'invalid_token' && error.status === 401);
    await assert.rejects(sshCode(`${uaa}/nowhere`, userToken), /^Error: uaa refused to give an ssh code: No resource at \/nowhere\/oauth\/authorize$/);
  });

  it('keeps no memory for wrong codes, counts in /varz, and never logs a code', async () => {
    const before = server.stats().authorization_codes;
    await Promise.all(Array.from({ length: 200 }, (_, i) => redeem(`guess-${i}`)));
    const after = server.stats().authorization_codes;
    assert.equal(after.live, before.live);
    assert.equal(after.refused, before.refused + 200);
    const code = await newCode();
    assert.equal(server.stats().authorization_codes.live, after.live + 1);
    await redeem(code);
    await redeem(code);
    const last = server.stats();
    assert.equal(last.authorization_codes.issued, after.issued + 1);
    assert.equal(last.authorization_codes.redeemed, after.redeemed + 1);
    assert.ok(last.tokens_issued.authorization_code >= 1);
    const log = logLines.join('');
    assert.ok(!log.includes(code), 'the log has no code');
    assert.match(log, /"msg":"authorization code issued","client_id":"ssh-proxy","user_name":"admin"/);
  });
});

describe('uaa one-time codes: the store', () => {
  let now: number;
  const clock = () => now;
  const grant = { userId: 'u1', clientId: 'ssh-proxy', scopes: ['openid'] };
  beforeEach(() => (now = 1_000_000));

  it('keeps at most maxCodes (the oldest go first) and drops expired ones', () => {
    const codes = new AuthorizationCodes({ validitySeconds: 60, maxCodes: 3 }, clock);
    const issued = Array.from({ length: 5 }, () => codes.issue(grant));
    assert.equal(codes.stats().live, 3);
    assert.equal(codes.stats().evicted, 2);
    assert.equal(codes.redeem(issued[0], 'ssh-proxy'), undefined, 'evicted');
    assert.deepEqual(codes.redeem(issued[4], 'ssh-proxy'), grant);
    now += 60_000;
    codes.issue(grant);
    assert.equal(codes.stats().live, 1, 'the expired ones are gone');
    assert.equal(codes.redeem(issued[3], 'ssh-proxy'), undefined);
  });

  it('spends a code given with another client', () => {
    const codes = new AuthorizationCodes({ validitySeconds: 60, maxCodes: 10 }, clock);
    const code = codes.issue(grant);
    assert.equal(codes.redeem(code, 'other'), undefined);
    assert.equal(codes.redeem(code, 'ssh-proxy'), undefined, 'no second try');
    assert.deepEqual(codes.stats(), { issued: 1, redeemed: 0, refused: 2, evicted: 0, live: 0 });
  });

  it('stores nothing for a flood of wrong codes', () => {
    const codes = new AuthorizationCodes({ validitySeconds: 60, maxCodes: 10 }, clock);
    codes.issue(grant);
    for (let i = 0; i < 100_000; i++) codes.redeem(`wrong-${i}`, 'ssh-proxy');
    assert.equal(codes.stats().live, 1);
  });
});
