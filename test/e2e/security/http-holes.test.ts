// The smaller holes of issue 24, on a real box (`devbox up`: the real router, uaa, controller and
// logs processes), with real sockets, the devbox CLI and the real cf CLI:
//  - a request with two Host headers is answered 400 by the router and by each component's own
//    server (node:http would take the first);
//  - a request body that trickles in is cut off (408), with a valid token or none, through the
//    router and at each server's own port; an upload that keeps coming is not;
//  - wrong passwords lock the user name out after 5 (UAA's policy), with UAA's message that the
//    devbox CLI and cf show, until the lockout period is over; a success clears the count;
//  - a genuine token for another resource (its `aud`) is refused by the controller and logs.
// The box's deadlines are shortened (DEVBOX_HTTP_*: 1 s without a byte, then 100 bytes/s), and so
// is the lockout (DEVBOX_UAA_LOCKOUT_PERIOD, 10 s), so that the tests await them in seconds.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { request } from '../../../src/runtime/common/http.js';
import { freePort, waitFor } from '../../../src/runtime/common/net.js';
import { passwordToken } from '../../helpers/api.js';
import { readBox, varz, type Box } from '../../helpers/box-probe.js';
import { cfCliPath, cfFor, type Cf } from '../../helpers/cf.js';
import { cleanupBox, devbox, tempHome } from '../../helpers/devbox.js';

const BODY_TIMEOUT_MS = 1_000;
/** Long enough for the CLI checks made during a lockout on a busy machine, short enough to await twice. */
const LOCKOUT_PERIOD_S = 10;
const LOCKED = 'Your account has been locked because of too many failed attempts to login.';

interface Exchange {
  /** All the server sent until it closed the connection (or the bound ran out). */
  text: string;
  ms: number;
  /** Whether the server closed the connection (rather than the test's bound). */
  closed: boolean;
}

/**
 * Writes `head` (and `body`, all of it) to 127.0.0.1:port, then `chunks` one every `everyMs`, and
 * reads until the server closes the connection; at most `boundMs`.
 */
function exchange(port: number, head: string, { body = '', chunks = [] as string[], everyMs = 100, boundMs = 10_000 } = {}): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    let timer: NodeJS.Timeout | undefined;
    let bounded = false;
    const bound = setTimeout(() => {
      bounded = true;
      socket.destroy();
    }, boundMs);
    socket.on('data', (d: Buffer) => (text += d.toString('utf8')));
    socket.on('error', (error) => (text ? undefined : reject(error))); // a reset after the answer: the answer counts
    socket.on('close', () => {
      clearTimeout(timer);
      clearTimeout(bound);
      resolve({ text, ms: Date.now() - started, closed: !bounded });
    });
    const next = () => {
      const chunk = chunks.shift();
      if (chunk === undefined || socket.destroyed) return;
      socket.write(chunk);
      timer = setTimeout(next, everyMs);
    };
    socket.on('connect', () => {
      socket.write(head + body);
      timer = setTimeout(next, everyMs);
    });
  });
}

/** The JSON body of a raw HTTP answer. */
const bodyOf = (text: string) => JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as Record<string, unknown>;

describe('security: two Host headers, slow bodies, failed logins and token audiences on a real box (issue 24)', function () {
  this.timeout(120_000);
  let home: string;
  let box: Box;
  let routerPort: number;
  let token: string;
  let cf: Cf;
  /** Each component's own HTTP port (from its /varz). */
  const own: Record<'controller' | 'uaa' | 'logs', number> = { controller: 0, uaa: 0, logs: 0 };
  const apiHost = () => `api.localhost:${routerPort}`;
  const admin = () => box.config.uaa.admin;
  /** `cf auth` as the admin with this password (through the environment, as cf recommends). */
  const cfAuth = (password: string) => cf.run(['auth'], { env: { CF_USERNAME: admin().username, CF_PASSWORD: password } });

  before(async function () {
    this.timeout(120_000);
    cfCliPath(); // no cf CLI: fails at once, naming DEVBOX_CF_CLI, before starting a box
    home = tempHome('devbox-http-holes-');
    routerPort = await freePort();
    const up = await devbox(home, ['up', '-d', '--port', String(routerPort)], {
      timeoutMs: 90_000,
      env: { DEVBOX_HTTP_BODY_TIMEOUT_MS: String(BODY_TIMEOUT_MS), DEVBOX_HTTP_BODY_MIN_RATE: '100', DEVBOX_UAA_LOCKOUT_PERIOD: String(LOCKOUT_PERIOD_S) },
    });
    assert.equal(up.exitCode, 0, `devbox up: ${up.stdout}\n${up.stderr}`);
    box = readBox(home);
    for (const name of ['controller', 'uaa', 'logs'] as const) own[name] = (await varz<{ port: number }>(box, name))!.port;
    const login = await passwordToken(`http://uaa.localhost:${routerPort}`, admin().username, admin().password);
    assert.equal(login.status, 200, login.text);
    token = (JSON.parse(login.text) as { access_token: string }).access_token;
    cf = await cfFor({ home });
    await cf.login();
    // The devbox CLI's session (its lazy login as the admin), which must go on through a lockout.
    const apps = await devbox(home, ['apps']);
    assert.equal(apps.exitCode, 0, apps.stderr);
  });

  after(async function () {
    this.timeout(60_000);
    cf?.cleanup();
    if (home) await cleanupBox(home);
  });

  it('answers two Host headers 400 at the router and at the controller, uaa and logs on their own ports', async () => {
    const twoHosts = (host: string, path: string, extra = '') => `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nHost: evil.example\r\n${extra}Connection: close\r\n\r\n`;
    const router = await exchange(routerPort, twoHosts(apiHost(), '/v3/info'));
    assert.match(router.text, /^HTTP\/1\.1 400 Bad Request\r\n/, router.text);

    const controller = await exchange(own.controller, twoHosts(apiHost(), '/v3/info'));
    assert.match(controller.text, /^HTTP\/1\.1 400 Bad Request\r\n/, controller.text);
    assert.deepEqual(bodyOf(controller.text), { errors: [{ detail: 'More than one Host header: send exactly one', title: 'CF-InvalidRequest', code: 10004 }] });

    const uaa = await exchange(own.uaa, twoHosts(`uaa.localhost:${routerPort}`, '/info'));
    assert.match(uaa.text, /^HTTP\/1\.1 400 Bad Request\r\n/, uaa.text);
    assert.deepEqual(bodyOf(uaa.text), { error: 'invalid_request', error_description: 'More than one Host header: send exactly one' });

    const logs = await exchange(own.logs, twoHosts(`logs.localhost:${routerPort}`, '/api/v1/info'));
    assert.match(logs.text, /^HTTP\/1\.1 400 Bad Request\r\n/, logs.text);
    assert.equal((bodyOf(logs.text).errors as { title: string }[])[0].title, 'CF-InvalidRequest');
    // The log stream's WebSocket upgrade too, before its token is looked at.
    const upgrade = await exchange(own.logs, twoHosts(`logs.localhost:${routerPort}`, `/apps/${randomUUID()}/stream`, 'Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n'));
    assert.match(upgrade.text, /^HTTP\/1\.1 400 Bad Request\r\n[^]*More than one Host header/, upgrade.text);

    // One Host header is served as always.
    const one = await exchange(own.controller, `GET /v3/info HTTP/1.1\r\nHost: ${apiHost()}\r\nConnection: close\r\n\r\n`);
    assert.match(one.text, /^HTTP\/1\.1 200 OK\r\n/);
    for (const [name, expected] of [['controller', 1], ['uaa', 1], ['logs', 2]] as const) {
      const refused = (await varz<{ refused?: { duplicate_host: number }; http?: { refused?: { duplicate_host: number } } }>(box, name))!;
      assert.equal((refused.refused ?? refused.http?.refused)?.duplicate_host, expected, `${name}'s /varz`);
    }
  });

  it('cuts off a request body that trickles in, with a valid token or none: 408 through the router and at each server', async () => {
    const json = JSON.stringify({ name: 'never-created', relationships: { space: { data: { guid: 'x' } } } });
    // The head and 10 bytes of the body, then a byte every 400 ms (2.5 bytes/s, under the 100 asked for).
    const head = (host: string, path: string, auth: string, type = 'application/json') =>
      `POST ${path} HTTP/1.1\r\nHost: ${host}\r\n${auth ? `Authorization: ${auth}\r\n` : ''}Content-Type: ${type}\r\nContent-Length: ${json.length}\r\n\r\n`;
    const trickle = { body: json.slice(0, 10), chunks: json.slice(10).split(''), everyMs: 400 };
    const cutOffInTime = (r: Exchange, where: string) => {
      assert.ok(r.closed, `${where}: the server kept the connection for ${r.ms} ms`);
      assert.ok(r.ms >= BODY_TIMEOUT_MS - 50 && r.ms < BODY_TIMEOUT_MS + 3_000, `${where}: closed after ${r.ms} ms`);
    };

    const viaRouter = await exchange(routerPort, head(apiHost(), '/v3/apps', `bearer ${token}`), trickle);
    assert.match(viaRouter.text, /^HTTP\/1\.1 408 Request Timeout\r\n/, viaRouter.text);
    cutOffInTime(viaRouter, 'the router');

    const controller = await exchange(own.controller, head(apiHost(), '/v3/apps', `bearer ${token}`), trickle);
    assert.match(controller.text, /^HTTP\/1\.1 408 Request Timeout\r\n[^]*Connection: close\r\n/, controller.text);
    const detail = (bodyOf(controller.text).errors as { detail: string }[])[0].detail;
    assert.match(detail, /^request body not received in time: it must not pause for 1 s, nor average under 100 bytes\/s after that\. Send the body without pauses\.$/);
    cutOffInTime(controller, 'the controller');

    // Without a token the controller answers 401 at once; the body still may not hold the connection.
    const anonymous = await exchange(own.controller, head(apiHost(), '/v3/apps', ''), trickle);
    assert.match(anonymous.text, /^HTTP\/1\.1 401 Unauthorized\r\n[^]*CF-NotAuthenticated/);
    cutOffInTime(anonymous, 'the controller, no token');

    const uaa = await exchange(own.uaa, head(`uaa.localhost:${routerPort}`, '/oauth/token', `Basic ${Buffer.from('cf:').toString('base64')}`, 'application/x-www-form-urlencoded'), trickle);
    assert.match(uaa.text, /^HTTP\/1\.1 408 Request Timeout\r\n/, uaa.text);
    assert.equal(bodyOf(uaa.text).error, 'invalid_request');
    cutOffInTime(uaa, 'uaa');

    // The logs component takes no bodies: it answers, and the body it does not want is cut off.
    const logs = await exchange(own.logs, `GET /api/v1/read/${randomUUID()} HTTP/1.1\r\nHost: logs.localhost\r\nContent-Length: ${json.length}\r\n\r\n`, trickle);
    assert.match(logs.text, /^HTTP\/1\.1 401 /);
    cutOffInTime(logs, 'logs');

    const controllerVarz = (await varz<{ refused: { body_timeout: number } }>(box, 'controller'))!;
    assert.equal(controllerVarz.refused.body_timeout, 2);
    const routerVarz = (await varz<Record<string, unknown>>(box, 'router'))!;
    assert.match(JSON.stringify(routerVarz), /"request_body_timeouts":1[,}]/, 'the router counted its 408');
  });

  it('lets an upload that keeps coming take longer than the deadline: a slow POST /v3/apps through the router creates the app', async () => {
    const space = (JSON.parse((await request({ url: `http://${apiHost()}/v3/spaces?names=dev`, headers: { authorization: `bearer ${token}` } })).text) as { resources: { guid: string }[] }).resources[0].guid;
    // About 900 bytes (JSON and trailing spaces) at 300 bytes/s: three times the 1 s pause allowed, three times the rate asked for.
    const json = JSON.stringify({ name: 'slow-upload', relationships: { space: { data: { guid: space } } } }).padEnd(900, ' ');
    const chunks = json.match(/[^]{1,30}/g)!;
    const head = `POST /v3/apps HTTP/1.1\r\nHost: ${apiHost()}\r\nAuthorization: bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: ${json.length}\r\nConnection: close\r\n\r\n`;
    const r = await exchange(routerPort, head, { chunks, everyMs: 100 });
    assert.match(r.text, /^HTTP\/1\.1 201 Created\r\n/, r.text);
    assert.ok(r.ms >= 2_500, `the body took ${r.ms} ms to send`);
    assert.equal(bodyOf(r.text).name, 'slow-upload');
  });

  it('locks the admin out after 5 wrong passwords, with UAA\'s message in the devbox CLI and in cf, until the period is over', async () => {
    const uaa = `http://uaa.localhost:${routerPort}`;
    const attempt = async (password: string) => (await passwordToken(uaa, admin().username, password)).status;
    // A success clears the count: 4 wrong, right, 4 wrong, right again.
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 4; i++) assert.equal(await attempt('wrong'), 401);
      assert.equal(await attempt(admin().password), 200, `round ${round + 1}: four failures do not lock`);
    }

    // Five wrong passwords through the devbox CLI, then the right one is refused with UAA's message.
    for (let i = 0; i < 5; i++) {
      const wrong = await devbox(home, ['login', '-u', admin().username, '-p', 'wrong']);
      assert.equal(wrong.exitCode, 1);
      assert.match(wrong.stderr, /Bad credentials/);
    }
    const lastFailure = Date.now();
    const locked = await devbox(home, ['login', '-u', admin().username, '-p', admin().password]);
    assert.equal(locked.exitCode, 1, locked.stdout);
    assert.ok(locked.stderr.includes(LOCKED), locked.stderr);
    const cfLocked = await cfAuth(admin().password);
    assert.equal(cfLocked.exitCode, 1, cfLocked.stdout);
    assert.ok(cfLocked.stderr.includes(LOCKED), cfLocked.stderr);
    // The session the CLI has goes on meanwhile (the refresh grant does not look at the password).
    const apps = await devbox(home, ['apps']);
    assert.equal(apps.exitCode, 0, `devbox apps while locked: ${apps.stdout}\n${apps.stderr}`);

    // The lockout lifts by itself, the period after the last failure (attempts meanwhile do not prolong it).
    const lifted = await waitFor('the lockout to lift', async () => ((await attempt(admin().password)) === 200 ? Date.now() : undefined), { timeoutMs: LOCKOUT_PERIOD_S * 1000 + 5_000, intervalMs: 250 });
    assert.ok(lifted - lastFailure >= LOCKOUT_PERIOD_S * 1000 - 500, `lifted ${lifted - lastFailure} ms after the last failure`);
    const back = await devbox(home, ['login', '-u', admin().username, '-p', admin().password]);
    assert.equal(back.exitCode, 0, back.stderr);

    // The same through cf: five `cf auth` with a wrong password, then the right one is refused.
    for (let i = 0; i < 5; i++) assert.equal((await cfAuth('wrong')).exitCode, 1);
    const cfAgain = await cfAuth(admin().password);
    assert.equal(cfAgain.exitCode, 1);
    assert.ok(cfAgain.stderr.includes(LOCKED), cfAgain.stderr);
    await waitFor('the lockout to lift again', async () => (await attempt(admin().password)) === 200, { timeoutMs: LOCKOUT_PERIOD_S * 1000 + 5_000, intervalMs: 250 });
    await cf.login();
    assert.match(await cf.ok(['target']), /user:\s+admin/);
  });

  it('refuses a genuine token for another resource (aud) at the controller and logs, saying which token to get', async () => {
    const narrowed = await request({
      url: `http://uaa.localhost:${routerPort}/oauth/token`,
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from('cf:').toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'password', username: admin().username, password: admin().password, scope: 'openid' }).toString(),
    });
    assert.equal(narrowed.status, 200, narrowed.text);
    const openid = (JSON.parse(narrowed.text) as { access_token: string }).access_token;
    const apps = (bearer: string) => request({ url: `http://${apiHost()}/v3/apps`, headers: { authorization: `bearer ${bearer}` } });
    assert.equal((await apps(token)).status, 200, 'the control: a token for cloud_controller');
    const refused = await apps(openid);
    assert.equal(refused.status, 401);
    assert.deepEqual(JSON.parse(refused.text), {
      errors: [
        {
          detail: "Invalid Auth Token: Invalid audience: the token's aud (openid cf) does not include cloud_controller. Use a token with a cloud_controller.* scope (log in again without narrowing the scopes).",
          title: 'CF-InvalidAuthToken',
          code: 1000,
        },
      ],
    });
    const logs = await request({ url: `http://logs.localhost:${routerPort}/api/v1/read/${randomUUID()}`, headers: { authorization: `bearer ${openid}` } });
    assert.equal(logs.status, 401);
    assert.equal((JSON.parse(logs.text) as { errors: { title: string }[] }).errors[0].title, 'CF-InvalidAuthToken');
  });
});
