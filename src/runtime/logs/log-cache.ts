// log-cache's read API over the logs component's store, as the cf CLI 8 reads it (docs/logs.md,
// "log-cache"): `GET /api/v1/info` and `GET /api/v1/read/:source_id`. The query is log-cache's
// (cloudfoundry/log-cache, internal/routing/local_store_reader.go): start_time inclusive, end_time
// exclusive (default now), envelope_types, limit (default 100, at most 1000), descending; the answer
// is its protojson `{"envelopes":{"batch":[…]}}` with int64 timestamps as strings and payloads in
// base64. devbox keeps log lines only, so any envelope type but LOG (or ANY) selects nothing.
import os from 'node:os';
import type { LogRecord } from './envelope.js';

/** The log-cache version devbox answers as (≥ 2.1: go-log-cache then reads under /api/v1). */
export const LOG_CACHE_VERSION = '2.11.4';
export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 1000;

const ENVELOPE_TYPES = new Set(['ANY', 'LOG', 'COUNTER', 'GAUGE', 'TIMER', 'EVENT']);
/** The enum's numbers, which grpc-gateway also accepts. */
const ENVELOPE_TYPE_NUMBERS = ['ANY', 'LOG', 'COUNTER', 'GAUGE', 'TIMER', 'EVENT'];
/** Go's strconv.ParseBool, which grpc-gateway uses for bool query parameters. */
const BOOLS: Record<string, boolean> = { '1': true, t: true, T: true, TRUE: true, true: true, True: true, '0': false, f: false, F: false, FALSE: false, false: false, False: false };

export interface ReadQuery {
  start: bigint;
  /** Exclusive; now when not given (or 0). */
  end: bigint;
  logs: boolean;
  limit: number;
  descending: boolean;
}

/** A query that log-cache refuses: HTTP 400 with grpc-gateway's body (code 3, InvalidArgument). */
export class ReadQueryError extends Error {}

/** `{"version","vm_uptime"}`, as log-cache's info endpoint answers. */
export function infoBody(): string {
  return JSON.stringify({ version: LOG_CACHE_VERSION, vm_uptime: String(Math.floor(os.uptime())) });
}

/** grpc-gateway's error body, as log-cache answers a refused read. */
export function readErrorBody(message: string): string {
  return JSON.stringify({ code: 3, message, details: [] });
}

/** The int64 query parameter `name` (a decimal string, possibly negative), or undefined when absent or empty. */
function int64(params: URLSearchParams, name: string): bigint | undefined {
  const values = params.getAll(name);
  const text = values[values.length - 1];
  if (text === undefined || text === '') return undefined;
  if (!/^[+-]?\d{1,19}$/.test(text)) throw new ReadQueryError(`${name}: '${text}' is not a whole number of nanoseconds since the epoch`);
  const value = BigInt(text);
  if (value > 9223372036854775807n || value < -9223372036854775808n) throw new ReadQueryError(`${name}: '${text}' is out of range`);
  return value;
}

/** Parses a read's query string as log-cache does; throws ReadQueryError for what it refuses. */
export function parseReadQuery(params: URLSearchParams, nowNs: bigint): ReadQuery {
  const start = int64(params, 'start_time') ?? 0n;
  const endGiven = int64(params, 'end_time') ?? 0n;
  if (endGiven !== 0n && start > endGiven) throw new ReadQueryError(`StartTime (${start}) must be before EndTime (${endGiven})`);
  const limitValue = int64(params, 'limit') ?? 0n;
  if (limitValue > BigInt(MAX_LIMIT)) throw new ReadQueryError(`Limit (${limitValue}) must be ${MAX_LIMIT} or less`);
  if (limitValue < 0n) throw new ReadQueryError(`Limit (${limitValue}) must be greater than zero`);
  const types: string[] = [];
  // Repeated (`envelope_types=LOG&envelope_types=GAUGE`), as go-log-cache sends them; commas are also taken.
  for (const value of params.getAll('envelope_types').flatMap((v) => v.split(','))) {
    const name = /^\d+$/.test(value) ? ENVELOPE_TYPE_NUMBERS[Number(value)] : value;
    if (name === undefined || !ENVELOPE_TYPES.has(name)) throw new ReadQueryError(`envelope_types: '${value}' is not one of ANY, LOG, COUNTER, GAUGE, TIMER, EVENT`);
    types.push(name);
  }
  const specific = types.filter((t) => t !== 'ANY');
  const descendingText = params.get('descending');
  let descending = false;
  if (descendingText !== null) {
    const parsed = BOOLS[descendingText];
    if (parsed === undefined) throw new ReadQueryError(`descending: '${descendingText}' is not a boolean`);
    descending = parsed;
  }
  return {
    start,
    end: endGiven === 0n ? nowNs : endGiven,
    logs: specific.length === 0 || specific.includes('LOG'),
    limit: limitValue === 0n ? DEFAULT_LIMIT : Number(limitValue),
    descending,
  };
}

const nanos = (record: LogRecord): bigint => BigInt(Math.trunc(record.envelope.timestamp));

/**
 * The records a query selects from an app's records sorted oldest first: those in [start, end),
 * the oldest `limit` of them, or the newest `limit` newest first when descending.
 */
export function selectRecords(sorted: LogRecord[], query: ReadQuery): LogRecord[] {
  if (!query.logs) return [];
  const out: LogRecord[] = [];
  const inRange = (r: LogRecord) => {
    const t = nanos(r);
    return t >= query.start && t < query.end;
  };
  if (query.descending) {
    for (let i = sorted.length - 1; i >= 0 && out.length < query.limit; i--) if (inRange(sorted[i])) out.push(sorted[i]);
  } else {
    for (let i = 0; i < sorted.length && out.length < query.limit; i++) if (inRange(sorted[i])) out.push(sorted[i]);
  }
  return out;
}

/** A record as a loggregator v2 envelope in protojson (the fields go-log-cache's protojson.Unmarshal knows). */
export function toProtojson(record: LogRecord): unknown {
  const e = record.envelope;
  return {
    timestamp: nanos(record).toString(),
    source_id: e.app_guid,
    instance_id: e.source_instance,
    tags: { source_type: e.source_type },
    log: { payload: Buffer.from(e.message, 'utf8').toString('base64'), type: e.message_type },
  };
}

/** `{"envelopes":{"batch":[…]}}` */
export function readBody(records: LogRecord[]): string {
  return JSON.stringify({ envelopes: { batch: records.map(toProtojson) } });
}
