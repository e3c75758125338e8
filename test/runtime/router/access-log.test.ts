// The RTR access-log line as bytes (writeAccessLogMessage): the same line, escaped the same way, as
// a plain template escaped by JSON.stringify would give, whatever a client puts in its request.
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { accessLogMessage, escapeForJson, unescapeMessage } from '../../../src/runtime/router/handlers/access-log.js';
import type { RequestInfo } from '../../../src/runtime/router/handlers/types.js';
import type { RequestHead } from '../../../src/runtime/router/http.js';
import type { Endpoint } from '../../../src/runtime/router/registry.js';

type HeadFields = Pick<RequestHead, 'method' | 'target' | 'minor' | 'referer' | 'userAgent' | 'xForwardedFor' | 'xForwardedProto'>;

function requestInfo(head: Partial<HeadFields>, fields: Partial<RequestInfo> = {}): RequestInfo {
  const endpoint = { key: '127.0.0.1:61001', app: 'app-guid', index: '3', privateInstanceId: 'instance-guid' } as Endpoint;
  return {
    id: '6f1c2d3e-1111-4222-8333-944455556666',
    startedAt: Date.UTC(2026, 10, 21, 10, 0, 0, 123),
    startedHr: 1000,
    finishedHr: 1001.234567,
    host: 'app.localhost',
    clientIp: '127.0.0.1',
    clientPort: 51234,
    tls: false,
    status: 200,
    bytesIn: 0,
    bytesOut: 13,
    routerError: '',
    endpoint,
    head: { method: 'GET', target: '/path?q=1', minor: 1, ...head } as RequestHead,
    ...fields,
  };
}

/** The line as gorouter writes it, built the plain way: a quoted value's quotes become \". */
function expectedLine(req: RequestInfo, responseTime: string): string {
  const q = (v: string | undefined) => (v ? `"${v.replace(/"/g, '\\"')}"` : '"-"');
  const h = req.head;
  const xff = h.xForwardedFor === undefined ? req.clientIp : `${h.xForwardedFor}, ${req.clientIp}`;
  return (
    `${req.host} - [${new Date(req.startedAt).toISOString()}] "${h.method} ${h.target} HTTP/1.${h.minor}" ${req.status} ${req.bytesIn} ${req.bytesOut} ` +
    `${q(h.referer)} ${q(h.userAgent)} "${req.clientIp}:${req.clientPort}" ${q(req.endpoint?.key)} x_forwarded_for:${q(xff)} ` +
    `x_forwarded_proto:${q(h.xForwardedProto ?? (req.tls ? 'https' : 'http'))} vcap_request_id:${q(req.id)} response_time:${responseTime} app_id:${q(req.endpoint?.app)} ` +
    `app_index:${q(req.endpoint?.index)} instance_id:${q(req.endpoint?.privateInstanceId)} x_cf_routererror:${q(req.routerError)}`
  );
}

describe('router access-log line', () => {
  it('writes the gorouter line, escaped exactly as JSON.stringify escapes it', () => {
    const req = requestInfo({});
    const line = expectedLine(req, '0.001235');
    assert.equal(accessLogMessage(req), escapeForJson(line));
    assert.equal(unescapeMessage(accessLogMessage(req)), line);
  });

  it('says x_forwarded_proto "https" for a request that came over the TLS port, unless the client said otherwise', () => {
    const secure = requestInfo({}, { tls: true });
    assert.match(unescapeMessage(accessLogMessage(secure)), / x_forwarded_proto:"https" /);
    assert.equal(unescapeMessage(accessLogMessage(secure)), expectedLine(secure, '0.001235'));
    assert.match(unescapeMessage(accessLogMessage(requestInfo({ xForwardedProto: 'http' }, { tls: true }))), / x_forwarded_proto:"http" /);
  });

  it('escapes quotes, backslashes and control characters from the client, and encodes the rest as UTF-8', () => {
    const req = requestInfo(
      {
        method: 'POST',
        target: '/a"b\\c\u00e9\u00c0',
        minor: 0,
        userAgent: 'evil" \\ "agent\t\u0001\u007f',
        referer: 'http://ref/\u00ff\u20ac\ud83d\ude00',
        xForwardedFor: '10.0.0.1, "x"',
        xForwardedProto: 'https',
      },
      { status: 404, bytesIn: 1234567, bytesOut: 0, routerError: 'unknown_route', host: 'ap\u00e9.localhost' },
    );
    const line = expectedLine(req, '0.001235');
    assert.equal(accessLogMessage(req), escapeForJson(line));
    assert.equal(unescapeMessage(accessLogMessage(req)), line);
  });

  it('writes the response time in seconds to the microsecond, and "-" for what is not there', () => {
    const slow = requestInfo({}, { startedHr: 500, finishedHr: 3000.0004 });
    assert.match(unescapeMessage(accessLogMessage(slow)), / response_time:2\.500000 /);
    const noEndpoint = requestInfo({}, { endpoint: undefined, finishedHr: 1000 });
    const line = unescapeMessage(accessLogMessage(noEndpoint));
    assert.match(line, / "127\.0\.0\.1:51234" "-" x_forwarded_for:/);
    assert.match(line, / response_time:0\.000000 app_id:"-" app_index:"-" instance_id:"-" /);
  });

  it('follows a registration refreshed with other ids', () => {
    const req = requestInfo({});
    assert.match(unescapeMessage(accessLogMessage(req)), / app_id:"app-guid" app_index:"3" instance_id:"instance-guid" /);
    const endpoint = req.endpoint!;
    endpoint.app = 'other"app';
    endpoint.index = '4';
    endpoint.privateInstanceId = 'other-instance';
    assert.equal(unescapeMessage(accessLogMessage(req)), expectedLine(req, '0.001235'));
  });

  it('uses the time now for a request not finished yet', () => {
    const req = requestInfo({}, { startedHr: performance.now() - 2, finishedHr: 0 });
    const seconds = Number(/response_time:(\S+)/.exec(unescapeMessage(accessLogMessage(req)))![1]);
    assert.ok(seconds >= 0.002 && seconds < 1, String(seconds));
  });
});
