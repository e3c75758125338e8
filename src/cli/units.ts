// Sizes and times the way the cf CLI reads and writes them.
import { CliError } from './base-command.js';

/** A usage error in a flag's value (exit 2). */
export class BadSize extends Error {}

const SIZE = /^(\d+)\s*([MGT])B?$/i;

/**
 * cf's memory and disk quantities: an integer with a unit, M/MB, G/GB or T/TB (any case), in
 * megabytes. Anything else (no unit, fractions, bytes, kilobytes, zero) is refused.
 */
export function parseMegabytes(text: string): number {
  const match = SIZE.exec(text.trim());
  if (!match) throw new BadSize(`expected an integer with a unit of measurement like M, MB, G, or GB, got '${text}'`);
  const n = Number(match[1]);
  const mb = n * { M: 1, G: 1024, T: 1024 * 1024 }[match[2].toUpperCase() as 'M' | 'G' | 'T'];
  if (!Number.isSafeInteger(mb) || mb < 1) throw new BadSize(`expected a size of at least 1M, got '${text}'`);
  return mb;
}

/** 256 → 256M, 1024 → 1G, 1536 → 1.5G (cf's way of showing quotas). */
/** A size flag (`-m 512M`) in MB, undefined when not given; a bad one is a usage error (exit 2). */
export function sizeFlag(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  try {
    return parseMegabytes(value);
  } catch (error) {
    if (error instanceof BadSize) throw new CliError(`Incorrect Usage: invalid argument for flag '${flag}': ${error.message}`, 2);
    throw error;
  }
}

export function formatMegabytes(mb: number): string {
  if (mb >= 1024 * 1024 && mb % (1024 * 1024) === 0) return `${mb / (1024 * 1024)}T`;
  if (mb >= 1024) return mb % 1024 === 0 ? `${mb / 1024}G` : `${(mb / 1024).toFixed(1)}G`;
  return `${mb}M`;
}

const pad = (n: number, width = 2) => String(Math.trunc(Math.abs(n))).padStart(width, '0');

function offset(date: Date): string {
  const minutes = -date.getTimezoneOffset();
  return `${minutes < 0 ? '-' : '+'}${pad(minutes / 60)}${pad(minutes % 60)}`;
}

/** `2026-11-21T10:00:00.00+0000`: cf's time column of `events` and log lines (local time). */
export function eventTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(Math.floor(d.getMilliseconds() / 10))}${offset(d)}`;
}

/** `Sat 21 Nov 10:00:00 UTC 2026`: cf's `last uploaded` (Go's "Mon 02 Jan 15:04:05 MST 2006", local time). */
export function uploadedTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const zone = new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' }).formatToParts(d).find((p) => p.type === 'timeZoneName')?.value ?? offset(d);
  const day = d.toLocaleDateString('en-US', { weekday: 'short' });
  const month = d.toLocaleDateString('en-US', { month: 'short' });
  return `${day} ${pad(d.getDate())} ${month} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())} ${zone} ${d.getFullYear()}`;
}

/**
 * Bytes the way the cf CLI's instance table shows them (cloudfoundry/bytefmt): one decimal, `.0`
 * dropped, units B K M G T; zero is `0`. 41943040 → `40M`, 1073741824 → `1G`, 42467328 → `40.5M`.
 */
export function byteSize(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes <= 0) return '0';
  const units: [string, number][] = [
    ['T', 1024 ** 4],
    ['G', 1024 ** 3],
    ['M', 1024 ** 2],
    ['K', 1024],
    ['B', 1],
  ];
  const [unit, size] = units.find(([, s]) => bytes >= s) ?? ['B', 1];
  return `${(bytes / size).toFixed(1).replace(/\.0$/, '')}${unit}`;
}

/** `2026-11-21T10:00:00Z`: the `since` column of cf's instance table (UTC, whole seconds). */
export function sinceTime(date: Date): string {
  return Number.isNaN(date.getTime()) ? '' : date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
