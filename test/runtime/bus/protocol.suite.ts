// The bus protocol suite. It runs unchanged against the embedded BusServer and against a real
// nats-server 2.9.10 (protocol.test.ts): both must give the same answers, byte for byte where the
// protocol is concerned (server-specific values such as server_id excepted).
import assert from 'node:assert/strict';
import { connect, ErrorCode, headers as natsHeaders, type Msg, type NatsConnection, type NatsError } from 'nats';
import { waitFor } from '../../../src/runtime/common/net.js';
import { RawClients, startTestServer, type RawClient, type ServerKind, type TestServer } from './helpers.js';

const TOKEN = 's3cret-token';

const err = (text: string) => `-ERR '${text}'\r\n`;

export function defineProtocolSuite(kind: ServerKind): void {
  describe(`bus protocol (${kind})`, function () {
    this.timeout(15_000);

    /** Default limits. */
    let server: TestServer;
    const raw = new RawClients();
    const natsConns: NatsConnection[] = [];

    const open = (connectOpts: Record<string, unknown> | false = {}, target: TestServer = server): Promise<RawClient> => raw.open(target, connectOpts);
    const nats = async (target: TestServer = server, opts: Record<string, unknown> = {}): Promise<NatsConnection> => {
      const nc = await connect({ servers: target.url, reconnect: false, ...opts });
      natsConns.push(nc);
      return nc;
    };

    before(async () => {
      server = await startTestServer(kind);
    });
    after(async () => {
      await server?.stop();
    });
    afterEach(async () => {
      raw.closeAll();
      await Promise.allSettled(natsConns.splice(0).map((nc) => nc.close()));
    });

    // -------------------------------------------------------------------------------------------
    describe('INFO', () => {
      it('is the first line, with the nats-server field set and shape', async () => {
        const c = await open(false);
        assert.match(c.infoLine, /^INFO \{.*\} $/, 'INFO <json> followed by a blank, then CRLF');
        assert.deepEqual(Object.keys(c.info), [
          'server_id',
          'server_name',
          'version',
          'proto',
          'go',
          'host',
          'port',
          'headers',
          'max_payload',
          'client_id',
          'client_ip',
        ]);
        assert.match(String(c.info.server_id), /^N[A-Z2-7]{55}$/);
        assert.equal(typeof c.info.server_name, 'string');
        assert.match(String(c.info.version), /^\d+\.\d+\.\d+$/);
        assert.equal(c.info.proto, 1);
        assert.equal(typeof c.info.go, 'string');
        assert.equal(c.info.host, '127.0.0.1');
        assert.equal(c.info.port, server.port);
        assert.equal(c.info.headers, true);
        assert.equal(c.info.max_payload, 1024 * 1024);
        assert.equal(typeof c.info.client_id, 'number');
        assert.equal(c.info.client_ip, '127.0.0.1');
      });

      it('gives every connection its own client_id', async () => {
        const a = await open(false);
        const b = await open(false);
        assert.notEqual(a.info.client_id, b.info.client_id);
      });
    });

    // -------------------------------------------------------------------------------------------
    describe('raw protocol', () => {
      it('answers PING with PONG (any case, LF only, trailing junk ignored)', async () => {
        const c = await open();
        assert.equal(await c.exchange(''), 'PONG\r\n');
        c.write('ping\r\n');
        assert.equal(await c.collectUntilPongOrClose(), 'PONG\r\n');
        c.write('PING\n');
        assert.equal(await c.collectUntilPongOrClose(), 'PONG\r\n');
        c.write('PINGXYZ\r\n');
        assert.equal(await c.collectUntilPongOrClose(), 'PONG\r\n');
        c.write('PONG\r\n+OK\r\nINFO {}\r\n');
        assert.equal(await c.exchange(''), 'PONG\r\n');
      });

      it('sends +OK after every well-formed op in verbose mode, but not for PING/PONG', async () => {
        const c = await open({ verbose: true });
        assert.equal(await c.exchange(''), '+OK\r\nPONG\r\n');
        assert.equal(
          await c.exchange('SUB foo 1\r\nPUB foo 5\r\nhello\r\nUNSUB 1\r\nPUB foo 2\r\nhi\r\nUNSUB 99\r\nPONG\r\n'),
          '+OK\r\n+OK\r\nMSG foo 1 5\r\nhello\r\n+OK\r\n+OK\r\n+OK\r\nPONG\r\n',
        );
      });

      it('is verbose and pedantic before CONNECT, and CONNECT only changes the fields it sets', async () => {
        const c = await open(false);
        assert.equal(await c.exchange('SUB foo 1\r\nPUB foo 2\r\nhi\r\n'), '+OK\r\n+OK\r\nMSG foo 1 2\r\nhi\r\nPONG\r\n');
        assert.equal(await c.exchange('PUB foo.* 0\r\n\r\n'), `${err('Invalid Publish Subject')}+OK\r\nPONG\r\n`);
        assert.equal(await c.exchange('CONNECT {"lang":"raw"}\r\n'), '+OK\r\nPONG\r\n');
        assert.equal(await c.exchange('CONNECT {"verbose":false}\r\nSUB bar 2\r\n'), 'PONG\r\n');
      });

      it('accepts lower-case ops and tabs or several blanks between arguments', async () => {
        const c = await open({ headers: true });
        assert.equal(
          await c.exchange('sub\tfoo\t\t1\r\npub  foo   2  \r\nhi\r\nhPuB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\nUnSuB 1\r\nPUB foo 0\r\n\r\n'),
          'MSG foo 1 2\r\nhi\r\nHMSG foo 1 12 14\r\nNATS/1.0\r\n\r\nhi\r\nPONG\r\n',
        );
      });

      it('handles payloads of size 0, exact size and payloads containing CRLF', async () => {
        const c = await open();
        const out = await c.exchange('SUB foo 1\r\nPUB foo 0\r\n\r\nPUB foo 4\r\n\r\n\r\n\r\nPUB foo 11\r\nPUB bar 1\r\n\r\n');
        assert.equal(out, 'MSG foo 1 0\r\n\r\nMSG foo 1 4\r\n\r\n\r\n\r\nMSG foo 1 11\r\nPUB bar 1\r\n\r\nPONG\r\n');
      });

      it('delivers a payload of exactly max_payload bytes', async () => {
        const c = await open();
        const big = Buffer.alloc(1024 * 1024, 0x7a);
        c.write('SUB big 1\r\nPUB big 1048576\r\n');
        c.write(big);
        c.write('\r\n');
        const msg = await c.readMsg(5_000);
        assert.equal(msg.subject, 'big');
        assert.equal(msg.payload.length, big.length);
        assert.ok(msg.payload.equals(big));
      });

      it('rejects wrong bytes after the payload: Unknown Protocol Operation, nothing delivered, closed', async () => {
        const sub = await open();
        assert.equal(await sub.exchange('SUB foo 1\r\n'), 'PONG\r\n');
        for (const bad of ['PUB foo 3\r\nhello\r\n', 'PUB foo 5\r\nhelloXX\r\n', 'PUB foo 5\r\nhello\nPING\r\n']) {
          const c = await open();
          c.write(bad);
          assert.equal(await c.expectClose(), err('Unknown Protocol Operation'), bad);
        }
        assert.equal(await sub.exchange(''), 'PONG\r\n', 'the subscriber got nothing');
      });

      it('reassembles a PUB sent one byte per TCP write', async () => {
        const sub = await open();
        assert.equal(await sub.exchange('SUB split.* 7\r\n'), 'PONG\r\n');
        const c = await open();
        const frame = 'PUB split.me reply.to 12\r\nhello\r\nworld\r\n';
        for (const ch of frame) {
          c.write(ch);
          await new Promise((resolve) => setTimeout(resolve, 1));
        }
        assert.equal(await c.exchange(''), 'PONG\r\n');
        const msg = await sub.readMsg();
        assert.deepEqual({ ...msg, payload: msg.payload.toString() }, { op: 'MSG', subject: 'split.me', sid: '7', reply: 'reply.to', payload: 'hello\r\nworld' });
      });

      it('processes many PUBs sent in one write, in order', async () => {
        const sub = await open();
        assert.equal(await sub.exchange('SUB many 1\r\n'), 'PONG\r\n');
        const c = await open();
        const n = 2_000;
        let batch = '';
        for (let i = 0; i < n; i++) batch += `PUB many ${String(i).length}\r\n${i}\r\n`;
        assert.equal(await c.exchange(batch), 'PONG\r\n');
        for (let i = 0; i < n; i++) assert.equal((await sub.readMsg()).payload.toString(), String(i));
      });

      it('delivers HPUB as HMSG to header clients and as a stripped MSG to the others', async () => {
        const plain = await open();
        const withHeaders = await open({ headers: true });
        assert.equal(await plain.exchange('SUB h.* 1\r\n'), 'PONG\r\n');
        assert.equal(await withHeaders.exchange('SUB h.* 2\r\n'), 'PONG\r\n');
        const pub = await open({ headers: true });
        const hdr = 'NATS/1.0\r\nX-Key: v\r\n\r\n';
        const h = hdr.length;
        assert.equal(await pub.exchange(`HPUB h.x r.1 ${h} ${h + 5}\r\n${hdr}hello\r\nHPUB h.y 0 2\r\nhi\r\n`), 'PONG\r\n');
        assert.equal(await plain.exchange(''), 'MSG h.x 1 r.1 5\r\nhello\r\nMSG h.y 1 2\r\nhi\r\nPONG\r\n');
        assert.equal(await withHeaders.exchange(''), `HMSG h.x 2 r.1 ${h} ${h + 5}\r\n${hdr}hello\r\nMSG h.y 2 2\r\nhi\r\nPONG\r\n`);
      });

      it('closes without -ERR on HPUB from a client that did not ask for headers', async () => {
        const c = await open();
        c.write('HPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n');
        assert.equal(await c.expectClose(), '');
      });

      it('implements UNSUB <sid> <max> exactly', async () => {
        const c = await open();
        // max ahead of deliveries: ends after max
        assert.equal(await c.exchange('SUB a 1\r\nUNSUB 1 2\r\nPUB a 1\r\n1\r\nPUB a 1\r\n2\r\nPUB a 1\r\n3\r\n'), 'MSG a 1 1\r\n1\r\nMSG a 1 1\r\n2\r\nPONG\r\n');
        // max not above what was delivered: ends at once
        assert.equal(await c.exchange('SUB b 2\r\nPUB b 1\r\n1\r\nPUB b 1\r\n2\r\nUNSUB 2 2\r\nPUB b 1\r\n3\r\n'), 'MSG b 2 1\r\n1\r\nMSG b 2 1\r\n2\r\nPONG\r\n');
        // max counts the deliveries so far
        assert.equal(
          await c.exchange('SUB c 3\r\nPUB c 1\r\n1\r\nPUB c 1\r\n2\r\nUNSUB 3 3\r\nPUB c 1\r\n3\r\nPUB c 1\r\n4\r\n'),
          'MSG c 3 1\r\n1\r\nMSG c 3 1\r\n2\r\nMSG c 3 1\r\n3\r\nPONG\r\n',
        );
        // 0 or not a number: at once; unknown sid: fine
        assert.equal(await c.exchange('SUB d 4\r\nUNSUB 4 0\r\nSUB e 5\r\nUNSUB 5 x\r\nUNSUB 42\r\nPUB d 1\r\n1\r\nPUB e 1\r\n1\r\n'), 'PONG\r\n');
      });

      it('ignores a SUB that reuses a sid', async () => {
        const c = await open();
        assert.equal(await c.exchange('SUB foo 1\r\nSUB bar 1\r\nPUB foo 1\r\na\r\nPUB bar 1\r\nb\r\n'), 'MSG foo 1 1\r\na\r\nPONG\r\n');
      });

      it('treats wildcards as whole tokens only and matches wildcard publish subjects like literals', async () => {
        const c = await open();
        assert.equal(
          await c.exchange('SUB a.b* 1\r\nSUB x.*.z 2\r\nPUB a.bc 1\r\n1\r\nPUB a.b* 1\r\n2\r\nPUB x.y.z 1\r\n3\r\nPUB x.y 1\r\n4\r\n'),
          'MSG a.b* 1 1\r\n2\r\nMSG x.y.z 2 1\r\n3\r\nPONG\r\n',
        );
        assert.equal(await c.exchange('SUB w.* 3\r\nPUB w.* 1\r\n5\r\n'), 'MSG w.* 3 1\r\n5\r\nPONG\r\n');
      });

      it('does not deliver to itself with echo=false', async () => {
        const c = await open({ echo: false });
        const other = await open();
        assert.equal(await other.exchange('SUB e 9\r\n'), 'PONG\r\n');
        assert.equal(await c.exchange('SUB e 1\r\nPUB e 1\r\nx\r\n'), 'PONG\r\n');
        assert.equal(await other.exchange(''), 'MSG e 9 1\r\nx\r\nPONG\r\n');
      });

      it('delivers to every plain subscriber and to one member per queue group', async () => {
        const c = await open();
        const out = await c.exchange('SUB q 1\r\nSUB q g1 2\r\nSUB q g1 3\r\nSUB q g2 4\r\nPUB q 1\r\nx\r\n');
        const sids = [...out.matchAll(/MSG q (\d+) 1\r\nx\r\n/g)].map((m) => m[1]).sort();
        assert.equal(sids.length, 3, out);
        assert.equal(sids[0], '1');
        assert.ok(['2', '3'].includes(sids[1]));
        assert.equal(sids[2], '4');
      });
    });

    // -------------------------------------------------------------------------------------------
    describe('no responders', () => {
      const nr = { headers: true, no_responders: true };

      it('sends the 503 status when a request reached nobody', async () => {
        const c = await open(nr);
        assert.equal(await c.exchange('SUB _INBOX.* 7\r\nPUB svc _INBOX.abc 2\r\nhi\r\n'), 'HMSG _INBOX.abc 7 16 16\r\nNATS/1.0 503\r\n\r\n\r\nPONG\r\n');
      });

      it('needs a plain subscription of the requester on the reply subject', async () => {
        const c = await open(nr);
        assert.equal(await c.exchange('PUB svc rep 2\r\nhi\r\nSUB rep q 1\r\nPUB svc rep 2\r\nhi\r\n'), 'PONG\r\n');
      });

      it('is not sent without no_responders, nor when someone got the request', async () => {
        const c = await open({ headers: true });
        assert.equal(await c.exchange('SUB rep 1\r\nPUB svc rep 2\r\nhi\r\n'), 'PONG\r\n');
        const d = await open(nr);
        assert.equal(await d.exchange('SUB rep 1\r\nSUB svc 2\r\nPUB svc rep 2\r\nhi\r\n'), 'MSG svc 2 rep 2\r\nhi\r\nPONG\r\n');
      });

      it('counts the requester itself as nobody with echo=false, and does not count the 503 against UNSUB max', async () => {
        const c = await open({ ...nr, echo: false });
        assert.equal(
          await c.exchange('SUB rep 1\r\nUNSUB 1 1\r\nSUB svc 2\r\nPUB svc rep 2\r\nhi\r\nPUB svc rep 2\r\nhi\r\n'),
          'HMSG rep 1 16 16\r\nNATS/1.0 503\r\n\r\n\r\nHMSG rep 1 16 16\r\nNATS/1.0 503\r\n\r\n\r\nPONG\r\n',
        );
      });

      it("refuses no_responders without headers: -ERR 'no responders requires headers support', closed", async () => {
        const c = await open({ no_responders: true });
        assert.equal(await c.expectClose(), err('no responders requires headers support'));
      });
    });

    // -------------------------------------------------------------------------------------------
    describe('errors', () => {
      it("Unknown Protocol Operation closes the connection", async () => {
        for (const bad of ['FOO\r\n', '\r\n', 'PUBX foo 1\r\n', 'MSG foo 1 1\r\na\r\n', 'SUB\r\n', 'UNSUB\r\n', 'CONNEXT {}\r\n']) {
          const c = await open();
          c.write(bad);
          assert.equal(await c.expectClose(), err('Unknown Protocol Operation'), JSON.stringify(bad));
        }
      });

      it("Invalid Subject keeps the connection open", async () => {
        const c = await open({ verbose: true });
        assert.equal(await c.exchange(''), '+OK\r\nPONG\r\n');
        for (const subject of ['foo..bar', 'foo.>.bar', '.foo', 'foo.', '>.>']) {
          assert.equal(await c.exchange(`SUB ${subject} 1\r\n`), `${err('Invalid Subject')}PONG\r\n`, subject);
        }
        assert.equal(await c.exchange('SUB ok.> 2\r\nPUB ok.1 1\r\nx\r\n'), '+OK\r\n+OK\r\nMSG ok.1 2 1\r\nx\r\nPONG\r\n');
      });

      it("Invalid Publish Subject (pedantic) keeps the connection open and still processes the message", async () => {
        const c = await open({ verbose: true, pedantic: true });
        assert.equal(await c.exchange('SUB foo.* 1\r\n'), '+OK\r\n+OK\r\nPONG\r\n');
        assert.equal(await c.exchange('PUB foo.* 1\r\nx\r\n'), `${err('Invalid Publish Subject')}+OK\r\nMSG foo.* 1 1\r\nx\r\nPONG\r\n`);
        assert.equal(await c.exchange('PUB foo..bar 1\r\nx\r\n'), `${err('Invalid Publish Subject')}+OK\r\nPONG\r\n`);
        const quiet = await open({ verbose: false, pedantic: false });
        assert.equal(await quiet.exchange('SUB > 1\r\nPUB foo..bar 1\r\nx\r\nPUB foo.* 1\r\ny\r\n'), 'MSG foo.* 1 1\r\ny\r\nPONG\r\n');
      });

      it("Maximum Payload Violation is checked from the control line and closes", async () => {
        for (const bad of ['PUB foo 1048577\r\n', 'PUB foo 999999999\r\n']) {
          const c = await open();
          c.write(bad);
          assert.equal(await c.expectClose(), err('Maximum Payload Violation'), bad);
        }
        const h = await open({ headers: true });
        h.write('HPUB foo 12 2000000\r\n');
        assert.equal(await h.expectClose(), err('Maximum Payload Violation'));
      });

      it("maximum control line exceeded closes (args over 4096 bytes, also split across writes)", async () => {
        // "PUB <subject> 1": the argument part is subject + " 1".
        const ok = await open();
        assert.equal(await ok.exchange(`SUB ${'s'.repeat(4094)} 1\r\nPUB ${'s'.repeat(4094)} 1\r\nx\r\n`), `MSG ${'s'.repeat(4094)} 1 1\r\nx\r\nPONG\r\n`);
        const over = await open();
        over.write(`PUB ${'s'.repeat(4095)} 1\r\nx\r\n`);
        assert.equal(await over.expectClose(), err('maximum control line exceeded'));
        const split = await open();
        split.write(`SUB ${'a'.repeat(3000)}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
        split.write(`${'a'.repeat(3000)} 1\r\n`);
        assert.equal(await split.expectClose(), err('maximum control line exceeded'));
      });

      it("invalid client protocol closes", async () => {
        for (const protocol of [2, -1]) {
          const c = await open({ protocol });
          assert.equal(await c.expectClose(), err('invalid client protocol'), String(protocol));
        }
        const zero = await open({ protocol: 0 });
        assert.equal(await zero.exchange(''), 'PONG\r\n');
      });

      it('closes without -ERR on malformed arguments, bad CONNECT JSON, or a client -ERR', async () => {
        const cases = [
          'PUB foo\r\n',
          'PUB foo x\r\n',
          'PUB foo a b 1\r\n',
          'PUB foo -1\r\n',
          'PUB foo +1\r\n',
          'SUB foo\r\n',
          'SUB foo q 1 2\r\n',
          'UNSUB 1 2 3\r\n',
          'HPUB foo 22 2\r\n',
          "-ERR 'bye'\r\n",
          'CONNECT {bad\r\n',
          'CONNECT [1]\r\n',
          'CONNECT {"verbose":"yes"}\r\n',
          'CONNECT {"protocol":"1"}\r\n',
        ];
        for (const bad of cases) {
          const c = await open({ headers: true });
          c.write(bad);
          assert.equal(await c.expectClose(), '', JSON.stringify(bad));
        }
      });

      it('a bad connection never affects the others', async () => {
        const good = await open();
        assert.equal(await good.exchange('SUB iso 1\r\n'), 'PONG\r\n');
        const bad = await open();
        bad.write('PUB iso 1\r\nxyz\r\n');
        await bad.expectClose();
        assert.equal(await good.exchange('PUB iso 2\r\nok\r\n'), 'MSG iso 1 2\r\nok\r\nPONG\r\n');
      });
    });

    // -------------------------------------------------------------------------------------------
    describe('with a token', () => {
      let secured: TestServer;
      before(async () => {
        secured = await startTestServer(kind, { token: TOKEN, authTimeoutMs: 500 });
      });
      after(async () => {
        await secured?.stop();
      });

      it('advertises auth_required in INFO', async () => {
        const c = await open(false, secured);
        assert.equal(c.info.auth_required, true);
        assert.deepEqual(Object.keys(c.info).slice(7, 10), ['headers', 'auth_required', 'max_payload']);
      });

      it('accepts the right auth_token', async () => {
        const c = await open({ auth_token: TOKEN, verbose: true }, secured);
        assert.equal(await c.exchange(''), '+OK\r\nPONG\r\n');
      });

      it("refuses a wrong or missing token, and any op before CONNECT: 'Authorization Violation', closed", async () => {
        for (const connectOpts of [{ auth_token: 'nope' }, {}, { user: 'a', pass: TOKEN }]) {
          const c = await open(connectOpts, secured);
          assert.equal(await c.expectClose(), err('Authorization Violation'), JSON.stringify(connectOpts));
        }
        for (const first of ['PING\r\n', 'PUB foo 1\r\nx\r\n', 'XYZ\r\n']) {
          const c = await open(false, secured);
          c.write(first);
          assert.equal(await c.expectClose(), err('Authorization Violation'), JSON.stringify(first));
        }
        const again = await open({ auth_token: TOKEN }, secured);
        assert.equal(await again.exchange(''), 'PONG\r\n');
        again.write(`CONNECT ${JSON.stringify({ auth_token: 'other' })}\r\n`);
        assert.equal(await again.expectClose(), err('Authorization Violation'));
      });

      it("closes a client that does not CONNECT in time: 'Authentication Timeout'", async () => {
        const c = await open(false, secured);
        assert.equal(await c.expectClose(3_000), err('Authentication Timeout'));
      });

      it('nats client: connects with the token, is refused without it', async () => {
        const nc = await nats(secured, { token: TOKEN });
        const got: string[] = [];
        nc.subscribe('t.x', { max: 1, callback: (_e, m) => got.push(m.string()) });
        nc.publish('t.x', 'ok');
        await nc.flush();
        await waitFor('the message', () => got.length === 1, { timeoutMs: 2_000 });
        assert.deepEqual(got, ['ok']);
        await assert.rejects(
          connect({ servers: secured.url, reconnect: false, token: 'wrong' }),
          (e: NatsError) => e.code === ErrorCode.AuthorizationViolation,
        );
        await assert.rejects(connect({ servers: secured.url, reconnect: false }), (e: NatsError) => e.code === ErrorCode.AuthorizationViolation);
      });
    });

    // -------------------------------------------------------------------------------------------
    describe('with small limits', () => {
      let limited: TestServer;
      before(async () => {
        limited = await startTestServer(kind, { maxPayload: 1024, maxControlLine: 256 });
      });
      after(async () => {
        await limited?.stop();
      });

      it('advertises max_payload and enforces it', async () => {
        const c = await open({}, limited);
        assert.equal(c.info.max_payload, 1024);
        assert.equal(await c.exchange(`SUB p 1\r\nPUB p 1024\r\n${'x'.repeat(1024)}\r\n`), `MSG p 1 1024\r\n${'x'.repeat(1024)}\r\nPONG\r\n`);
        c.write('PUB p 1025\r\n');
        assert.equal(await c.expectClose(), err('Maximum Payload Violation'));
      });

      it('enforces the configured control line limit', async () => {
        const c = await open({}, limited);
        assert.equal(await c.exchange(`SUB ${'k'.repeat(254)} 1\r\n`), 'PONG\r\n');
        c.write(`SUB ${'k'.repeat(255)} 1\r\n`);
        assert.equal(await c.expectClose(), err('maximum control line exceeded'));
      });
    });

    // -------------------------------------------------------------------------------------------
    describe('with a fast ping', () => {
      let pinging: TestServer;
      before(async () => {
        pinging = await startTestServer(kind, { pingIntervalMs: 200, maxPingsOut: 2 });
      });
      after(async () => {
        await pinging?.stop();
      });

      it("sends PINGs and closes after 2 unanswered: 'Stale Connection'", async () => {
        const c = await open({}, pinging);
        assert.equal(await c.expectClose(3_000), `PING\r\nPING\r\n${err('Stale Connection')}`);
      });

      it('keeps a client that answers the PINGs', async () => {
        const c = await open({}, pinging);
        for (let i = 0; i < 4; i++) {
          assert.equal(await c.readLine(2_000), 'PING');
          c.write('PONG\r\n');
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
        assert.equal(c.closed, false);
      });

      it('keeps a nats client (it answers PINGs itself)', async () => {
        const nc = await nats(pinging);
        await new Promise((resolve) => setTimeout(resolve, 800));
        assert.equal(nc.isClosed(), false);
        await nc.flush();
      });
    });

    // -------------------------------------------------------------------------------------------
    describe('nats client', () => {
      it('publishes and subscribes', async () => {
        const nc = await nats();
        const got: string[] = [];
        const sub = nc.subscribe('greet.joe', { callback: (_e, m) => got.push(m.string()) });
        nc.publish('greet.joe', 'hello');
        nc.publish('greet.joe', '');
        nc.publish('greet.bob', 'not for joe');
        await nc.flush();
        await waitFor('two messages', () => got.length >= 2, { timeoutMs: 2_000 });
        sub.unsubscribe();
        assert.deepEqual(got, ['hello', '']);
      });

      it('matches * (one token) and > (one or more tokens; foo.> does not match foo)', async () => {
        const pub = await nats();
        const nc = await nats();
        const got: Record<string, string[]> = { star: [], gt: [], mid: [] };
        nc.subscribe('foo.*', { callback: (_e, m) => got.star.push(m.subject) });
        nc.subscribe('foo.>', { callback: (_e, m) => got.gt.push(m.subject) });
        nc.subscribe('*.b.*', { callback: (_e, m) => got.mid.push(m.subject) });
        await nc.flush();
        for (const s of ['foo', 'foo.a', 'foo.b.c', 'x.b.y', 'foo.b']) pub.publish(s);
        await pub.flush();
        await nc.flush();
        await waitFor('deliveries', () => got.star.length + got.gt.length + got.mid.length >= 7, { timeoutMs: 2_000 });
        assert.deepEqual(got.star.sort(), ['foo.a', 'foo.b']);
        assert.deepEqual(got.gt.sort(), ['foo.a', 'foo.b', 'foo.b.c']);
        assert.deepEqual(got.mid.sort(), ['foo.b.c', 'x.b.y']);
      });

      it('queue groups: each message to exactly one member per group; plain subscribers get all', async () => {
        const members = await Promise.all([1, 2, 3, 4, 5, 6].map(() => nats()));
        const pub = await nats();
        const perGroup: Record<string, Map<string, number>> = { a: new Map(), b: new Map() };
        const perMember = new Map<string, number>();
        const plain = [0, 0];
        members.forEach((nc, i) => {
          const group = i < 3 ? 'a' : 'b';
          nc.subscribe('work', {
            queue: group,
            callback: (_e, m) => {
              const g = perGroup[group];
              g.set(m.string(), (g.get(m.string()) ?? 0) + 1);
              perMember.set(String(i), (perMember.get(String(i)) ?? 0) + 1);
            },
          });
        });
        members[0].subscribe('work', { callback: () => plain[0]++ });
        members[4].subscribe('work', { callback: () => plain[1]++ });
        await Promise.all(members.map((nc) => nc.flush()));
        const n = 300;
        for (let i = 0; i < n; i++) pub.publish('work', String(i));
        await pub.flush();
        await waitFor('all deliveries', () => perGroup.a.size === n && perGroup.b.size === n && plain[0] === n && plain[1] === n, { timeoutMs: 5_000 });
        await Promise.all(members.map((nc) => nc.flush()));
        for (const g of ['a', 'b']) for (const count of perGroup[g].values()) assert.equal(count, 1);
        assert.equal(perMember.size, 6, 'every member got some messages');
      });

      it('request/reply', async () => {
        const service = await nats();
        const client = await nats();
        service.subscribe('svc.echo', { callback: (_e, m: Msg) => m.respond(`echo:${m.string()}`) });
        await service.flush();
        const replies = await Promise.all([1, 2, 3].map((i) => client.request('svc.echo', String(i), { timeout: 2_000 })));
        assert.deepEqual(
          replies.map((r) => r.string()),
          ['echo:1', 'echo:2', 'echo:3'],
        );
      });

      it('no responders: the request rejects with the 503 error', async () => {
        const client = await nats();
        await assert.rejects(client.request('svc.nobody', 'x', { timeout: 2_000 }), (e: NatsError) => e.code === ErrorCode.NoResponders);
      });

      it('round-trips headers', async () => {
        const nc = await nats();
        const got: Msg[] = [];
        nc.subscribe('hdr', { max: 1, callback: (_e, m) => got.push(m) });
        const h = natsHeaders();
        h.set('X-Devbox', 'yes');
        h.append('X-Multi', 'a');
        h.append('X-Multi', 'b');
        nc.publish('hdr', 'body', { headers: h });
        await nc.flush();
        const [m] = await waitFor('the message', () => (got.length === 1 ? got : undefined), { timeoutMs: 2_000 });
        assert.equal(m.headers?.get('X-Devbox'), 'yes');
        assert.deepEqual(m.headers?.values('X-Multi'), ['a', 'b']);
        assert.equal(m.string(), 'body');
      });

      it('auto-unsubscribes after max messages', async () => {
        const nc = await nats();
        const pub = await nats();
        const got: string[] = [];
        const sub = nc.subscribe('auto', { max: 3, callback: (_e, m) => got.push(m.string()) });
        await nc.flush();
        for (let i = 0; i < 6; i++) pub.publish('auto', String(i));
        await pub.flush();
        await nc.flush();
        await waitFor('sub closed', () => sub.isClosed(), { timeoutMs: 2_000 });
        assert.deepEqual(got, ['0', '1', '2']);
      });

      it('drains a subscription and a connection', async () => {
        const nc = await nats();
        const pub = await nats();
        let got = 0;
        const sub = nc.subscribe('drain.me', { callback: () => got++ });
        await nc.flush();
        for (let i = 0; i < 100; i++) pub.publish('drain.me');
        await pub.flush();
        await nc.flush();
        await sub.drain();
        assert.equal(got, 100);
        assert.ok(sub.isClosed());
        const other = await nats();
        other.subscribe('drain.conn', { callback: () => got++ });
        await other.flush();
        pub.publish('drain.conn');
        await pub.flush();
        await other.drain();
        assert.ok(other.isClosed());
        assert.equal(got, 101);
      });
    });
  });
}
