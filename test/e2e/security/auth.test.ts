// Who may talk to the box's HTTP endpoints, through the router as any client would: the API (and
// the logs endpoint, which trusts the same tokens) refuse a missing, forged, expired or unsigned
// token, and the service broker refuses missing or wrong basic auth.
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader, importPKCS8, SignJWT, UnsecuredJWT, type JWTPayload } from 'jose';
import { request, type HttpResponse } from '../../../src/runtime/common/http.js';
import { basic, securityBox, type SecurityBox } from './box.js';

const BROKER_API = { 'x-broker-api-version': '2.14' };

describe('security: tokens and credentials at the API, logs and broker', function () {
  this.timeout(180_000);
  let box: SecurityBox;
  let claims: JWTPayload;
  let kid: string;
  before(async () => {
    box = await securityBox();
    claims = decodeJwt(box.api.token);
    kid = String(decodeProtectedHeader(box.api.token).kid);
  });

  /** A token with the admin's claims, signed RS256 with `key` (the real one unless forged). */
  const signed = async (key: Parameters<SignJWT['sign']>[0], payload: JWTPayload) =>
    new SignJWT({ ...payload, jti: randomUUID() }).setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' }).sign(key);
  const realKey = () => importPKCS8(box.config.uaa.signing_key.private_pem, 'RS256');
  const now = () => Math.floor(Date.now() / 1000);

  /** The endpoints that want a uaa token: the v3 API and the logs component (both through the router). */
  const endpoints = () => [
    { name: 'api', url: `http://api.localhost:${box.routerPort}/v3/apps` },
    { name: 'logs', url: `http://logs.localhost:${box.routerPort}/apps/${box.apps.hello}/recent` },
  ];
  const call = (url: string, token?: string): Promise<HttpResponse> => request({ url, headers: token === undefined ? {} : { authorization: `bearer ${token}` }, timeoutMs: 10_000 });
  const title = (res: HttpResponse) => (JSON.parse(res.text) as { errors: { title: string }[] }).errors[0].title;

  it('accepts a token signed with the real key (the control for the refusals below)', async () => {
    const control = await signed(await realKey(), { ...claims, iat: now() - 10, exp: now() + 600 });
    for (const { name, url } of endpoints()) assert.equal((await call(url, control)).status, 200, name);
  });

  it('refuses a request without a token: 401 CF-NotAuthenticated', async () => {
    for (const { name, url } of endpoints()) {
      const res = await call(url);
      assert.equal(res.status, 401, name);
      assert.equal(title(res), 'CF-NotAuthenticated', name);
    }
  });

  it('refuses forged tokens: another RSA key, alg none, HS256 keyed with the public key, a tampered payload', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const live = { ...claims, iat: now() - 10, exp: now() + 600 };
    const otherKey = await signed(privateKey, live);
    // alg none: header {"alg":"none"}, empty signature, as an attacker without any key would send.
    const unsigned = new UnsecuredJWT({ ...live }).encode();
    // The classic confusion: HMAC with the (public) verification key as the secret.
    const hmac = await new SignJWT({ ...live }).setProtectedHeader({ alg: 'HS256', kid, typ: 'JWT' }).sign(new TextEncoder().encode(box.config.uaa.signing_key.public_pem));
    // A real token whose payload was swapped for a longer-lived one: the signature no longer matches.
    const [header, , signature] = box.api.token.split('.');
    const tampered = `${header}.${Buffer.from(JSON.stringify({ ...claims, exp: now() + 86_400 })).toString('base64url')}.${signature}`;
    for (const [what, token] of Object.entries({ otherKey, unsigned, hmac, tampered })) {
      for (const { name, url } of endpoints()) {
        const res = await call(url, token);
        assert.equal(res.status, 401, `${name}, ${what}`);
        assert.equal(title(res), 'CF-InvalidAuthToken', `${name}, ${what}`);
      }
    }
  });

  it('refuses an expired token signed with the real key', async () => {
    const expired = await signed(await realKey(), { ...claims, iat: now() - 3_600, exp: now() - 60 });
    for (const { name, url } of endpoints()) {
      const res = await call(url, expired);
      assert.equal(res.status, 401, name);
      assert.equal(title(res), 'CF-InvalidAuthToken', name);
    }
  });

  it('broker: refuses missing or wrong basic auth, and changes nothing for a refused request', async () => {
    const { username, password } = box.config.mysql.broker;
    const broker = `http://mysql-broker.localhost:${box.routerPort}`;
    const catalog = (authorization?: string) => request({ url: `${broker}/v2/catalog`, headers: { ...BROKER_API, ...(authorization ? { authorization } : {}) }, timeoutMs: 10_000, routeWaitMs: 10_000 });
    assert.equal((await catalog(basic(username, password))).status, 200, 'the right credentials');
    for (const [what, authorization] of Object.entries({ none: undefined, 'wrong password': basic(username, `${password}x`), 'wrong user': basic('admin', password), 'the status credentials': basic(box.config.status.user, box.config.status.password), bearer: `bearer ${box.api.token}` })) {
      const res = await catalog(authorization);
      assert.equal(res.status, 401, what);
      assert.match(String(res.headers['www-authenticate']), /^Basic /, what);
    }

    // A provision with wrong credentials is refused before anything happens.
    const id = randomUUID();
    const instance = `${broker}/v2/service_instances/${id}`;
    const { services } = JSON.parse((await catalog(basic(username, password))).text) as { services: { id: string; plans: { id: string }[] }[] };
    const body = JSON.stringify({ service_id: services[0].id, plan_id: services[0].plans[0].id, organization_guid: randomUUID(), space_guid: randomUUID() });
    const put = await request({ url: instance, method: 'PUT', headers: { ...BROKER_API, authorization: basic(username, 'guess'), 'content-type': 'application/json' }, body, timeoutMs: 10_000 });
    assert.equal(put.status, 401);
    const get = await request({ url: instance, headers: { ...BROKER_API, authorization: basic(username, password) }, timeoutMs: 10_000 });
    assert.equal(get.status, 404, 'no instance was created');
  });
});
