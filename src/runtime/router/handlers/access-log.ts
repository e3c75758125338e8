// One access-log line per request, shaped like gorouter's, published to the app's logs as source
// RTR (the logs component shows them as [RTR/0]). Requests that reached no app (404s) have no app
// to log to and are only counted.
import { performance } from 'node:perf_hooks';
import { isSubjectToken, type NatsConnection } from '../../common/bus.js';
import { appLogs, type LogSourceType } from '../../common/bus-messages.js';
import type { Endpoint } from '../registry.js';
import type { Handler, RequestInfo } from './types.js';

/**
 * Where a finished request's access-log line goes (it reached an app: `req.endpoint.app` is set).
 * The sink formats the line itself: the publisher writes it straight into its batch as bytes.
 */
export type AccessLogSink = (req: RequestInfo) => void;

// eslint-disable-next-line no-control-regex -- control characters must be escaped in JSON
const NEEDS_ESCAPE = /["\\\x00-\x1f]/;

/** `s` escaped for the inside of a JSON string (the common case: unchanged). */
export const escapeForJson = (s: string): string => (NEEDS_ESCAPE.test(s) ? JSON.stringify(s).slice(1, -1) : s);

export const unescapeMessage = (message: string): string => JSON.parse(`"${message}"`) as string;

// The line is written as bytes, already escaped for the inside of the envelope's JSON string, into
// whatever buffer it goes out in. The router writes one per request; building it as a string (a
// template of twenty parts, a regular expression per field, then flattening and UTF-8 encoding the
// result) cost it ~4 µs of CPU per request where this costs well under one.

const enc = (s: string): Uint8Array => Buffer.from(s, 'latin1');
/** Literal parts of the line, in their JSON-escaped form (a quote in the line is `\"`). */
const L = {
  dash: enc(' - ['),
  requestLine: enc('] \\"'),
  http: enc(' HTTP/1.'),
  quoteSpace: enc('\\" '),
  dashQuoted: enc('\\"-\\"'),
  quote: enc('\\"'),
  comma: enc(', '),
  xff: enc(' x_forwarded_for:'),
  xfp: enc(' x_forwarded_proto:'),
  requestId: enc(' vcap_request_id:'),
  responseTime: enc(' response_time:'),
  appId: enc(' app_id:'),
  appIndex: enc(' app_index:'),
  instanceId: enc(' instance_id:'),
  routerError: enc(' x_cf_routererror:'),
};

function put(out: Uint8Array, pos: number, bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; i++) out[pos++] = bytes[i];
  return pos;
}

const SHORT_ESCAPES: Record<number, number> = { 8: 0x62, 9: 0x74, 10: 0x6e, 12: 0x66, 13: 0x72 }; // \b \t \n \f \r
const HEX = enc('0123456789abcdef');

/**
 * Writes `s` as the inside of a JSON string, in UTF-8, as JSON.stringify would escape it. `inQuotes`:
 * the value sits between quotes in the line, where gorouter writes a quote inside it as `\"`.
 * Takes at most 6 bytes per character.
 */
function putEscaped(out: Uint8Array, pos: number, s: string, inQuotes: boolean): number {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x20 && c < 0x80 && c !== 0x22 && c !== 0x5c) {
      out[pos++] = c;
    } else if (c === 0x22) {
      if (inQuotes) {
        out[pos++] = 0x5c;
        out[pos++] = 0x5c;
      }
      out[pos++] = 0x5c;
      out[pos++] = 0x22;
    } else if (c === 0x5c) {
      out[pos++] = 0x5c;
      out[pos++] = 0x5c;
    } else if (c < 0x20) {
      out[pos++] = 0x5c;
      const short = SHORT_ESCAPES[c];
      if (short !== undefined) out[pos++] = short;
      else {
        out[pos++] = 0x75; // u00XX
        out[pos++] = 0x30;
        out[pos++] = 0x30;
        out[pos++] = HEX[c >> 4];
        out[pos++] = HEX[c & 15];
      }
    } else if (c < 0x800) {
      out[pos++] = 0xc0 | (c >> 6);
      out[pos++] = 0x80 | (c & 63);
    } else if (c >= 0xd800 && c < 0xdc00 && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      const cp = 0x10000 + ((c - 0xd800) << 10) + (s.charCodeAt(++i) - 0xdc00);
      out[pos++] = 0xf0 | (cp >> 18);
      out[pos++] = 0x80 | ((cp >> 12) & 63);
      out[pos++] = 0x80 | ((cp >> 6) & 63);
      out[pos++] = 0x80 | (cp & 63);
    } else if (c >= 0xd800 && c < 0xe000) {
      out[pos++] = 0xef; // a lone surrogate: U+FFFD, as Buffer.write would
      out[pos++] = 0xbf;
      out[pos++] = 0xbd;
    } else {
      out[pos++] = 0xe0 | (c >> 12);
      out[pos++] = 0x80 | ((c >> 6) & 63);
      out[pos++] = 0x80 | (c & 63);
    }
  }
  return pos;
}

/** A quoted field: `\"value\"`, or `\"-\"` when there is none. */
function putQuoted(out: Uint8Array, pos: number, value: string | undefined): number {
  if (value === undefined || value === '') return put(out, pos, L.dashQuoted);
  pos = put(out, pos, L.quote);
  pos = putEscaped(out, pos, value, true);
  return put(out, pos, L.quote);
}

/** A non-negative integer below 2^31 in decimal (int32 arithmetic: no floating-point division). */
function putInt(out: Uint8Array, pos: number, n: number): number {
  if (n < 10) {
    out[pos] = 48 + n;
    return pos + 1;
  }
  let digits = 1;
  for (let m = n; m >= 10; m = (m / 10) | 0) digits++;
  let at = pos + digits;
  for (let m = n; at > pos; ) {
    const q = (m / 10) | 0;
    out[--at] = 48 + m - q * 10;
    m = q;
  }
  return pos + digits;
}

/** A number 0 ≤ n < 10^width (below 2^31), zero-padded to `width` digits. */
function putPadded(out: Uint8Array, pos: number, n: number, width: number): number {
  for (let at = pos + width - 1, m = n; at >= pos; at--) {
    const q = (m / 10) | 0;
    out[at] = 48 + m - q * 10;
    m = q;
  }
  return pos + width;
}

let isoAt = -1;
const isoBytes = new Uint8Array(24);
/** toISOString (always 24 characters in this century), remembered for the millisecond. */
function putIsoTime(out: Uint8Array, pos: number, ms: number): number {
  if (ms !== isoAt) {
    isoAt = ms;
    isoBytes.set(enc(new Date(ms).toISOString()));
  }
  return put(out, pos, isoBytes);
}

let msAt = -1;
let msBytes: Uint8Array = new Uint8Array(0);
/** Nanoseconds since the epoch, from a performance.now() reading: the envelope's timestamp. */
export function putTimestampNs(out: Uint8Array, pos: number, hr: number): number {
  const t = performance.timeOrigin + hr;
  let ms = Math.floor(t);
  let ns = Math.round((t - ms) * 1e6);
  if (ns >= 1e6) {
    ms++;
    ns -= 1e6;
  }
  // The milliseconds (beyond int32) as digits, remembered for the millisecond.
  if (ms !== msAt) {
    msAt = ms;
    msBytes = enc(String(ms));
  }
  return putPadded(out, put(out, pos, msBytes), ns, 6);
}

/** What the line says of an endpoint (the same for every request to it), written once. */
interface EndpointText {
  key: string;
  app: string;
  index: string;
  instance: string;
  /** `\"host:port\"` */
  backend: Uint8Array;
  /** ` app_id:\"…\" app_index:\"…\" instance_id:\"…\"` */
  ids: Uint8Array;
}
const endpointTexts = new WeakMap<Endpoint, EndpointText>();

function endpointText(endpoint: Endpoint): EndpointText {
  const { key, app, index, privateInstanceId: instance } = endpoint;
  let text = endpointTexts.get(endpoint);
  // A refreshed registration may have changed them.
  if (text === undefined || text.key !== key || text.app !== app || text.index !== index || text.instance !== instance) {
    const out = Buffer.allocUnsafe(6 * (key.length + app.length + index.length + instance.length) + 128);
    const backendEnd = putQuoted(out, 0, key);
    let pos = putQuoted(out, put(out, backendEnd, L.appId), app);
    pos = putQuoted(out, put(out, pos, L.appIndex), index);
    pos = putQuoted(out, put(out, pos, L.instanceId), instance);
    text = { key, app, index, instance, backend: out.subarray(0, backendEnd), ids: out.subarray(backendEnd, pos) };
    endpointTexts.set(endpoint, text);
  }
  return text;
}

/** When the request ended (performance.now()); now for one still going. */
const finishedAt = (req: RequestInfo): number => req.finishedHr || performance.now();

/** Bytes an access-log line (escaped) can take at most: 6 per character of what varies, and the rest. */
export function accessLogRoom(req: RequestInfo): number {
  const { head, endpoint } = req;
  const chars =
    req.host.length +
    head.method.length +
    head.target.length +
    (head.referer?.length ?? 0) +
    (head.userAgent?.length ?? 0) +
    (head.xForwardedFor?.length ?? 0) +
    (head.xForwardedProto?.length ?? 5) +
    2 * req.clientIp.length +
    req.id.length +
    req.routerError.length +
    (endpoint === undefined ? 0 : endpoint.key.length + endpoint.app.length + endpoint.index.length + endpoint.privateInstanceId.length);
  return 6 * chars + 512;
}

/**
 * Writes the access-log line of a finished request at `pos` (room: accessLogRoom), JSON-escaped,
 * shaped like gorouter's:
 * `app.localhost - [2026-11-21T10:00:00.123Z] "GET /path HTTP/1.1" 200 0 13 "-" "curl/8.5.0"
 * "127.0.0.1:51234" "127.0.0.1:61001" x_forwarded_for:"127.0.0.1" x_forwarded_proto:"http"
 * vcap_request_id:"…" response_time:0.001234 app_id:"…" app_index:"0" instance_id:"…"
 * x_cf_routererror:"-"` (one line). Returns where it ends.
 */
export function writeAccessLogMessage(out: Uint8Array, pos: number, req: RequestInfo): number {
  const { head, endpoint } = req;
  pos = putEscaped(out, pos, req.host, false);
  pos = put(out, pos, L.dash);
  pos = putIsoTime(out, pos, req.startedAt);
  pos = put(out, pos, L.requestLine);
  pos = putEscaped(out, pos, head.method, false);
  out[pos++] = 0x20;
  pos = putEscaped(out, pos, head.target, false);
  pos = put(out, pos, L.http);
  pos = putInt(out, pos, head.minor);
  pos = put(out, pos, L.quoteSpace);
  pos = putInt(out, pos, req.status);
  out[pos++] = 0x20;
  pos = putInt(out, pos, req.bytesIn);
  out[pos++] = 0x20;
  pos = putInt(out, pos, req.bytesOut);
  out[pos++] = 0x20;
  pos = putQuoted(out, pos, head.referer);
  out[pos++] = 0x20;
  pos = putQuoted(out, pos, head.userAgent);
  out[pos++] = 0x20;
  pos = put(out, pos, L.quote);
  pos = putEscaped(out, pos, req.clientIp, true);
  out[pos++] = 0x3a; // :
  pos = putInt(out, pos, req.clientPort);
  pos = put(out, pos, L.quoteSpace);
  const known = endpoint === undefined ? undefined : endpointText(endpoint);
  pos = known === undefined ? put(out, pos, L.dashQuoted) : put(out, pos, known.backend);
  // X-Forwarded-For as forwarded: what came in, then the client.
  pos = put(out, pos, L.xff);
  pos = put(out, pos, L.quote);
  if (head.xForwardedFor !== undefined) {
    pos = putEscaped(out, pos, head.xForwardedFor, true);
    pos = put(out, pos, L.comma);
  }
  pos = putEscaped(out, pos, req.clientIp, true);
  pos = put(out, pos, L.quote);
  pos = put(out, pos, L.xfp);
  pos = putQuoted(out, pos, head.xForwardedProto ?? (req.tls ? 'https' : 'http'));
  pos = put(out, pos, L.requestId);
  pos = putQuoted(out, pos, req.id);
  // Seconds from the request head to the end of the response, to the microsecond.
  pos = put(out, pos, L.responseTime);
  const micros = Math.max(0, Math.round((finishedAt(req) - req.startedHr) * 1000));
  const seconds = Math.floor(micros / 1e6);
  pos = putInt(out, pos, seconds);
  out[pos++] = 0x2e; // .
  pos = putPadded(out, pos, micros - seconds * 1e6, 6);
  if (known !== undefined) pos = put(out, pos, known.ids);
  else {
    pos = put(out, put(out, pos, L.appId), L.dashQuoted);
    pos = put(out, put(out, pos, L.appIndex), L.dashQuoted);
    pos = put(out, put(out, pos, L.instanceId), L.dashQuoted);
  }
  pos = put(out, pos, L.routerError);
  return putQuoted(out, pos, req.routerError);
}

/** The access-log line of a finished request, JSON-escaped (`unescapeMessage` gives the line). */
export function accessLogMessage(req: RequestInfo): string {
  const out = Buffer.allocUnsafe(accessLogRoom(req));
  return out.toString('utf8', 0, writeAccessLogMessage(out, 0, req));
}

/** The envelope timestamp of a finished request (ns since the epoch). */
export const accessLogTimestampNs = (req: RequestInfo): number => Math.round((performance.timeOrigin + finishedAt(req)) * 1e6);

export function accessLog(sink: AccessLogSink): Handler {
  return {
    name: 'access-log',
    done(req) {
      if (req.endpoint?.app) sink(req);
    },
  };
}

/** An access-log line waiting in a batch: app guid, JSON-escaped message, timestamp (ns). */
export type PendingLine = [app: string, message: string, timestampNs: number];

/**
 * Formats lines and hands them on together every `delayMs` (or every `max` lines), so that the
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
  const sink = (req: RequestInfo) => {
    batch.push([req.endpoint!.app, accessLogMessage(req), accessLogTimestampNs(req)]);
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

/** The framing of one app's lines: `PUB logs.<guid> ` and the envelope's fields after the timestamp. */
interface AppFrame {
  subject: string;
  pub: Uint8Array;
  /** `,"app_guid":…,"message":"` */
  rest: string;
  restBytes: Uint8Array;
}

const TIMESTAMP_OPEN = enc('{"timestamp":');
const ENVELOPE_CLOSE = enc('"}');

/**
 * Publishes RTR lines to the apps' logs (`appLogs` in bus-messages.ts: one message per line on
 * `logs.<app guid>`, holding the LogEnvelope publishAppLog (common/app-log.ts) would send). The
 * router sends one per request, so this is its hottest path after the proxy itself, and it was
 * measured (perf):
 * - Each line is framed as a `PUB <subject> <bytes>` op straight into a batch buffer when it is
 *   logged, the line written as bytes (writeAccessLogMessage). Lines kept as strings until a batch
 *   was published outlived young-generation GCs: the old-generation GC and the flattening of those
 *   strings cost the router more than the rest of the access log together.
 * - A batch goes to the connection's outbound queue in one call (nats.js's publish() per line,
 *   with a string, an encode and three buffers each, cost ~5 µs of router CPU per request). This
 *   keeps nats.js's connection, reconnects and buffering; where that internal queue is not there it
 *   falls back to publish().
 */
export class AccessLogPublisher {
  private readonly apps = new Map<string, AppFrame>();
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

  private app(appGuid: string): AppFrame | undefined {
    let entry = this.apps.get(appGuid);
    if (!entry) {
      // The guid becomes a subject token: anything else (spaces, dots, wildcards) could not be
      // published, or would break the framing; no app the controller made has such a guid.
      if (!isSubjectToken(appGuid)) return undefined;
      const type: LogSourceType = 'RTR';
      const { subject } = appLogs(appGuid);
      const rest = `,"app_guid":"${escapeForJson(appGuid)}","source_type":"${type}","source_instance":"${escapeForJson(this.sourceInstance)}","message_type":"OUT","message":"`;
      entry = { subject, pub: enc(`PUB ${subject} `), rest, restBytes: Buffer.from(rest) };
      if (this.apps.size > 10_000) this.apps.clear();
      this.apps.set(appGuid, entry);
    }
    return entry;
  }

  /** An AccessLogSink: frames the request's line into the batch now; the batch goes out within BATCH_DELAY_MS. */
  readonly addRequest = (req: RequestInfo): void => {
    if (this.outbound === undefined) return this.add(req.endpoint!.app, accessLogMessage(req), accessLogTimestampNs(req));
    if (this.nc.isClosed()) return;
    const entry = this.app(req.endpoint!.app);
    if (entry === undefined) return;
    const buf = this.reserve(entry, TIMESTAMP_OPEN.length + 20 + entry.restBytes.length + accessLogRoom(req) + ENVELOPE_CLOSE.length);
    const payload = this.offset + entry.pub.length + MAX_SIZE_DIGITS + 2;
    let pos = put(buf, payload, TIMESTAMP_OPEN);
    pos = putTimestampNs(buf, pos, finishedAt(req));
    pos = put(buf, pos, entry.restBytes);
    pos = writeAccessLogMessage(buf, pos, req);
    this.commit(entry, payload, put(buf, pos, ENVELOPE_CLOSE));
  };

  /** Frames a line already formatted (JSON-escaped `message`), e.g. one a worker relayed. */
  add(appGuid: string, message: string, timestampNs: number): void {
    if (this.nc.isClosed()) return;
    const entry = this.app(appGuid);
    if (entry === undefined) return;
    const envelope = `{"timestamp":${timestampNs}${entry.rest}${message}"}`;
    if (this.outbound === undefined) {
      this.nc.publish(entry.subject, Buffer.from(envelope));
      return;
    }
    const buf = this.reserve(entry, 3 * envelope.length); // UTF-8: at most 3 bytes per UTF-16 unit
    const payload = this.offset + entry.pub.length + MAX_SIZE_DIGITS + 2;
    this.commit(entry, payload, payload + buf.write(envelope, payload));
  }

  /**
   * Makes room in the batch for a message to `entry` of at most `payloadRoom` bytes; its payload is
   * written after room for the longest `PUB <subject> <bytes>\r\n`, and commit() puts the op line
   * in front of it.
   */
  private reserve(entry: AppFrame, payloadRoom: number): Buffer {
    const room = entry.pub.length + MAX_SIZE_DIGITS + 2 + payloadRoom + 2;
    if (this.batch !== null && this.offset + room > this.batch.length) this.flush();
    if (this.batch === null) {
      this.batch = Buffer.allocUnsafe(Math.max(BATCH_BYTES, room));
      this.offset = 0;
    }
    return this.batch;
  }

  /** Writes the op line for the payload at `payloadStart`..`payloadEnd`, moves the payload up to it, ends the op. */
  private commit(entry: AppFrame, payloadStart: number, payloadEnd: number): void {
    const buf = this.batch!;
    const bytes = payloadEnd - payloadStart;
    let pos = putInt(buf, put(buf, this.offset, entry.pub), bytes);
    buf[pos++] = 13;
    buf[pos++] = 10;
    if (pos < payloadStart) buf.copyWithin(pos, payloadStart, payloadEnd);
    pos += bytes;
    buf[pos++] = 13;
    buf[pos++] = 10;
    this.offset = pos;
    if (this.timer === undefined) {
      this.timer = setTimeout(() => this.flush(), BATCH_DELAY_MS);
      this.timer.unref();
    }
  }

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
