// Syslog drains end to end (issue #20: `cf create-user-provided-service NAME -l URL`): a real box
// (`devbox up -d`), the real cf CLI 8 with its own CF_HOME, and drain servers of the test's own on
// loopback ports from the OS: a syslog server over TCP reading RFC 6587 octet-counted frames, and an
// HTTPS server with a certificate of a CA made for the run (the box trusts it through
// DEVBOX_LOGS_DRAIN_CA_FILE). An app bound with `cf bind-service` has its lines (its own and the
// platform's) forwarded as RFC 5424 messages; the controller lists the drains at
// /internal/v4/syslog_drain_urls; a drain that is down, or that points at the box itself, holds up
// neither the app nor `cf logs`, and the app's logs say why (LGR lines); unbinding stops forwarding.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from '../../src/runtime/common/http.js';
import { freePort } from '../../src/runtime/common/net.js';
import { waitFor } from '../../src/runtime/common/poll.js';
import { readBox, varz } from '../helpers/box-probe.js';
import { cfCliPath, cfFor, type Cf } from '../helpers/cf.js';
import { cleanupBox, devbox, tempHome, type DevboxResult } from '../helpers/devbox.js';
import { HttpDrainServer, SyslogServer, testCerts, type TestCerts } from '../runtime/logs/drain-helpers.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const helloNode = path.join(root, 'templates/apps/hello-node');
/** `   2026-11-21T10:00:00.00+0000 [SOURCE/INSTANCE] TYPE message`, as cf prints a line. */
const LINE = /^ {3}\S+ \[([A-Z/]+)\/(\d+)\] (OUT|ERR) (.*)$/;

interface DrainVarz {
  drains: { list: { app_guid: string; url: string; state: string; sent: number }[]; sent: number; failures: number };
}

describe('syslog drains (the real cf CLI against a real box)', function () {
  this.timeout(180_000);
  let home: string;
  let routerPort: number;
  let cf: Cf;
  let certs: TestCerts;
  let appGuid: string;
  const tcp = new SyslogServer();
  let web: HttpDrainServer;

  const show = (r: DevboxResult) => `exit ${r.exitCode}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
  /** Requests a path of the app through the router (it logs `GET <path>` on stdout). */
  const visit = async (urlPath: string) => {
    const res = await request({ url: `http://hello.localhost:${routerPort}${urlPath}`, timeoutMs: 5_000 });
    assert.equal(res.status, 200, res.text);
  };
  /** Waits until the logs component drains the app to `url` (it reads the controller every 250 ms here). */
  const drainKnown = (url: string, known = true) =>
    waitFor(
      `the logs component to ${known ? 'know' : 'forget'} the drain ${url}`,
      async () => {
        const v = await varz<DrainVarz>(readBox(home), 'logs');
        return v !== undefined && v.drains.list.some((d) => d.app_guid === appGuid && d.url === url) === known;
      },
      { timeoutMs: 20_000, intervalMs: 100 },
    );
  /** The lines of `cf logs hello --recent`, once `done` holds for them (bounded). */
  const recentUntil = (what: string, done: (lines: { source: string; type: string; message: string }[]) => boolean) =>
    waitFor(
      what,
      async () => {
        const out = await cf.ok(['logs', 'hello', '--recent']);
        const lines = out
          .split('\n')
          .map((l) => LINE.exec(l))
          .filter((m): m is RegExpExecArray => m !== null)
          .map(([, source, , type, message]) => ({ source, type, message }));
        return done(lines) && lines;
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    );

  before(async function () {
    cfCliPath();
    certs = await testCerts();
    await tcp.listen();
    web = new HttpDrainServer({ cert: certs.cert, key: certs.key });
    await web.listen();
    home = tempHome('devbox-syslog-drain-e2e-');
    routerPort = await freePort();
    const up = await devbox(home, ['up', '-d', '--port', String(routerPort)], {
      timeoutMs: 90_000,
      // The drains are read every 250 ms (5 s by default); the test's CA is trusted for TLS drains.
      env: { DEVBOX_LOGS_DRAIN_POLL_MS: '250', DEVBOX_LOGS_DRAIN_CA_FILE: certs.caFile },
    });
    assert.equal(up.exitCode, 0, show(up));
    const push = await devbox(home, ['push', 'hello', '-p', helloNode], { timeoutMs: 90_000 });
    assert.equal(push.exitCode, 0, show(push));
    cf = await cfFor({ home });
    await cf.login();
    appGuid = (await cf.ok(['app', 'hello', '--guid'])).trim();
  });
  after(async () => {
    cf?.cleanup();
    if (home) await cleanupBox(home);
    await tcp.close();
    await web?.close();
    certs?.remove();
  });

  it('cf cups -l syslog://… and bind-service: the app’s and the router’s lines arrive as RFC 5424, octet-counted', async () => {
    const url = `syslog://127.0.0.1:${tcp.port}`;
    await cf.ok(['create-user-provided-service', 'tcp-drain', '-l', url]);
    await cf.ok(['bind-service', 'hello', 'tcp-drain']);
    await drainKnown(url);
    const marker = `/tcp-${randomUUID()}`;
    const before = Date.now();
    await visit(marker);
    const app = await waitFor('the app’s line at the syslog server', () => tcp.messages.find((m) => m.endsWith(` GET ${marker}\n`)), { timeoutMs: 15_000 });
    const m = new RegExp(`^<14>1 (\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d(?:\\.\\d{1,6})?)\\+00:00 devbox\\.dev\\.hello ${appGuid} \\[APP/PROC/WEB/0\\] - \\[tags@47450 source_type="APP/PROC/WEB"\\] GET ${marker}\\n$`).exec(app);
    assert.ok(m, `framed as Loggregator writes it:\n${app}`);
    const at = Date.parse(`${m[1]}Z`);
    assert.ok(Math.abs(at - before) < 60_000, `the line's time (${m[1]}) is the time it was written`);
    // The platform's lines too: the router's access line for the request.
    const rtr = await waitFor('the router’s line', () => tcp.messages.find((l) => l.includes(' [RTR/') && l.includes(`"GET ${marker} HTTP/1.1" 200`)), { timeoutMs: 15_000 });
    assert.match(rtr, new RegExp(`^<14>1 \\S+ devbox\\.dev\\.hello ${appGuid} \\[RTR/\\d+\\] - \\[tags@47450 source_type="RTR"\\] hello\\.localhost`));
    assert.deepEqual(tcp.framingErrors, [], 'every frame octet-counted');

    // What the logs component read: Cloud Controller's list, here through cf curl as the admin.
    const listed = JSON.parse(await cf.ok(['curl', '/internal/v4/syslog_drain_urls?batch_size=1000'])) as { results: Record<string, { drains: string[]; hostname: string }> };
    assert.deepEqual(listed.results[appGuid], { drains: [url], hostname: 'devbox.dev.hello' });
  });

  it('an https:// drain (a certificate of the test’s own CA) gets one POST per line', async () => {
    const url = `https://localhost:${web.port}/drain`;
    await cf.ok(['create-user-provided-service', 'https-drain', '-l', url]);
    await cf.ok(['bind-service', 'hello', 'https-drain']);
    await drainKnown(url);
    const marker = `/https-${randomUUID()}`;
    await visit(marker);
    const post = await waitFor('the POST', () => web.posts.find((p) => p.body.endsWith(` GET ${marker}\n`)), { timeoutMs: 15_000 });
    assert.equal(post.path, '/drain');
    assert.equal(post.headers['content-type'], 'text/plain');
    assert.match(post.body, new RegExp(`^<14>1 \\S+ devbox\\.dev\\.hello ${appGuid} \\[APP/PROC/WEB/0\\] - \\[tags@47450 source_type="APP/PROC/WEB"\\] GET ${marker}\\n$`));
    // The TCP drain got it too: each drain its own copy.
    await waitFor('the same line at the TCP drain', () => tcp.messages.some((l) => l.endsWith(` GET ${marker}\n`)), { timeoutMs: 15_000 });
  });

  it('a drain that is down, and one at the box’s own router port: the app and cf logs go on, and the app’s logs say why', async () => {
    const downUrl = `syslog://127.0.0.1:${await freePort()}`;
    const selfUrl = `syslog://127.0.0.1:${routerPort}`;
    await cf.ok(['create-user-provided-service', 'down-drain', '-l', downUrl]);
    await cf.ok(['create-user-provided-service', 'self-drain', '-l', selfUrl]);
    await cf.ok(['bind-service', 'hello', 'down-drain']);
    await cf.ok(['bind-service', 'hello', 'self-drain']);
    await drainKnown(downUrl);
    await drainKnown(selfUrl);
    const marker = `/down-${randomUUID()}`;
    await visit(marker);
    const lines = await recentUntil(
      'cf logs --recent to show the line and both reasons',
      (ls) => ls.some((l) => l.message === `GET ${marker}`) && ls.filter((l) => l.source === 'LGR').length >= 2,
    );
    const lgr = lines.filter((l) => l.source === 'LGR');
    assert.ok(lgr.every((l) => l.type === 'ERR'));
    assert.ok(
      lgr.some((l) => l.message.startsWith(`Failed to connect to ${downUrl}: `) && /ECONNREFUSED/.test(l.message)),
      lgr.map((l) => l.message).join('\n'),
    );
    assert.ok(
      lgr.some((l) => l.message.startsWith(`Syslog drain ${selfUrl} is not used: port ${routerPort} on 127.0.0.1 is devbox's own`)),
      lgr.map((l) => l.message).join('\n'),
    );
    // Nothing else was held up: the app answers, the working drains got the line.
    await visit('/still-there');
    await waitFor('the line at the working drains', () => tcp.messages.some((l) => l.endsWith(` GET ${marker}\n`)) && web.posts.some((p) => p.body.endsWith(` GET ${marker}\n`)), { timeoutMs: 15_000 });
  });

  it('cf unbind-service: the drain gets nothing more', async () => {
    const url = `syslog://127.0.0.1:${tcp.port}`;
    await cf.ok(['unbind-service', 'hello', 'tcp-drain']);
    await drainKnown(url, false);
    const marker = `/after-unbind-${randomUUID()}`;
    await visit(marker);
    // The https drain, still bound, is the control: once it has the line, so would the TCP drain.
    await waitFor('the line at the drain still bound', () => web.posts.some((p) => p.body.endsWith(` GET ${marker}\n`)), { timeoutMs: 15_000 });
    await waitFor('the router’s line there too', () => web.posts.some((p) => p.body.includes(`"GET ${marker} HTTP/1.1"`)), { timeoutMs: 15_000 });
    assert.ok(!tcp.messages.some((l) => l.includes(marker)), 'the unbound drain got nothing');
  });
});
