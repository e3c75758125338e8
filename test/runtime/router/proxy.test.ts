// The router's proxying, in this process, against real HTTP backends on loopback ports.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { sleep, waitFor } from '../../../src/runtime/common/net.js';
import { BAD_GATEWAY_BODY, GATEWAY_TIMEOUT_BODY, notFoundBody } from '../../../src/runtime/router/proxy.js';
import { deadPort, rawExchange, registration, request, startBackend, startRouter, type Backend, type TestRouter } from './helpers.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('router proxy', function () {
  this.timeout(20_000);
  let router: TestRouter;
  const backends: Backend[] = [];
  const backend = async (...args: Parameters<typeof startBackend>) => {
    const b = await startBackend(...args);
    backends.push(b);
    return b;
  };

  beforeEach(async () => (router = await startRouter()));
  afterEach(async () => {
    await router.close();
    await Promise.all(backends.splice(0).map((b) => b.close()));
  });

  it('forwards to the registered backend and adds the Cloud Foundry headers', async () => {
    const b = await backend('one', (_req, res) => {
      res.setHeader('Set-Cookie', ['a=1', 'b=2']);
      res.end('hello');
    });
    router.register(registration(b, ['app.localhost'], { app: 'app-guid-7', private_instance_id: 'instance-7' }));
    const res = await request(router.port, {
      host: 'App.Localhost:8080',
      path: '/some/path?q=1',
      headers: { 'X-Forwarded-For': '10.1.2.3', 'X-Vcap-Request-Id': 'spoofed', 'X-CF-ApplicationID': 'spoofed', Connection: 'keep-alive, X-Hop', 'X-Hop': 'secret', 'Keep-Alive': 'timeout=5' },
    });
    assert.equal(res.status, 200);
    assert.equal(res.text, 'hello');
    assert.deepEqual(res.headers['set-cookie'], ['a=1', 'b=2'], 'several Set-Cookie fields pass unchanged');
    assert.equal(res.headers['keep-alive'], undefined, "the backend's hop-by-hop fields do not leak");

    const seen = b.requests[0];
    assert.equal(seen.url, '/some/path?q=1');
    assert.equal(seen.headers.host, 'App.Localhost:8080', 'Host is passed as sent');
    assert.equal(seen.headers['x-forwarded-for'], '10.1.2.3, 127.0.0.1', 'the client is appended to X-Forwarded-For');
    assert.equal(seen.headers['x-forwarded-proto'], 'http');
    const start = Number(seen.headers['x-request-start']);
    assert.ok(Math.abs(Date.now() - start) < 5_000, 'X-Request-Start: epoch milliseconds');
    assert.match(String(seen.headers['x-vcap-request-id']), UUID, 'a new X-Vcap-Request-Id replaces the client’s');
    assert.equal(seen.headers['x-cf-applicationid'], 'app-guid-7');
    assert.equal(seen.headers['x-cf-instanceid'], 'instance-7');
    assert.equal(seen.headers['x-hop'], undefined, 'fields named in Connection are dropped');
    assert.equal(seen.headers['keep-alive'], undefined);
    assert.equal(seen.rawHeaders.filter((h) => h.toLowerCase() === 'x-vcap-request-id').length, 1);

    // X-Request-Start and X-Forwarded-Proto from upstream are kept.
    await request(router.port, { headers: { 'X-Request-Start': '12345', 'X-Forwarded-Proto': 'https' } });
    assert.equal(b.requests[1].headers['x-request-start'], '12345');
    assert.equal(b.requests[1].headers['x-forwarded-proto'], 'https');
    assert.equal(b.requests[1].headers['x-forwarded-for'], '127.0.0.1');

    // Without a private_instance_id, X-CF-InstanceID is host:port.
    router.register({ host: '127.0.0.1', port: b.port, uris: ['bare.localhost'] });
    await request(router.port, { host: 'bare.localhost' });
    assert.equal(b.requests[2].headers['x-cf-instanceid'], `127.0.0.1:${b.port}`);
    assert.equal(b.requests[2].headers['x-cf-applicationid'], undefined);
  });

  it('routes by path: the longest matching route wins', async () => {
    const root = await backend('root');
    const api = await backend('api');
    router.register(registration(root, ['app.localhost']));
    router.register(registration(api, ['app.localhost/api']));
    assert.equal((await request(router.port, { path: '/' })).text, 'root');
    assert.equal((await request(router.port, { path: '/api/users?x=1' })).text, 'api');
    assert.equal((await request(router.port, { path: '/apiary' })).text, 'root');
  });

  it('answers unknown routes with 404 unknown_route', async () => {
    const res = await request(router.port, { host: 'nothing-here.localhost:8080', path: '/x' });
    assert.equal(res.status, 404);
    assert.equal(res.headers['x-cf-routererror'], 'unknown_route');
    assert.equal(res.text, "404 Not Found: Requested route ('nothing-here.localhost') does not exist.");
    assert.equal(res.text, notFoundBody('nothing-here.localhost'));
    assert.match(String(res.headers['x-vcap-request-id']), UUID);
    assert.equal(router.accessLog.length, 0, 'no app to log to');
  });

  it('answers HTTP-Monitor/1.1 itself with 200', async () => {
    const res = await request(router.port, { host: 'anything.localhost', headers: { 'User-Agent': 'HTTP-Monitor/1.1' } });
    assert.equal(res.status, 200);
    assert.equal(res.text, 'ok\n');
  });

  it('goes round-robin across three backends', async () => {
    const bs = await Promise.all(['a', 'b', 'c'].map((n) => backend(n)));
    for (const b of bs) router.register(registration(b, ['app.localhost']));
    const seen: string[] = [];
    for (let i = 0; i < 30; i++) seen.push((await request(router.port)).text);
    assert.deepEqual(
      bs.map((b) => b.requests.length),
      [10, 10, 10],
    );
    for (let i = 3; i < 30; i++) assert.equal(seen[i], seen[i - 3], 'a fixed rotation');
  });

  it('skips a dead backend without failing a request', async () => {
    const live = await Promise.all(['a', 'b'].map((n) => backend(n)));
    for (const b of live) router.register(registration(b, ['app.localhost']));
    router.register(registration({ port: await deadPort() }, ['app.localhost']));
    for (let i = 0; i < 30; i++) assert.equal((await request(router.port)).status, 200);
    assert.equal(live[0].requests.length + live[1].requests.length, 30);
    const stats = router.router.stats.snapshot();
    assert.equal(stats.backend_connect_failures, 1, 'tried once, then skipped while marked failed');
    assert.equal(stats.bad_gateways, 0);
  });

  it('gives 502 endpoint_failure after three failed connection attempts', async () => {
    for (let i = 0; i < 5; i++) router.register(registration({ port: await deadPort() }, ['app.localhost']));
    const res = await request(router.port);
    assert.equal(res.status, 502);
    assert.equal(res.headers['x-cf-routererror'], 'endpoint_failure');
    assert.equal(res.text, BAD_GATEWAY_BODY);
    assert.equal(router.router.stats.snapshot().backend_connect_failures, 3, 'three attempts, each on another endpoint');
  });

  it('retries only when the connection could not be made: a backend dying mid-request gives 502, the POST is not sent again', async () => {
    let crashed = 0;
    const bad = await backend('bad', (req) => {
      crashed++;
      req.socket.destroy(); // after reading the whole request: it may have acted on it
    });
    const good = await backend('good');
    router.register(registration(bad, ['app.localhost']));
    router.register(registration(good, ['app.localhost']));
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await request(router.port, { method: 'POST', body: `order ${i}` })).status);
    assert.ok(crashed > 0, 'round-robin reached the bad backend');
    assert.equal(statuses.filter((s) => s === 502).length, crashed, 'each request the bad backend took got a 502');
    assert.equal(good.requests.length + crashed, 8, 'no request was sent to a second backend');
    assert.equal(router.router.stats.snapshot().backend_connect_failures, 0);
  });

  it('gives 502 when the backend breaks off in its response head, and cuts the client off mid-body', async () => {
    const raw = net.createServer((socket) => {
      socket.once('data', (d) => {
        if (d.toString().includes('/head')) socket.end('HTTP/1.1 200 OK\r\nContent-Le');
        else socket.end('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial');
      });
    });
    await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
    try {
      router.register(registration({ port: (raw.address() as net.AddressInfo).port }, ['app.localhost']));
      const res = await request(router.port, { path: '/head' });
      assert.equal(res.status, 502);
      assert.equal(res.text, BAD_GATEWAY_BODY);
      await assert.rejects(request(router.port, { path: '/body' }), /aborted|socket hang up|ECONNRESET/);
    } finally {
      raw.close();
    }
  });

  it('gives 504 when the backend does not answer in time', async () => {
    await router.close();
    router = await startRouter({ backendTimeoutMs: 300 });
    const slow = await backend('slow', () => undefined); // never answers
    router.register(registration(slow, ['app.localhost']));
    const t0 = Date.now();
    const res = await request(router.port);
    const took = Date.now() - t0;
    assert.equal(res.status, 504);
    assert.equal(res.headers['x-cf-routererror'], 'endpoint_failure');
    assert.equal(res.text, GATEWAY_TIMEOUT_BODY);
    // It waited for the backend timeout (timers may fire a few ms early relative to this clock).
    assert.ok(took >= 250 && took < 3_000, `took ${took} ms`);
    assert.equal(router.router.stats.snapshot().gateway_timeouts, 1);
  });

  it('answers oversized request heads with 431 and malformed ones with 400', async () => {
    const b = await backend('b');
    router.register(registration(b, ['app.localhost']));
    const big = await rawExchange(router.port, `GET / HTTP/1.1\r\nHost: app.localhost\r\nX-Big: ${'x'.repeat(100_000)}\r\n\r\n`);
    assert.match(big, /^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
    assert.match(big, /\r\nConnection: close\r\n/);
    const smuggle = await rawExchange(router.port, 'POST / HTTP/1.1\r\nHost: app.localhost\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n');
    assert.match(smuggle, /^HTTP\/1\.1 400 Bad Request\r\n/);
    const garbage = await rawExchange(router.port, 'HELLO\r\n\r\n');
    assert.match(garbage, /^HTTP\/1\.1 400 /);
    assert.equal(b.requests.length, 0);
    assert.equal(router.router.stats.snapshot().bad_requests, 3);
  });

  it('answers a request line that cannot be one with 400 at once, and a head not finished in time with 408', async () => {
    const own = await startRouter({ requestHeadTimeoutMs: 300 });
    try {
      const b = await backend('b');
      own.register(registration(b, ['app.localhost']));
      const started = Date.now();
      // Without a line end, and without the end of the head: judged on what came.
      for (const junk of [Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]), 'GET\t/ HTTP/1.1', 'GET / SPDY/3\r\nHost: app.localhost\r\n', 'X'.repeat(40)]) {
        assert.match(await rawExchange(own.port, junk, { timeoutMs: 2_000 }), /^HTTP\/1\.1 400 Bad Request\r\n[^]*Connection: close\r\n/, String(junk));
      }
      assert.ok(Date.now() - started < 250, 'the 400s came before the head timeout');
      // A plausible start that never ends: 408 after the head timeout, and the connection closes.
      const slow = await rawExchange(own.port, 'GARBAGE-NO-LINE-END', { timeoutMs: 3_000 });
      assert.match(slow, /^HTTP\/1\.1 408 Request Timeout\r\n/);
      const halfHead = Date.now();
      assert.match(await rawExchange(own.port, 'GET / HTTP/1.1\r\nHost: app.localhost\r\n', { timeoutMs: 3_000 }), /^HTTP\/1\.1 408 /);
      assert.ok(Date.now() - halfHead >= 250, 'not before the timeout');
      // A head sent slowly, in pieces, within the timeout is served.
      const pieces = await new Promise<string>((resolve, reject) => {
        const socket = net.connect(own.port, '127.0.0.1');
        let out = '';
        socket.on('data', (d: Buffer) => (out += d.toString('latin1')));
        socket.on('close', () => resolve(out));
        socket.on('error', reject);
        const parts = ['GE', 'T / HT', 'TP/1.1\r\nHost: app.loc', 'alhost\r\nConnection: close\r\n\r\n'];
        const next = () => {
          socket.write(parts.shift()!);
          if (parts.length > 0) setTimeout(next, 50);
        };
        socket.on('connect', next);
      });
      assert.match(pieces, /^HTTP\/1\.1 200 /);
      assert.equal(b.requests.length, 1);
    } finally {
      await own.close();
    }
  });

  it('answers a request with two Host headers 400, as gorouter does, whatever their case or values', async () => {
    const b = await backend('b');
    router.register(registration(b, ['a.localhost', 'b.localhost']));
    for (const hosts of ['Host: a.localhost\r\nHost: b.localhost', 'Host: a.localhost\r\nHost: a.localhost', 'host: a.localhost\r\nHOST: b.localhost', 'Host: a.localhost\r\nX-Other: 1\r\nHost: a.localhost']) {
      for (const version of ['1.1', '1.0']) {
        const answer = await rawExchange(router.port, `GET / HTTP/${version}\r\n${hosts}\r\n\r\n`);
        assert.match(answer, /^HTTP\/1\.1 400 Bad Request\r\n[^]*Connection: close\r\n/, `${version}: ${hosts}`);
      }
    }
    // Also behind an absolute-form target, and after a good request on the same connection.
    assert.match(await rawExchange(router.port, 'GET http://a.localhost/ HTTP/1.1\r\nHost: a.localhost\r\nHost: b.localhost\r\n\r\n'), /^HTTP\/1\.1 400 /);
    const pipelined = await rawExchange(router.port, 'GET /1 HTTP/1.1\r\nHost: a.localhost\r\n\r\nGET /2 HTTP/1.1\r\nHost: a.localhost\r\nHost: b.localhost\r\n\r\n', { untilMatch: /400 Bad Request[^]*$/ });
    assert.match(pipelined, /^HTTP\/1\.1 200 [^]*HTTP\/1\.1 400 Bad Request\r\n/);
    assert.deepEqual(b.requests.map((r) => r.url), ['/1'], 'no request with two Hosts reached the backend');
  });

  describe('request bodies that do not come (requestBodyTimeoutMs 300 ms, at least 100 bytes/s after that)', () => {
    let own: TestRouter;
    let b: Backend;
    /** What the backend saw of each request: the bytes, and whether it ended or was aborted. */
    const seen: { bytes: number; outcome: 'end' | 'aborted' }[] = [];
    beforeEach(async () => {
      own = await startRouter({ requestBodyTimeoutMs: 300, requestBodyMinRate: 100 });
      b = await backend('b');
      b.server.removeAllListeners('request');
      b.server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
        const entry = { bytes: 0, outcome: 'aborted' as 'end' | 'aborted' };
        seen.push(entry);
        const answer = () => res.end(`got ${entry.bytes}`);
        req.on('data', (d: Buffer) => (entry.bytes += d.length));
        req.on('end', () => {
          entry.outcome = 'end';
          if (req.url === '/slow-reader') return; // answered below
          answer();
        });
        if (req.url === '/slow-reader') {
          // Reads nothing for a second (longer than the body timeout), then everything.
          req.pause();
          setTimeout(() => req.resume(), 1_000);
          req.on('end', answer);
        }
      });
      own.register(registration(b, ['app.localhost']));
    });
    afterEach(async () => {
      seen.length = 0;
      await own.close();
    });

    /** Sends a head, then `chunks` one every `everyMs`, and collects what comes back until the router closes. */
    const trickle = (head: string, chunks: string[], everyMs: number) =>
      new Promise<{ text: string; ms: number; sent: number }>((resolve, reject) => {
        const started = Date.now();
        const socket = net.connect(own.port, '127.0.0.1');
        let text = '';
        let sent = 0;
        let timer: NodeJS.Timeout | undefined;
        socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
        socket.on('close', () => {
          clearTimeout(timer);
          resolve({ text, ms: Date.now() - started, sent });
        });
        socket.on('error', (error) => (text ? undefined : reject(error)));
        const next = () => {
          if (chunks.length === 0 || socket.destroyed) return;
          sent++;
          socket.write(chunks.shift()!);
          timer = setTimeout(next, everyMs);
        };
        socket.on('connect', () => {
          socket.write(head);
          timer = setTimeout(next, everyMs);
        });
        setTimeout(() => socket.destroy(), 8_000).unref();
      });

    it('answers 408 and closes when the body stops coming, and drops the backend request', async () => {
      const r = await trickle('POST /x HTTP/1.1\r\nHost: app.localhost\r\nContent-Length: 100\r\n\r\n0123456789', [], 50);
      assert.match(r.text, /^HTTP\/1\.1 408 Request Timeout\r\n[^]*Connection: close\r\n/);
      assert.ok(r.ms >= 280 && r.ms < 2_000, `after the timeout: ${r.ms} ms`);
      await waitFor('the backend to see the request cut off', () => seen.length === 1 && seen[0].outcome === 'aborted' && seen[0].bytes === 10, { timeoutMs: 2_000 });
      const stats = own.router.stats.snapshot();
      assert.equal(stats.request_body_timeouts, 1);
      assert.match(own.accessLog.at(-1)![1], /"POST \/x HTTP\/1\.1" 408 10 /, 'logged with its status and the bytes that came');
    });

    it('answers 408 to a body that trickles in more slowly than the minimum rate, chunked or not', async () => {
      // 1 byte every 40 ms: 25 bytes/s, under the 100 bytes/s the router asks for once 300 ms have passed.
      const slow = await trickle('POST /x HTTP/1.1\r\nHost: app.localhost\r\nContent-Length: 1000\r\n\r\n', Array.from({ length: 200 }, () => 'x'), 40);
      assert.match(slow.text, /^HTTP\/1\.1 408 /);
      assert.ok(slow.ms < 2_000 && slow.sent < 50, `cut off after ${slow.ms} ms and ${slow.sent} bytes`);
      const chunked = await trickle('POST /x HTTP/1.1\r\nHost: app.localhost\r\nTransfer-Encoding: chunked\r\n\r\n', Array.from({ length: 200 }, () => '1\r\nx\r\n'), 40);
      assert.match(chunked.text, /^HTTP\/1\.1 408 /);
      assert.ok(chunked.ms < 2_000, `cut off after ${chunked.ms} ms`);
    });

    it('cuts the client off when the response had begun before the body stalled', async () => {
      // This backend answers at once and never reads the body.
      b.server.removeAllListeners('request');
      b.server.on('request', (_req: http.IncomingMessage, res: http.ServerResponse) => {
        res.writeHead(200, { 'Content-Type': 'text/plain' });
        res.write('early ');
      });
      const r = await trickle('POST /early HTTP/1.1\r\nHost: app.localhost\r\nContent-Length: 100\r\n\r\n01234', [], 50);
      assert.match(r.text, /^HTTP\/1\.1 200 [^]*early \r\n$/, 'the response so far, then the connection closes');
      assert.ok(r.ms < 2_000, `closed after ${r.ms} ms`);
      assert.equal(own.router.stats.snapshot().request_body_timeouts, 1);
    });

    it('lets a slow but steady body through, and does not count the time a slow backend holds it back', async () => {
      // 30 bytes every 50 ms (600 bytes/s) for 1.5 s: five times the timeout, above the minimum rate.
      const steady = await trickle('POST /x HTTP/1.1\r\nHost: app.localhost\r\nContent-Length: 900\r\nConnection: close\r\n\r\n', Array.from({ length: 30 }, () => 'y'.repeat(30)), 50);
      assert.match(steady.text, /^HTTP\/1\.1 200 [^]*got 900$/);
      // A backend that reads nothing for a second: the router stops reading from the client meanwhile
      // (backpressure), which is not the client's delay.
      const size = 32 * 1024 * 1024;
      const res = await request(own.port, { method: 'POST', path: '/slow-reader', body: Buffer.alloc(size, 1), timeoutMs: 10_000 });
      assert.equal(res.status, 200);
      assert.equal(res.text, `got ${size}`);
      assert.equal(own.router.stats.snapshot().request_body_timeouts, 0);
    });
  });

  it('keeps connections to backends alive and answers pipelined requests in order', async () => {
    const b = await backend('b', (req, res) => res.end(`you asked ${req.url}`));
    let connections = 0;
    b.server.on('connection', () => connections++);
    router.register(registration(b, ['app.localhost']));
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    for (let i = 0; i < 10; i++) assert.equal((await request(router.port, { path: `/${i}`, agent })).text, `you asked /${i}`);
    agent.destroy();
    assert.equal(connections, 1, 'one backend connection for ten requests');

    const both = await rawExchange(router.port, 'GET /first HTTP/1.1\r\nHost: app.localhost\r\n\r\nGET /second HTTP/1.1\r\nHost: app.localhost\r\nConnection: close\r\n\r\n');
    const first = both.indexOf('you asked /first');
    const second = both.indexOf('you asked /second');
    assert.ok(first > 0 && second > first, both);
  });

  it('passes chunked bodies both ways, HEAD, and HTTP/1.0', async () => {
    const b = await backend('b', (req, res, body) => {
      if (req.method === 'HEAD') {
        res.writeHead(200, { 'Content-Length': '1234' });
        res.end();
        return;
      }
      res.writeHead(200, { 'Content-Type': 'text/plain' }); // no length: chunked
      res.write(`got ${body.length} bytes: `);
      setTimeout(() => res.end(body.toString()), 20);
    });
    router.register(registration(b, ['app.localhost']));
    const chunked = await rawExchange(router.port, 'POST /c HTTP/1.1\r\nHost: app.localhost\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n');
    assert.match(chunked, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(chunked, /\r\nTransfer-Encoding: chunked\r\n/i);
    assert.match(chunked, /got 7 bytes: /);
    assert.match(chunked, /abcdefg/);
    assert.match(chunked, /\r\n0\r\n\r\n$/);
    assert.equal(b.requests[0].body.toString(), 'abcdefg');

    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const head = await request(router.port, { method: 'HEAD', agent });
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-length'], '1234');
    assert.equal(head.body.length, 0);
    assert.equal((await request(router.port, { method: 'POST', body: 'after head', agent })).text, 'got 10 bytes: after head', 'the connection is still in step after HEAD');
    agent.destroy();

    const old = await rawExchange(router.port, 'POST /old HTTP/1.0\r\nHost: app.localhost\r\nContent-Length: 2\r\n\r\nhi');
    assert.match(old, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(old, /got 2 bytes: hi/);
  });

  it('relays Expect: 100-continue', async () => {
    const b = await backend('b', (_req, res, body) => res.end(`received ${body.length}`));
    router.register(registration(b, ['app.localhost']));
    const res = await new Promise<string>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: router.port, method: 'PUT', path: '/', headers: { host: 'app.localhost', Expect: '100-continue', 'Content-Length': '5' }, agent: false });
      let continued = false;
      req.on('continue', () => {
        continued = true;
        req.end('12345');
      });
      req.on('response', (r) => {
        let text = '';
        r.on('data', (d: Buffer) => (text += d.toString()));
        r.on('end', () => resolve(`${continued}:${text}`));
      });
      req.on('error', reject);
      req.flushHeaders();
    });
    assert.equal(res, 'true:received 5', 'the body was sent after the backend’s 100 Continue');
  });

  it('passes WebSocket upgrades through', async () => {
    const server = http.createServer();
    const wss = new WebSocketServer({ server });
    wss.on('connection', (ws, req) => {
      ws.send(`hello ${req.headers['x-cf-applicationid']}`);
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      router.register(registration({ port: (server.address() as net.AddressInfo).port }, ['ws.localhost']));
      const ws = new WebSocket(`ws://127.0.0.1:${router.port}/socket`, { headers: { host: 'ws.localhost' } });
      const received: (string | Buffer)[] = [];
      ws.on('message', (data, isBinary) => received.push(isBinary ? Buffer.from(data as Buffer) : data.toString()));
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      });
      ws.send('one');
      ws.send('two');
      ws.send(Buffer.from([0, 1, 2, 255]));
      const big = 'x'.repeat(200_000);
      ws.send(big);
      await waitFor('the echoes', () => received.length >= 5, { timeoutMs: 5_000 });
      assert.deepEqual(received.slice(0, 3), ['hello app-guid-1', 'one', 'two']);
      assert.deepEqual(received[3], Buffer.from([0, 1, 2, 255]));
      assert.equal(received[4], big);
      const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
      ws.close(1000);
      assert.equal(await closed, 1000);
      await waitFor('the tunnel to be logged', () => router.accessLog.some(([, l]) => / 101 /.test(l)));
      assert.equal(router.router.stats.snapshot().websocket_upgrades, 1);
    } finally {
      wss.close();
      server.closeAllConnections();
      server.close();
    }
  });

  it('keeps sticky sessions with __VCAP_ID__ while the instance exists', async () => {
    const bs = await Promise.all(
      ['a', 'b', 'c'].map((name) =>
        backend(name, (req, res) => {
          if (req.url === '/login') res.setHeader('Set-Cookie', 'JSESSIONID=session-1; Path=/; Max-Age=600');
          res.end(name);
        }),
      ),
    );
    for (const b of bs) router.register(registration(b, ['app.localhost']));
    const login = await request(router.port, { path: '/login' });
    const cookies = login.headers['set-cookie']!;
    const vcap = cookies.find((c) => c.startsWith('__VCAP_ID__='));
    assert.ok(vcap, `__VCAP_ID__ is set: ${cookies.join(' | ')}`);
    assert.match(vcap, /^__VCAP_ID__=instance-\d+; Path=\/; HttpOnly; Max-Age=600$/);
    const instance = vcap.split(';')[0].split('=')[1];
    const owner = bs.find((b) => `instance-${b.port}` === instance)!;
    assert.equal(login.text, owner.name);

    const cookie = `JSESSIONID=session-1; __VCAP_ID__=${instance}`;
    for (let i = 0; i < 9; i++) assert.equal((await request(router.port, { headers: { Cookie: cookie } })).text, owner.name, 'sticks to the instance');
    // Without JSESSIONID the __VCAP_ID__ cookie alone does not stick.
    const loose = new Set<string>();
    for (let i = 0; i < 6; i++) loose.add((await request(router.port, { headers: { Cookie: `__VCAP_ID__=${instance}` } })).text);
    assert.equal(loose.size, 3);

    router.router.unregister(registration(owner, ['app.localhost']));
    const moved = await request(router.port, { headers: { Cookie: cookie } });
    assert.notEqual(moved.text, owner.name, 'another instance takes over');
    const newVcap = moved.headers['set-cookie']?.find((c) => c.startsWith('__VCAP_ID__='));
    assert.ok(newVcap && !newVcap.includes(instance), 'and the session is pointed at it');
  });

  it('streams a 10 MB upload and a 10 MB download without buffering them', async function () {
    this.timeout(30_000);
    const size = 10 * 1024 * 1024;
    const payload = randomBytes(size);
    let received = 0;
    let downloadedByClient = 0;
    const b = await backend('b');
    // Replace the recording handler: this backend streams.
    b.server.removeAllListeners('request');
    b.server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
      if (req.method === 'PUT') {
        const hash = createHash('sha256');
        req.on('data', (d: Buffer) => {
          received += d.length;
          hash.update(d);
        });
        req.on('end', () => res.end(hash.digest('hex')));
        return;
      }
      res.writeHead(200, { 'Content-Length': String(size) });
      res.write(payload.subarray(0, size / 2));
      // The second half only once the client has seen some of the first: a router that buffered
      // whole bodies would never deliver any.
      void waitFor('the client to receive the first megabyte', () => downloadedByClient >= 1024 * 1024, { timeoutMs: 10_000 })
        .then(() => res.end(payload.subarray(size / 2)))
        .catch(() => res.destroy());
    });
    router.register(registration(b, ['big.localhost']));

    const upload = await new Promise<string>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: router.port, method: 'PUT', path: '/up', headers: { host: 'big.localhost', 'Content-Length': String(size) }, agent: false }, (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve(text));
      });
      req.on('error', reject);
      req.write(payload.subarray(0, size / 2));
      waitFor('the backend to receive the first megabyte', () => received >= 1024 * 1024, { timeoutMs: 10_000 })
        .then(() => req.end(payload.subarray(size / 2)))
        .catch(reject);
    });
    assert.equal(upload, createHash('sha256').update(payload).digest('hex'));

    const download = await new Promise<string>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port: router.port, path: '/down', headers: { host: 'big.localhost' }, agent: false }, (res) => {
          const hash = createHash('sha256');
          res.on('data', (d: Buffer) => {
            downloadedByClient += d.length;
            hash.update(d);
          });
          res.on('end', () => resolve(hash.digest('hex')));
          res.on('error', reject);
        })
        .on('error', reject);
    });
    assert.equal(downloadedByClient, size);
    assert.equal(download, createHash('sha256').update(payload).digest('hex'));
    const upLine = router.accessLog.find(([, l]) => l.includes('"PUT /up HTTP/1.1" 200'))![1];
    assert.match(upLine, new RegExp(`" 200 ${size} 64 `), 'bytes received and sent are logged');
  });

  it('logs one access line per request for the app (RTR)', async () => {
    const b = await backend('b', (_req, res) => res.end('twelve bytes'));
    router.register(registration(b, ['app.localhost'], { app: 'the-app-guid', private_instance_id: 'inst-9', index: 2 }));
    const res = await request(router.port, { path: '/logged?x=1', headers: { 'User-Agent': 'curl/8.5', Referer: 'http://ref/' } });
    await request(router.port, { host: 'unknown.localhost' });
    assert.equal(router.accessLog.length, 1);
    const [app, line] = router.accessLog[0];
    assert.equal(app, 'the-app-guid');
    const id = res.headers['x-vcap-request-id'] ?? b.requests[0].headers['x-vcap-request-id'];
    assert.match(
      line,
      new RegExp(
        `^app\\.localhost - \\[\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z\\] "GET /logged\\?x=1 HTTP/1\\.1" 200 0 12 "http://ref/" "curl/8\\.5" "127\\.0\\.0\\.1:\\d+" "127\\.0\\.0\\.1:${b.port}" ` +
          `x_forwarded_for:"127\\.0\\.0\\.1" x_forwarded_proto:"http" vcap_request_id:"${String(id ?? '[^"]+')}" response_time:\\d+\\.\\d{6} app_id:"the-app-guid" app_index:"2" instance_id:"inst-9" x_cf_routererror:"-"$`,
      ),
    );
  });

  it('counts requests, responses by class and latency', async () => {
    const b = await backend('b');
    router.register(registration(b, ['app.localhost']));
    for (let i = 0; i < 5; i++) await request(router.port);
    await request(router.port, { host: 'nope.localhost' });
    const report = router.router.report();
    assert.equal(report.routes, 1);
    assert.equal(report.endpoints, 1);
    assert.equal(report.stats.requests, 6);
    assert.equal(report.stats.responses_2xx, 5);
    assert.equal(report.stats.responses_4xx, 1);
    const samples = Object.values(report.stats.latency_buckets).reduce((s, n) => s + n, 0);
    assert.equal(samples, 6);
  });

  it('routes among 10,000 registered routes', async () => {
    const b = await backend('b', (req, res) => res.end(req.headers.host));
    for (let i = 0; i < 10_000; i++) router.register(registration(b, [`app-${i}.localhost`]));
    assert.equal(router.router.registry.routeCount, 10_000);
    for (const i of [0, 4_321, 9_999]) assert.equal((await request(router.port, { host: `app-${i}.localhost` })).text, `app-${i}.localhost`);
    assert.equal((await request(router.port, { host: 'app-10000.localhost' })).status, 404);
  });

  it('closes idle client connections and stops cleanly with requests in flight', async () => {
    await router.close();
    router = await startRouter({ clientIdleTimeoutMs: 200 });
    const b = await backend('b', (_req, res) => setTimeout(() => res.end('late'), 300));
    router.register(registration(b, ['app.localhost']));
    const idle = net.connect({ port: router.port, host: '127.0.0.1' });
    const idleClosed = new Promise<void>((resolve) => idle.once('close', () => resolve()));
    idle.on('error', () => undefined);
    await idleClosed;
    const inFlight = request(router.port);
    await sleep(50);
    const closing = router.close();
    assert.equal((await inFlight).text, 'late', 'the request in flight is answered');
    await closing;
  });
});
