// Cloud Foundry's crash restart policy, as pure functions: the first crashes of an instance index
// restart at once, later ones after a doubling delay, capped; the count is forgotten after twice
// the cap without a crash. Crashes are counted per app + index (and version: a new droplet or
// restart starts the count again).
import { backoffDelay } from '../common/poll.js';

export interface CrashPolicySettings {
  /** Crashes restarted without delay (3). */
  immediateRestarts: number;
  /** The delay after the first crash past those (30 s). */
  baseMs: number;
  /** The longest delay (960 s). */
  capMs: number;
}

export interface CrashRecord {
  app: string;
  index: number;
  version: string;
  /** Crashes counted, 1 or more. */
  count: number;
  /** When the last one was seen (health manager's clock, ms). */
  lastCrashAt: number;
}

export interface Crash {
  app: string;
  index: number;
  version: string;
  at: number;
}

export const crashKey = (app: string, index: number): string => `${app}:${index}`;

/**
 * How long to wait before restarting after the count-th crash: 0 for the first
 * `immediateRestarts`, then base, 2×base, 4×base … (Cloud Foundry: 30 s, 60 s, 120 s …), capped.
 */
export function restartDelayMs(count: number, s: CrashPolicySettings): number {
  if (count <= s.immediateRestarts) return 0;
  return backoffDelay({ initialMs: s.baseMs, maxMs: s.capMs }, count - s.immediateRestarts - 1);
}

/** How long a crash count is kept without a new crash: twice the cap. */
export const forgetAfterMs = (s: CrashPolicySettings): number => 2 * s.capMs;

export function isForgotten(record: CrashRecord, now: number, s: CrashPolicySettings): boolean {
  return now - record.lastCrashAt > forgetAfterMs(s);
}

/** The record still in force at `now`, if any. */
export function activeCrash(record: CrashRecord | undefined, now: number, s: CrashPolicySettings): CrashRecord | undefined {
  return record && !isForgotten(record, now, s) ? record : undefined;
}

/** Counts one more crash. A forgotten record, or one of another version, starts again at 1. */
export function recordCrash(previous: CrashRecord | undefined, crash: Crash, s: CrashPolicySettings): CrashRecord {
  const carried = previous && previous.version === crash.version && !isForgotten(previous, crash.at, s) ? previous.count : 0;
  return { app: crash.app, index: crash.index, version: crash.version, count: carried + 1, lastCrashAt: Math.max(crash.at, previous?.lastCrashAt ?? 0) };
}

/** When the restart after the record's last crash is due. */
export const restartDueAt = (record: CrashRecord, s: CrashPolicySettings): number => record.lastCrashAt + restartDelayMs(record.count, s);

/** The records still in force (a new map; the input is not changed). */
export function pruneCrashes(records: ReadonlyMap<string, CrashRecord>, now: number, s: CrashPolicySettings): Map<string, CrashRecord> {
  const out = new Map<string, CrashRecord>();
  for (const [key, record] of records) if (!isForgotten(record, now, s)) out.set(key, record);
  return out;
}
