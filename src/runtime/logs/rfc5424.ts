// A log envelope as Loggregator's syslog agents write it to a drain (loggregator-agent-release,
// src/pkg/egress/syslog/rfc5424.go, with go-loggregator's rfc5424 marshalling): one RFC 5424 message
//
//     <14>1 2026-11-21T10:00:03.551234+00:00 devbox.dev.hello 0c6f… [APP/PROC/WEB/0] - [tags@47450 source_type="APP/PROC/WEB"] listening on 8081\n
//
// PRI 14 (user.info) for OUT, 11 (user.err) for ERR; VERSION 1; the time in UTC to the microsecond
// (cut, trailing zeros dropped) with `+00:00`; HOSTNAME the drain's hostname from Cloud Controller
// (`org.space.app`); APP-NAME the app guid; PROCID `[SOURCE_TYPE/INSTANCE]`; no MSGID; the envelope's
// tags as structured data (`tags@47450`, the Cloud Foundry Foundation's enterprise number; devbox's
// envelopes carry `source_type`), or `-` when the drain asks for no metadata; the message without NUL
// bytes and ending in one newline. Over TCP each message is sent with RFC 6587 octet counting:
// `<length in bytes> <message>`.

/** The Cloud Foundry Foundation's IANA enterprise number, in Loggregator's structured data ids. */
export const TAGS_SD_ID = 'tags@47450';

export interface SyslogEnvelope {
  /** Nanoseconds since the epoch. */
  timestamp: number;
  app_guid: string;
  source_type: string;
  source_instance: string;
  message_type: 'OUT' | 'ERR';
  message: string;
}

export interface Rfc5424Options {
  /** HOSTNAME: the drain binding's hostname (Cloud Controller's `org.space.app`). */
  hostname: string;
  /** Leave the structured data out (`?disable-metadata=true` on the drain URL). */
  omitMetadata?: boolean;
}

/** Severity user.info (OUT) or user.err (ERR), as Loggregator's genPriority. */
export const priorityOf = (type: 'OUT' | 'ERR'): number => (type === 'ERR' ? 11 : 14);

const MAX_NS = 253_402_300_799_999_999_999n; // 9999-12-31T23:59:59.999999999Z: a 4-digit year

/**
 * RFC 5424's TIMESTAMP as Go's `2006-01-02T15:04:05.999999-07:00` writes a UTC time: microseconds,
 * cut (not rounded), trailing zeros dropped (the dot too when nothing is left), offset `+00:00`.
 */
export function rfc5424Timestamp(ns: number): string {
  let n = Number.isFinite(ns) ? BigInt(Math.trunc(ns)) : 0n;
  if (n < 0n) n = 0n;
  if (n > MAX_NS) n = MAX_NS;
  const micros = n / 1000n;
  const seconds = micros / 1_000_000n;
  const fraction = (micros % 1_000_000n).toString().padStart(6, '0').replace(/0+$/, '');
  const base = new Date(Number(seconds) * 1000).toISOString().slice(0, 19);
  return `${base}${fraction ? `.${fraction}` : ''}+00:00`;
}

/** Printable US-ASCII only (RFC 5424's PRINTUSASCII, 33-126): Go's `[^[:graph:]]` removed. */
const NOT_GRAPH = /[^\x21-\x7e]+/g;

/** A header field as go-loggregator writes it: at most `max` bytes of printable ASCII, `-` when empty. */
function headerField(value: string, max: number): string {
  const printable = value.replace(NOT_GRAPH, '').slice(0, max);
  return printable === '' ? '-' : printable;
}

/**
 * PROCID: `[APP/PROC/WEB/0]`. The source type upper-cased, runs of white space as `-`, anything
 * unprintable removed and trailing dashes dropped (sanitizeProcID); the instance cut so that the
 * whole fits RFC 5424's 128 characters (generateProcessID).
 */
export function processId(sourceType: string, sourceInstance: string): string {
  const type = sourceType.replace(/\s+/g, '-').replace(NOT_GRAPH, '').replace(/-+$/, '').toUpperCase();
  let instance = sourceInstance.replace(NOT_GRAPH, '');
  if (instance === '') return `[${type}]`.slice(0, 128);
  if (type.length + instance.length + 3 > 128) instance = instance.slice(0, Math.max(0, 128 - type.length - 3));
  return `[${type}/${instance}]`.slice(0, 128);
}

/** An SD-PARAM value: `"`, `\` and `]` escaped with a backslash (RFC 5424 §6.3.3). */
const sdValue = (value: string) => value.replace(/["\\\]]/g, (c) => `\\${c}`);

/** The structured data of a log line: its tags, sorted by name (devbox's envelopes have source_type). */
export function structuredData(envelope: Pick<SyslogEnvelope, 'source_type'>): string {
  return `[${TAGS_SD_ID} source_type="${sdValue(envelope.source_type)}"]`;
}

/** One RFC 5424 message (with its final newline), as the bytes a drain receives. */
export function toRfc5424(envelope: SyslogEnvelope, { hostname, omitMetadata = false }: Rfc5424Options): Buffer {
  const header = [
    `<${priorityOf(envelope.message_type)}>1`,
    rfc5424Timestamp(envelope.timestamp),
    headerField(hostname, 255),
    headerField(envelope.app_guid, 48),
    processId(envelope.source_type, envelope.source_instance),
    '-',
    omitMetadata ? '-' : structuredData(envelope),
  ].join(' ');
  let message = envelope.message.includes('\0') ? envelope.message.replaceAll('\0', '') : envelope.message;
  if (!message.endsWith('\n')) message += '\n';
  return Buffer.from(`${header} ${message}`, 'utf8');
}

/** RFC 6587 octet counting: the message's length in bytes, a space, the message. */
export function octetCounted(message: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${message.length} `, 'ascii'), message]);
}

/**
 * Reads octet-counted frames off a byte stream (what a syslog server over TCP does): `push` a chunk,
 * get the complete messages so far. For tests and tools; throws on a frame that is not
 * `<digits> <bytes>`.
 */
export class OctetCountingReader {
  private pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Buffer[] {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const out: Buffer[] = [];
    for (;;) {
      const space = this.pending.indexOf(0x20);
      if (space < 0) {
        if (this.pending.length > 10) throw new Error('an octet-counted frame must start with its length and a space');
        break;
      }
      const digits = this.pending.subarray(0, space).toString('ascii');
      if (!/^[1-9]\d{0,9}$/.test(digits)) throw new Error(`bad octet count '${digits.slice(0, 20)}'`);
      const length = Number(digits);
      if (this.pending.length < space + 1 + length) break;
      out.push(this.pending.subarray(space + 1, space + 1 + length));
      this.pending = this.pending.subarray(space + 1 + length);
    }
    return out;
  }
}
