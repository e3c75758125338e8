// TLS at the router end to end (docs/router.md, "TLS"; docs/cf-cli.md, "HTTPS"): a real `devbox up
// -d --tls-port N` (a port from the OS, never 8443), an app pushed with devbox's CLI and fetched over
// HTTPS verified against the box's CA, the API's links over HTTPS, and the real cf CLI 8
// (helpers/cf.ts) on `https://127.0.0.1:<TLS port>`: with --skip-ssl-validation, with SSL_CERT_FILE
// naming the CA, and refused with neither. A TLS port that is taken stops `up` with a clear message.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import type tls from 'node:tls';
import { loadConfig, statePaths, tlsFiles } from '../../src/runtime/common/config.js';
import { request } from '../../src/runtime/common/http.js';
import { freePort } from '../../src/runtime/common/net.js';
import { runningSupervisor } from '../../src/runtime/supervisor/lock.js';
import { cfFor, table, type Cf, type CfResult } from '../helpers/cf.js';
import { cleanupBox, devbox, tempHome, type DevboxResult } from '../helpers/devbox.js';

interface HttpsAnswer {
  status: number;
  text: string;
  peer: tls.PeerCertificate;
}

/** GET https://<servername>:<port><path> at 127.0.0.1, verified against `ca` (as a client that trusts the box's CA). */
function httpsGet(port: number, servername: string, ca: string, target = '/'): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    // No SNI for an address (RFC 6066): the certificate is checked against it as an IP address.
    const req = https.get({ host: '127.0.0.1', port, ...(net.isIP(servername) ? {} : { servername }), path: target, ca, agent: false, headers: { host: `${servername}:${port}` }, timeout: 10_000 }, (res) => {
      const peer = (res.socket as tls.TLSSocket).getPeerCertificate();
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, text, peer }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error(`https://${servername}:${port}${target} timed out`)));
  });
}

const show = (r: CfResult | DevboxResult) => `exit ${r.exitCode}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;

describe('TLS at the router: HTTPS with the box CA, and the real cf CLI over it', function () {
  this.timeout(180_000);
  let home: string;
  let routerPort: number;
  let tlsPort: number;
  let up: DevboxResult;
  let ca: string;
  let work: string;
  const clients: Cf[] = [];

  before(async function () {
    this.timeout(120_000);
    home = tempHome('devbox-cf-tls-');
    routerPort = await freePort();
    tlsPort = await freePort('127.0.0.1', { exclude: [routerPort] });
    // Access tokens shorter than a minute: cf refreshes them before use, so it talks to uaa again.
    up = await devbox(home, ['up', '-d', '--port', String(routerPort), '--tls-port', String(tlsPort)], { timeoutMs: 90_000, env: { DEVBOX_UAA_ACCESS_TOKEN_VALIDITY: '50' } });
    assert.equal(up.exitCode, 0, show(up));
    ca = fs.readFileSync(tlsFiles(statePaths(home)).caCert, 'utf8');
    work = fs.mkdtempSync(path.join(home, 'app-'));
  });
  after(async function () {
    this.timeout(60_000);
    for (const cf of clients) cf.cleanup();
    if (home) await cleanupBox(home);
  });

  const newCf = async () => {
    const cf = await cfFor({ home });
    clients.push(cf);
    return cf;
  };

  it('up prints the HTTPS addresses and the CA; status --json reports them; the keys are 0600', async () => {
    const files = tlsFiles(statePaths(home));
    assert.ok(up.stdout.includes(`https://api.localhost:${tlsPort}`), up.stdout);
    assert.ok(up.stdout.includes(files.caCert), up.stdout);
    assert.ok(up.stdout.includes(`cf api https://127.0.0.1:${tlsPort} --skip-ssl-validation`), up.stdout);
    assert.equal(fs.statSync(files.caKey).mode & 0o777, 0o600);
    assert.equal(fs.statSync(files.key).mode & 0o777, 0o600);
    assert.equal(fs.statSync(files.dir).mode & 0o777, 0o700);

    const status = await devbox(home, ['status', '--json']);
    assert.equal(status.exitCode, 0, show(status));
    const parsed = JSON.parse(status.stdout) as Record<string, unknown>;
    assert.equal(parsed.router_tls_port, tlsPort);
    assert.equal(parsed.cf_api_tls, `https://127.0.0.1:${tlsPort}`);
    assert.equal(parsed.ca_cert, files.caCert);
    assert.equal(parsed.cf_api, `http://127.0.0.1:${routerPort}`);
  });

  it('serves a pushed app over HTTPS verified against the CA, X-Forwarded-Proto https; its VCAP_APPLICATION uris reach it on either port', async () => {
    fs.writeFileSync(
      path.join(work, 'server.js'),
      [
        "const app = JSON.parse(process.env.VCAP_APPLICATION || '{}');",
        "require('http').createServer((req, res) => res.end(JSON.stringify({ proto: req.headers['x-forwarded-proto'], uris: app.uris }))).listen(process.env.PORT);",
        '',
      ].join('\n'),
    );
    fs.writeFileSync(path.join(work, 'package.json'), '{"name":"tlsapp","version":"1.0.0","scripts":{"start":"node server.js"}}\n');
    const push = await devbox(home, ['push', 'tlsapp', '-p', work], { timeoutMs: 120_000 });
    assert.equal(push.exitCode, 0, show(push));

    const secure = await httpsGet(tlsPort, 'tlsapp.localhost', ca);
    assert.equal(secure.status, 200, secure.text);
    const body = JSON.parse(secure.text) as { proto: string; uris: string[] };
    assert.equal(body.proto, 'https');
    assert.deepEqual(body.uris, ['tlsapp.localhost'], 'host names, as Cloud Foundry writes them: the router routes them on both ports');
    assert.equal(secure.peer.subject.CN, 'tlsapp.localhost', 'a certificate for the app name, from the box CA');

    // What cfenv derives (https://<uri>) with the port in use, and the plain port: the same app.
    for (const uri of body.uris) {
      assert.equal(JSON.parse((await httpsGet(tlsPort, uri, ca)).text).proto, 'https');
      const plain = await request({ url: `http://${uri}:${routerPort}/`, timeoutMs: 5_000 });
      assert.equal(plain.status, 200);
      assert.equal(JSON.parse(plain.text).proto, 'http');
    }
  });

  it('answers GET / over HTTPS with https links on the TLS port, by name and on the cf address', async () => {
    const byName = JSON.parse((await httpsGet(tlsPort, 'api.localhost', ca)).text) as { links: Record<string, { href: string } | null> };
    assert.equal(byName.links.self?.href, `https://api.localhost:${tlsPort}`);
    assert.equal(byName.links.uaa?.href, `https://uaa.localhost:${tlsPort}`);
    assert.equal(byName.links.cloud_controller_v3?.href, `https://api.localhost:${tlsPort}/v3`);
    assert.equal(byName.links.log_cache?.href, `https://logs.localhost:${tlsPort}`);
    assert.equal(byName.links.logging?.href, `wss://logs.localhost:${tlsPort}`);

    const byAddress = JSON.parse((await httpsGet(tlsPort, '127.0.0.1', ca)).text) as { links: Record<string, { href: string } | null> };
    assert.equal(byAddress.links.self?.href, `https://127.0.0.1:${tlsPort}`);
    assert.equal(byAddress.links.uaa?.href, `https://127.0.0.1:${tlsPort}/uaa`);
    assert.equal(byAddress.links.log_cache?.href, `https://127.0.0.1:${tlsPort}`);
    // Plain HTTP keeps its http links.
    const plain = JSON.parse((await request({ url: `http://127.0.0.1:${routerPort}/`, timeoutMs: 5_000 })).text) as { links: Record<string, { href: string } | null> };
    assert.equal(plain.links.self?.href, `http://127.0.0.1:${routerPort}`);
  });

  it('the real cf CLI: cf api https://127.0.0.1:<tls> --skip-ssl-validation, cf auth, cf apps; uaa and log-cache over HTTPS too', async () => {
    const cf = await newCf();
    const { username, password } = loadConfig(statePaths(home)).uaa.admin;
    const api = await cf.run(['api', `https://127.0.0.1:${tlsPort}`, '--skip-ssl-validation']);
    assert.equal(api.exitCode, 0, show(api));
    assert.match(api.stdout, new RegExp(`API endpoint: +https://127\\.0\\.0\\.1:${tlsPort}`));
    const auth = await cf.run(['auth', username, password]);
    assert.equal(auth.exitCode, 0, show(auth));
    await cf.ok(['target', '-o', 'devbox', '-s', 'dev']);
    const apps = await cf.run(['apps']);
    assert.equal(apps.exitCode, 0, show(apps));
    const row = table(apps.stdout, 'name').find((r) => r.name === 'tlsapp');
    assert.ok(row, apps.stdout);
    assert.match(row.routes ?? '', /tlsapp\.localhost/);
    // cf took uaa's address from GET /'s links: HTTPS on the TLS port.
    const saved = JSON.parse(fs.readFileSync(path.join(cf.cfHome, '.cf', 'config.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(saved.Target, `https://127.0.0.1:${tlsPort}`);
    assert.equal(saved.AuthorizationEndpoint, `https://127.0.0.1:${tlsPort}/uaa`);
    assert.equal(saved.UaaEndpoint, `https://127.0.0.1:${tlsPort}/uaa`);
    // A token with less than a minute left is refreshed there first.
    const token = await cf.run(['oauth-token']);
    assert.equal(token.exitCode, 0, show(token));
    assert.match(token.stdout, /^bearer ey/);
    // log-cache at the https log_cache link: the app's RTR lines of the requests above, over HTTPS.
    const logs = await cf.run(['logs', 'tlsapp', '--recent']);
    assert.equal(logs.exitCode, 0, show(logs));
    assert.match(logs.stdout, /\[RTR\/0\] OUT tlsapp\.localhost - .* x_forwarded_proto:"https" /);
    // cf push over HTTPS: the DEA still fetches the package and droplet over the API's plain http.
    const push = await cf.run(['push', 'tlscf', '-p', work], { timeoutMs: 180_000 });
    assert.equal(push.exitCode, 0, show(push));
    const pushed = await httpsGet(tlsPort, 'tlscf.localhost', ca);
    assert.equal(pushed.status, 200, pushed.text);
  });

  it('the real cf CLI trusts the box with SSL_CERT_FILE=<ca> and no --skip-ssl-validation; with neither it refuses', async () => {
    const caFile = tlsFiles(statePaths(home)).caCert;
    const { username, password } = loadConfig(statePaths(home)).uaa.admin;
    const trusting = await newCf();
    const env = { SSL_CERT_FILE: caFile };
    const api = await trusting.run(['api', `https://127.0.0.1:${tlsPort}`], { env });
    assert.equal(api.exitCode, 0, show(api));
    const auth = await trusting.run(['auth', username, password], { env });
    assert.equal(auth.exitCode, 0, show(auth));
    await trusting.ok(['target', '-o', 'devbox', '-s', 'dev'], { env });
    const apps = await trusting.run(['apps'], { env });
    assert.equal(apps.exitCode, 0, show(apps));
    assert.ok(table(apps.stdout, 'name').some((r) => r.name === 'tlsapp'), apps.stdout);

    const untrusting = await newCf();
    const refused = await untrusting.run(['api', `https://127.0.0.1:${tlsPort}`], { env: { SSL_CERT_FILE: '' } });
    assert.equal(refused.exitCode, 1, show(refused));
    assert.match(refused.stdout + refused.stderr, /Invalid SSL Cert for https:\/\/127\.0\.0\.1:\d+/);
  });

  it('refuses a --tls-port that is taken, clearly, and starts nothing', async () => {
    const other = tempHome('devbox-cf-tls-busy-');
    const holder = net.createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const busy = (holder.address() as net.AddressInfo).port;
    try {
      const refused = await devbox(other, ['up', '-d', '--port', String(await freePort()), '--tls-port', String(busy)], { timeoutMs: 60_000 });
      assert.notEqual(refused.exitCode, 0, show(refused));
      const said = refused.stdout + refused.stderr;
      assert.ok(said.includes(`port ${busy} (HTTPS, for router) is already in use; free it or choose another with --tls-port (0: no HTTPS)`), said);
      assert.doesNotMatch(said, /^\s+at /m, 'no stack trace');
      assert.equal(runningSupervisor(statePaths(other).pidFile), undefined, 'no box left running');
    } finally {
      await new Promise<void>((resolve) => holder.close(() => resolve()));
      await cleanupBox(other);
    }
  });
});
