import assert from 'node:assert/strict';
import { Parser, parseOps, type ParsedOp, type ParserHandler } from '../../../src/runtime/bus/parser.js';

const STREAM =
  'CONNECT {"verbose":false,"name":"t"}\r\n' +
  'PING\r\n' +
  'pong\r\n' +
  'SUB foo.* 1\r\n' +
  'SUB\tbar  q  2\r\n' +
  'PUB foo.a 5\r\nhello\r\n' +
  'PUB foo.b reply.x 0\r\n\r\n' +
  'PUB foo.c 4\r\n\r\n\r\n\r\n' +
  'HPUB foo.d r 12 14\r\nNATS/1.0\r\n\r\nhi\r\n' +
  'UNSUB 1\r\n' +
  'UNSUB 2 10\n' +
  '+OK\r\n' +
  "-ERR 'x'\r\n";

const EXPECTED: ParsedOp[] = [
  { op: 'CONNECT', json: '{"verbose":false,"name":"t"}' },
  { op: 'PING' },
  { op: 'PONG' },
  { op: 'SUB', subject: 'foo.*', sid: '1' },
  { op: 'SUB', subject: 'bar', queue: 'q', sid: '2' },
  { op: 'PUB', subject: 'foo.a', payload: Buffer.from('hello') },
  { op: 'PUB', subject: 'foo.b', reply: 'reply.x', payload: Buffer.alloc(0) },
  { op: 'PUB', subject: 'foo.c', payload: Buffer.from('\r\n\r\n') },
  { op: 'HPUB', subject: 'foo.d', reply: 'r', headers: Buffer.from('NATS/1.0\r\n\r\n'), payload: Buffer.from('hi') },
  { op: 'UNSUB', sid: '1' },
  { op: 'UNSUB', sid: '2', max: 10 },
  { op: '+OK' },
  { op: '-ERR', text: "'x'" },
];

describe('bus parser', () => {
  it('parses many ops in one chunk into typed ops', () => {
    assert.deepEqual(parseOps([STREAM]), EXPECTED);
  });

  it('gives the same ops however the stream is split (every split point, and byte by byte)', () => {
    const bytes = Buffer.from(STREAM, 'latin1');
    for (let i = 1; i < bytes.length; i++) {
      assert.deepEqual(parseOps([bytes.subarray(0, i), bytes.subarray(i)]), EXPECTED, `split at ${i}`);
    }
    const single = [...bytes].map((b) => Buffer.from([b]));
    assert.deepEqual(parseOps(single), EXPECTED);
  });

  it('keeps payload bytes as they are (binary, CR/LF inside)', () => {
    const payload = Buffer.from([0, 13, 10, 255, 80, 85, 66, 13, 10]);
    const ops = parseOps([Buffer.concat([Buffer.from(`PUB bin ${payload.length}\r\n`), payload, Buffer.from('\r\n')])]);
    assert.deepEqual(ops, [{ op: 'PUB', subject: 'bin', payload }]);
  });

  it('reports unknown ops, blank lines and bad payload trailers', () => {
    for (const input of ['FOO\r\n', '\r\n', 'PUBX a 1\r\n', 'SUB\r\n', 'PUB a 1\r\nxy\r\n', 'PUB a 1\r\nx\n', 'MSG a 1 1\r\n']) {
      const ops = parseOps([input]);
      assert.deepEqual(ops.at(-1), { op: 'ERROR', kind: 'unknown_op', detail: (ops.at(-1) as { detail: string }).detail }, JSON.stringify(input));
    }
  });

  it('reports argument errors as bad_args', () => {
    for (const input of ['PUB a\r\n', 'PUB a b c 1\r\n', 'PUB a x\r\n', 'PUB a 1234567890\r\n', 'SUB a\r\n', 'SUB a b c d\r\n', 'UNSUB\t\r\n', 'UNSUB 1 2 3\r\n', 'HPUB a 5 2\r\n', 'HPUB a 1\r\n']) {
      const ops = parseOps([input]);
      assert.equal(ops.length, 1, input);
      assert.equal((ops[0] as { kind: string }).kind, 'bad_args', JSON.stringify(input));
    }
  });

  it('checks the max payload from the control line, before any payload byte', () => {
    const ops = parseOps(['PUB a 11\r\n'], { maxPayload: 10 });
    assert.equal((ops[0] as { kind: string }).kind, 'max_payload');
    assert.deepEqual(parseOps(['PUB a 10\r\n0123456789\r\n'], { maxPayload: 10 }), [{ op: 'PUB', subject: 'a', payload: Buffer.from('0123456789') }]);
    assert.equal((parseOps(['HPUB a 2 11\r\n'], { maxPayload: 10 })[0] as { kind: string }).kind, 'max_payload');
  });

  it('enforces the max control line at the line end and while a line is split', () => {
    assert.equal(parseOps([`SUB ${'a'.repeat(8)} 1\r\n`], { maxControlLine: 10 }).length, 1);
    assert.equal((parseOps([`SUB ${'a'.repeat(9)} 1\r\n`], { maxControlLine: 10 })[0] as { kind: string }).kind, 'max_control_line');
    // A CR ending a chunk is not part of the line.
    assert.deepEqual(parseOps(['SUB aaaaaa 1\r', '\n'], { maxControlLine: 8 }), [{ op: 'SUB', subject: 'aaaaaa', sid: '1' }]);
    // Never gets a line end: the limit still trips once the carried-over part is too long.
    const ops = parseOps(['SUB aaaaaa', 'aaaaaaaa'], { maxControlLine: 10 });
    assert.equal((ops[0] as { kind: string }).kind, 'max_control_line');
  });

  it('refuses HPUB when headers are off', () => {
    assert.equal((parseOps(['HPUB a 0 0\r\n\r\n'], { headers: false })[0] as { kind: string }).kind, 'headers_not_supported');
  });

  it('refuses anything but CONNECT while auth is pending', () => {
    const seen: string[] = [];
    const handler: ParserHandler = {
      onConnect: () => {
        seen.push('CONNECT');
        parser.awaitingConnect = false;
      },
      onInfo: () => seen.push('INFO'),
      onPub: () => seen.push('PUB'),
      onSub: () => seen.push('SUB'),
      onUnsub: () => seen.push('UNSUB'),
      onPing: () => seen.push('PING'),
      onPong: () => seen.push('PONG'),
      onOk: () => seen.push('+OK'),
      onErr: () => seen.push('-ERR'),
      onError: (kind) => seen.push(`ERROR:${kind}`),
    };
    const parser = new Parser(handler);
    parser.awaitingConnect = true;
    parser.parse(Buffer.from('connect {}\r\nPING\r\n'));
    assert.deepEqual(seen, ['CONNECT', 'PING']);
    const strict = new Parser(handler);
    strict.awaitingConnect = true;
    seen.length = 0;
    strict.parse(Buffer.from('PING\r\n'));
    assert.deepEqual(seen, ['ERROR:auth']);
  });

  it('reads UNSUB max "not a number" as -1', () => {
    assert.deepEqual(parseOps(['UNSUB 1 x\r\n']), [{ op: 'UNSUB', sid: '1', max: -1 }]);
  });

  it('stops after an error', () => {
    const ops = parseOps(['PING\r\nBAD\r\nPING\r\n']);
    assert.deepEqual(
      ops.map((o) => o.op),
      ['PING', 'ERROR'],
    );
  });
});
