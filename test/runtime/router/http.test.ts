// The router's HTTP/1.1 framing: what it accepts, what it refuses (request smuggling shapes), and
// finding the end of chunked bodies however they are split.
import assert from 'node:assert/strict';
import { assembleHead, ChunkedScanner, HttpError, parseRequestHead, parseResponseHead, requestFieldNames } from '../../../src/runtime/router/http.js';

const head = (text: string) => {
  const buf = Buffer.from(text, 'latin1');
  const end = buf.indexOf('\r\n\r\n');
  return { buf, end: end === -1 ? buf.length : end };
};
const parseReq = (text: string, replaced: string[] = []) => {
  const { buf, end } = head(text);
  return parseRequestHead(buf, 0, end, requestFieldNames(replaced));
};
const parseRes = (text: string) => {
  const { buf, end } = head(text);
  return parseResponseHead(buf, 0, end);
};
const rejects = (text: string, status: number, message?: RegExp) =>
  assert.throws(
    () => parseReq(text),
    (error: unknown) => error instanceof HttpError && error.status === status && (!message || message.test(error.message)),
    JSON.stringify(text),
  );

describe('router http framing', () => {
  it('parses a request head and keeps the fields the router needs', () => {
    const h = parseReq(
      'POST /upload?x=1 HTTP/1.1\r\nHost: App.Localhost:8080\r\nContent-Length: 5\r\nUser-Agent: curl/8\r\nCookie: a=1\r\ncookie: b=2\r\n' +
        'X-Forwarded-For: 10.0.0.1\r\nX-Forwarded-For: 10.0.0.2\r\nExpect: 100-continue\r\nConnection: keep-alive, X-Private\r\nX-Private: secret\r\n\r\nhello',
    );
    assert.equal(h.method, 'POST');
    assert.equal(h.target, '/upload?x=1');
    assert.equal(h.minor, 1);
    assert.equal(h.host, 'App.Localhost:8080');
    assert.equal(h.contentLength, 5);
    assert.equal(h.userAgent, 'curl/8');
    assert.equal(h.cookie, 'a=1; b=2');
    assert.equal(h.xForwardedFor, '10.0.0.1, 10.0.0.2');
    assert.equal(h.expectContinue, true);
    assert.equal(h.connectionKeepAlive, true);
    assert.deepEqual(h.connectionTokens, ['x-private']);
  });

  it('forwards the head minus hop-by-hop and replaced fields, plus what handlers add', () => {
    const h = parseReq(
      'GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, X-Private\r\nKeep-Alive: 300\r\nX-Private: secret\r\nTE: trailers\r\nUpgrade: h2c\r\nX-Vcap-Request-Id: spoofed\r\nAccept: */*\r\nX-Forwarded-For: 1.2.3.4\r\n\r\n',
      ['x-vcap-request-id', 'x-forwarded-for'],
    );
    const out = assembleHead(h, 'X-Added: 1\r\n', Buffer.from('BODY')).toString('latin1');
    assert.equal(out, 'GET / HTTP/1.1\r\nHost: a\r\nAccept: */*\r\nX-Added: 1\r\n\r\nBODY');
    const rewritten = assembleHead(h, '', null, 'GET /other HTTP/1.1').toString('latin1');
    assert.equal(rewritten, 'GET /other HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\n');
    const bare = parseReq('GET / HTTP/1.0\r\n\r\n');
    assert.equal(assembleHead(bare, 'X: y\r\n', null).toString(), 'GET / HTTP/1.0\r\nX: y\r\n\r\n');
  });

  it('refuses heads a proxy must not forward', () => {
    rejects('GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n', 400, /both/);
    rejects('GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n', 400, /conflicting/);
    rejects('GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\n', 400, /conflicting/);
    rejects('GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n', 400, /Content-Length/);
    rejects('GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n', 400, /Content-Length/);
    rejects('GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n', 400, /chunked/);
    rejects('GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n', 400, /chunked/);
    rejects('GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n', 400, /chunked/);
    rejects('POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n', 400, /HTTP\/1.0/);
    rejects('GET / HTTP/1.1\r\nHost: a\r\nX-Folded: a\r\n b\r\n\r\n', 400, /folding/);
    rejects('GET / HTTP/1.1\r\nHost: a\r\nContent-Length : 5\r\n\r\n', 400, /malformed header/);
    rejects('GET / HTTP/1.1\r\nHost: a\r\nBad\x00: x\r\n\r\n', 400);
    rejects('GET / HTTP/1.1\r\nHost: a\r\nX: a\nContent-Length: 5\r\n\r\n', 400, /control/);
    rejects('GET / HTTP/1.1\r\nHost: a\r\nX: a\rContent-Length: 5\r\n\r\n', 400, /control/);
    rejects('GET / HTTP/1.1\r\nX: y\r\n\r\n', 400, /Host/);
    rejects('GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', 400, /Host/);
    rejects('GET  / HTTP/1.1\r\nHost: a\r\n\r\n', 400, /request line/);
    rejects('GET / HTTP/1.1 \r\nHost: a\r\n\r\n', 400);
    rejects('G(T / HTTP/1.1\r\nHost: a\r\n\r\n', 400, /request line/);
    rejects('GET / HTTP/2.0\r\nHost: a\r\n\r\n', 505);
    rejects('GET / FTP/1.0\r\nHost: a\r\n\r\n', 400);
  });

  it('parses response heads: framing, keep-alive hint, JSESSIONID, hop-by-hop', () => {
    const r = parseRes('HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nSet-Cookie: a=b\r\nSet-Cookie: JSESSIONID=abc; Max-Age=60\r\n\r\n');
    assert.equal(r.status, 200);
    assert.equal(r.contentLength, 3);
    assert.equal(r.keepAliveTimeoutMs, 5_000);
    assert.equal(r.jsessionCookie, 'JSESSIONID=abc; Max-Age=60');
    assert.equal(assembleHead(r, '', null).toString(), 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nSet-Cookie: a=b\r\nSet-Cookie: JSESSIONID=abc; Max-Age=60\r\n\r\n');
    assert.equal(parseRes('HTTP/1.1 204\r\n\r\n').status, 204);
    const both = parseRes('HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n');
    assert.equal(both.chunked, true);
    assert.equal(both.contentLength, -1, 'Transfer-Encoding overrides Content-Length');
    assert.equal(both.connectionClose, true, 'and the connection is not reused');
    const old = parseRes('HTTP/1.0 200 OK\r\n\r\n');
    assert.equal(old.minor, 0);
    for (const bad of ['HTTP/1.1 2000 OK\r\n\r\n', 'ICY 200 OK\r\n\r\n', 'HTTP/1.1 200 OK\r\nX: a\nY: b\r\n\r\n', 'HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n']) {
      assert.throws(() => parseRes(bad), (e: unknown) => e instanceof HttpError && e.status === 502, JSON.stringify(bad));
    }
  });

  describe('chunked scanner', () => {
    const body = '5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\n';

    it('finds the end of a chunked body split at every possible point', () => {
      const bytes = Buffer.from(`${body}NEXT`);
      for (let split = 0; split <= bytes.length; split++) {
        const s = new ChunkedScanner();
        const first = s.scan(bytes.subarray(0, split));
        if (first !== -1) {
          assert.equal(first, body.length, `split ${split}`);
          continue;
        }
        const second = s.scan(bytes.subarray(split));
        assert.equal(second + split, body.length, `split ${split}`);
      }
      // One byte at a time.
      const s = new ChunkedScanner();
      let end = -1;
      for (let i = 0; i < bytes.length && end === -1; i++) if (s.scan(bytes.subarray(i, i + 1)) !== -1) end = i + 1;
      assert.equal(end, body.length);
    });

    it('refuses malformed framing', () => {
      for (const bad of ['x\r\n', '5\r\nhelloX\r\n', '5\nhello\r\n', '-1\r\n', '0\r\n\n', 'ffffffffffffffffff\r\n', '5\r\nhello\r\n0\r\n bad\r\n\r\n']) {
        assert.throws(() => new ChunkedScanner().scan(Buffer.from(bad)), HttpError, JSON.stringify(bad));
      }
    });
  });
});
