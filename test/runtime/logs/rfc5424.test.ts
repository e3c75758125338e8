// What a drain receives: RFC 5424 messages exactly as Loggregator's syslog agent writes them (its own
// test vectors, loggregator-agent-release src/pkg/egress/syslog/rfc5424_test.go and tcp_test.go),
// RFC 6587 octet counting, and the drain URLs it accepts (schemes, ports, parameters, what is shown).
import assert from 'node:assert/strict';
import { drainHostname } from '../../../src/runtime/controller/controllers/syslog-drains.js';
import { anonymizeDrainUrl, parseDrainUrl, type DrainTarget } from '../../../src/runtime/logs/drain-url.js';
import { octetCounted, OctetCountingReader, processId, rfc5424Timestamp, toRfc5424, type SyslogEnvelope } from '../../../src/runtime/logs/rfc5424.js';

/** Loggregator's test envelope: 12,345 µs after the epoch, app test-app-id. */
const cfEnvelope = (sourceType: string, instance: string, message: string, type: 'OUT' | 'ERR' = 'OUT'): SyslogEnvelope => ({
  timestamp: 12_345_000,
  app_guid: 'test-app-id',
  source_type: sourceType,
  source_instance: instance,
  message_type: type,
  message,
});
const text = (b: Buffer) => b.toString('utf8');

describe('syslog drains: RFC 5424 and octet counting', () => {
  it('writes a log line as Loggregator does (its own test vectors)', () => {
    assert.equal(
      text(toRfc5424(cfEnvelope('MY TASK', '2', 'just a test'), { hostname: 'test-hostname' })),
      '<14>1 1970-01-01T00:00:00.012345+00:00 test-hostname test-app-id [MY-TASK/2] - [tags@47450 source_type="MY TASK"] just a test\n',
    );
    assert.equal(
      text(toRfc5424(cfEnvelope('MY TASK', '2', 'just a test', 'ERR'), { hostname: 'test-hostname' })),
      '<11>1 1970-01-01T00:00:00.012345+00:00 test-hostname test-app-id [MY-TASK/2] - [tags@47450 source_type="MY TASK"] just a test\n',
      'stderr is user.err',
    );
    assert.equal(
      text(toRfc5424(cfEnvelope('OTHER', '1', 'no null `\0` please'), { hostname: 'test-hostname' })),
      '<14>1 1970-01-01T00:00:00.012345+00:00 test-hostname test-app-id [OTHER/1] - [tags@47450 source_type="OTHER"] no null `` please\n',
      'NUL bytes removed',
    );
  });

  it('writes devbox’s own lines: the app, the router, the platform; a newline is never doubled', () => {
    const envelope: SyslogEnvelope = { timestamp: 1_796_548_975_123_456_768, app_guid: '0c6f2b0e-1111-4222-8333-444455556666', source_type: 'APP/PROC/WEB', source_instance: '0', message_type: 'OUT', message: 'listening on 8081\n' };
    assert.equal(
      text(toRfc5424(envelope, { hostname: 'devbox.dev.hello' })),
      '<14>1 2026-12-06T09:22:55.123456+00:00 devbox.dev.hello 0c6f2b0e-1111-4222-8333-444455556666 [APP/PROC/WEB/0] - [tags@47450 source_type="APP/PROC/WEB"] listening on 8081\n',
    );
    assert.match(text(toRfc5424({ ...envelope, source_type: 'RTR', message: 'a.localhost - [..] "GET / HTTP/1.1" 200' }, { hostname: 'h' })), / \[RTR\/0\] - \[tags@47450 source_type="RTR"\] a\.localhost - \[\.\.\] "GET \/ HTTP\/1\.1" 200\n$/);
    assert.match(text(toRfc5424({ ...envelope, source_type: 'LGR' }, { hostname: 'h' })), / \[LGR\/0\] /);
  });

  it('escapes ", \\ and ] in structured data, and leaves it out when the drain asks', () => {
    assert.match(text(toRfc5424(cfEnvelope('A"]\\B', '0', 'm'), { hostname: 'h' })), /\[tags@47450 source_type="A\\"\\]\\\\B"\] m\n$/);
    assert.equal(text(toRfc5424(cfEnvelope('MY TASK', '2', 'just a test'), { hostname: 'test-hostname', omitMetadata: true })), '<14>1 1970-01-01T00:00:00.012345+00:00 test-hostname test-app-id [MY-TASK/2] - - just a test\n');
  });

  it('writes the time as Go does: microseconds, cut not rounded, trailing zeros and a bare dot dropped', () => {
    assert.equal(rfc5424Timestamp(0), '1970-01-01T00:00:00+00:00');
    assert.equal(rfc5424Timestamp(1_500_000_000), '1970-01-01T00:00:01.5+00:00');
    assert.equal(rfc5424Timestamp(1_999_999), '1970-01-01T00:00:00.001999+00:00', 'cut: 1,999,999 ns is 1,999 µs');
    assert.equal(rfc5424Timestamp(-5), '1970-01-01T00:00:00+00:00', 'nothing before the epoch');
    assert.equal(rfc5424Timestamp(Number.NaN), '1970-01-01T00:00:00+00:00');
  });

  it('names the process [SOURCE/INSTANCE], printable and at most 128 characters', () => {
    assert.equal(processId('APP/PROC/WEB', '3'), '[APP/PROC/WEB/3]');
    assert.equal(processId('app/task/migrate', '0'), '[APP/TASK/MIGRATE/0]', 'upper-cased');
    assert.equal(processId('MY  TASK--', ''), '[MY-TASK]', 'white space as one dash, trailing dashes and an empty instance dropped');
    const long = processId('APP/PROC/WEB', 'x'.repeat(300));
    assert.equal(long.length, 128);
    assert.ok(long.startsWith('[APP/PROC/WEB/x') && long.endsWith(']'));
    assert.equal(processId('APP/PROC/WEB', '0 é\t1'), '[APP/PROC/WEB/01]');
  });

  it('counts octets, not characters, and a reader splits frames back however the bytes arrive', () => {
    const message = toRfc5424(cfEnvelope('APP/PROC/WEB', '0', 'héllo ✓ wörld'), { hostname: 'h' });
    const framed = octetCounted(message);
    const space = framed.indexOf(0x20);
    assert.equal(Number(framed.subarray(0, space).toString()), message.length);
    assert.ok(message.length > text(message).length, 'multi-byte characters count as their bytes');
    // Loggregator's TCP test: "<length> <14>1 …" with the length of the message alone.
    const cf = octetCounted(toRfc5424(cfEnvelope('OTHER', '1', 'no null `\0` please'), { hostname: 'test-hostname' }));
    assert.equal(text(cf), '128 <14>1 1970-01-01T00:00:00.012345+00:00 test-hostname test-app-id [OTHER/1] - [tags@47450 source_type="OTHER"] no null `` please\n');

    const stream = Buffer.concat([framed, cf, framed]);
    for (const step of [1, 3, 7, stream.length]) {
      const reader = new OctetCountingReader();
      const out: Buffer[] = [];
      for (let i = 0; i < stream.length; i += step) out.push(...reader.push(stream.subarray(i, i + step)));
      assert.deepEqual(out.map(text), [text(message), text(cf).slice(4), text(message)], `chunks of ${step}`);
    }
    assert.throws(() => new OctetCountingReader().push(Buffer.from('<14>1 no count\n')), /octet count/);
    assert.throws(() => new OctetCountingReader().push(Buffer.from('0123456789012345')), /start with its length/);
  });
});

describe('syslog drains: drain URLs', () => {
  const ok = (raw: string): DrainTarget => {
    const parsed = parseDrainUrl(raw);
    assert.ok(parsed.ok, `${raw}: ${parsed.ok ? '' : parsed.reason}`);
    return parsed.target;
  };

  it('takes syslog, syslog-tls, https and http, with their default ports', () => {
    assert.deepEqual([ok('syslog://Logs.Example.com:5140'), ok('syslog://logs.example.com'), ok('syslog-tls://logs.example.com'), ok('https://logs.example.com/in'), ok('http://127.0.0.1:8088')].map((t) => [t.scheme, t.host, t.port]), [
      ['syslog', 'logs.example.com', 5140],
      ['syslog', 'logs.example.com', 514],
      ['syslog-tls', 'logs.example.com', 6514],
      ['https', 'logs.example.com', 443],
      ['http', '127.0.0.1', 8088],
    ]);
    assert.equal(ok('syslog://[::1]:514').host, '::1');
  });

  it('turns an HTTP drain’s user information into basic auth, and never shows it or the query', () => {
    const t = ok('https://us%40er:p%3Ass@logs.example.com:8443/drain/path?token=s3cret&x=1');
    assert.equal(t.authorization, `Basic ${Buffer.from('us@er:p:ss').toString('base64')}`);
    assert.equal(t.path, '/drain/path?token=s3cret&x=1');
    assert.equal(t.anonymized, 'https://logs.example.com:8443/drain/path');
    assert.equal(anonymizeDrainUrl('syslog://user:pw@h:1?a=b'), 'syslog://h:1');
    assert.equal(ok('syslog://user:pw@h:1').authorization, undefined, 'only HTTP drains send it');
  });

  it('reads Loggregator’s parameters: metadata, and drains that want no logs', () => {
    assert.equal(ok('syslog://h:1?disable-metadata=true').omitMetadata, true);
    assert.equal(ok('syslog://h:1?omit-metadata=true').omitMetadata, true);
    assert.equal(ok('syslog://h:1?disable-metadata=false').omitMetadata, false);
    assert.equal(ok('syslog://h:1').logs, true);
    assert.equal(ok('syslog://h:1?drain-type=logs').logs, true);
    assert.equal(ok('syslog://h:1?drain-type=all').logs, true);
    assert.equal(ok('syslog://h:1?drain-type=metrics').logs, false);
    assert.equal(ok('syslog://h:1?drain-data=traces').logs, false);
    assert.equal(ok('syslog://h:1?drain-type=metrics&drain-data=all').logs, true, 'drain-data wins');
  });

  it('refuses what it cannot drain to, saying why', () => {
    const reason = (raw: string) => {
      const parsed = parseDrainUrl(raw);
      assert.ok(!parsed.ok, raw);
      return parsed.reason;
    };
    assert.match(reason('ftp://logs.example.com'), /^Invalid Scheme ftp for syslog drain url ftp:\/\/logs\.example\.com\/? \(devbox drains to syslog:\/\/, syslog-tls:\/\/, https:\/\/, http:\/\/\)$/);
    assert.match(reason('https-batch://logs.example.com'), /Invalid Scheme https-batch/);
    assert.match(reason('not a url'), /Cannot parse syslog drain URL/);
    assert.match(reason('syslog:///path-only'), /No hostname found/);
  });
});

describe('syslog drains: the hostname Cloud Controller gives a drained app', () => {
  it('is org.space.app, each name cleaned as Cloud Controller does', () => {
    assert.equal(drainHostname('devbox', 'dev', 'hello'), 'devbox.dev.hello');
    assert.equal(drainHostname('My  Org', 'dev space!', 'my_app--'), 'My-Org.dev-space.myapp');
    assert.equal(drainHostname('ünïcode', 'a\tb', '-x-'), 'ncode.a-b.-x');
    assert.equal(drainHostname('o'.repeat(70), 's', 'a').split('.')[0].length, 63);
  });
});
