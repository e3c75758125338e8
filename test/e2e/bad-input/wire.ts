// Random bytes on raw TCP sockets at the three network doors of a box: the bus (NATS), the router
// (HTTP) and the service broker (HTTP, Open Service Broker). Each answers with its protocol's error
// or closes the connection, and keeps serving everyone else.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { request } from '../../../src/runtime/common/http.js';
import type { BadInputBox } from './box.js';

interface Exchanged {
  /** Everything the server sent. */
  text: string;
  /** Whether the server closed the connection within the wait. */
  closed: boolean;
  ms: number;
}

/** Connects, writes `chunks` one after another, and reads until the server closes (or `waitMs`). */
function exchange(port: number, chunks: (Buffer | string)[], waitMs = 3_000): Promise<Exchanged> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = net.connect(port, '127.0.0.1');
    const got: Buffer[] = [];
    const done = (closed: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ text: Buffer.concat(got).toString('latin1'), closed, ms: Date.now() - started });
    };
    const timer = setTimeout(() => done(false), waitMs);
    socket.on('data', (c: Buffer) => got.push(c));
    socket.on('close', () => done(true));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      // The server may reset a connection it refused while we were still writing.
      if (error.code !== 'ECONNRESET' && error.code !== 'EPIPE') reject(error);
    });
    socket.on('connect', () => {
      for (const c of chunks) socket.write(c);
    });
  });
}

/** Random bytes without a line end (CR, LF) in them. */
const noLineEnds = (n: number) => Buffer.from([...randomBytes(n)].map((b) => (b === 10 || b === 13 ? 0x41 : b)));

export function wire(get: () => BadInputBox): void {
  describe('random bytes at the bus, the router and the broker', () => {
    it('the bus: -ERR and a closed connection for garbage, before or after CONNECT', async () => {
      const box = get();
      const port = box.ports.bus_port;
      assert.ok(port, 'the box runs its own bus');
      const connect = `CONNECT ${JSON.stringify({ verbose: false, pedantic: false, auth_token: box.config.bus.token, protocol: 1 })}\r\n`;
      const cases: [string, (Buffer | string)[], RegExp][] = [
        ['random bytes first', [randomBytes(4096)], /^-ERR '(Authorization Violation|Unknown Protocol Operation|maximum control line exceeded)'\r\n/m],
        ['random bytes after CONNECT', [connect, 'PING\r\n', Buffer.concat([Buffer.from('X'), randomBytes(1024), Buffer.from('\r\n')])], /^PONG\r\n-ERR 'Unknown Protocol Operation'\r\n$/m],
        ['a line past the control line limit', [connect, `PUB ${'x'.repeat(8192)}`], /-ERR 'maximum control line exceeded'\r\n$/],
        ['a payload past the maximum', [connect, 'PUB big 999999999\r\n'], /-ERR 'Maximum Payload Violation'\r\n$/],
        // A size of 10 digits or more is no size at all: closed without a word, as nats-server does.
        ['a size with ten digits', [connect, 'PUB big 2000000000\r\n'], /^$/],
        // nats-server closes on a CONNECT it cannot read, without a word or with an -ERR.
        ['a CONNECT that is not JSON', [`CONNECT {${noLineEnds(64).toString('latin1')}\r\n`], /^(-ERR '[^']+'\r\n)?$/],
      ];
      for (const [what, chunks, answer] of cases) {
        const res = await exchange(port, chunks);
        assert.match(res.text, /^INFO \{.*\}\s*\r\n/, `${what}: INFO first`);
        assert.match(res.text.replace(/^INFO .*\r\n/, ''), answer, `${what}: ${JSON.stringify(res.text.slice(-200))}`);
        assert.ok(res.closed, `${what}: the bus keeps the connection open`);
      }
      await box.stillWorks('garbage at the bus');
    });

    it('the router: 400 for a garbage request head (at once when it cannot begin a request), 431 for an endless one, and it serves others throughout', async () => {
      const box = get();
      const port = box.routerPort;
      const cases: [string, Buffer, RegExp][] = [
        ['random bytes ending a head', Buffer.concat([noLineEnds(2048), Buffer.from('\r\n\r\n')]), /^HTTP\/1\.1 400 Bad Request\r\n/],
        ['a TLS ClientHello line', Buffer.concat([Buffer.from('160301020001', 'hex'), noLineEnds(200), Buffer.from('\r\n\r\n')]), /^HTTP\/1\.1 400 /],
        // Bytes that cannot begin a request line are refused as they come, before any head limit. A
        // NUL first: random bytes may (rarely) begin like `METHOD target`, which waits for the limit.
        ['random bytes past the head limit', Buffer.concat([Buffer.from([0]), noLineEnds(80 * 1024)]), /^HTTP\/1\.1 400 /],
        ['a request line whose target runs past the head limit', Buffer.from(`GET /${'a'.repeat(80 * 1024)}`), /^HTTP\/1\.1 431 /],
        ['control characters in a header', Buffer.from('GET / HTTP/1.1\r\nHost: canary.localhost\r\nX-A: \u0001\u0002\r\n\r\n'), /^HTTP\/1\.1 400 /],
        ['a bogus chunked body', Buffer.from(`POST / HTTP/1.1\r\nHost: canary.localhost\r\nTransfer-Encoding: chunked\r\n\r\nzz${randomBytes(16).toString('hex')}\r\n`), /^HTTP\/1\.1 400 /],
      ];
      for (const [what, bytes, answer] of cases) {
        const res = await exchange(port, [bytes]);
        assert.match(res.text, answer, `${what}: ${JSON.stringify(res.text.slice(0, 200))}`);
        assert.ok(res.closed, `${what}: the router keeps a connection it could not parse`);
      }
      // Connections holding random bytes that never end a request head do not stop anyone else.
      const held = await Promise.all(
        Array.from({ length: 200 }, () =>
          new Promise<net.Socket>((resolve, reject) => {
            const s = net.connect(port, '127.0.0.1', () => {
              s.write(noLineEnds(512));
              resolve(s);
            });
            s.on('error', reject);
          }),
        ),
      );
      try {
        for (let i = 0; i < 5; i++) assert.equal((await box.visit('canary')).status, 200, 'the canary while 200 garbage connections are open');
      } finally {
        for (const s of held) s.destroy();
      }
      await box.stillWorks('garbage at the router');
    });

    it('the broker: 400 for garbage on the wire, for invalid JSON and wrong types, and its records unchanged', async () => {
      const box = get();
      const varz = await box.varz('mysql-gateway');
      const port = Number(varz.port);
      assert.ok(port > 0, JSON.stringify(varz));
      for (const bytes of [randomBytes(4096), noLineEnds(100), Buffer.from('\u0016\u0003\u0001\u0002\u0000\u0001\u0000')]) {
        const res = await exchange(port, [bytes]);
        // Node's HTTP server answers an unparsable request 400 and closes (a short one may wait for more).
        if (res.text !== '') assert.match(res.text, /^HTTP\/1\.1 400 Bad Request\r\n/);
        assert.ok(res.closed || res.text === '', JSON.stringify(res.text));
      }
      const { username, password } = box.config.mysql.broker;
      const broker = (method: string, urlPath: string, body?: string) =>
        request({ url: `http://127.0.0.1:${port}${urlPath}`, method, headers: { authorization: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`, 'x-broker-api-version': '2.17', 'content-type': 'application/json' }, body, timeoutMs: 5_000 });
      const id = 'bad-input-instance';
      const cases: [string, string, string | undefined, RegExp][] = [
        ['PUT', `/v2/service_instances/${id}`, '{"service_id": ', /not valid JSON/],
        ['PUT', `/v2/service_instances/${id}`, '[1,2,3]', /must be a JSON object/],
        ['PUT', `/v2/service_instances/${id}`, '{"service_id": 42, "plan_id": {}}', /'service_id' is missing/],
        ['PUT', `/v2/service_instances/${id}`, `{"service_id": "x", "plan_id": "y", "garbage": "${randomBytes(32).toString('hex')}"}`, /unknown service_id 'x'/],
        ['PUT', `/v2/service_instances/..%2F..%2Fmysql`, '{}', /not a usable instance id/],
        ['PUT', `/v2/service_instances/%E0%A4%A`, '{}', /malformed percent-encoding/],
        ['PUT', `/v2/service_instances/${id}/service_bindings/b1`, '{"app_guid": 5}', /'service_id' is missing/],
        ['DELETE', `/v2/service_instances/${id}?service_id=%ZZ`, undefined, /./],
      ];
      for (const [method, urlPath, body, description] of cases) {
        const res = await broker(method, urlPath, body);
        const what = `${method} ${urlPath} ${body ?? ''}`;
        assert.ok(res.status === 400 || res.status === 410, `${what}: ${res.status} ${res.text}`);
        assert.match((JSON.parse(res.text) as { description?: string }).description ?? '{}', description, what);
      }
      const after = await box.varz('mysql-gateway');
      assert.equal(after.instances, varz.instances);
      assert.equal(after.bindings, varz.bindings);
      assert.equal((await broker('GET', '/v2/catalog')).status, 200);
      await box.stillWorks('garbage at the broker');
    });
  });
}
