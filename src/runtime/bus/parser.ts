// Incremental, byte-level parser for the client side of the NATS protocol (what a server reads).
//
// Modelled on nats-server's parser.go: a state machine fed one TCP chunk at a time. An op may be
// split across any number of chunks and a chunk may hold many ops. Op names are case-insensitive,
// arguments are separated by spaces or tabs, control lines end in LF (an optional CR before it is
// dropped). PUB/HPUB payloads are read as exactly the declared number of bytes followed by CRLF
// (also for size 0); payload bytes are never decoded or split on. The max payload is checked from
// the control line before any payload byte is read, and a control line longer than
// `maxControlLine` is refused (checked at its end and, when it spans chunks, at every chunk end,
// like nats-server).
//
// The hot path calls a handler (no op objects, no payload copies when a message arrives whole):
// the payload handed to `onPub` is a window (buffer, start, end) into the chunk and is only valid
// during the call. `parseOps()` wraps this into typed op objects for tests and tools.

export type ParseErrorKind =
  /** Not an op we know, or bytes where CRLF should follow a payload → -ERR 'Unknown Protocol Operation'. */
  | 'unknown_op'
  /** Something other than CONNECT while authentication is pending → -ERR 'Authorization Violation'. */
  | 'auth'
  /** → -ERR 'maximum control line exceeded'. */
  | 'max_control_line'
  /** → -ERR 'Maximum Payload Violation'. */
  | 'max_payload'
  /** Wrong number of arguments, bad size, header size > total size: nats-server closes silently. */
  | 'bad_args'
  /** HPUB from a client that did not ask for headers: nats-server closes silently. */
  | 'headers_not_supported';

export interface ParserHandler {
  onConnect(json: string): void;
  onInfo(json: string): void;
  /**
   * PUB (`hdrLen` = -1) or HPUB (`hdrLen` ≥ 0, counted inside the payload). The payload is
   * `payload[start, end)`; the buffer may be reused after the call returns.
   */
  onPub(subject: string, reply: string | undefined, hdrLen: number, payload: Buffer, start: number, end: number): void;
  onSub(subject: string, queue: string | undefined, sid: string): void;
  /** `max` is undefined when absent and -1 when not a number (nats-server then unsubscribes at once). */
  onUnsub(sid: string, max: number | undefined): void;
  onPing(): void;
  onPong(): void;
  onOk(): void;
  /** A `-ERR` sent by the client. */
  onErr(text: string): void;
  /** The stream is broken; the parser halts and ignores all further input. */
  onError(kind: ParseErrorKind, detail: string): void;
}

export interface ParserOptions {
  /** Longest control line argument part, in bytes (nats-server: 4096). */
  maxControlLine?: number;
  /** Largest PUB/HPUB payload, in bytes (nats-server: 1 MiB). */
  maxPayload?: number;
}

// Ops
const OP_NONE = 0;
const OP_PUB = 1;
const OP_HPUB = 2;
const OP_SUB = 3;
const OP_UNSUB = 4;
const OP_PING = 5;
const OP_PONG = 6;
const OP_CONNECT = 7;
const OP_INFO = 8;
const OP_OK = 9;
const OP_ERR = 10;

// States
const S_START = 0;
/** Matching the rest of an op keyword; `kw`/`kwPos` say which and where. */
const S_KEYWORD = 1;
/** After "P": PUB, PING or PONG. */
const S_P = 2;
/** Keyword done, a space or tab must follow (PUB, HPUB, SUB, UNSUB, -ERR). */
const S_NEED_SPACE = 3;
/** Skipping blanks before the arguments. */
const S_SPACE = 4;
/** Reading the arguments up to LF. */
const S_ARG = 5;
/** Ignoring everything up to LF (PING, PONG, +OK, like nats-server). */
const S_TO_LF = 6;
/** Reading a payload that did not arrive whole. */
const S_PAYLOAD = 7;
const S_END_R = 8;
const S_END_N = 9;
const S_HALTED = 10;

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const TAB = 0x09;

const KEYWORDS: Record<number, string> = {
  [OP_PUB]: 'pub',
  [OP_HPUB]: 'hpub',
  [OP_SUB]: 'sub',
  [OP_UNSUB]: 'unsub',
  [OP_PING]: 'ping',
  [OP_PONG]: 'pong',
  [OP_CONNECT]: 'connect',
  [OP_INFO]: 'info',
  [OP_OK]: '+ok',
  [OP_ERR]: '-err',
};
const KW_CODES: Record<number, number[]> = Object.fromEntries(
  Object.entries(KEYWORDS).map(([op, word]) => [op, [...word].map((ch) => ch.charCodeAt(0))]),
);

const latin1 = (buf: Buffer, start: number, end: number): string => buf.toString('latin1', start, end);

/** Parses a decimal size the way nats-server does: 1–9 ASCII digits, anything else is -1. */
function parseSize(buf: Buffer, start: number, end: number): number {
  const len = end - start;
  if (len <= 0 || len > 9) return -1;
  let n = 0;
  for (let i = start; i < end; i++) {
    const d = buf[i] - 0x30;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

const MAX_ARGS = 6;

export class Parser {
  /** While true, any op other than CONNECT is an authorization violation (auth pending). */
  awaitingConnect = false;
  /** Whether HPUB is acceptable (the client sent `headers: true`). */
  headersAllowed = false;

  private readonly maxControlLine: number;
  private readonly maxPayload: number;

  private state = S_START;
  private op = OP_NONE;
  private kw: number[] = [];
  private kwPos = 0;
  /** Argument bytes carried over from previous chunks (control line split across reads). */
  private argBuf: Buffer | undefined;
  private argLen = 0;

  // The PUB/HPUB being read.
  private pubSubject = '';
  private pubReply: string | undefined;
  private pubHdr = -1;
  private pubSize = 0;
  private payload: Buffer | undefined;
  private payloadFill = 0;

  /** Token boundaries of the current argument line: [start0, end0, start1, end1, ...]. */
  private readonly tok = new Int32Array(MAX_ARGS * 2);

  constructor(
    private readonly handler: ParserHandler,
    options: ParserOptions = {},
  ) {
    this.maxControlLine = options.maxControlLine ?? 4096;
    this.maxPayload = options.maxPayload ?? 1024 * 1024;
  }

  get halted(): boolean {
    return this.state === S_HALTED;
  }

  /** Stops parsing for good (the connection is closing). */
  halt(): void {
    this.state = S_HALTED;
    this.argBuf = undefined;
    this.payload = undefined;
  }

  private fail(kind: ParseErrorKind, detail: string): void {
    this.halt();
    this.handler.onError(kind, detail);
  }

  /** Feeds one chunk. Never throws for bad input; errors go to `handler.onError`. */
  parse(buf: Buffer): void {
    const len = buf.length;
    let i = 0;
    let argStart = 0;
    while (i < len) {
      switch (this.state) {
        case S_START: {
          const b = buf[i];
          if (this.awaitingConnect && b !== 0x43 && b !== 0x63) {
            this.fail('auth', 'first op must be CONNECT');
            return;
          }
          switch (b | 0x20) {
            case 0x70: // p
              this.state = S_P;
              break;
            case 0x68: // h
              this.startKeyword(OP_HPUB);
              break;
            case 0x73: // s
              this.startKeyword(OP_SUB);
              break;
            case 0x75: // u
              this.startKeyword(OP_UNSUB);
              break;
            case 0x63: // c
              this.startKeyword(OP_CONNECT);
              break;
            case 0x69: // i
              this.startKeyword(OP_INFO);
              break;
            default:
              if (b === 0x2b) this.startKeyword(OP_OK);
              else if (b === 0x2d) this.startKeyword(OP_ERR);
              else {
                this.fail('unknown_op', `unexpected byte 0x${b.toString(16)} at op start`);
                return;
              }
          }
          i++;
          break;
        }
        case S_P: {
          const b = buf[i] | 0x20;
          if (b === 0x75) this.op = OP_PUB;
          else if (b === 0x69) this.op = OP_PING;
          else if (b === 0x6f) this.op = OP_PONG;
          else {
            this.fail('unknown_op', 'unknown op after P');
            return;
          }
          this.kw = KW_CODES[this.op];
          this.kwPos = 2;
          this.state = S_KEYWORD;
          i++;
          break;
        }
        case S_KEYWORD: {
          const b = buf[i];
          const want = this.kw[this.kwPos];
          // Letters compare case-insensitively; '+'/'-' only start a keyword and never reach here.
          if ((b | 0x20) !== want) {
            this.fail('unknown_op', `unknown op ${KEYWORDS[this.op].toUpperCase()}`);
            return;
          }
          i++;
          if (++this.kwPos === this.kw.length) {
            switch (this.op) {
              case OP_PING:
              case OP_PONG:
              case OP_OK:
                this.state = S_TO_LF;
                break;
              case OP_CONNECT:
              case OP_INFO:
                this.state = S_SPACE;
                break;
              default:
                this.state = S_NEED_SPACE;
            }
          }
          break;
        }
        case S_NEED_SPACE: {
          const b = buf[i];
          if (b !== SP && b !== TAB) {
            this.fail('unknown_op', `${KEYWORDS[this.op].toUpperCase()} must be followed by a space`);
            return;
          }
          this.state = S_SPACE;
          i++;
          break;
        }
        case S_SPACE: {
          const b = buf[i];
          if (b === SP || b === TAB) {
            i++;
            break;
          }
          this.state = S_ARG;
          this.argBuf = undefined;
          this.argLen = 0;
          argStart = i;
          break;
        }
        case S_ARG: {
          // Scan to LF.
          let j = i;
          while (j < len && buf[j] !== LF) j++;
          if (j === len) {
            // Control line continues in the next chunk: keep what we have. (A CR that ends the
            // chunk belongs to the CRLF, not to the line: nats-server does not count it either.)
            this.saveArg(buf, argStart, len);
            if (this.argLen - (buf[len - 1] === CR ? 1 : 0) > this.maxControlLine) {
              this.fail('max_control_line', `control line longer than ${this.maxControlLine}`);
              return;
            }
            i = len;
            break;
          }
          let line: Buffer;
          let ls: number;
          let le: number;
          if (this.argBuf === undefined) {
            line = buf;
            ls = argStart;
            le = j;
          } else {
            this.saveArg(buf, argStart, j);
            line = this.argBuf;
            ls = 0;
            le = this.argLen;
            this.argBuf = undefined;
          }
          if (le > ls && line[le - 1] === CR) le--;
          if (le - ls > this.maxControlLine) {
            this.fail('max_control_line', `control line longer than ${this.maxControlLine}`);
            return;
          }
          i = j + 1;
          this.state = S_START;
          const op = this.op;
          if (op === OP_PUB || op === OP_HPUB) {
            if (!this.pubArgs(line, ls, le, op === OP_HPUB)) return;
            // Payload: fast path when it is all here, with its CRLF.
            const size = this.pubSize;
            const end = i + size;
            if (end + 2 <= len) {
              if (buf[end] !== CR || buf[end + 1] !== LF) {
                this.fail('unknown_op', 'payload not followed by CRLF');
                return;
              }
              this.handler.onPub(this.pubSubject, this.pubReply, this.pubHdr, buf, i, end);
              if (this.state === S_HALTED) return;
              i = end + 2;
            } else {
              const payload = Buffer.allocUnsafe(size);
              const have = Math.min(size, len - i);
              buf.copy(payload, 0, i, i + have);
              this.payload = payload;
              this.payloadFill = have;
              i += have;
              this.state = have === size ? S_END_R : S_PAYLOAD;
            }
          } else {
            this.dispatchArgs(op, line, ls, le);
            if (this.state === S_HALTED) return;
          }
          break;
        }
        case S_TO_LF: {
          let j = i;
          while (j < len && buf[j] !== LF) j++;
          if (j === len) {
            i = len;
            break;
          }
          i = j + 1;
          this.state = S_START;
          const op = this.op;
          if (op === OP_PING) this.handler.onPing();
          else if (op === OP_PONG) this.handler.onPong();
          else this.handler.onOk();
          if (this.state === S_HALTED) return;
          break;
        }
        case S_PAYLOAD: {
          const payload = this.payload as Buffer;
          const have = Math.min(this.pubSize - this.payloadFill, len - i);
          buf.copy(payload, this.payloadFill, i, i + have);
          this.payloadFill += have;
          i += have;
          if (this.payloadFill === this.pubSize) this.state = S_END_R;
          break;
        }
        case S_END_R:
          if (buf[i] !== CR) {
            this.fail('unknown_op', 'payload not followed by CRLF');
            return;
          }
          this.state = S_END_N;
          i++;
          break;
        case S_END_N: {
          if (buf[i] !== LF) {
            this.fail('unknown_op', 'payload not followed by CRLF');
            return;
          }
          i++;
          this.state = S_START;
          const payload = this.payload as Buffer;
          this.payload = undefined;
          this.handler.onPub(this.pubSubject, this.pubReply, this.pubHdr, payload, 0, payload.length);
          if (this.state === S_HALTED) return;
          break;
        }
        default: // S_HALTED
          return;
      }
    }
  }

  private startKeyword(op: number): void {
    this.op = op;
    this.kw = KW_CODES[op];
    this.kwPos = 1;
    this.state = S_KEYWORD;
  }

  /** Appends buf[start, end) to the carried-over argument bytes. */
  private saveArg(buf: Buffer, start: number, end: number): void {
    const n = end - start;
    if (n <= 0) {
      this.argBuf ??= Buffer.alloc(0);
      return;
    }
    if (this.argBuf === undefined) {
      this.argBuf = Buffer.allocUnsafe(Math.max(64, n * 2));
      this.argLen = 0;
    } else if (this.argLen + n > this.argBuf.length) {
      // Bounded: the caller fails as soon as the line is over the limit, so this holds at most
      // the limit plus one chunk.
      const grown = Buffer.allocUnsafe(Math.max((this.argLen + n) * 2, 64));
      this.argBuf.copy(grown, 0, 0, this.argLen);
      this.argBuf = grown;
    }
    buf.copy(this.argBuf, this.argLen, start, end);
    this.argLen += n;
  }

  /** Splits line[ls, le) on blanks into `tok`; returns the token count (MAX_ARGS+1 = too many). */
  private tokenize(line: Buffer, ls: number, le: number): number {
    const tok = this.tok;
    let n = 0;
    let i = ls;
    while (i < le) {
      let b = line[i];
      while (b === SP || b === TAB || b === CR || b === LF) {
        if (++i >= le) return n;
        b = line[i];
      }
      if (n === MAX_ARGS) return MAX_ARGS + 1;
      const s = i;
      while (i < le) {
        b = line[i];
        if (b === SP || b === TAB || b === CR || b === LF) break;
        i++;
      }
      tok[n * 2] = s;
      tok[n * 2 + 1] = i;
      n++;
    }
    return n;
  }

  /** Parses PUB/HPUB arguments into the pub* fields; false when it failed (already reported). */
  private pubArgs(line: Buffer, ls: number, le: number, hpub: boolean): boolean {
    if (hpub && !this.headersAllowed) {
      this.fail('headers_not_supported', 'HPUB without headers support');
      return false;
    }
    const tok = this.tok;
    const n = this.tokenize(line, ls, le);
    let size: number;
    let hdr = -1;
    if (hpub) {
      if (n !== 3 && n !== 4) {
        this.fail('bad_args', `HPUB takes 3 or 4 arguments, got ${n}`);
        return false;
      }
      hdr = parseSize(line, tok[(n - 2) * 2], tok[(n - 2) * 2 + 1]);
      size = parseSize(line, tok[(n - 1) * 2], tok[(n - 1) * 2 + 1]);
      if (hdr < 0 || size < 0) {
        this.fail('bad_args', 'bad or missing size');
        return false;
      }
      if (hdr > size) {
        this.fail('bad_args', 'header size larger than total size');
        return false;
      }
    } else {
      if (n !== 2 && n !== 3) {
        this.fail('bad_args', `PUB takes 2 or 3 arguments, got ${n}`);
        return false;
      }
      size = parseSize(line, tok[(n - 1) * 2], tok[(n - 1) * 2 + 1]);
      if (size < 0) {
        this.fail('bad_args', 'bad or missing size');
        return false;
      }
    }
    if (size > this.maxPayload) {
      this.fail('max_payload', `payload ${size} > ${this.maxPayload}`);
      return false;
    }
    this.pubSubject = latin1(line, tok[0], tok[1]);
    this.pubReply = n === (hpub ? 4 : 3) ? latin1(line, tok[2], tok[3]) : undefined;
    this.pubHdr = hpub ? hdr : -1;
    this.pubSize = size;
    return true;
  }

  private dispatchArgs(op: number, line: Buffer, ls: number, le: number): void {
    const h = this.handler;
    switch (op) {
      case OP_SUB: {
        const n = this.tokenize(line, ls, le);
        const tok = this.tok;
        if (n === 2) h.onSub(latin1(line, tok[0], tok[1]), undefined, latin1(line, tok[2], tok[3]));
        else if (n === 3) h.onSub(latin1(line, tok[0], tok[1]), latin1(line, tok[2], tok[3]), latin1(line, tok[4], tok[5]));
        else this.fail('bad_args', `SUB takes 2 or 3 arguments, got ${n}`);
        return;
      }
      case OP_UNSUB: {
        const n = this.tokenize(line, ls, le);
        const tok = this.tok;
        if (n === 1) h.onUnsub(latin1(line, tok[0], tok[1]), undefined);
        else if (n === 2) h.onUnsub(latin1(line, tok[0], tok[1]), parseSize(line, tok[2], tok[3]));
        else this.fail('bad_args', `UNSUB takes 1 or 2 arguments, got ${n}`);
        return;
      }
      case OP_CONNECT:
        h.onConnect(line.toString('utf8', ls, le));
        return;
      case OP_INFO:
        h.onInfo(line.toString('utf8', ls, le));
        return;
      case OP_ERR:
        h.onErr(line.toString('utf8', ls, le));
        return;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Typed ops, for tests and tools (the server uses the handler directly).

export type ParsedOp =
  | { op: 'CONNECT'; json: string }
  | { op: 'INFO'; json: string }
  | { op: 'PUB'; subject: string; reply?: string; payload: Buffer }
  | { op: 'HPUB'; subject: string; reply?: string; headers: Buffer; payload: Buffer }
  | { op: 'SUB'; subject: string; queue?: string; sid: string }
  | { op: 'UNSUB'; sid: string; max?: number }
  | { op: 'PING' }
  | { op: 'PONG' }
  | { op: '+OK' }
  | { op: '-ERR'; text: string }
  | { op: 'ERROR'; kind: ParseErrorKind; detail: string };

/** Parses chunks into typed ops (payloads copied). Stops after the first error op. */
export function parseOps(chunks: Iterable<Buffer | string>, options: ParserOptions & { headers?: boolean } = {}): ParsedOp[] {
  const ops: ParsedOp[] = [];
  const withOpt = <T extends object>(o: T, key: string, value: unknown): T => (value === undefined ? o : { ...o, [key]: value });
  const parser = new Parser(
    {
      onConnect: (json) => ops.push({ op: 'CONNECT', json }),
      onInfo: (json) => ops.push({ op: 'INFO', json }),
      onPub: (subject, reply, hdrLen, payload, start, end) => {
        const body = Buffer.from(payload.subarray(start, end));
        if (hdrLen < 0) ops.push(withOpt({ op: 'PUB' as const, subject, payload: body }, 'reply', reply));
        else ops.push(withOpt({ op: 'HPUB' as const, subject, headers: body.subarray(0, hdrLen), payload: body.subarray(hdrLen) }, 'reply', reply));
      },
      onSub: (subject, queue, sid) => ops.push(withOpt({ op: 'SUB' as const, subject, sid }, 'queue', queue)),
      onUnsub: (sid, max) => ops.push(withOpt({ op: 'UNSUB' as const, sid }, 'max', max)),
      onPing: () => ops.push({ op: 'PING' }),
      onPong: () => ops.push({ op: 'PONG' }),
      onOk: () => ops.push({ op: '+OK' }),
      onErr: (text) => ops.push({ op: '-ERR', text }),
      onError: (kind, detail) => ops.push({ op: 'ERROR', kind, detail }),
    },
    options,
  );
  parser.headersAllowed = options.headers ?? true;
  for (const chunk of chunks) {
    parser.parse(typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk);
    if (parser.halted) break;
  }
  return ops;
}
