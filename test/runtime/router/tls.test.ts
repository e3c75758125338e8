// TLS at the router (docs/router.md, "TLS"): the box's CA and the router's certificate (tls.ts), and
// the HTTPS listener in front of the same handler chain, in one process and in every worker process.
// Clients verify against the box's CA, as a user who trusts it would (Node's checks are as strict as
// OpenSSL's: no `*.localhost`).
import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import type { NatsConnection } from 'nats';
import { tlsFiles } from '../../../src/runtime/common/config.js';
import { createLogger } from '../../../src/runtime/common/log.js';
import { freePort, waitFor } from '../../../src/runtime/common/net.js';
import { Router } from '../../../src/runtime/router/router.js';
import { routerSettings } from '../../../src/runtime/router/settings.js';
import { altNames, CA_VALIDITY_DAYS, ensureCertificates, RENEW_BEFORE_DAYS, SERVER_VALIDITY_DAYS } from '../../../src/runtime/router/tls.js';
import { busClient, publishJson, rawExchange, registration, request, startBackend, startRouter, startRouterComponent, startTestBus, type Backend, type RunningRouter, type TestBus, type TestRouter } from './helpers.js';

const DAY_MS = 24 * 3600 * 1000;

function tempTlsHome(): { home: string; paths: { tls: string } } {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'devbox-tls-test-'));
  return { home, paths: { tls: path.join(home, 'tls') } };
}

const mode = (file: string) => fs.statSync(file).mode & 0o777;
const read = (file: string) => fs.readFileSync(file, 'utf8');

interface HttpsResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** The certificate the router presented. */
  peer: tls.PeerCertificate;
}

/** One HTTPS request to 127.0.0.1:port, verified against `ca` for `servername` (SNI and the name checked). */
function httpsGet(port: number, { ca, servername, host = servername, path: target = '/', headers = {} }: { ca: string; servername: string; host?: string; path?: string; headers?: Record<string, string> }): Promise<HttpsResponse> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port, servername, path: target, ca, agent: false, headers: { host, ...headers }, timeout: 10_000 }, (res) => {
      const peer = (res.socket as tls.TLSSocket).getPeerCertificate();
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text: Buffer.concat(chunks).toString(), peer }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error(`https request to ${port} timed out`)));
    req.end();
  });
}

describe('router TLS: the CA and the server certificate', function () {
  this.timeout(20_000);
  let home: string;
  let paths: { tls: string };

  beforeEach(() => ({ home, paths } = tempTlsHome()));
  afterEach(() => fs.rmSync(home, { recursive: true, force: true }));

  it('makes the CA and a server certificate signed by it, keys 0600 in a 0700 directory', async () => {
    const result = await ensureCertificates(paths, 'localhost');
    assert.deepEqual(result, { caCreated: true, serverCreated: true, reason: 'new CA' });
    const files = tlsFiles(paths);
    assert.equal(mode(files.dir), 0o700);
    assert.equal(mode(files.caKey), 0o600);
    assert.equal(mode(files.key), 0o600);
    assert.equal(mode(files.caCert), 0o600);

    const ca = new X509Certificate(read(files.caCert));
    const server = new X509Certificate(read(files.cert));
    assert.equal(ca.ca, true);
    assert.equal(server.ca, false);
    assert.ok(server.checkIssued(ca) && server.verify(ca.publicKey), 'signed by the CA');
    assert.ok(ca.verify(ca.publicKey), 'the CA is self-signed');
    assert.ok(server.checkPrivateKey(createPrivateKey(read(files.key))), 'the server key is the certificate’s');
    assert.ok(ca.checkPrivateKey(createPrivateKey(read(files.caKey))), 'the CA key is the CA’s');
    // *.<domain>, the platform's names spelled out (strict clients take no *.localhost), the cf address.
    const names = altNames(server);
    for (const name of ['DNS:*.localhost', 'DNS:localhost', 'DNS:api.localhost', 'DNS:uaa.localhost', 'DNS:login.localhost', 'DNS:logs.localhost', 'DNS:log-cache.localhost', 'IP Address:127.0.0.1']) {
      assert.ok(names.includes(name), `${name} in ${names.join(', ')}`);
    }
    assert.equal(server.checkIP('127.0.0.1'), '127.0.0.1');
    assert.equal(server.checkHost('api.localhost'), 'api.localhost');
    assert.equal(server.checkHost('localhost'), 'localhost');
    assert.match(server.subject, /CN=\*\.localhost/);
    const days = (cert: X509Certificate) => (Date.parse(cert.validTo) - Date.now()) / DAY_MS;
    assert.ok(days(server) > SERVER_VALIDITY_DAYS - 2 && days(server) <= SERVER_VALIDITY_DAYS, `server valid for ${days(server)} days`);
    assert.ok(days(ca) > CA_VALIDITY_DAYS - 2, `CA valid for ${days(ca)} days`);
    assert.match(server.keyUsage?.join(',') ?? '', /1\.3\.6\.1\.5\.5\.7\.3\.1/, 'extended key usage serverAuth');
  });

  it('keeps the CA across restarts; makes the server certificate again for a new domain or near its end, with the same CA', async () => {
    const files = tlsFiles(paths);
    await ensureCertificates(paths, 'localhost');
    const ca = read(files.caCert);
    const caKey = read(files.caKey);
    const server = read(files.cert);

    // A restart: nothing changes.
    assert.deepEqual(await ensureCertificates(paths, 'localhost'), { caCreated: false, serverCreated: false });
    assert.equal(read(files.cert), server);
    assert.equal(read(files.caCert), ca);

    // The domain changed: a new server certificate for it, from the same CA.
    const renamed = await ensureCertificates(paths, 'devbox.example.test');
    assert.equal(renamed.caCreated, false);
    assert.equal(renamed.serverCreated, true);
    assert.match(renamed.reason ?? '', /names/);
    const next = new X509Certificate(read(files.cert));
    assert.ok(altNames(next).includes('DNS:*.devbox.example.test'));
    assert.ok(!altNames(next).includes('DNS:*.localhost'));
    assert.equal(next.checkHost('myapp.devbox.example.test'), '*.devbox.example.test', 'a wildcard with two labels after it covers app names');
    assert.ok(next.verify(new X509Certificate(ca).publicKey));
    assert.equal(read(files.caCert), ca);
    assert.equal(read(files.caKey), caKey);

    // Near its end (a later start, within RENEW_BEFORE_DAYS of it): made again, the CA kept.
    const later = Date.parse(next.validTo) - (RENEW_BEFORE_DAYS - 1) * DAY_MS;
    const renewed = await ensureCertificates(paths, 'devbox.example.test', { now: later });
    assert.deepEqual(renewed, { caCreated: false, serverCreated: true, reason: 'it expires soon' });
    assert.ok(Date.parse(new X509Certificate(read(files.cert)).validTo) > Date.parse(next.validTo));
    assert.equal(read(files.caCert), ca);
  });

  it('makes the server certificate again when its key is gone or another CA signed it, and tightens loosened key modes', async () => {
    const files = tlsFiles(paths);
    await ensureCertificates(paths, 'localhost');
    const ca = read(files.caCert);
    fs.rmSync(files.key);
    assert.deepEqual(await ensureCertificates(paths, 'localhost'), { caCreated: false, serverCreated: true, reason: 'missing' });
    assert.equal(mode(files.key), 0o600);
    assert.equal(read(files.caCert), ca);

    // A server certificate from another CA (say, a tls/ directory copied over half-way).
    const other = tempTlsHome();
    try {
      await ensureCertificates(other.paths, 'localhost');
      fs.copyFileSync(tlsFiles(other.paths).cert, files.cert);
      fs.copyFileSync(tlsFiles(other.paths).key, files.key);
    } finally {
      fs.rmSync(other.home, { recursive: true, force: true });
    }
    assert.equal((await ensureCertificates(paths, 'localhost')).reason, 'not signed by the CA');
    assert.ok(new X509Certificate(read(files.cert)).verify(new X509Certificate(ca).publicKey));

    fs.chmodSync(files.caKey, 0o644);
    fs.chmodSync(files.key, 0o640);
    await ensureCertificates(paths, 'localhost');
    assert.equal(mode(files.caKey), 0o600);
    assert.equal(mode(files.key), 0o600);
  });

  it('makes a new CA when its key does not match its certificate, and says so', async () => {
    const files = tlsFiles(paths);
    await ensureCertificates(paths, 'localhost');
    const ca = read(files.caCert);
    const other = tempTlsHome();
    try {
      await ensureCertificates(other.paths, 'localhost');
      fs.copyFileSync(tlsFiles(other.paths).caKey, files.caKey);
    } finally {
      fs.rmSync(other.home, { recursive: true, force: true });
    }
    const lines: string[] = [];
    const log = createLogger('router-test', { level: 'info', write: (line) => lines.push(line) });
    assert.deepEqual(await ensureCertificates(paths, 'localhost', { log }), { caCreated: true, serverCreated: true, reason: 'new CA' });
    assert.notEqual(read(files.caCert), ca);
    assert.ok(lines.some((l) => l.includes('the box CA cannot be used') && l.includes('its key does not match')), lines.join(''));
  });
});

describe('router TLS: the HTTPS listener', function () {
  this.timeout(30_000);
  let home: string;
  let paths: { tls: string };
  let ca: string;
  let backend: Backend;
  let router: TestRouter | undefined;

  beforeEach(async () => {
    ({ home, paths } = tempTlsHome());
    await ensureCertificates(paths, 'localhost');
    ca = read(tlsFiles(paths).caCert);
    backend = await startBackend('b', (req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ proto: req.headers['x-forwarded-proto'], host: req.headers.host }));
    });
  });
  afterEach(async () => {
    await router?.close();
    router = undefined;
    await backend.close();
    fs.rmSync(home, { recursive: true, force: true });
  });

  const withTls = () => startRouter({ tls: { port: 0, dir: paths.tls, domain: 'localhost' } });

  it('serves every route over HTTPS through the same handlers: X-Forwarded-Proto https, RTR line says https; plain HTTP unchanged', async () => {
    router = await withTls();
    const tlsPort = router.router.tlsPort;
    assert.ok(tlsPort > 0 && tlsPort !== router.port);
    router.register(registration(backend, ['hello.localhost', 'api.localhost', '127.0.0.1']));

    const viaTls = await httpsGet(tlsPort, { ca, servername: 'api.localhost' });
    assert.equal(viaTls.status, 200, viaTls.text);
    assert.deepEqual(JSON.parse(viaTls.text), { proto: 'https', host: 'api.localhost' });

    // The cf address: https://127.0.0.1:<port>, verified by its IP address (no SNI for an address).
    const byAddress = await new Promise<HttpsResponse>((resolve, reject) => {
      https
        .get({ host: '127.0.0.1', port: tlsPort, ca, agent: false, headers: { host: `127.0.0.1:${tlsPort}` } }, (res) => {
          const peer = (res.socket as tls.TLSSocket).getPeerCertificate();
          let text = '';
          res.on('data', (c: Buffer) => (text += c));
          res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text, peer }));
        })
        .on('error', reject);
    });
    assert.equal(byAddress.status, 200);
    assert.equal(JSON.parse(byAddress.text).proto, 'https');

    // A client's own X-Forwarded-Proto is kept, as gorouter keeps it by default.
    const claimed = await httpsGet(tlsPort, { ca, servername: 'api.localhost', headers: { 'x-forwarded-proto': 'http' } });
    assert.equal(JSON.parse(claimed.text).proto, 'http');

    const plain = await request(router.port, { host: 'api.localhost' });
    assert.equal(JSON.parse(plain.text).proto, 'http');

    const lines = router.accessLog.map(([, line]) => line);
    assert.ok(lines.some((l) => l.startsWith('api.localhost - ') && l.includes(' x_forwarded_proto:"https" ')), lines.join('\n'));
    assert.ok(lines.some((l) => l.includes(' x_forwarded_proto:"http" ')));
    const stats = router.router.stats.snapshot();
    assert.equal(stats.tls_connections, 3);
  });

  it('gives an app name a certificate of its own (no strict client takes *.localhost), also a routed name outside the domain; others get the default one', async () => {
    router = await withTls();
    const tlsPort = router.router.tlsPort;
    router.register(registration(backend, ['hello.localhost', 'shop.example.org']));

    const app = await httpsGet(tlsPort, { ca, servername: 'hello.localhost' });
    assert.equal(app.status, 200);
    assert.equal(app.peer.subjectaltname, 'DNS:hello.localhost');
    assert.equal(app.peer.subject.CN, 'hello.localhost');
    // Made once per process, then reused.
    await httpsGet(tlsPort, { ca, servername: 'hello.localhost' });
    assert.equal(router.router.certificates!.made, 1);

    // A name under the domain with no route yet still gets its certificate (then the router's 404).
    const unknown = await httpsGet(tlsPort, { ca, servername: 'nothing-yet.localhost' });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.headers['x-cf-routererror'], 'unknown_route');

    const routed = await httpsGet(tlsPort, { ca, servername: 'shop.example.org' });
    assert.equal(routed.status, 200);
    assert.equal(routed.peer.subjectaltname, 'DNS:shop.example.org');

    // A name the router has no route for, outside the domain: the default certificate, which a
    // verifying client refuses for that name.
    await assert.rejects(httpsGet(tlsPort, { ca, servername: 'stranger.example.org' }), (error: NodeJS.ErrnoException) => error.code === 'ERR_TLS_CERT_ALTNAME_INVALID');
    // The platform's names are in the server certificate itself.
    const api = await httpsGet(tlsPort, { ca, servername: 'uaa.localhost' });
    assert.match(api.peer.subjectaltname ?? '', /DNS:\*\.localhost/);
    assert.equal(router.router.certificates!.made, 3);
  });

  it('ends only the connection whose handshake fails (an untrusting client, plain HTTP on the TLS port)', async () => {
    router = await withTls();
    const tlsPort = router.router.tlsPort;
    router.register(registration(backend, ['api.localhost']));
    await assert.rejects(
      new Promise((resolve, reject) => https.get({ host: '127.0.0.1', port: tlsPort, servername: 'api.localhost', agent: false }, resolve).on('error', reject)),
      (error: NodeJS.ErrnoException) => /UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED|unable to verify/i.test(`${error.code} ${error.message}`),
    );
    const plain = await rawExchange(tlsPort, 'GET / HTTP/1.1\r\nHost: api.localhost\r\n\r\n', { timeoutMs: 5_000 }).catch(() => '');
    assert.doesNotMatch(plain, /^HTTP\/1\.1 200/);
    await waitFor('both failures counted', () => router!.router.stats.snapshot().tls_handshake_failures >= 2, { timeoutMs: 5_000 });
    const ok = await httpsGet(tlsPort, { ca, servername: 'api.localhost' });
    assert.equal(ok.status, 200);
  });

  it('stays on plain HTTP, saying why, when the TLS port cannot be bound', async () => {
    const holder = net.createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const busy = (holder.address() as net.AddressInfo).port;
    const lines: string[] = [];
    const log = createLogger('router-test', { level: 'info', write: (line) => lines.push(line) });
    const settings = routerSettings(0, {}, { workers: 1, tls: { port: busy, dir: paths.tls, domain: 'localhost' } });
    const alone = new Router({ settings, log });
    try {
      const port = await alone.listen();
      assert.equal(alone.tlsPort, 0);
      alone.register(registration(backend, ['api.localhost']), Date.now());
      assert.equal((await request(port, { host: 'api.localhost' })).status, 200);
      const error = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'router could not listen for HTTPS; serving plain HTTP only');
      assert.ok(error, lines.join(''));
      assert.equal(error.level, 'error');
      assert.equal(error.tls_port, busy);
      assert.equal(error.reason, 'the port is in use');
    } finally {
      await alone.close(500);
      await new Promise<void>((resolve) => holder.close(() => resolve()));
    }
  });
});

describe('router TLS: every worker process serves HTTPS', function () {
  this.timeout(40_000);
  let bus: TestBus;
  let client: NatsConnection;
  let backend: Backend;
  let router: RunningRouter | undefined;

  before(async () => {
    bus = await startTestBus('embedded');
    client = await busClient(bus);
    backend = await startBackend('b', (req, res) => res.end(String(req.headers['x-forwarded-proto'])));
  });
  after(async () => {
    await router?.stop();
    await client.close();
    await backend.close();
    await bus.stop();
  });

  it('makes the certificates before the workers start, and each worker answers over TLS with X-Forwarded-Proto https', async () => {
    const tlsPort = await freePort();
    router = await startRouterComponent(bus, { DEVBOX_ROUTER_WORKERS: '2', DEVBOX_ROUTER_TLS_PORT: String(tlsPort) });
    const varz = () => router!.varz() as unknown as { tls_port: number; per_worker: { pid: number; tls_port: number; tls_connections: number }[] };
    assert.equal(varz().tls_port, tlsPort);
    const files = tlsFiles({ tls: path.join(router.home, 'tls') });
    assert.equal(mode(files.caKey), 0o600);
    assert.equal(mode(files.key), 0o600);
    const ca = read(files.caCert);

    publishJson(client, 'router.register', registration(backend, ['tls.localhost']));
    await waitFor('the route', async () => (await httpsGet(tlsPort, { ca, servername: 'tls.localhost' }).catch(() => undefined))?.status === 200);
    // Fresh connections are spread over the workers by the kernel; each must serve TLS.
    const answers = await Promise.all(Array.from({ length: 40 }, () => httpsGet(tlsPort, { ca, servername: 'tls.localhost' }).then((r) => `${r.status} ${r.text}`)));
    assert.ok(answers.every((a) => a === '200 https'), answers.join(','));
    await waitFor('TLS connections in both workers', () => varz().per_worker?.length === 2 && varz().per_worker.every((w) => w.tls_connections > 0), { timeoutMs: 5_000 });
    assert.deepEqual(varz().per_worker.map((w) => w.tls_port), [tlsPort, tlsPort]);
    assert.notEqual(varz().per_worker[0].pid, varz().per_worker[1].pid);
  });
});
