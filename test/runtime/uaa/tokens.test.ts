// src/runtime/common/tokens.ts: the verifier the controller and the logs component use, and
// fetchTokenKey, against tokens signed here (no uaa needed).
import assert from 'node:assert/strict';
import http from 'node:http';
import { SignJWT, type JWTPayload } from 'jose';
import { createPrivateKey } from 'node:crypto';
import {
  CONTROLLER_AUDIENCE,
  createTokenVerifier,
  extractBearerToken,
  LOGS_AUDIENCE,
  fetchTokenKey,
  hasScope,
  TokenError,
  type TokenErrorReason,
} from '../../../src/runtime/common/tokens.js';
import { uaaBaseUrl, uaaIssuer } from '../../../src/runtime/common/config.js';
import { testKey, type TestKey } from './helpers.js';

const ISSUER = 'http://uaa.localhost:8080/oauth/token';

function accessClaims(overrides: JWTPayload = {}): JWTPayload {
  const iat = Math.floor(Date.now() / 1000);
  return {
    jti: 'a1b2c3',
    sub: 'user-id',
    scope: ['openid', 'cloud_controller.admin'],
    client_id: 'cf',
    cid: 'cf',
    azp: 'cf',
    grant_type: 'password',
    user_id: 'user-id',
    user_name: 'admin',
    email: 'admin@localhost',
    origin: 'uaa',
    iat,
    exp: iat + 600,
    iss: ISSUER,
    zid: 'uaa',
    aud: ['openid', 'cloud_controller', 'cf'],
    ...overrides,
  };
}

async function sign(key: TestKey, claims: JWTPayload, header: Record<string, unknown> = {}): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: key.kid, typ: 'JWT', ...header }).sign(createPrivateKey(key.private_pem));
}

async function refused(promise: Promise<unknown>, reason: TokenErrorReason, message?: RegExp): Promise<TokenError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof TokenError, `expected a TokenError, got ${String(error)}`);
    assert.equal(error.reason, reason, error.message);
    if (message) assert.match(error.message, message);
    return error;
  }
  assert.fail(`expected the token to be refused (${reason})`);
}

describe('common/tokens: createTokenVerifier', () => {
  let key: TestKey;
  let other: TestKey;
  before(() => {
    key = testKey('key-1');
    other = testKey('key-1');
  });

  it('accepts `bearer TOKEN` in any case and the bare token, and returns typed claims', async () => {
    const verifier = createTokenVerifier({ publicPem: key.public_pem, kid: 'key-1', issuer: ISSUER });
    const token = await sign(key, accessClaims());
    for (const input of [`bearer ${token}`, `Bearer ${token}`, `BEARER  ${token}`, token, ` ${token} `]) {
      const claims = await verifier.verify(input);
      assert.equal(claims.user_name, 'admin');
      assert.equal(claims.client_id, 'cf');
      assert.deepEqual(claims.scope, ['openid', 'cloud_controller.admin']);
      assert.equal(typeof claims.exp, 'number');
      assert.ok(hasScope(claims, 'cloud_controller.admin'));
      assert.ok(!hasScope(claims, 'doppler.firehose'));
    }
  });

  it('accepts a client_credentials token (no user) and normalises aud and cid', async () => {
    const verifier = createTokenVerifier({ publicPem: key.public_pem });
    const token = await sign(key, accessClaims({ sub: 'comp', user_id: undefined, user_name: undefined, client_id: 'comp', cid: undefined, aud: 'comp', grant_type: 'client_credentials' }));
    const claims = await verifier.verify(token);
    assert.equal(claims.user_id, undefined);
    assert.equal(claims.cid, 'comp');
    assert.deepEqual(claims.aud, ['comp']);
  });

  it('says `missing` for no token at all', async () => {
    const verifier = createTokenVerifier({ publicPem: key.public_pem });
    for (const input of [undefined, null, '', '   ', 'bearer', 'Bearer  ']) await refused(verifier.verify(input), 'missing');
  });

  it('says `invalid` for malformed tokens, other schemes and wrong algorithms', async () => {
    const verifier = createTokenVerifier({ publicPem: key.public_pem });
    const token = await sign(key, accessClaims());
    for (const input of ['bearer not-a-jwt', 'bearer a.b.c', `Basic ${Buffer.from('cf:').toString('base64')}`, `bearer ${token} extra`, `${token.slice(0, -4)}AAAA`]) {
      await refused(verifier.verify(input), 'invalid');
    }
    // alg none, and HS256 with the public key as the secret (the classic confusion attack)
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${Buffer.from(JSON.stringify(accessClaims())).toString('base64url')}.`;
    await refused(verifier.verify(none), 'invalid', /algorithm none/);
    const hs = await new SignJWT(accessClaims()).setProtectedHeader({ alg: 'HS256' }).sign(Buffer.from(key.public_pem));
    await refused(verifier.verify(hs), 'invalid', /algorithm HS256/);
  });

  it('refuses a token signed by another key, with another kid, or from another issuer', async () => {
    const verifier = createTokenVerifier({ publicPem: key.public_pem, kid: 'key-1', issuer: ISSUER });
    await refused(verifier.verify(await sign(other, accessClaims())), 'invalid', /Could not verify token signature/);
    await refused(verifier.verify(await sign(key, accessClaims(), { kid: 'key-2' })), 'invalid', /unknown signing key : \[key-2\]/);
    await refused(verifier.verify(await sign(key, accessClaims({ iss: 'http://evil/oauth/token' }))), 'invalid', /Invalid issuer/);
  });

  it('checks the audience when one is given: the token must name the resource in `aud`', async () => {
    const controller = createTokenVerifier({ publicPem: key.public_pem, audience: CONTROLLER_AUDIENCE });
    assert.deepEqual((await controller.verify(await sign(key, accessClaims()))).aud, ['openid', 'cloud_controller', 'cf']);
    // A token for other resources (a scope narrowed to openid, say) is not the controller's.
    const elsewhere = await sign(key, accessClaims({ scope: ['openid'], aud: ['openid', 'cf'] }));
    await refused(
      controller.verify(elsewhere),
      'audience',
      /^Invalid audience: the token's aud \(openid cf\) does not include cloud_controller\. Use a token with a cloud_controller\.\* scope \(log in again without narrowing the scopes\)\.$/,
    );
    await refused(controller.verify(await sign(key, accessClaims({ aud: undefined }))), 'audience', /Invalid audience: the token's aud \(none\)/);
    // A single string `aud`, and a list of acceptable resources (the logs component's).
    const logs = createTokenVerifier({ publicPem: key.public_pem, audience: LOGS_AUDIENCE });
    assert.deepEqual((await logs.verify(await sign(key, accessClaims({ aud: 'doppler' })))).aud, ['doppler']);
    await logs.verify(await sign(key, accessClaims()));
    await refused(logs.verify(elsewhere), 'audience', /does not include cloud_controller or doppler\. Use a token with a cloud_controller\.\* or doppler\.\* scope/);
    // Without an audience, as before: any.
    await createTokenVerifier({ publicPem: key.public_pem }).verify(elsewhere);
    assert.throws(() => createTokenVerifier({ publicPem: key.public_pem, audience: [] }), /at least one resource/);
  });

  it('refuses a refresh token used as an access token', async () => {
    const verifier = createTokenVerifier({ publicPem: key.public_pem });
    const { scope, ...rest } = accessClaims();
    const refresh = await sign(key, { ...rest, jti: 'abc-r', granted_scopes: scope });
    await refused(verifier.verify(refresh), 'invalid', /Invalid access token/);
    // Even one that also carries `scope`: the jti suffix decides.
    await refused(verifier.verify(await sign(key, accessClaims({ jti: 'abc-r' }))), 'invalid', /Invalid access token/);
  });

  it('refuses tokens without the claims of an access token', async () => {
    const verifier = createTokenVerifier({ publicPem: key.public_pem });
    await refused(verifier.verify(await sign(key, accessClaims({ scope: 'openid' }))), 'invalid', /scope/);
    await refused(verifier.verify(await sign(key, accessClaims({ exp: undefined }))), 'invalid', /EXP/);
    await refused(verifier.verify(await sign(key, accessClaims({ client_id: undefined, cid: undefined }))), 'invalid', /client id/);
    await refused(verifier.verify(await sign(key, accessClaims({ client_id: 'a', cid: 'b' }))), 'invalid', /conflicting/);
  });

  it('says `expired` for an expired token (and honours a clock tolerance)', async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = await sign(key, accessClaims({ iat: now - 100, exp: now - 10 }));
    const error = await refused(createTokenVerifier({ publicPem: key.public_pem }).verify(token), 'expired', /Token expired at/);
    assert.doesNotMatch(error.message, new RegExp(token.slice(0, 20)), 'the message does not contain the token');
    await createTokenVerifier({ publicPem: key.public_pem, clockToleranceSeconds: 60 }).verify(token);
    // An expired token with a bad signature is invalid, not expired.
    await refused(createTokenVerifier({ publicPem: key.public_pem }).verify(await sign(other, accessClaims({ exp: now - 10 }))), 'invalid');
  });

  it('refuses a public key that is not an RSA PEM at creation', () => {
    assert.throws(() => createTokenVerifier({ publicPem: 'nope' }), /not a valid PEM/);
  });

  it('extractBearerToken and the URL helpers', () => {
    assert.equal(extractBearerToken('bearer abc'), 'abc');
    assert.equal(uaaBaseUrl('localhost', 8080), 'http://uaa.localhost:8080');
    assert.equal(uaaBaseUrl('example.com', 80), 'http://uaa.example.com');
    assert.equal(uaaIssuer('http://uaa.localhost:8080/'), 'http://uaa.localhost:8080/oauth/token');
  });
});

describe('common/tokens: fetchTokenKey', () => {
  let key: TestKey;
  let server: http.Server;
  let port: number;
  let seenHost: string | undefined;
  let reply: (res: http.ServerResponse, path: string) => void;

  before(async () => {
    key = testKey('key-9');
    server = http.createServer((req, res) => {
      seenHost = req.headers.host;
      reply(res, req.url ?? '');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('gets the PEM from /token_key, with the Host header given', async () => {
    reply = (res, path) => {
      assert.equal(path, '/uaa/token_key');
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kty: 'RSA', kid: 'key-9', alg: 'RS256', use: 'sig', value: key.public_pem }));
    };
    const got = await fetchTokenKey(`http://127.0.0.1:${port}/uaa`, 'uaa.localhost');
    assert.equal(seenHost, 'uaa.localhost');
    assert.equal(got.kid, 'key-9');
    assert.equal(got.alg, 'RS256');
    assert.equal(got.publicPem.trim(), key.public_pem.trim());
    // and it verifies tokens signed with the key
    const token = await sign(key, accessClaims(), { kid: 'key-9' });
    await createTokenVerifier({ publicPem: got.publicPem, kid: got.kid }).verify(token);
  });

  it('builds the key from n and e when there is no PEM value', async () => {
    const { createPublicKey } = await import('node:crypto');
    const jwk = createPublicKey(key.public_pem).export({ format: 'jwk' });
    reply = (res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ...jwk, kid: 'k' }));
    };
    const got = await fetchTokenKey(`http://127.0.0.1:${port}`);
    assert.equal(got.publicPem.trim(), key.public_pem.trim());
    assert.equal(seenHost, `127.0.0.1:${port}`);
  });

  it('fails clearly on an error status, non-JSON, a non-key, a timeout, a closed port', async () => {
    reply = (res) => {
      res.writeHead(404);
      res.end('nope');
    };
    await assert.rejects(fetchTokenKey(`http://127.0.0.1:${port}`), /answered 404/);
    reply = (res) => res.end('<html>');
    await assert.rejects(fetchTokenKey(`http://127.0.0.1:${port}`), /did not answer JSON/);
    reply = (res) => res.end('{"value":"x"}');
    await assert.rejects(fetchTokenKey(`http://127.0.0.1:${port}`), /usable public key/);
    reply = () => undefined; // never answers
    await assert.rejects(fetchTokenKey(`http://127.0.0.1:${port}`, undefined, { timeoutMs: 200 }), /timed out/);
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const closedPort = (closed.address() as { port: number }).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    await assert.rejects(fetchTokenKey(`http://127.0.0.1:${closedPort}`), /ECONNREFUSED/);
  });
});
