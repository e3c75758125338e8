// The guards every HTTP server of the box shares (common/http.ts, createHttpServer): two Host
// headers, a head that does not finish, a body that does not come. Real node:http servers on
// loopback ports, real sockets writing bytes as a slow or hostile client would.
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import {
  bodyOverdue,
  createHttpServer,
  DEFAULT_REQUEST_DEADLINES,
  hostHeaderCount,
  requestCutOff,
  RequestBodyTimeout,
  requestDeadlines,
  type HttpServerOptions,
  type RefusedRequests,
  type RequestDeadlines,
} from '../../../src/runtime/common/http.js';
import { waitFor } from '../../../src/runtime/common/poll.js';

/** Short deadlines, so that each case takes well under a second: 300 ms, then 100 bytes/s. */
const SHORT: RequestDeadlines = { headMs: 300, bodyIdleMs: 300, bodyMinRate: 100 };

interface Seen {
  url: string;
  /** Bytes of the body the handler read, and how its read ended. */
  bytes: number;
  outcome?: 'end' | 'cut off' | 'error';
}

interface TestServer {
  port: number;
  seen: Seen[];
  refused: RefusedRequests;
  upgrades: string[];
  close(): Promise<void>;
}

/**
 * A server whose handler reads the body and answers how much came; `/answer-first` answers before
 * reading anything; `/read-later` reads nothing for `holdMs`, then everything.
 */
async function startServer(options: HttpServerOptions & { holdMs?: number } = {}): Promise<TestServer> {
  const seen: Seen[] = [];
  const upgrades: string[] = [];
  const refused: RefusedRequests = { duplicate_host: 0, body_timeout: 0 };
  const server = createHttpServer(
    (req, res) => {
      const entry: Seen = { url: req.url ?? '', bytes: 0 };
      seen.push(entry);
      const read = async () => {
        try {
          for await (const chunk of req) entry.bytes += (chunk as Buffer).length;
          entry.outcome = 'end';
        } catch (error) {
          entry.outcome = error instanceof RequestBodyTimeout && requestCutOff(req) ? 'cut off' : 'error';
          return;
        }
        if (!res.headersSent) res.end(`got ${entry.bytes}`);
      };
      if (req.url === '/answer-first') {
        res.end('answered');
        void read();
      } else if (req.url === '/read-later') {
        setTimeout(() => void read(), options.holdMs ?? 1_000);
      } else {
        void read();
      }
    },
    {
      deadlines: SHORT,
      refused,
      errorBody: (status, message) => ({ contentType: 'application/json', body: JSON.stringify({ status, message }) }),
      upgrade: (req, socket) => {
        upgrades.push(req.url ?? '');
        socket.end('HTTP/1.1 101 Switching Protocols\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\n');
      },
      ...options,
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    seen,
    refused,
    upgrades,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

interface Exchange {
  /** Everything the server sent, until it closed the connection (or the bound ran out). */
  text: string;
  ms: number;
  /** Chunks written before the server closed. */
  sent: number;
}

/** Writes `head`, then `chunks` one every `everyMs`, and collects the answer until the server closes. */
function trickle(port: number, head: string, chunks: string[] = [], everyMs = 50, boundMs = 5_000): Promise<Exchange> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    let sent = 0;
    let timer: NodeJS.Timeout | undefined;
    const bound = setTimeout(() => socket.destroy(), boundMs);
    socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
    socket.on('error', () => undefined); // a reset after the answer: the answer is what counts
    socket.on('close', () => {
      clearTimeout(timer);
      clearTimeout(bound);
      resolve({ text, ms: Date.now() - started, sent });
    });
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
  });
}

const bytes = (n: number, chunk = 'x') => Array.from({ length: n }, () => chunk);

describe('common/http: the guards of every HTTP server (createHttpServer)', function () {
  this.timeout(15_000);
  let server: TestServer;
  afterEach(async () => server?.close());

  describe('the rules', () => {
    it('counts Host fields in any case; node:http keeps only the first in req.headers', () => {
      assert.equal(hostHeaderCount(['Host', 'a', 'Accept', '*/*']), 1);
      assert.equal(hostHeaderCount(['Host', 'a', 'HOST', 'a', 'host', 'b']), 3);
      assert.equal(hostHeaderCount(['X-Host', 'a', 'Hosts', 'b']), 0);
    });

    it('a body is overdue after a pause of bodyIdleMs, or under bodyMinRate bytes/s on average after that', () => {
      const d = { bodyIdleMs: 20_000, bodyMinRate: 1024 };
      assert.equal(bodyOverdue(19_999, 19_999, 0, d), false);
      assert.equal(bodyOverdue(20_000, 20_000, 0, d), true, 'nothing for 20 s');
      assert.equal(bodyOverdue(25_000, 1_000, 10 * 1024, d), false, '10 KiB buy 10 s more');
      assert.equal(bodyOverdue(31_000, 1_000, 10 * 1024, d), true, 'but not 11');
      // A 1 GB upload at 1 MB/s keeps coming and has more than enough.
      assert.equal(bodyOverdue(1_000_000, 1, 1e9, d), false);
      assert.equal(bodyOverdue(60_000, 1, 1, { bodyIdleMs: 20_000, bodyMinRate: 0 }), false, 'rate 0: only the pause counts');
    });

    it('reads DEVBOX_HTTP_* over the defaults, and refuses malformed values with the name', () => {
      assert.deepEqual(requestDeadlines({}), DEFAULT_REQUEST_DEADLINES);
      assert.deepEqual(DEFAULT_REQUEST_DEADLINES, { headMs: 30_000, bodyIdleMs: 20_000, bodyMinRate: 1024 });
      assert.deepEqual(requestDeadlines({ DEVBOX_HTTP_HEAD_TIMEOUT_MS: '500', DEVBOX_HTTP_BODY_TIMEOUT_MS: '700', DEVBOX_HTTP_BODY_MIN_RATE: '0' }), { headMs: 500, bodyIdleMs: 700, bodyMinRate: 0 });
      assert.throws(() => requestDeadlines({ DEVBOX_HTTP_BODY_TIMEOUT_MS: '0' }), /DEVBOX_HTTP_BODY_TIMEOUT_MS must be a whole number \(1 or more\), got '0'/);
      assert.throws(() => requestDeadlines({ DEVBOX_HTTP_BODY_MIN_RATE: 'fast' }), /DEVBOX_HTTP_BODY_MIN_RATE must be a whole number/);
    });
  });

  describe('two Host headers', () => {
    it('answers 400 in the server\'s error shape and closes, whatever their case or values; the handler never sees it', async () => {
      server = await startServer();
      for (const hosts of ['Host: a.localhost\r\nHost: b.localhost', 'Host: a.localhost\r\nhost: a.localhost', 'HOST: a\r\nHost: a\r\nhost: a']) {
        const r = await trickle(server.port, `GET /x HTTP/1.1\r\n${hosts}\r\n\r\n`);
        assert.match(r.text, /^HTTP\/1\.1 400 Bad Request\r\n/, hosts);
        assert.match(r.text, /\r\nConnection: close\r\n/i);
        assert.match(r.text, /\{"status":400,"message":"More than one Host header: send exactly one"\}$/);
      }
      assert.deepEqual(server.seen, []);
      assert.equal(server.refused.duplicate_host, 3);
      const one = await trickle(server.port, 'GET /one HTTP/1.1\r\nHost: a.localhost\r\nConnection: close\r\n\r\n');
      assert.match(one.text, /^HTTP\/1\.1 200 OK\r\n[^]*got 0$/);
    });

    it('refuses them on an upgrade (a WebSocket) too, before the upgrade handler', async () => {
      server = await startServer();
      const head = (hosts: string) => `GET /stream HTTP/1.1\r\n${hosts}\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\n`;
      const two = await trickle(server.port, head('Host: a\r\nHost: b'));
      assert.match(two.text, /^HTTP\/1\.1 400 Bad Request\r\n[^]*More than one Host header/);
      assert.deepEqual(server.upgrades, []);
      const one = await trickle(server.port, head('Host: a'));
      assert.match(one.text, /^HTTP\/1\.1 101 /);
      assert.deepEqual(server.upgrades, ['/stream']);
    });
  });

  describe('deadlines (300 ms without a byte, 100 bytes/s after that)', () => {
    it('answers 408 in the server\'s error shape to a body that stops, and the handler\'s read fails (cut off)', async () => {
      server = await startServer();
      const r = await trickle(server.port, 'POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n0123456789');
      assert.match(r.text, /^HTTP\/1\.1 408 Request Timeout\r\n[^]*Connection: close\r\n/);
      assert.match(r.text, /"message":"request body not received in time: it must not pause for 0.3 s, nor average under 100 bytes\/s after that. Send the body without pauses."/);
      assert.ok(r.ms >= 280 && r.ms < 2_000, `after the deadline: ${r.ms} ms`);
      await waitFor('the handler to see its read cut off', () => server.seen[0]?.outcome === 'cut off', { timeoutMs: 2_000 });
      assert.equal(server.seen[0].bytes, 10);
      assert.equal(server.refused.body_timeout, 1);
    });

    it('answers 408 to a body that trickles under the rate, with Content-Length or chunked', async () => {
      server = await startServer();
      // 1 byte every 40 ms: 25 bytes/s, under the 100 bytes/s asked for once 300 ms have passed.
      const slow = await trickle(server.port, 'POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\n', bytes(200), 40);
      assert.match(slow.text, /^HTTP\/1\.1 408 /);
      assert.ok(slow.ms < 2_000 && slow.sent < 50, `cut off after ${slow.ms} ms and ${slow.sent} bytes`);
      // Chunked, the framing counts (the bytes that came on the connection): 6 bytes every 100 ms, 60 bytes/s.
      const chunked = await trickle(server.port, 'POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n', bytes(200, '1\r\nx\r\n'), 100);
      assert.match(chunked.text, /^HTTP\/1\.1 408 /);
      assert.ok(chunked.ms < 2_000, `cut off after ${chunked.ms} ms`);
    });

    it('lets a body that keeps coming take as long as it needs (a slow upload is not a stalled one)', async () => {
      server = await startServer();
      // 10 bytes every 50 ms (200 bytes/s) for 1.5 s: five times the pause allowed, twice the rate asked for.
      const r = await trickle(server.port, 'POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 300\r\nConnection: close\r\n\r\n', bytes(30, 'x'.repeat(10)), 50);
      assert.match(r.text, /^HTTP\/1\.1 200 OK\r\n[^]*got 300$/);
      assert.ok(r.ms >= 1_400, `it took ${r.ms} ms`);
      assert.equal(server.refused.body_timeout, 0);
    });

    it('does not count the time the server itself has not taken what came (busy before reading)', async () => {
      server = await startServer({ holdMs: 1_000 });
      // The whole body but one byte at once, the last byte after 200 ms; the handler reads after 1 s.
      const r = await trickle(server.port, 'POST /read-later HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\nConnection: close\r\n\r\n012345678', ['9'], 200);
      assert.match(r.text, /^HTTP\/1\.1 200 OK\r\n[^]*got 10$/);
      assert.equal(server.refused.body_timeout, 0);
    });

    it('cuts the connection off when the answer has gone out and the rest of the body does not come', async () => {
      server = await startServer();
      const r = await trickle(server.port, 'POST /answer-first HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n01234', [], 50);
      assert.match(r.text, /^HTTP\/1\.1 200 OK\r\n[^]*answered$/, 'the answer, and no 408 after it');
      assert.ok(r.ms >= 280 && r.ms < 2_000, `closed after ${r.ms} ms`);
      assert.equal(server.refused.body_timeout, 1);
    });

    it('answers 408 to a head that does not finish (node:http\'s headersTimeout)', async () => {
      server = await startServer();
      const r = await trickle(server.port, 'GET /x HTTP/1.1\r\nHost: a\r\n');
      assert.match(r.text, /^HTTP\/1\.1 408 Request Timeout\r\n/);
      assert.ok(r.ms < 2_000, `after ${r.ms} ms`);
      assert.deepEqual(server.seen, []);
    });

    it('leaves requests without a body alone, and keep-alive connections open between requests', async () => {
      server = await startServer();
      const agent = new http.Agent({ keepAlive: true });
      const get = () =>
        new Promise<string>((resolve, reject) => {
          http.get({ port: server.port, host: '127.0.0.1', path: '/get', agent }, (res) => {
            let text = '';
            res.on('data', (d: Buffer) => (text += d.toString()));
            res.on('end', () => resolve(text));
          }).on('error', reject);
        });
      assert.equal(await get(), 'got 0');
      await new Promise((resolve) => setTimeout(resolve, 600)); // idle longer than every deadline
      assert.equal(await get(), 'got 0');
      agent.destroy();
      assert.deepEqual(server.refused, { duplicate_host: 0, body_timeout: 0 });
    });
  });
});
