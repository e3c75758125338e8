// One access-log line per request, shaped like gorouter's, published to the app's logs as source
// RTR (the logs component shows them as [RTR/0]). Requests that reached no app (404s) have no app
// to log to and are only counted.
import { performance } from 'node:perf_hooks';
import { appLogSubject, nowNs, type LogEnvelope } from '../../common/app-log.js';
import type { NatsConnection } from '../../common/bus.js';
import type { Handler, RequestInfo } from './types.js';

/**
 * Where access-log lines go: the app's guid and the line as it appears inside a JSON string (quotes
 * and backslashes escaped), which is how it is published; `unescapeMessage` gives the line.
 */
export type AccessLogSink = (appGuid: string, message: string, timestampNs: number) => void;

// eslint-disable-next-line no-control-regex -- control characters must be escaped in JSON
const NEEDS_ESCAPE = /["\\\x00-\x1f]/;

/** `s` escaped for the inside of a JSON string (the common case: unchanged). */
export const escapeForJson = (s: string): string => (NEEDS_ESCAPE.test(s) ? JSON.stringify(s).slice(1, -1) : s);

export const unescapeMessage = (message: string): string => JSON.parse(`"${message}"`) as string;

/** A quoted field of the line (`"value"`, `"-"` when empty), in JSON-escaped form. */
const q = (value: string | undefined): string => {
  if (value === undefined || value === '') return '\\"-\\"';
  if (!NEEDS_ESCAPE.test(value)) return `\\"${value}\\"`;
  // In the line a quote inside a value is written \" (as gorouter does); then JSON-escaped.
  return `\\"${escapeForJson(value.replace(/"/g, '\\"'))}\\"`;
};

let isoAt = -1;
let isoText = '';
/** toISOString, remembered for the millisecond (many requests share one). */
function isoTime(ms: number): string {
  if (ms !== isoAt) {
    isoAt = ms;
    isoText = new Date(ms).toISOString();
  }
  return isoText;
}

/**
 * The access-log line of a request, JSON-escaped, shaped like gorouter's:
 * `app.localhost - [2026-11-21T10:00:00.123Z] "GET /path HTTP/1.1" 200 0 13 "-" "curl/8.5.0"
 * "127.0.0.1:51234" "127.0.0.1:61001" x_forwarded_for:"127.0.0.1" x_forwarded_proto:"http"
 * vcap_request_id:"…" response_time:0.001234 app_id:"…" app_index:"0" instance_id:"…"
 * x_cf_routererror:"-"` (one line). Built in its escaped form directly: the router makes one per
 * request, and escaping a finished line costs more than building it.
 */
export function accessLogMessage(req: RequestInfo, now = req.finishedHr || performance.now()): string {
  const head = req.head;
  const endpoint = req.endpoint;
  const seconds = ((now - req.startedHr) / 1000).toFixed(6);
  const xff = head.xForwardedFor === undefined ? req.clientIp : `${head.xForwardedFor}, ${req.clientIp}`;
  return (
    `${escapeForJson(req.host)} - [${isoTime(req.startedAt)}] \\"${head.method} ${escapeForJson(head.target)} HTTP/1.${head.minor}\\" ` +
    `${req.status} ${req.bytesIn} ${req.bytesOut} ${q(head.referer)} ${q(head.userAgent)} \\"${req.clientIp}:${req.clientPort}\\" ` +
    `${q(endpoint?.key)} x_forwarded_for:${q(xff)} x_forwarded_proto:${q(head.xForwardedProto ?? 'http')} ` +
    `vcap_request_id:${q(req.id)} response_time:${seconds} app_id:${q(endpoint?.app)} app_index:${q(endpoint?.index)} ` +
    `instance_id:${q(endpoint?.privateInstanceId)} x_cf_routererror:${q(req.routerError)}`
  );
}

export function accessLog(sink: AccessLogSink): Handler {
  return {
    name: 'access-log',
    done(req) {
      const app = req.endpoint?.app;
      if (app) sink(app, accessLogMessage(req), Math.round((performance.timeOrigin + (req.finishedHr || performance.now())) * 1e6));
    },
  };
}

/** An access-log line waiting in a batch: app guid, JSON-escaped message, timestamp (ns). */
export type PendingLine = [app: string, message: string, timestampNs: number];

/**
 * Collects lines and hands them on together every `delayMs` (or every `max` lines), so that the
 * bus client writes one batch instead of one small write per request.
 */
export function batchedSink(flush: (lines: PendingLine[]) => void, { delayMs = 20, max = 500 } = {}): AccessLogSink & { flush(): void } {
  let batch: PendingLine[] = [];
  let timer: NodeJS.Timeout | undefined;
  const run = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (batch.length === 0) return;
    const lines = batch;
    batch = [];
    flush(lines);
  };
  const sink = (app: string, message: string, timestampNs: number) => {
    batch.push([app, message, timestampNs]);
    if (batch.length >= max) run();
    else if (!timer) {
      timer = setTimeout(run, delayMs);
      timer.unref();
    }
  };
  return Object.assign(sink, { flush: run });
}

/**
 * Publishes RTR lines to the apps' logs (`logs.<app guid>`, one envelope per line): the
 * LogEnvelope publishAppLog (common/app-log.ts) would send, byte for byte. A batch is encoded into
 * one buffer and each message published as a view of it (the bus client copies them when it
 * writes), with the part of the envelope that depends only on the app cached: the router sends
 * one per request, and this is several times cheaper than JSON.stringify and a TextEncoder.
 */
export class AccessLogPublisher {
  private readonly apps = new Map<string, { subject: string; rest: string }>();

  constructor(
    private readonly nc: NatsConnection,
    private readonly sourceInstance: string,
  ) {}

  private app(appGuid: string): { subject: string; rest: string } {
    let entry = this.apps.get(appGuid);
    if (!entry) {
      const type: LogEnvelope['source_type'] = 'RTR';
      entry = {
        subject: appLogSubject(appGuid),
        rest: `,"app_guid":"${escapeForJson(appGuid)}","source_type":"${type}","source_instance":"${escapeForJson(this.sourceInstance)}","message_type":"OUT","message":"`,
      };
      if (this.apps.size > 10_000) this.apps.clear();
      this.apps.set(appGuid, entry);
    }
    return entry;
  }

  publish(lines: PendingLine[]): void {
    if (this.nc.isClosed()) return;
    let size = 0;
    for (const [app, message] of lines) size += 200 + 2 * app.length + 3 * message.length; // UTF-8: at most 3 bytes per UTF-16 unit
    const buf = Buffer.allocUnsafe(size);
    let offset = 0;
    for (const [app, message, timestamp] of lines) {
      const { subject, rest } = this.app(app);
      const start = offset;
      offset += buf.write(`{"timestamp":${timestamp}${rest}${message}"}`, offset);
      this.nc.publish(subject, buf.subarray(start, offset));
    }
  }
}

/** JSON of the LogEnvelope { timestamp, app_guid, source_type: RTR, source_instance, message_type: OUT, message }. */
export function accessLogEnvelope(appGuid: string, sourceInstance: string, message: string, timestamp = nowNs()): Buffer {
  const type: LogEnvelope['source_type'] = 'RTR';
  return Buffer.from(
    `{"timestamp":${timestamp},"app_guid":"${escapeForJson(appGuid)}","source_type":"${type}","source_instance":"${escapeForJson(sourceInstance)}","message_type":"OUT","message":"${message}"}`,
  );
}
