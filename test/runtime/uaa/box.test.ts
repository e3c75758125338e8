// uaa as `devbox up` runs it: a child process of the real supervisor, registered with the real
// router, reached at 127.0.0.1:<router port> with `Host: uaa.localhost` as the CLI does.
// Needs the built executable (`npm run build`).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { loadConfig, statePaths, uaaBaseUrl, uaaIssuer, type DevboxConfig } from '../../../src/runtime/common/config.js';
import { freePort, waitFor } from '../../../src/runtime/common/net.js';
import { createTokenVerifier, fetchTokenKey, TokenError } from '../../../src/runtime/common/tokens.js';
import { cleanupBox, devbox, tempHome } from '../../helpers/devbox.js';
import { basic, httpRequest, tokenRequest, type HttpRequest } from './helpers.js';

const HOST = 'uaa.localhost';
/** Short enough to watch a token expire, long enough for every other test to use its tokens. */
const ACCESS_VALIDITY_S = 5;

describe('uaa through devbox up and the router', function () {
  this.timeout(60_000);
  let home: string;
  let routerPort: number;
  let config: DevboxConfig;
  const viaRouter = (r: HttpRequest) => httpRequest(routerPort, { host: HOST, ...r });

  before(async () => {
    home = tempHome('devbox-uaa-');
    routerPort = await freePort();
    const up = await devbox(home, ['up', '-d', '--port', String(routerPort)], { env: { DEVBOX_UAA_ACCESS_TOKEN_VALIDITY: String(ACCESS_VALIDITY_S) } });
    assert.equal(up.exitCode, 0, up.stdout + up.stderr);
    config = loadConfig(statePaths(home));
    // The route reaches the router with uaa's first registration or at the router's next router.start.
    await waitFor('uaa.localhost to be routed', async () => (await viaRouter({ path: '/healthz' })).status === 200, { timeoutMs: 10_000, intervalMs: 50 });
  });
  after(async () => cleanupBox(home));

  it('is listed healthy by devbox status', async () => {
    const status = await devbox(home, ['status', '--json']);
    const uaa = (JSON.parse(status.stdout) as { components: { name: string; healthy: boolean }[] }).components.find((c) => c.name === 'uaa');
    assert.ok(uaa, status.stdout);
    assert.equal(uaa.healthy, true);
  });

  it('runs the password, refresh and client_credentials grants; tokens verify with the served key', async () => {
    const base = uaaBaseUrl(config.domain, routerPort);
    const info = await viaRouter({ path: '/info', headers: { accept: 'application/json' } });
    assert.equal(info.status, 200);
    assert.equal(info.json.links.uaa, base);

    const { username, password } = config.uaa.admin;
    const login = await tokenRequest(routerPort, { grant_type: 'password', username, password }, basic('cf', ''), { host: HOST });
    assert.equal(login.status, 200, login.text);
    assert.equal(login.json.token_type, 'bearer');
    assert.ok(login.json.refresh_token);

    // the key as another machine would get it: over HTTP through the router
    const key = await fetchTokenKey(`http://127.0.0.1:${routerPort}`, HOST);
    assert.equal(key.kid, config.uaa.signing_key.kid);
    const verifier = createTokenVerifier({ publicPem: key.publicPem, kid: key.kid, issuer: uaaIssuer(base) });
    const claims = await verifier.verify(`bearer ${login.json.access_token}`);
    assert.equal(claims.user_name, username);
    assert.ok(claims.scope.includes('cloud_controller.admin'));
    const jwks = (await viaRouter({ path: '/token_keys' })).json;
    await jwtVerify(login.json.access_token, createLocalJWKSet(jwks), { issuer: `${base}/oauth/token` });

    // the refresh token is no access token, and the other way round
    await assert.rejects(verifier.verify(login.json.refresh_token), (e: unknown) => e instanceof TokenError && e.reason === 'invalid');
    const misuse = await tokenRequest(routerPort, { grant_type: 'refresh_token', refresh_token: login.json.access_token }, basic('cf', ''), { host: HOST });
    assert.equal(misuse.status, 401);
    assert.deepEqual(misuse.json, { error: 'invalid_token', error_description: 'Invalid refresh token.' });

    const refreshed = await tokenRequest(routerPort, { grant_type: 'refresh_token', refresh_token: login.json.refresh_token }, basic('cf', ''), { host: HOST });
    assert.equal(refreshed.status, 200, refreshed.text);
    assert.equal((await verifier.verify(refreshed.json.access_token)).grant_type, 'refresh_token');

    const me = await viaRouter({ path: '/userinfo', headers: { authorization: `bearer ${refreshed.json.access_token}` } });
    assert.equal(me.status, 200, me.text);
    assert.equal(me.json.user_name, username);
    assert.equal((await viaRouter({ path: '/userinfo' })).status, 401);

    const { id, secret } = config.uaa.components_client;
    const machine = await tokenRequest(routerPort, { grant_type: 'client_credentials' }, basic(id, secret), { host: HOST });
    assert.equal(machine.status, 200, machine.text);
    assert.equal(machine.json.refresh_token, undefined);
    assert.deepEqual((await verifier.verify(machine.json.access_token)).scope, ['cloud_controller.admin', 'doppler.firehose']);
  });

  it('serves the same grants on the cf address under /uaa, with tokens the API accepts (same issuer)', async () => {
    const address = `127.0.0.1:${routerPort}`;
    const { username, password } = config.uaa.admin;
    const viaAddress = (path: string, fields: Record<string, string>) => tokenRequest(routerPort, fields, basic('cf', ''), { host: address, path });
    // The API's root points cf at uaa under the prefix, on the address the request came in on.
    const root = await httpRequest(routerPort, { host: address, path: '/' });
    assert.equal(root.status, 200, root.text);
    assert.equal(root.json.links.uaa.href, `http://${address}/uaa`);
    assert.equal(root.json.links.login.href, `http://${address}/uaa`);
    // cf asks the login link for its prompts (path.Join of the link and /login).
    const login = await httpRequest(routerPort, { host: address, path: '/uaa/login', headers: { accept: 'application/json' } });
    assert.equal(login.status, 200, login.text);
    assert.deepEqual(login.json.prompts.password, ['password', 'Password']);
    assert.equal(login.json.links.login, `http://${address}/uaa`);

    const token = await viaAddress('/uaa/oauth/token', { grant_type: 'password', username, password });
    assert.equal(token.status, 200, token.text);
    const verifier = createTokenVerifier({ publicPem: config.uaa.signing_key.public_pem, kid: config.uaa.signing_key.kid, issuer: uaaIssuer(uaaBaseUrl(config.domain, routerPort)) });
    assert.equal((await verifier.verify(`bearer ${token.json.access_token}`)).user_name, username);
    const refreshed = await viaAddress('/uaa/oauth/token', { grant_type: 'refresh_token', refresh_token: token.json.refresh_token });
    assert.equal(refreshed.status, 200, refreshed.text);
    assert.equal((await verifier.verify(refreshed.json.access_token)).grant_type, 'refresh_token');

    // The API on the same address takes it, and its links stay on that address.
    const orgs = await httpRequest(routerPort, { host: address, path: '/v3/organizations', headers: { authorization: `bearer ${refreshed.json.access_token}` } });
    assert.equal(orgs.status, 200, orgs.text);
    assert.equal(orgs.json.pagination.first.href.startsWith(`http://${address}/v3/organizations`), true, orgs.text);
    assert.equal(orgs.json.resources[0].links.self.href.startsWith(`http://${address}/v3/`), true, orgs.text);
    // …and on the name-based address, the name-based links as before.
    const named = await httpRequest(routerPort, { host: `api.localhost:${routerPort}`, path: '/' });
    assert.equal(named.json.links.uaa.href, uaaBaseUrl(config.domain, routerPort));

    // Wrong credentials: UAA's body, under the prefix too; nothing outside uaa's paths answers there.
    const wrong = await viaAddress('/uaa/oauth/token', { grant_type: 'password', username, password: 'wrong' });
    assert.deepEqual(wrong.json, { error: 'unauthorized', error_description: 'Bad credentials' });
    assert.equal((await httpRequest(routerPort, { host: address, path: '/uaa/nothing' })).status, 404);
  });

  it('answers wrong credentials and bad requests with UAA\'s bodies, through the router', async () => {
    const wrong = await tokenRequest(routerPort, { grant_type: 'password', username: config.uaa.admin.username, password: 'wrong' }, basic('cf', ''), { host: HOST });
    assert.equal(wrong.status, 401);
    assert.deepEqual(wrong.json, { error: 'unauthorized', error_description: 'Bad credentials' });
    const client = await tokenRequest(routerPort, { grant_type: 'client_credentials' }, basic('nobody', 'x'), { host: HOST });
    assert.equal(client.status, 401);
    assert.deepEqual(client.json, { error: 'invalid_client', error_description: 'Bad client credentials' });
    const grant = await tokenRequest(routerPort, { grant_type: 'implicit' }, basic('cf', ''), { host: HOST });
    assert.equal(grant.status, 400);
    assert.deepEqual(grant.json, { error: 'unsupported_grant_type', error_description: 'Unsupported grant type: implicit' });
  });

  it('gives tokens the audience of their scopes, which the API and the logs component check', async () => {
    const { username, password } = config.uaa.admin;
    const api = (token: string) => httpRequest(routerPort, { host: `api.${config.domain}`, path: '/v3/apps', headers: { authorization: `bearer ${token}` } });
    const logs = (token: string) => httpRequest(routerPort, { host: `logs.${config.domain}`, path: '/apps/00000000-0000-4000-8000-000000000000/recent', headers: { authorization: `bearer ${token}` } });
    const full = await tokenRequest(routerPort, { grant_type: 'password', username, password }, basic('cf', ''), { host: HOST });
    assert.equal((await api(full.json.access_token)).status, 200);
    assert.equal((await logs(full.json.access_token)).status, 404, 'verified, then the controller says no such app');
    // A token uaa issued for `openid` only: aud [openid, cf], not the controller's resource.
    const openid = await tokenRequest(routerPort, { grant_type: 'password', username, password, scope: 'openid' }, basic('cf', ''), { host: HOST });
    assert.equal(openid.status, 200, openid.text);
    const refused = await api(openid.json.access_token);
    assert.equal(refused.status, 401, refused.text);
    assert.equal(refused.json.errors[0].title, 'CF-InvalidAuthToken');
    const refusedLogs = await logs(openid.json.access_token);
    assert.equal(refusedLogs.status, 401, refusedLogs.text);
    // …while /userinfo, whose resource is openid, takes it.
    assert.equal((await viaRouter({ path: '/userinfo', headers: { authorization: `bearer ${openid.json.access_token}` } })).status, 200);
  });

  it('lets access tokens expire after DEVBOX_UAA_ACCESS_TOKEN_VALIDITY seconds', async function () {
    this.timeout(20_000);
    const { username, password } = config.uaa.admin;
    const login = await tokenRequest(routerPort, { grant_type: 'password', username, password }, basic('cf', ''), { host: HOST });
    assert.equal(login.json.expires_in, ACCESS_VALIDITY_S);
    const verifier = createTokenVerifier({ publicPem: config.uaa.signing_key.public_pem, kid: config.uaa.signing_key.kid });
    await verifier.verify(login.json.access_token);
    const reason = await waitFor(
      'the access token to expire',
      () => verifier.verify(login.json.access_token).then(() => false, (e: TokenError) => e.reason),
      { timeoutMs: (ACCESS_VALIDITY_S + 3) * 1000, intervalMs: 200 },
    );
    assert.equal(reason, 'expired');
    const me = await viaRouter({ path: '/userinfo', headers: { authorization: `bearer ${login.json.access_token}` } });
    assert.equal(me.status, 401);
    assert.equal(me.json.error, 'invalid_token');
    // the refresh token outlives it
    const refreshed = await tokenRequest(routerPort, { grant_type: 'refresh_token', refresh_token: login.json.refresh_token }, basic('cf', ''), { host: HOST });
    assert.equal(refreshed.status, 200, refreshed.text);
  });

  it('keeps passwords and tokens out of its log', async () => {
    const log = fs.readFileSync(path.join(statePaths(home).logs, 'uaa.log'), 'utf8');
    assert.match(log, /token issued/);
    assert.ok(!log.includes(config.uaa.admin.password), 'the admin password is not logged');
    assert.ok(!log.includes(config.uaa.components_client.secret), 'the client secret is not logged');
    assert.doesNotMatch(log, /eyJ[\w-]+\.eyJ/, 'no JWT is logged');
  });
});
