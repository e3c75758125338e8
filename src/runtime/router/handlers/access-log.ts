// One access-log line per request, shaped like gorouter's, published to the app's logs as source
// RTR (the logs component shows them as [RTR/0]). Requests that reached no app (404s) have no app
// to log to and are only counted.
import { performance } from 'node:perf_hooks';
import { appLogSubject, type LogEnvelope } from '../../common/app-log.js';
import { isSubjectToken, type NatsConnection } from '../../common/bus.js';
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

/** Digits of the largest envelope size (a request head is at most a few hundred KiB). */
const MAX_SIZE_DIGITS = 7;

/** The part of nats.js's connection that takes bytes already framed as protocol ops. */
interface FramedOutbound {
  sendCommand(frames: Uint8Array): void;
}

/** A batch is handed to the bus connection when it holds this much, or after BATCH_DELAY_MS. */
const BATCH_BYTES = 64 * 1024;
const BATCH_DELAY_MS = 20;

/**
 * Publishes RTR lines to the apps' logs (`logs.<app guid>`, one message per line, holding the
 * LogEnvelope publishAppLog (common/app-log.ts) would send, byte for byte). The router sends one
 * per request, so this is its hottest path after the proxy itself, and it was measured (perf):
 * - Each line is framed as a `PUB <subject> <bytes>` op straight into a batch buffer when it is
 *   logged. Lines kept as strings until a batch was published outlived young-generation GCs: the
 *   old-generation GC and the flattening of those strings cost the router more than the rest of the
 *   access log together.
 * - A batch goes to the connection's outbound queue in one call (nats.js's publish() per line,
 *   with a string, an encode and three buffers each, cost ~5 µs of router CPU per request). This
 *   keeps nats.js's connection, reconnects and buffering; where that internal queue is not there it
 *   falls back to publish().
 */
export class AccessLogPublisher {
  private readonly apps = new Map<string, { subject: string; pub: string; rest: string }>();
  private readonly outbound: FramedOutbound | undefined;
  /** The batch being filled (handed over whole: the connection keeps it until it is written). */
  private batch: Buffer | null = null;
  private offset = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly sourceInstance: string,
  ) {
    // nats.js 2 keeps its protocol handler on the connection; not in its public types.
    const protocol = (nc as NatsConnection & { protocol?: Partial<FramedOutbound> }).protocol;
    if (typeof protocol?.sendCommand === 'function') this.outbound = protocol as FramedOutbound;
  }

  private app(appGuid: string): { subject: string; pub: string; rest: string } | undefined {
    let entry = this.apps.get(appGuid);
    if (!entry) {
      // The guid becomes a subject token: anything else (spaces, dots, wildcards) could not be
      // published, or would break the framing; no app the controller made has such a guid.
      if (!isSubjectToken(appGuid)) return undefined;
      const type: LogEnvelope['source_type'] = 'RTR';
      const subject = appLogSubject(appGuid);
      entry = {
        subject,
        pub: `PUB ${subject} `,
        rest: `,"app_guid":"${escapeForJson(appGuid)}","source_type":"${type}","source_instance":"${escapeForJson(this.sourceInstance)}","message_type":"OUT","message":"`,
      };
      if (this.apps.size > 10_000) this.apps.clear();
      this.apps.set(appGuid, entry);
    }
    return entry;
  }

  /** An AccessLogSink: frames the line into the batch now; the batch goes out within BATCH_DELAY_MS. */
  readonly add = (appGuid: string, message: string, timestampNs: number): void => {
    if (this.nc.isClosed()) return;
    const entry = this.app(appGuid);
    if (entry === undefined) return;
    const envelope = `{"timestamp":${timestampNs}${entry.rest}${message}"}`;
    if (this.outbound === undefined) {
      this.nc.publish(entry.subject, Buffer.from(envelope));
      return;
    }
    // The envelope is encoded once, straight into the batch, after room for the longest
    // `PUB <subject> <bytes>\r\n`; then the op line goes in front of it and the envelope moves up.
    const reserved = entry.pub.length + MAX_SIZE_DIGITS + 2;
    const room = reserved + 3 * envelope.length + 2; // UTF-8: at most 3 bytes per UTF-16 unit
    if (this.batch !== null && this.offset + room > this.batch.length) this.flush();
    if (this.batch === null) {
      this.batch = Buffer.allocUnsafe(Math.max(BATCH_BYTES, room));
      this.offset = 0;
    }
    const buf = this.batch;
    const start = this.offset;
    const bytes = buf.write(envelope, start + reserved);
    const op = `${entry.pub}${bytes}\r\n`;
    if (op.length < reserved) buf.copyWithin(start + op.length, start + reserved, start + reserved + bytes);
    buf.write(op, start, 'latin1');
    let end = start + op.length + bytes;
    buf[end++] = 13;
    buf[end++] = 10;
    this.offset = end;
    if (this.timer === undefined) {
      this.timer = setTimeout(() => this.flush(), BATCH_DELAY_MS);
      this.timer.unref();
    }
  };

  /** Hands the batch to the bus connection (a new one is started by the next line). */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.batch;
    this.batch = null;
    if (batch === null || this.offset === 0 || this.nc.isClosed()) return;
    this.outbound!.sendCommand(batch.subarray(0, this.offset));
  }

  /** Publishes lines collected elsewhere (a worker's, relayed while its own connection was down). */
  publish(lines: PendingLine[]): void {
    for (const [app, message, timestamp] of lines) this.add(app, message, timestamp);
    this.flush();
  }
}
