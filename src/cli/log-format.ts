// How `devbox logs` prints a line, as the cf CLI does:
//    2026-11-21T10:00:00.00+0000 [APP/PROC/WEB/0] OUT listening on 8081
// three spaces, the time in UTC to the hundredth of a second (cut, not rounded, as Go's time
// formatting does), the source and its instance, OUT or ERR, the message. A message of several lines
// continues under its first line, aligned after the header. An ERR line is red, header and message,
// as cf's util/ui/log_message.go colours it. Pure: colour is the caller's choice (logColor).
import type { LogEnvelope } from '../runtime/common/bus-messages.js';
import { colorEnabled, paint } from './output.js';

const pad2 = (n: number) => (n < 10 ? `0${n}` : String(n));

/** `2026-11-21T10:00:00.00+0000` for a time in nanoseconds since the epoch. */
export function formatLogTimestamp(ns: number): string {
  if (!Number.isFinite(ns)) return '0001-01-01T00:00:00.00+0000';
  // In integers: ns / 1e6 as a float rounds 23:59:59.9999999 up to the next day.
  const ms = Number(BigInt(Math.trunc(ns)) / 1_000_000n) - (ns < 0 && ns % 1e6 !== 0 ? 1 : 0);
  const d = new Date(ms);
  if (Number.isNaN(d.getTime())) return '0001-01-01T00:00:00.00+0000';
  const centis = Math.floor((((ms % 1000) + 1000) % 1000) / 10);
  return `${d.getUTCFullYear()}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())}T${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}.${pad2(centis)}+0000`;
}

/** `APP/PROC/WEB/0`, `RTR/0`: the source type and its instance (the type alone when it has none). */
export function formatLogSource(envelope: Pick<LogEnvelope, 'source_type' | 'source_instance'>): string {
  return envelope.source_instance === '' ? envelope.source_type : `${envelope.source_type}/${envelope.source_instance}`;
}

export interface LogFormatOptions {
  /** ERR lines in red (only for a terminal). */
  color?: boolean;
}

/** One envelope as the cf CLI prints it (no trailing newline). */
export function formatLogLine(envelope: LogEnvelope, { color = false }: LogFormatOptions = {}): string {
  const header = `${formatLogTimestamp(envelope.timestamp)} [${formatLogSource(envelope)}] ${envelope.message_type} `;
  // cf trims the message's trailing line breaks; further lines are indented under the first.
  const lines = envelope.message.replace(/[\r\n]+$/, '').split(/\r?\n/);
  const indent = ' '.repeat(header.length);
  const red = color && envelope.message_type === 'ERR';
  // cf leaves the three leading spaces uncoloured and paints the rest of each line.
  return lines.map((line, i) => `   ${paint('31', i === 0 ? `${header}${line}` : `${indent}${line}`, red)}`).join('\n');
}

/** Colour for log lines: as output.ts decides for OK/FAILED (a terminal, no NO_COLOR, CF_COLOR not false). */
export function logColor(stream: { isTTY?: boolean } = process.stdout, env: NodeJS.ProcessEnv = process.env): boolean {
  return colorEnabled(stream, env);
}

/** Envelopes sorted by time, each source's own order kept (Array.prototype.sort is stable). */
export function sortByTime<T extends Pick<LogEnvelope, 'timestamp'>>(envelopes: T[]): T[] {
  return [...envelopes].sort((a, b) => a.timestamp - b.timestamp);
}
