// HTTP/1.1 message framing for the proxy (RFC 9112): request and response heads, and a scanner that
// finds the end of a chunked body while its bytes are passed through unchanged. The router never
// re-encodes a body; it only needs to know where each message ends so that connections can be
// reused. Parsing is strict where a lenient proxy would open request smuggling: conflicting or
// malformed Content-Length, Transfer-Encoding with Content-Length, obs-fold, whitespace before the
// colon, control characters, bare CR or LF.

/** RFC 9110 tchar: the characters of a method or a header name. */
const TCHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") TCHAR[c.charCodeAt(0)] = 1;
/** Bytes of a request-target. */
const TARGET = new Uint8Array(256);
for (let c = 0x21; c <= 0x7e; c++) TARGET[c] = 1;
for (let c = 0x80; c <= 0xff; c++) TARGET[c] = 1;

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const isOws = (c: number) => c === 32 || c === 9;

function trimOws(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && isOws(s.charCodeAt(a))) a++;
  while (b > a && isOws(s.charCodeAt(b - 1))) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

/**
 * Field names the parsers look for, matched on bytes (case-insensitively) without making a string
 * of every name: candidates are indexed by length.
 */
export class FieldNames {
  private readonly byLength: { name: string; id: number }[][] = [];

  /** `drop`: ids of fields not to forward. */
  constructor(
    entries: [name: string, id: number][],
    readonly drop: ReadonlySet<number> = new Set(),
  ) {
    for (const [name, id] of entries) (this.byLength[name.length] ??= []).push({ name: name.toLowerCase(), id });
  }

  /** The id of the name at buf[start, start + length), or 0. */
  match(buf: Uint8Array, start: number, length: number): number {
    const candidates = this.byLength[length];
    if (candidates === undefined) return 0;
    outer: for (const { name, id } of candidates) {
      for (let k = 0; k < length; k++) {
        // Names are tchars: `| 0x20` lower-cases letters and maps no other tchar onto a-z or '-'.
        if ((buf[start + k] | 0x20) !== name.charCodeAt(k)) continue outer;
      }
      return id;
    }
    return 0;
  }
}

const enum F {
  Other,
  Host,
  ContentLength,
  TransferEncoding,
  Connection,
  Upgrade,
  Expect,
  Cookie,
  UserAgent,
  Referer,
  XForwardedFor,
  XForwardedProto,
  XRequestStart,
  KeepAlive,
  ProxyConnection,
  Te,
  SetCookie,
  /** A field a handler replaces: dropped from the forwarded request. */
  Replaced,
}

/** What both heads share. The head's bytes stay in `buf`; forwarding copies them minus `drop`. */
export interface Head {
  buf: Buffer;
  /** The head is buf[start, end); `end` is where its closing CRLFCRLF begins. */
  start: number;
  end: number;
  /** Where the start line's CRLF is (== end when there are no header fields). */
  startLineEnd: number;
  /** Byte ranges [from, to) of header lines (with their CRLF) not to forward, as flat pairs. */
  drop: number[] | null;
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  minor: number;
  /** Content-Length, or -1 when absent. */
  contentLength: number;
  /** Transfer-Encoding ends in chunked. */
  chunked: boolean;
  /** Transfer-Encoding is present (with or without chunked). */
  transferEncoding: boolean;
  codings?: string[];
  connectionClose: boolean;
  connectionKeepAlive: boolean;
  connectionUpgrade: boolean;
  /** Other Connection tokens: names of hop-by-hop fields to drop. */
  connectionTokens?: string[];
  upgrade?: string;
}

export interface RequestHead extends Head {
  method: string;
  /** The request-target as received (origin-form once the proxy has rewritten absolute-form). */
  target: string;
  /** The target was rewritten (absolute-form): the start line must be rebuilt when forwarding. */
  targetRewritten: boolean;
  host?: string;
  expectContinue: boolean;
  cookie?: string;
  userAgent?: string;
  referer?: string;
  xForwardedFor?: string;
  xForwardedProto?: string;
  xRequestStart?: string;
}

export interface ResponseHead extends Head {
  status: number;
  /** Keep-Alive: timeout=N from the backend, in ms (0: none). */
  keepAliveTimeoutMs: number;
  /** The first Set-Cookie value that sets JSESSIONID. */
  jsessionCookie?: string;
}

/** Heads are class instances with every field set in the constructor: one stable shape each. */
abstract class BaseHead implements Head {
  startLineEnd: number;
  drop: number[] | null = null;
  minor = 1;
  contentLength = -1;
  chunked = false;
  transferEncoding = false;
  codings: string[] | undefined = undefined;
  connectionClose = false;
  connectionKeepAlive = false;
  connectionUpgrade = false;
  connectionTokens: string[] | undefined = undefined;
  upgrade: string | undefined = undefined;

  constructor(
    readonly buf: Buffer,
    readonly start: number,
    readonly end: number,
  ) {
    this.startLineEnd = end;
  }

  /** A field the parser's FieldNames know, with its trimmed value and line range. */
  abstract field(id: number, value: string, from: number, to: number, names: FieldNames): void;
}

class RequestHeadImpl extends BaseHead implements RequestHead {
  method = '';
  target = '';
  targetRewritten = false;
  host: string | undefined = undefined;
  hosts = 0;
  expectContinue = false;
  cookie: string | undefined = undefined;
  userAgent: string | undefined = undefined;
  referer: string | undefined = undefined;
  xForwardedFor: string | undefined = undefined;
  xForwardedProto: string | undefined = undefined;
  xRequestStart: string | undefined = undefined;

  field(id: number, value: string, from: number, to: number, names: FieldNames): void {
    switch (id) {
      case F.Host:
        this.hosts++;
        this.host = value;
        break;
      case F.ContentLength:
        addContentLength(this, value, 400);
        break;
      case F.TransferEncoding:
        addTransferEncoding(this, value);
        break;
      case F.Connection:
        addConnection(this, value);
        break;
      case F.Upgrade:
        this.upgrade = value;
        break;
      case F.Expect:
        if (value.toLowerCase() === '100-continue') this.expectContinue = true;
        break;
      case F.Cookie:
        this.cookie = this.cookie === undefined ? value : `${this.cookie}; ${value}`;
        break;
      case F.UserAgent:
        this.userAgent = value;
        break;
      case F.Referer:
        this.referer = value;
        break;
      case F.XForwardedFor:
        this.xForwardedFor = this.xForwardedFor === undefined ? value : `${this.xForwardedFor}, ${value}`;
        break;
      case F.XForwardedProto:
        this.xForwardedProto ??= value;
        break;
      case F.XRequestStart:
        this.xRequestStart ??= value;
        break;
    }
    if (names.drop.has(id)) dropLine(this, from, to);
  }
}

let lastKeepAlive = '';
let lastKeepAliveMs = 0;
/** `Keep-Alive: timeout=5` → 5000 (a backend sends the same value every time: remembered). */
function keepAliveTimeout(value: string): number {
  if (value !== lastKeepAlive) {
    const m = /timeout=(\d+)/i.exec(value);
    lastKeepAlive = value;
    lastKeepAliveMs = m ? Number(m[1]) * 1000 : 0;
  }
  return lastKeepAliveMs;
}

class ResponseHeadImpl extends BaseHead implements ResponseHead {
  status = 0;
  keepAliveTimeoutMs = 0;
  jsessionCookie: string | undefined = undefined;

  field(id: number, value: string, from: number, to: number): void {
    switch (id) {
      case F.ContentLength:
        addContentLength(this, value, 502);
        break;
      case F.TransferEncoding:
        addTransferEncoding(this, value);
        break;
      case F.Connection:
        addConnection(this, value);
        dropLine(this, from, to);
        break;
      case F.KeepAlive:
        this.keepAliveTimeoutMs = keepAliveTimeout(value);
        dropLine(this, from, to);
        break;
      case F.ProxyConnection:
        dropLine(this, from, to);
        break;
      case F.Upgrade:
        this.upgrade = value;
        if (this.status !== 101) dropLine(this, from, to);
        break;
      case F.SetCookie:
        if (this.jsessionCookie === undefined && value.startsWith('JSESSIONID=')) this.jsessionCookie = value;
        break;
    }
  }
}

/** A run of 1-15 digits as a number, else -1. */
function digits(value: string): number {
  const len = value.length;
  if (len === 0 || len > 15) return -1;
  let n = 0;
  for (let i = 0; i < len; i++) {
    const d = value.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

function addContentLength(head: Head, value: string, status: number): void {
  const n = digits(value);
  if (n !== -1) {
    if (head.contentLength !== -1 && head.contentLength !== n) throw new HttpError(status, 'conflicting Content-Length');
    head.contentLength = n;
    return;
  }
  // A list of identical values is tolerated (RFC 9112 §6.3); anything else is an attack.
  for (const part of value.split(',')) {
    const v = trimOws(part);
    if (!/^\d{1,15}$/.test(v)) throw new HttpError(status, 'invalid Content-Length');
    const n = Number(v);
    if (head.contentLength !== -1 && head.contentLength !== n) throw new HttpError(status, 'conflicting Content-Length');
    head.contentLength = n;
  }
}

function addConnection(head: Head, value: string): void {
  // What nearly every backend and client sends, without splitting.
  if (value === 'keep-alive') {
    head.connectionKeepAlive = true;
    return;
  }
  if (value === 'close') {
    head.connectionClose = true;
    return;
  }
  for (const part of value.toLowerCase().split(',')) {
    const token = trimOws(part);
    if (token === 'close') head.connectionClose = true;
    else if (token === 'keep-alive') head.connectionKeepAlive = true;
    else if (token === 'upgrade') head.connectionUpgrade = true;
    else if (token !== '') (head.connectionTokens ??= []).push(token);
  }
}

function addTransferEncoding(head: Head, value: string): void {
  head.transferEncoding = true;
  for (const part of value.toLowerCase().split(',')) {
    const coding = trimOws(part);
    if (coding !== '') (head.codings ??= []).push(coding);
  }
}

const dropLine = (head: Head, from: number, to: number) => (head.drop ??= []).push(from, to);

/**
 * Control characters that may not appear in a head (HTAB, CR and LF excepted; that CR and LF only
 * come as CRLF line ends is checked line by line).
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const BAD_HEAD_CHARS = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/;

/** Where the line starting at `pos` ends (its CRLF, or the end); throws on a bare CR or LF in it. */
function lineEnd(text: string, pos: number, status: number): number {
  const cr = text.indexOf('\r', pos);
  const lf = text.indexOf('\n', pos);
  if (cr === -1 && lf === -1) return text.length;
  if (cr === -1 || lf !== cr + 1) throw new HttpError(status, 'control characters (a bare CR or LF) in the head');
  return cr;
}

/**
 * Walks the header lines of the head (its text from `from`), checks them, and hands the fields
 * `names` knows (value trimmed) to head.field. The caller has already rejected control characters
 * in `text` (one regular-expression pass); here only structure and names are looked at.
 * Throws HttpError(status).
 */
function scanFields(head: BaseHead, text: string, from: number, names: FieldNames, status: number): void {
  const buf = head.buf;
  const base = head.start;
  const len = text.length;
  let pos = from;
  while (pos < len) {
    const eol = lineEnd(text, pos, status);
    let j = pos;
    while (j < eol && TCHAR[buf[base + j]] === 1) j++;
    // An empty name covers obs-fold (a line starting with SP/HTAB) and whitespace before the colon.
    if (j === pos || text.charCodeAt(j) !== 58 /* : */) {
      throw new HttpError(status, j === pos && isOws(text.charCodeAt(pos)) ? 'obsolete line folding is not accepted' : 'malformed header line');
    }
    const id = names.match(buf, base + pos, j - pos);
    if (id !== F.Other) {
      let vs = j + 1;
      while (vs < eol && isOws(text.charCodeAt(vs))) vs++;
      let ve = eol;
      while (ve > vs && isOws(text.charCodeAt(ve - 1))) ve--;
      head.field(id, text.slice(vs, ve), base + pos, base + eol + 2, names);
    }
    pos = eol + 2;
  }
}

/** Drops the lines whose names the Connection header listed (rare: a second, slower pass). */
function dropConnectionTokens(head: Head, from: number): void {
  from += head.start;
  const tokens = head.connectionTokens;
  if (!tokens) return;
  const buf = head.buf;
  let pos = from;
  while (pos < head.end) {
    const colon = buf.indexOf(58, pos);
    let lineEnd = buf.indexOf('\r\n', pos);
    if (lineEnd === -1 || lineEnd > head.end) lineEnd = head.end;
    const name = buf.toString('latin1', pos, colon).toLowerCase();
    if (tokens.includes(name) && !(head.drop ?? []).some((v, i) => i % 2 === 0 && v === pos)) dropLine(head, pos, lineEnd + 2);
    pos = lineEnd + 2;
  }
  head.drop?.sort((a, b) => a - b);
}

function finishFraming(head: Head): void {
  const codings = head.codings;
  // chunked counts only as the final coding, and only once (RFC 9112 §6.1).
  head.chunked = !!codings && codings[codings.length - 1] === 'chunked' && codings.indexOf('chunked') === codings.length - 1;
}

const REQUEST_FIELDS: [string, number][] = [
  ['host', F.Host],
  ['content-length', F.ContentLength],
  ['transfer-encoding', F.TransferEncoding],
  ['connection', F.Connection],
  ['upgrade', F.Upgrade],
  ['expect', F.Expect],
  ['cookie', F.Cookie],
  ['user-agent', F.UserAgent],
  ['referer', F.Referer],
  ['keep-alive', F.KeepAlive],
  ['proxy-connection', F.ProxyConnection],
  ['te', F.Te],
  ['x-forwarded-for', F.XForwardedFor],
  ['x-forwarded-proto', F.XForwardedProto],
  ['x-request-start', F.XRequestStart],
];
/** Hop-by-hop fields (RFC 9110 §7.6.1), never forwarded as received. */
const REQUEST_HOP_BY_HOP = [F.Connection, F.Upgrade, F.KeepAlive, F.ProxyConnection, F.Te];

/** The fields a request parser looks for; `replaced`: fields (lower case) handlers replace, dropped. */
export function requestFieldNames(replaced: readonly string[] = []): FieldNames {
  const known = new Map(REQUEST_FIELDS);
  const drop = new Set<number>(REQUEST_HOP_BY_HOP);
  const extra: [string, number][] = [];
  for (const name of replaced) {
    const id = known.get(name.toLowerCase());
    if (id !== undefined) drop.add(id);
    else extra.push([name, F.Replaced]);
  }
  drop.add(F.Replaced);
  return new FieldNames([...REQUEST_FIELDS, ...extra], drop);
}

const DEFAULT_REQUEST_FIELDS = requestFieldNames();

const methodString = (buf: Buffer, start: number, end: number): string => {
  // The usual methods without allocating.
  const len = end - start;
  if (len === 3 && buf[start] === 71 && buf[start + 1] === 69 && buf[start + 2] === 84) return 'GET';
  if (len === 4 && buf[start] === 80 && buf[start + 1] === 79 && buf[start + 2] === 83 && buf[start + 3] === 84) return 'POST';
  if (len === 4 && buf[start] === 72 && buf[start + 1] === 69 && buf[start + 2] === 65 && buf[start + 3] === 68) return 'HEAD';
  return buf.toString('latin1', start, end);
};

/** HTTP/1.1 → 1, HTTP/1.0 → 0; another HTTP/x.y → 505; anything else → 400. */
function parseVersion(buf: Buffer, at: number, lineEnd: number, forResponse: boolean): number {
  if (lineEnd - at === 8 && buf[at] === 72 && buf[at + 1] === 84 && buf[at + 2] === 84 && buf[at + 3] === 80 && buf[at + 4] === 47 && buf[at + 6] === 46) {
    const major = buf[at + 5] - 48;
    const minor = buf[at + 7] - 48;
    if (major >= 0 && major <= 9 && minor >= 0 && minor <= 9) {
      if (major === 1) return minor === 0 ? 0 : forResponse || minor === 1 ? 1 : throwError(505, 'HTTP version not supported');
      throw new HttpError(505, 'HTTP version not supported');
    }
  }
  throw new HttpError(400, 'malformed HTTP version');
}

function throwError(status: number, message: string): never {
  throw new HttpError(status, message);
}

/** The longest method the router waits for before it calls a request line malformed. */
const MAX_METHOD = 32;

/**
 * Whether the start of a request head still in the making can become a request line: a method
 * (tchars) and a space, then the target; once its first line has ended, that line must end in
 * ` HTTP/x.y`. Bytes that cannot are answered 400 at once instead of waiting for a head end
 * that a client sending garbage never sends.
 */
export function requestStartPlausible(buf: Buffer): boolean {
  let i = 0;
  while (i < buf.length && i <= MAX_METHOD && TCHAR[buf[i]] === 1) i++;
  if (i === buf.length) return i <= MAX_METHOD;
  if (i === 0 || buf[i] !== 32) return false;
  const lf = buf.indexOf(10, i);
  if (lf === -1) return true;
  const lineEnd = lf > 0 && buf[lf - 1] === 13 ? lf - 1 : lf;
  return lineEnd - i >= 10 && buf.toString('latin1', lineEnd - 9, lineEnd - 3) === ' HTTP/';
}

/**
 * Parses a request head: `buf[start, end)` is everything before the blank line (`end` is where
 * the CRLFCRLF begins). Throws HttpError (400, 505) for anything a proxy must not forward.
 */
export function parseRequestHead(buf: Buffer, start: number, end: number, names: FieldNames = DEFAULT_REQUEST_FIELDS): RequestHead {
  const head = new RequestHeadImpl(buf, start, end);
  const text = buf.toString('latin1', start, end);
  if (BAD_HEAD_CHARS.test(text)) throw new HttpError(400, 'control characters in the request head');
  const firstLineEnd = lineEnd(text, 0, 400) + start;
  let i = start;
  while (i < end && TCHAR[buf[i]] === 1) i++;
  if (i === start || buf[i] !== 32) throw new HttpError(400, 'malformed request line');
  head.method = methodString(buf, start, i);
  const targetStart = ++i;
  while (i < end && TARGET[buf[i]] === 1) i++;
  if (i === targetStart || buf[i] !== 32) throw new HttpError(400, 'malformed request line');
  head.target = text.slice(targetStart - start, i - start);
  const versionStart = i + 1;
  head.minor = parseVersion(buf, versionStart, firstLineEnd, false);
  head.startLineEnd = firstLineEnd;
  scanFields(head, text, firstLineEnd + 2 - start, names, 400);
  if (head.connectionTokens) dropConnectionTokens(head, firstLineEnd + 2 - start);
  finishFraming(head);
  if (head.hosts > 1) throw new HttpError(400, 'more than one Host header');
  if (head.hosts === 0 && head.minor === 1) throw new HttpError(400, 'missing Host header');
  if (head.transferEncoding) {
    if (head.minor === 0) throw new HttpError(400, 'Transfer-Encoding in an HTTP/1.0 request');
    if (!head.chunked) throw new HttpError(400, 'Transfer-Encoding must end in chunked');
    if (head.contentLength !== -1) throw new HttpError(400, 'both Content-Length and Transfer-Encoding');
  }
  return head;
}

const RESPONSE_FIELDS = new FieldNames([
  ['content-length', F.ContentLength],
  ['transfer-encoding', F.TransferEncoding],
  ['connection', F.Connection],
  ['keep-alive', F.KeepAlive],
  ['proxy-connection', F.ProxyConnection],
  ['upgrade', F.Upgrade],
  ['set-cookie', F.SetCookie],
]);

/** Parses a backend's response head (`buf[start, end)` as for requests). Throws HttpError(502). */
export function parseResponseHead(buf: Buffer, start: number, end: number): ResponseHead {
  const head = new ResponseHeadImpl(buf, start, end);
  const text = buf.toString('latin1', start, end);
  if (BAD_HEAD_CHARS.test(text)) throw new HttpError(502, 'control characters in the response head');
  const statusLineEnd = lineEnd(text, 0, 502) + start;
  // HTTP/1.1 200 OK | HTTP/1.1 200 | HTTP/1.1 200 (reason may be empty)
  try {
    head.minor = parseVersion(buf, start, start + 8, true);
  } catch {
    throw new HttpError(502, 'malformed status line');
  }
  const c0 = buf[start + 9] - 48;
  const c1 = buf[start + 10] - 48;
  const c2 = buf[start + 11] - 48;
  if (buf[start + 8] !== 32 || !(c0 >= 1 && c0 <= 9) || !(c1 >= 0 && c1 <= 9) || !(c2 >= 0 && c2 <= 9) || start + 12 > statusLineEnd) {
    throw new HttpError(502, 'malformed status code');
  }
  if (statusLineEnd > start + 12 && buf[start + 12] !== 32) throw new HttpError(502, 'malformed status code');
  head.status = c0 * 100 + c1 * 10 + c2;
  head.startLineEnd = statusLineEnd;
  scanFields(head, text, statusLineEnd + 2 - start, RESPONSE_FIELDS, 502);
  if (head.connectionTokens) dropConnectionTokens(head, statusLineEnd + 2 - start);
  finishFraming(head);
  if (head.transferEncoding) {
    // Transfer-Encoding overrides Content-Length; a message framed both ways, or with a final coding
    // other than chunked (the body then runs until the connection closes), leaves a connection
    // that must not be reused (RFC 9112 §6.3).
    if (head.contentLength !== -1 || !head.chunked) head.connectionClose = true;
    head.contentLength = -1;
  }
  return head;
}

/**
 * Copies a head for forwarding into one new buffer: buf[from, head.end + 2) without the dropped
 * lines, then `extra` (header lines, latin1), the closing CRLF, and `body` when given.
 * `firstLine`, when given, replaces the start line.
 */
export function assembleHead(head: Head, extra: string, body: Buffer | null, firstLine?: string): Buffer {
  const src = head.buf;
  const from = firstLine === undefined ? head.start : Math.min(head.startLineEnd + 2, head.end + 2);
  const to = head.end + 2;
  const drop = head.drop;
  let size = to - from + extra.length + 2 + (body === null ? 0 : body.length);
  if (firstLine !== undefined) size += firstLine.length + 2;
  if (drop !== null) for (let k = 0; k < drop.length; k += 2) size -= drop[k + 1] - drop[k];
  const out = Buffer.allocUnsafe(size);
  let o = 0;
  if (firstLine !== undefined) {
    o += out.write(firstLine, 0, 'latin1');
    out[o++] = 13;
    out[o++] = 10;
  }
  let p = from;
  if (drop !== null) {
    for (let k = 0; k < drop.length; k += 2) {
      if (drop[k] > p) o += src.copy(out, o, p, drop[k]);
      p = drop[k + 1];
    }
  }
  if (p < to) o += src.copy(out, o, p, to);
  if (extra.length > 0) o += out.write(extra, o, 'latin1');
  out[o++] = 13;
  out[o++] = 10;
  if (body !== null) o += body.copy(out, o);
  return o === size ? out : out.subarray(0, o);
}

/** A response without a body, whatever its headers say (RFC 9112 §6.3). */
export function responseHasNoBody(method: string, status: number): boolean {
  return method === 'HEAD' || status === 204 || status === 304 || (status >= 100 && status < 200);
}

const enum Chunk {
  Size,
  SizeWs,
  Ext,
  SizeLf,
  Data,
  DataCr,
  DataLf,
  TrailerStart,
  Trailer,
  TrailerLf,
  FinalLf,
  Done,
}

const HEX = new Int8Array(128).fill(-1);
for (let i = 0; i < 10; i++) HEX[48 + i] = i;
for (let i = 0; i < 6; i++) {
  HEX[65 + i] = 10 + i;
  HEX[97 + i] = 10 + i;
}

/**
 * Follows a chunked body (chunk sizes, extensions, data, trailers) through the buffers it arrives
 * in, without copying: `scan` says where in a buffer the body ends. Malformed framing throws.
 */
export class ChunkedScanner {
  private state = Chunk.Size;
  private remaining = 0;
  private digits = 0;
  /** Bytes of metadata (size lines, extensions, trailers) seen, bounded like a head. */
  private overhead = 0;
  /** Payload bytes seen (the body without its chunked framing). */
  dataBytes = 0;

  constructor(private readonly maxOverhead = 64 * 1024) {}

  get done(): boolean {
    return this.state === Chunk.Done;
  }

  /** Returns the index in `buf` just past the end of the body, or -1 when it goes on. */
  scan(buf: Uint8Array, from = 0): number {
    let i = from;
    const len = buf.length;
    while (i < len) {
      if (this.state === Chunk.Data) {
        const take = Math.min(this.remaining, len - i);
        i += take;
        this.dataBytes += take;
        this.remaining -= take;
        if (this.remaining === 0) this.state = Chunk.DataCr;
        continue;
      }
      const c = buf[i++];
      if (++this.overhead > this.maxOverhead) throw new HttpError(400, 'chunked framing too large');
      switch (this.state) {
        case Chunk.Size: {
          const h = c < 128 ? HEX[c] : -1;
          if (h >= 0) {
            if (++this.digits > 13) throw new HttpError(400, 'chunk size too large');
            this.remaining = this.remaining * 16 + h;
          } else if (this.digits === 0) {
            throw new HttpError(400, 'malformed chunk size');
          } else if (c === 13) this.state = Chunk.SizeLf;
          else if (c === 59 /* ; */) this.state = Chunk.Ext;
          else if (c === 32 || c === 9) this.state = Chunk.SizeWs;
          else throw new HttpError(400, 'malformed chunk size');
          break;
        }
        case Chunk.SizeWs:
          if (c === 59) this.state = Chunk.Ext;
          else if (c === 13) this.state = Chunk.SizeLf;
          else if (c !== 32 && c !== 9) throw new HttpError(400, 'malformed chunk size');
          break;
        case Chunk.Ext:
          if (c === 13) this.state = Chunk.SizeLf;
          else if ((c < 32 && c !== 9) || c === 127) throw new HttpError(400, 'malformed chunk extension');
          break;
        case Chunk.SizeLf:
          if (c !== 10) throw new HttpError(400, 'malformed chunk size line');
          this.digits = 0;
          if (this.remaining === 0) this.state = Chunk.TrailerStart;
          else this.state = Chunk.Data;
          break;
        case Chunk.DataCr:
          if (c !== 13) throw new HttpError(400, 'chunk data longer than its size');
          this.state = Chunk.DataLf;
          break;
        case Chunk.DataLf:
          if (c !== 10) throw new HttpError(400, 'chunk data longer than its size');
          this.state = Chunk.Size;
          break;
        case Chunk.TrailerStart:
          if (c === 13) this.state = Chunk.FinalLf;
          else if (c === 10 || c === 32 || c === 9) throw new HttpError(400, 'malformed trailer');
          else this.state = Chunk.Trailer;
          break;
        case Chunk.Trailer:
          if (c === 13) this.state = Chunk.TrailerLf;
          else if (c === 10 || (c < 32 && c !== 9) || c === 127) throw new HttpError(400, 'malformed trailer');
          break;
        case Chunk.TrailerLf:
          if (c !== 10) throw new HttpError(400, 'malformed trailer');
          this.state = Chunk.TrailerStart;
          break;
        case Chunk.FinalLf:
          if (c !== 10) throw new HttpError(400, 'malformed end of chunked body');
          this.state = Chunk.Done;
          return i;
        default:
          return i - 1;
      }
    }
    return -1;
  }
}

const REASONS: Record<number, string> = {
  200: 'OK',
  400: 'Bad Request',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  413: 'Payload Too Large',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
  505: 'HTTP Version Not Supported',
};

export const reasonPhrase = (status: number) => REASONS[status] ?? 'Unknown';

let cachedDate = '';
let cachedDateAt = 0;

/** The Date header value, recomputed at most once per second. */
export function httpDate(now = Date.now()): string {
  if (now - cachedDateAt >= 1000 || now < cachedDateAt) {
    cachedDateAt = now - (now % 1000);
    cachedDate = new Date(cachedDateAt).toUTCString();
  }
  return cachedDate;
}
