// The uaa server in this process, on a port from the OS: every grant, error body and endpoint in
// detail. (test/runtime/uaa/box.test.ts runs the real component through `devbox up` and the router.)
import assert from 'node:assert/strict';
import net from 'node:net';
import { createLocalJWKSet, jwtVerify } from 'jose';
import type { RequestDeadlines } from '../../../src/runtime/common/http.js';
import { createTokenVerifier, TokenError } from '../../../src/runtime/common/tokens.js';
import { routePath, UaaServer } from '../../../src/runtime/uaa/server.js';
import { ADMIN_SCOPES, uaaSettings } from '../../../src/runtime/uaa/settings.js';
import { waitFor } from '../../../src/runtime/common/net.js';
import { basic, claimsOf, FORM, headerOf, httpRequest, silentLog, testConfig, testKey, tokenRequest, type HttpReply, type TestKey } from './helpers.js';

const CF = basic('cf', '');
const COMPONENTS = basic('devbox_components', 'components-secret');
const ISSUER = 'http://uaa.localhost:8080/oauth/token';
const PASSWORD = { grant_type: 'password', username: 'admin', password: 'admin-secret-pw' };

function assertOAuthError(reply: HttpReply, status: number, error: string, description?: string | RegExp) {
  assert.equal(reply.status, status, reply.text);
  assert.match(String(reply.headers['content-type']), /^application\/json/);
  assert.equal(reply.json.error, error, reply.text);
  if (typeof description === 'string') assert.equal(reply.json.error_description, description);
  else if (description) assert.match(reply.json.error_description, description);
}

async function startServer(key: TestKey, options: { env?: NodeJS.ProcessEnv; adminPassword?: string; deadlines?: RequestDeadlines } = {}) {
  const settings = uaaSettings(testConfig(key, { adminPassword: options.adminPassword }), { env: options.env ?? {} });
  const server = new UaaServer({ settings, log: silentLog, deadlines: options.deadlines });
  await server.listen(0);
  return server;
}

describe('uaa server (in process)', () => {
  let key: TestKey;
  let server: UaaServer;
  let port: number;

  before(async () => {
    key = testKey('key-1');
    server = await startServer(key);
    port = server.port;
  });
  after(async () => server.close());

  describe('password grant', () => {
    it('issues an access and a refresh token with UAA\'s fields and claims (basic auth `cf:`)', async () => {
      const reply = await tokenRequest(port, PASSWORD, CF);
      assert.equal(reply.status, 200, reply.text);
      assert.equal(reply.headers['cache-control'], 'no-store');
      const body = reply.json;
      assert.equal(body.token_type, 'bearer');
      assert.equal(body.expires_in, 1200);
      assert.equal(body.scope, ADMIN_SCOPES.join(' '));
      assert.match(body.jti, /^[0-9a-f]{32}$/);
      assert.equal(typeof body.refresh_token, 'string');

      assert.deepEqual(headerOf(body.access_token), { alg: 'RS256', jku: 'http://uaa.localhost:8080/token_keys', kid: 'key-1', typ: 'JWT' });
      const claims = claimsOf(body.access_token);
      assert.equal(claims.jti, body.jti);
      assert.deepEqual(claims.scope, ADMIN_SCOPES);
      assert.equal(claims.client_id, 'cf');
      assert.equal(claims.cid, 'cf');
      assert.equal(claims.azp, 'cf');
      assert.equal(claims.grant_type, 'password');
      assert.equal(claims.user_name, 'admin');
      assert.equal(claims.email, 'admin@localhost');
      assert.equal(claims.origin, 'uaa');
      assert.equal(claims.zid, 'uaa');
      assert.equal(claims.iss, ISSUER);
      assert.equal(claims.sub, claims.user_id);
      assert.match(String(claims.user_id), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      assert.deepEqual(claims.aud, ['openid', 'cloud_controller', 'doppler', 'uaa', 'cf']);
      assert.equal((claims.exp as number) - (claims.iat as number), 1200);
      assert.match(String(claims.rev_sig), /^[0-9a-f]{8}$/);

      const refresh = claimsOf(body.refresh_token);
      assert.match(String(refresh.jti), /-r$/);
      assert.deepEqual(refresh.granted_scopes, ADMIN_SCOPES);
      assert.equal(refresh.scope, undefined);
      assert.equal((refresh.exp as number) - (refresh.iat as number), 604800);
    });

    it('issues tokens that verify with the /token_keys key and with createTokenVerifier', async () => {
      const { access_token } = (await tokenRequest(port, PASSWORD, CF)).json;
      const keys = await httpRequest(port, { path: '/token_keys' });
      assert.equal(keys.status, 200);
      assert.equal(keys.json.keys.length, 1);
      const jwk = keys.json.keys[0];
      assert.deepEqual(Object.keys(jwk).sort(), ['alg', 'e', 'kid', 'kty', 'n', 'use', 'value']);
      assert.equal(jwk.kid, 'key-1');
      assert.equal(jwk.alg, 'RS256');
      assert.equal(jwk.use, 'sig');
      assert.equal(jwk.value, key.public_pem.trim());
      const { payload } = await jwtVerify(access_token, createLocalJWKSet(keys.json), { issuer: ISSUER });
      assert.equal(payload.user_name, 'admin');

      const single = await httpRequest(port, { path: '/token_key' });
      assert.deepEqual(single.json, jwk);
      const claims = await createTokenVerifier({ publicPem: single.json.value, kid: single.json.kid, issuer: ISSUER }).verify(`bearer ${access_token}`);
      assert.equal(claims.user_name, 'admin');
    });

    it('accepts the client in form fields, with or without an empty client_secret', async () => {
      assert.equal((await tokenRequest(port, { ...PASSWORD, client_id: 'cf' })).status, 200);
      assert.equal((await tokenRequest(port, { ...PASSWORD, client_id: 'cf', client_secret: '' })).status, 200);
    });

    it('answers 401 "Bad credentials" for a wrong password or an unknown user', async () => {
      for (const fields of [{ ...PASSWORD, password: 'wrong' }, { ...PASSWORD, username: 'nobody' }, { ...PASSWORD, password: '' }]) {
        const reply = await tokenRequest(port, fields, CF);
        assert.equal(reply.status, 401);
        assert.deepEqual(reply.json, { error: 'unauthorized', error_description: 'Bad credentials' });
      }
    });

    it('narrows to the scopes asked for, and refuses scopes the user may not have', async () => {
      const narrow = await tokenRequest(port, { ...PASSWORD, scope: 'cloud_controller.read openid' }, CF);
      assert.equal(narrow.status, 200, narrow.text);
      assert.equal(narrow.json.scope, 'cloud_controller.read openid');
      const wide = await tokenRequest(port, { ...PASSWORD, scope: 'openid scim.write' }, CF);
      assertOAuthError(wide, 400, 'invalid_scope', /^Invalid scope: scim\.write\./);
    });

    it('answers 400 invalid_request when username or password is missing', async () => {
      assertOAuthError(await tokenRequest(port, { grant_type: 'password', password: 'x' }, CF), 400, 'invalid_request', 'Missing parameter: username');
      assertOAuthError(await tokenRequest(port, { grant_type: 'password', username: 'admin' }, CF), 400, 'invalid_request', 'Missing parameter: password');
    });
  });

  describe('client authentication', () => {
    it('answers 401 invalid_client for an unknown client or a wrong secret, with a Basic challenge', async () => {
      for (const auth of [basic('nobody', ''), basic('devbox_components', 'wrong'), basic('cf', 'not-empty'), 'Basic !!!']) {
        const reply = await tokenRequest(port, PASSWORD, auth);
        assert.equal(reply.status, 401, auth);
        assert.deepEqual(reply.json, { error: 'invalid_client', error_description: 'Bad client credentials' });
        assert.match(String(reply.headers['www-authenticate']), /^Basic realm="UAA\/client", error="invalid_client"/);
      }
      assertOAuthError(await tokenRequest(port, { ...PASSWORD, client_id: 'nobody' }), 401, 'invalid_client');
    });

    it('answers 401 unauthorized when no client authenticates at all', async () => {
      const reply = await tokenRequest(port, PASSWORD);
      assert.deepEqual(reply.json, { error: 'unauthorized', error_description: 'Full authentication is required to access this resource' });
      assert.equal(reply.status, 401);
    });

    it('refuses a grant the client is not allowed (UAA: 401 invalid_client)', async () => {
      assertOAuthError(await tokenRequest(port, { grant_type: 'client_credentials' }, CF), 401, 'invalid_client', 'Unauthorized grant type: client_credentials');
      assertOAuthError(await tokenRequest(port, PASSWORD, COMPONENTS), 401, 'invalid_client', 'Unauthorized grant type: password');
    });

    it('accepts form-encoded credentials inside the basic header (RFC 6749 §2.3.1)', async () => {
      assert.equal((await tokenRequest(port, { grant_type: 'client_credentials' }, basic('devbox%5Fcomponents', 'components-secret'))).status, 200);
    });
  });

  describe('client_credentials grant', () => {
    it('issues an access token without a refresh token, with the client\'s authorities', async () => {
      const reply = await tokenRequest(port, { grant_type: 'client_credentials' }, COMPONENTS);
      assert.equal(reply.status, 200, reply.text);
      assert.equal(reply.json.refresh_token, undefined);
      assert.equal(reply.json.scope, 'cloud_controller.admin doppler.firehose');
      const claims = await createTokenVerifier({ publicPem: key.public_pem, issuer: ISSUER }).verify(reply.json.access_token);
      assert.equal(claims.user_id, undefined);
      assert.equal(claims.sub, 'devbox_components');
      assert.equal(claims.grant_type, 'client_credentials');
      assert.deepEqual(claims.authorities, ['cloud_controller.admin', 'doppler.firehose']);
      assert.deepEqual(claims.aud, ['cloud_controller', 'doppler', 'devbox_components']);
    });

    it('also takes client_id and client_secret as form fields', async () => {
      const reply = await tokenRequest(port, { grant_type: 'client_credentials', client_id: 'devbox_components', client_secret: 'components-secret' });
      assert.equal(reply.status, 200, reply.text);
    });
  });

  describe('refresh_token grant', () => {
    it('issues a new access token for the refresh token, which stays the same', async () => {
      const first = (await tokenRequest(port, PASSWORD, CF)).json;
      const reply = await tokenRequest(port, { grant_type: 'refresh_token', refresh_token: first.refresh_token }, CF);
      assert.equal(reply.status, 200, reply.text);
      assert.notEqual(reply.json.access_token, first.access_token);
      assert.equal(reply.json.refresh_token, first.refresh_token);
      assert.equal(reply.json.scope, first.scope);
      const claims = await createTokenVerifier({ publicPem: key.public_pem, issuer: ISSUER }).verify(reply.json.access_token);
      assert.equal(claims.grant_type, 'refresh_token');
      assert.equal(claims.user_name, 'admin');
      assert.equal(claims.auth_time, claimsOf(first.access_token).auth_time);

      const narrowed = await tokenRequest(port, { grant_type: 'refresh_token', refresh_token: first.refresh_token, scope: 'openid' }, CF);
      assert.equal(narrowed.json.scope, 'openid');
      const widened = await tokenRequest(port, { grant_type: 'refresh_token', refresh_token: (await tokenRequest(port, { ...PASSWORD, scope: 'openid' }, CF)).json.refresh_token, scope: 'openid cloud_controller.admin' }, CF);
      assertOAuthError(widened, 400, 'invalid_scope', 'Unable to narrow the scope of the client authentication to [openid, cloud_controller.admin].');
    });

    it('refuses an access token, a malformed token, a forged one (401 invalid_token) and a missing one (400)', async () => {
      const { access_token } = (await tokenRequest(port, PASSWORD, CF)).json;
      assertOAuthError(await tokenRequest(port, { grant_type: 'refresh_token', refresh_token: access_token }, CF), 401, 'invalid_token', 'Invalid refresh token.');
      assertOAuthError(await tokenRequest(port, { grant_type: 'refresh_token', refresh_token: 'abc' }, CF), 401, 'invalid_token', 'The token expired, was revoked, or the token ID is incorrect.');

      const forger = await startServer(testKey('key-1'));
      try {
        const forged = (await tokenRequest(forger.port, PASSWORD, CF)).json.refresh_token;
        assertOAuthError(await tokenRequest(port, { grant_type: 'refresh_token', refresh_token: forged }, CF), 401, 'invalid_token', 'Could not verify token signature.');
      } finally {
        await forger.close();
      }
      assertOAuthError(await tokenRequest(port, { grant_type: 'refresh_token' }, CF), 400, 'invalid_request', 'Missing parameter: refresh_token');
    });

    it('refuses a refresh token after the admin password changed (rev_sig), and one of another client', async () => {
      const { refresh_token } = (await tokenRequest(port, PASSWORD, CF)).json;
      const changed = await startServer(key, { adminPassword: 'a-new-password' });
      try {
        assertOAuthError(await tokenRequest(changed.port, { grant_type: 'refresh_token', refresh_token }, CF), 401, 'invalid_token', 'revocable signature mismatch');
      } finally {
        await changed.close();
      }
      // a refresh token belongs to the client it was issued to
      const settings = uaaSettings(testConfig(key), { env: {} });
      settings.clients.push({ id: 'other', secret: 's', grantTypes: ['refresh_token'], scopes: ADMIN_SCOPES, authorities: [] });
      const withOther = new UaaServer({ settings, log: silentLog });
      await withOther.listen(0);
      try {
        assertOAuthError(await tokenRequest(withOther.port, { grant_type: 'refresh_token', refresh_token }, basic('other', 's')), 400, 'invalid_grant', 'Wrong client for this refresh token: cf');
      } finally {
        await withOther.close();
      }
    });
  });

  describe('/userinfo', () => {
    it('describes the user of a bearer access token', async () => {
      const { access_token } = (await tokenRequest(port, PASSWORD, CF)).json;
      const reply = await httpRequest(port, { path: '/userinfo', headers: { authorization: `bearer ${access_token}` } });
      assert.equal(reply.status, 200, reply.text);
      const claims = claimsOf(access_token);
      assert.equal(reply.json.user_id, claims.user_id);
      assert.equal(reply.json.sub, claims.user_id);
      assert.equal(reply.json.user_name, 'admin');
      assert.equal(reply.json.email, 'admin@localhost');
      assert.equal(reply.json.name, 'admin');
      assert.equal(reply.json.email_verified, true);
    });

    it('answers 401 without a token, with a bad token or a refresh token; 403 for a client token', async () => {
      const none = await httpRequest(port, { path: '/userinfo' });
      assertOAuthError(none, 401, 'unauthorized', 'Full authentication is required to access this resource');
      assert.match(String(none.headers['www-authenticate']), /^Bearer realm="UAA\/oauth", error="unauthorized"/);
      const bad = await httpRequest(port, { path: '/userinfo', headers: { authorization: 'bearer nonsense' } });
      assertOAuthError(bad, 401, 'invalid_token');
      assert.match(String(bad.headers['www-authenticate']), /^Bearer realm="UAA\/oauth", error="invalid_token"/);
      const { refresh_token } = (await tokenRequest(port, PASSWORD, CF)).json;
      assertOAuthError(await httpRequest(port, { path: '/userinfo', headers: { authorization: `bearer ${refresh_token}` } }), 401, 'invalid_token', 'Invalid access token.');
      const client = (await tokenRequest(port, { grant_type: 'client_credentials' }, COMPONENTS)).json.access_token;
      const forbidden = await httpRequest(port, { path: '/userinfo', headers: { authorization: `Bearer ${client}` } });
      assert.equal(forbidden.status, 403);
      assert.deepEqual(forbidden.json, { error: 'insufficient_scope', error_description: 'Insufficient scope for this resource', scope: 'openid' });
    });
  });

  describe('request errors', () => {
    it('answers 400 unsupported_grant_type and invalid_request as UAA', async () => {
      const unsupported = await tokenRequest(port, { grant_type: 'implicit' }, CF);
      assert.equal(unsupported.status, 400);
      assert.deepEqual(unsupported.json, { error: 'unsupported_grant_type', error_description: 'Unsupported grant type: implicit' });
      // authorization_code is the ssh proxy's grant only (authorization-codes.test.ts)
      assertOAuthError(await tokenRequest(port, { grant_type: 'authorization_code', code: 'x' }, CF), 401, 'invalid_client', 'Unauthorized grant type: authorization_code');
      const missing = await tokenRequest(port, { username: 'admin' }, CF);
      assert.equal(missing.status, 400);
      assert.deepEqual(missing.json, { error: 'invalid_request', error_description: 'Missing grant type' });
      assertOAuthError(await tokenRequest(port, { ...PASSWORD }, CF, { body: 'grant_type=password&grant_type=password&username=admin&password=x' }), 400, 'invalid_request', 'Duplicate parameter: grant_type');
    });

    it('refuses credentials in the URL, bodies that are not forms, and bodies too large', async () => {
      const inUrl = await tokenRequest(port, { grant_type: 'password' }, CF, { path: '/oauth/token?username=admin&password=admin-secret-pw' });
      assertOAuthError(inUrl, 400, 'invalid_request', 'Parameters must be passed in the body of the request');
      const json = await tokenRequest(port, {}, CF, { body: JSON.stringify(PASSWORD), headers: { 'content-type': 'application/json' } });
      assertOAuthError(json, 415, 'invalid_request', /application\/json/);
      const large = await tokenRequest(port, { ...PASSWORD, pad: 'x'.repeat(70 * 1024) }, CF);
      assertOAuthError(large, 413, 'invalid_request', /larger than 65536 bytes/);
      // without a Content-Length (chunked): reading stops at the limit
      const chunked = await httpRequest(port, {
        method: 'POST',
        path: '/oauth/token',
        headers: { ...FORM, authorization: CF, 'transfer-encoding': 'chunked' },
        body: `grant_type=password&pad=${'x'.repeat(70 * 1024)}`,
      });
      assertOAuthError(chunked, 413, 'invalid_request');
    });

    it('answers 405 for a wrong method and 404 for an unknown path, in JSON', async () => {
      const get = await httpRequest(port, { path: '/oauth/token' });
      assertOAuthError(get, 405, 'method_not_allowed', "Request method 'GET' not supported");
      assert.equal(get.headers.allow, 'POST');
      assertOAuthError(await httpRequest(port, { path: '/nope' }), 404, 'not_found');
    });
  });

  describe('/info, /login, /healthz and counters', () => {
    it('/info and /login describe the server as UAA does', async () => {
      for (const path of ['/info', '/login']) {
        const reply = await httpRequest(port, { path, headers: { accept: 'application/json' } });
        assert.equal(reply.status, 200);
        assert.equal(reply.json.zone_name, 'uaa');
        assert.deepEqual(reply.json.links, { uaa: 'http://uaa.localhost:8080', login: 'http://uaa.localhost:8080' });
        assert.match(reply.json.app.version, /^\d+\.\d+\.\d+/);
        assert.deepEqual(Object.keys(reply.json.prompts), ['username', 'password']);
      }
      const health = await httpRequest(port, { path: '/healthz' });
      assert.equal(health.status, 200);
      assert.equal(health.text, 'ok');
    });

    it('counts tokens by grant and failures by error', async () => {
      const before = server.stats();
      await tokenRequest(port, PASSWORD, CF);
      await tokenRequest(port, { grant_type: 'client_credentials' }, COMPONENTS);
      await tokenRequest(port, { ...PASSWORD, password: 'no' }, CF);
      await tokenRequest(port, PASSWORD, basic('nobody', ''));
      const after = server.stats();
      assert.equal(after.tokens_issued.password, before.tokens_issued.password + 1);
      assert.equal(after.tokens_issued.client_credentials, before.tokens_issued.client_credentials + 1);
      assert.equal(after.token_failures.unauthorized, (before.token_failures.unauthorized ?? 0) + 1);
      assert.equal(after.token_failures.invalid_client, (before.token_failures.invalid_client ?? 0) + 1);
      assert.ok(after.requests >= before.requests + 4);
    });
  });

  describe('token validity from the environment', () => {
    it('DEVBOX_UAA_ACCESS_TOKEN_VALIDITY / _REFRESH_: expired tokens are refused', async function () {
      this.timeout(10_000);
      const short = await startServer(key, { env: { DEVBOX_UAA_ACCESS_TOKEN_VALIDITY: '1', DEVBOX_UAA_REFRESH_TOKEN_VALIDITY: '1' } });
      try {
        const first = (await tokenRequest(short.port, PASSWORD, CF)).json;
        assert.equal(first.expires_in, 1);
        const verifier = createTokenVerifier({ publicPem: key.public_pem, issuer: ISSUER });
        // A good token when it was issued (a loaded machine may take more than its 1 s to get here:
        // the clock tolerance covers that), and refused as expired once its second has passed.
        const claims = await createTokenVerifier({ publicPem: key.public_pem, issuer: ISSUER, clockToleranceSeconds: 60 }).verify(first.access_token);
        assert.equal(Number(claims.exp) - Number(claims.iat), 1);
        const reason = await waitFor(
          'the access token to expire',
          async () => {
            try {
              await verifier.verify(first.access_token);
              return false;
            } catch (error) {
              return (error as TokenError).reason;
            }
          },
          { timeoutMs: 5_000, intervalMs: 100 },
        );
        assert.equal(reason, 'expired');
        assertOAuthError(await httpRequest(short.port, { path: '/userinfo', headers: { authorization: `bearer ${first.access_token}` } }), 401, 'invalid_token', /^Token expired at \d+$/);
        assertOAuthError(await tokenRequest(short.port, { grant_type: 'refresh_token', refresh_token: first.refresh_token }, CF), 401, 'invalid_token', /^Invalid refresh token expired at /);
      } finally {
        await short.close();
      }
    });

    it('refuses invalid values at start', () => {
      const config = testConfig(key);
      assert.throws(() => uaaSettings(config, { env: { DEVBOX_UAA_ACCESS_TOKEN_VALIDITY: '0' } }), /DEVBOX_UAA_ACCESS_TOKEN_VALIDITY must be a whole number/);
      assert.throws(() => uaaSettings(config, { env: { DEVBOX_UAA_REFRESH_TOKEN_VALIDITY: 'soon' } }), /DEVBOX_UAA_REFRESH_TOKEN_VALIDITY/);
      assert.throws(() => uaaSettings(config, { env: { DEVBOX_UAA_PORT: '70000' } }), /DEVBOX_UAA_PORT/);
      const s = uaaSettings(config, { env: { DEVBOX_UAA_PORT: '1234' }, routerPort: 9999 });
      assert.equal(s.port, 1234);
      assert.equal(s.issuer, 'http://uaa.localhost:9999/oauth/token');
      assert.equal(uaaSettings(config, { env: { DEVBOX_UAA_URL: 'https://uaa.example.com/' } }).issuer, 'https://uaa.example.com/oauth/token');
      // the admin keeps its id across restarts
      assert.equal(uaaSettings(config, { env: {} }).users[0].id, uaaSettings(testConfig(key, { adminPassword: 'other' }), { env: {} }).users[0].id);
    });
  });
});

describe('uaa server: failed logins lock the user name out (UAA\'s lockout policy)', function () {
  this.timeout(20_000);
  let key: TestKey;
  const servers: UaaServer[] = [];
  /** A server with a short lockout (seconds), so that the end of one can be watched. */
  const withPolicy = async (env: NodeJS.ProcessEnv) => {
    const server = await startServer(key, { env });
    servers.push(server);
    return server;
  };
  const LOCKED = { error: 'unauthorized', error_description: 'Your account has been locked because of too many failed attempts to login.' };
  const BAD = { error: 'unauthorized', error_description: 'Bad credentials' };
  const WRONG = { ...PASSWORD, password: 'wrong' };

  before(() => (key = testKey('key-lockout')));
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });

  it('has UAA\'s defaults: 5 failures within 1200 s lock the name for 300 s after the last', () => {
    assert.deepEqual(uaaSettings(testConfig(key), { env: {} }).lockout, { lockoutAfterFailures: 5, countFailuresWithinSeconds: 1200, lockoutPeriodSeconds: 300 });
  });

  it('after 5 wrong passwords refuses even the right one with UAA\'s message, until the period after the last failure is over', async () => {
    const server = await withPolicy({ DEVBOX_UAA_LOCKOUT_PERIOD: '1' });
    for (let i = 0; i < 5; i++) assert.deepEqual((await tokenRequest(server.port, WRONG, CF)).json, BAD, `attempt ${i + 1}`);
    const lastFailure = Date.now();
    const locked = await tokenRequest(server.port, PASSWORD, CF);
    assert.equal(locked.status, 401);
    assert.deepEqual(locked.json, LOCKED);
    // Attempts while locked are not counted: they do not make the lockout longer.
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.deepEqual((await tokenRequest(server.port, WRONG, CF)).json, LOCKED);
    const back = await waitFor('the lockout to end', async () => ((await tokenRequest(server.port, PASSWORD, CF)).status === 200 ? Date.now() : undefined), { timeoutMs: 5_000, intervalMs: 50 });
    assert.ok(back - lastFailure >= 950 && back - lastFailure < 2_500, `logged in ${back - lastFailure} ms after the last failure`);
    const { locked: lockedNow, lockouts, refused } = server.stats().lockout;
    assert.deepEqual([lockedNow, lockouts], [0, 1]);
    assert.ok(refused >= 2, `refused ${refused}`);
  });

  it('answers an unknown user name exactly as a known one, so that a lockout tells nobody who exists', async () => {
    const server = await withPolicy({});
    const replies = async (username: string) => {
      const out = [];
      for (let i = 0; i < 7; i++) {
        const r = await tokenRequest(server.port, { ...WRONG, username }, CF);
        out.push({ status: r.status, body: r.json, challenge: r.headers['www-authenticate'] });
      }
      return out;
    };
    const known = await replies('admin');
    const unknown = await replies('nobody-at-all');
    assert.deepEqual(unknown, known);
    assert.deepEqual(known.map((r) => r.body.error_description), [...Array(5).fill('Bad credentials'), LOCKED.error_description, LOCKED.error_description]);
  });

  it('100 wrong passwords in a row: 5 are checked, 95 refused; the admin\'s session goes on (refresh grant)', async () => {
    const server = await withPolicy({});
    const session = (await tokenRequest(server.port, PASSWORD, CF)).json;
    const answers: Record<string, number> = {};
    for (let i = 0; i < 100; i++) {
      const d = (await tokenRequest(server.port, { ...WRONG, password: `guess-${i}` }, CF)).json.error_description as string;
      answers[d] = (answers[d] ?? 0) + 1;
    }
    assert.deepEqual(answers, { 'Bad credentials': 5, [LOCKED.error_description]: 95 });
    assert.deepEqual(server.stats().lockout, { locked: 1, refused: 95, lockouts: 1 });
    const refreshed = await tokenRequest(server.port, { grant_type: 'refresh_token', refresh_token: session.refresh_token }, CF);
    assert.equal(refreshed.status, 200, 'a lockout stops password logins, not the session the admin has');
    // Other users are not concerned, and the components' client_credentials still work.
    assert.equal((await tokenRequest(server.port, { grant_type: 'client_credentials' }, COMPONENTS)).status, 200);
  });

  it('counts failures in a row only: a successful login clears them, and failures older than the window drop out', async () => {
    const server = await withPolicy({ DEVBOX_UAA_LOCKOUT_COUNT_FAILURES_WITHIN: '1' });
    for (let i = 0; i < 4; i++) assert.deepEqual((await tokenRequest(server.port, WRONG, CF)).json, BAD);
    assert.equal((await tokenRequest(server.port, PASSWORD, CF)).status, 200);
    for (let i = 0; i < 4; i++) assert.deepEqual((await tokenRequest(server.port, WRONG, CF)).json, BAD);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    // The four before are out of the 1 s window: four more still do not lock.
    for (let i = 0; i < 4; i++) assert.deepEqual((await tokenRequest(server.port, WRONG, CF)).json, BAD);
    assert.equal((await tokenRequest(server.port, PASSWORD, CF)).status, 200);
  });

  it('DEVBOX_UAA_LOCKOUT_AFTER_FAILURES=0 turns it off; invalid values stop the start', async () => {
    const server = await withPolicy({ DEVBOX_UAA_LOCKOUT_AFTER_FAILURES: '0' });
    for (let i = 0; i < 10; i++) assert.deepEqual((await tokenRequest(server.port, WRONG, CF)).json, BAD);
    assert.equal((await tokenRequest(server.port, PASSWORD, CF)).status, 200);
    const config = testConfig(key);
    assert.throws(() => uaaSettings(config, { env: { DEVBOX_UAA_LOCKOUT_AFTER_FAILURES: '-1' } }), /DEVBOX_UAA_LOCKOUT_AFTER_FAILURES must be a whole number/);
    assert.throws(() => uaaSettings(config, { env: { DEVBOX_UAA_LOCKOUT_PERIOD: '0' } }), /DEVBOX_UAA_LOCKOUT_PERIOD must be a whole number of seconds/);
  });

  it('refuses a request with two Host headers (400), as gorouter does', async () => {
    const server = await withPolicy({});
    const reply = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(server.port, '127.0.0.1', () => socket.end('GET /info HTTP/1.1\r\nHost: uaa.localhost\r\nHost: evil.example\r\nConnection: close\r\n\r\n'));
      let out = '';
      socket.on('data', (d: Buffer) => (out += d.toString()));
      socket.on('close', () => resolve(out));
      socket.on('error', reject);
    });
    assert.match(reply, /^HTTP\/1\.1 400 /);
    assert.match(reply, /\{"error":"invalid_request","error_description":"More than one Host header: send exactly one"\}$/);
    assert.equal(server.stats().refused.duplicate_host, 1);
  });

  it('answers 408 in UAA\'s error shape to a token request whose body stops coming, and counts no login failure', async () => {
    const server = await startServer(key, { deadlines: { headMs: 1_000, bodyIdleMs: 300, bodyMinRate: 100 } });
    servers.push(server);
    const body = new URLSearchParams(WRONG).toString();
    const started = Date.now();
    const reply = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(server.port, '127.0.0.1', () =>
        // All of the body but its last byte, which never comes.
        socket.write(`POST /oauth/token HTTP/1.1\r\nHost: uaa.localhost\r\nAuthorization: ${CF}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, -1)}`),
      );
      let out = '';
      socket.on('data', (d: Buffer) => (out += d.toString()));
      socket.on('close', () => resolve(out));
      socket.on('error', reject);
      setTimeout(() => socket.destroy(), 5_000).unref();
    });
    const ms = Date.now() - started;
    assert.match(reply, /^HTTP\/1\.1 408 Request Timeout\r\n[^]*Content-Type: application\/json;charset=UTF-8\r\n/);
    assert.match(reply, /\{"error":"invalid_request","error_description":"request body not received in time: [^"]*Send the body without pauses\."\}$/);
    assert.ok(ms >= 280 && ms < 2_000, `after ${ms} ms`);
    const stats = server.stats();
    assert.equal(stats.refused.body_timeout, 1);
    assert.deepEqual(stats.token_failures, {}, 'the password was never looked at');
    assert.deepEqual(stats.lockout, { locked: 0, refused: 0, lockouts: 0 });
  });
});

describe('uaa server under the /uaa prefix (the cf address)', () => {
  let server: UaaServer;
  let port: number;

  before(async () => {
    server = await startServer(testKey('key-prefix'));
    port = server.port;
  });
  after(async () => server.close());

  it('serves its routes under /uaa as at the root, with the same issuer', async () => {
    const token = await tokenRequest(port, PASSWORD, CF, { path: '/uaa/oauth/token', host: '127.0.0.1:8080' });
    assert.equal(token.status, 200, token.text);
    assert.equal(claimsOf(token.json.access_token).iss, ISSUER);
    const refreshed = await tokenRequest(port, { grant_type: 'refresh_token', refresh_token: token.json.refresh_token }, CF, { path: '/uaa/oauth/token/' });
    assert.equal(refreshed.status, 200, refreshed.text);
    const keys = await httpRequest(port, { path: '/uaa/token_keys' });
    await jwtVerify(refreshed.json.access_token, createLocalJWKSet(keys.json), { issuer: ISSUER });
    const me = await httpRequest(port, { path: '/uaa/userinfo', headers: { authorization: `bearer ${token.json.access_token}` } });
    assert.equal(me.json.user_name, 'admin');
  });

  it('points /login and /info at the prefix on the address the request came in on, else at its public URL', async () => {
    const onAddress = await httpRequest(port, { path: '/uaa/login', host: 'localhost:8080', headers: { 'x-forwarded-proto': 'https' } });
    assert.deepEqual(onAddress.json.links, { uaa: 'https://localhost:8080/uaa', login: 'https://localhost:8080/uaa' });
    const named = await httpRequest(port, { path: '/login', host: 'uaa.localhost:8080' });
    assert.deepEqual(named.json.links, { uaa: 'http://uaa.localhost:8080', login: 'http://uaa.localhost:8080' });
    // A Host that is not the address does not get echoed into the links.
    const other = await httpRequest(port, { path: '/uaa/info', host: 'evil.example:8080' });
    assert.equal(other.json.links.uaa, 'http://uaa.localhost:8080');
  });

  it('maps paths to routes: the prefix is taken off once, on a segment boundary', () => {
    assert.equal(routePath('/uaa/oauth/token'), '/oauth/token');
    assert.equal(routePath('/uaa/oauth/token/'), '/oauth/token');
    assert.equal(routePath('/oauth/token'), '/oauth/token');
    assert.equal(routePath('/uaa'), '/');
    assert.equal(routePath('/uaax/login'), '/uaax/login');
    assert.equal(routePath('/uaa/uaa/login'), '/uaa/login');
  });
});
