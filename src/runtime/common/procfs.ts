// Reading /proc, for whoever must tell processes apart: the supervisor's lock (a pid and its start
// time), the DEA (which processes belong to an instance: the tree under its container's outer
// process, or its session without containers; their memory and CPU time), tests and benchmarks.
import fs from 'node:fs';

/** Clock ticks per second of /proc times (USER_HZ: 100 on every Linux the DEA targets). */
export const CLOCK_TICKS = 100;

/** The page size, learnt once from our own RSS (statm counts pages, Node reports bytes). */
export const PAGE_SIZE: number = (() => {
  try {
    const pages = Number(fs.readFileSync('/proc/self/statm', 'utf8').split(' ')[1]);
    const ratio = process.memoryUsage().rss / pages;
    for (const size of [4096, 16384, 65536]) if (Math.abs(ratio - size) / size < 0.25) return size;
  } catch {
    // not Linux
  }
  return 4096;
})();

export interface ProcStat {
  pid: number;
  /** Field 3: R, S, D, Z (a zombie)... */
  state: string;
  ppid: number;
  pgrp: number;
  session: number;
  /** utime + stime + cutime + cstime, in clock ticks. */
  ticks: number;
  /** Start time after boot, in clock ticks (tells a pid from a reused one). */
  starttime: number;
  rssBytes: number;
}

/**
 * Parses /proc/<pid>/stat. The command name (field 2) may hold spaces and ')', so the fields are
 * counted from the last ')'; undefined when the text is cut short.
 */
export function parseStat(text: string): ProcStat | undefined {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < 0) return undefined;
  const f = text.slice(close + 1).trim().split(/\s+/);
  // f[0] is field 3 (state): field n is f[n - 3].
  const n = (i: number) => Number(f[i - 3]);
  const starttime = /^\d+$/.test(f[22 - 3] ?? '') ? n(22) : NaN;
  if (!f[0] || !Number.isSafeInteger(starttime)) return undefined;
  return {
    pid: Number(text.slice(0, open).trim()),
    state: f[0],
    ppid: n(4),
    pgrp: n(5),
    session: n(6),
    ticks: n(14) + n(15) + n(16) + n(17),
    starttime,
    rssBytes: n(24) * PAGE_SIZE,
  };
}

export function readStat(pid: number): ProcStat | undefined {
  try {
    return parseStat(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** Every process on the machine (one scan of /proc; processes gone meanwhile are left out). */
export function scanProcesses(): ProcStat[] {
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return [];
  }
  const out: ProcStat[] = [];
  for (const name of entries) {
    if (name.charCodeAt(0) < 48 || name.charCodeAt(0) > 57) continue;
    const stat = readStat(Number(name));
    if (stat) out.push(stat);
  }
  return out;
}

/** One scan of /proc: every process, by session and by parent. */
export interface ProcessScan {
  sessions: Map<number, ProcStat[]>;
  children: Map<number, ProcStat[]>;
  byPid: Map<number, ProcStat>;
}

export function scan(): ProcessScan {
  const out: ProcessScan = { sessions: new Map(), children: new Map(), byPid: new Map() };
  const add = (map: Map<number, ProcStat[]>, key: number, stat: ProcStat) => {
    let list = map.get(key);
    if (!list) map.set(key, (list = []));
    list.push(stat);
  };
  for (const stat of scanProcesses()) {
    add(out.sessions, stat.session, stat);
    add(out.children, stat.ppid, stat);
    out.byPid.set(stat.pid, stat);
  }
  return out;
}

/** Every process on the machine, grouped by session id. */
export const scanSessions = (): Map<number, ProcStat[]> => scan().sessions;

/** `root` and every process under it, leaving out the subtrees of `except`. */
export function processTree(root: number, except: ReadonlySet<number> = new Set(), processes: ProcessScan = scan()): number[] {
  const out: number[] = [];
  const visit = (pid: number) => {
    if (except.has(pid)) return;
    out.push(pid);
    for (const child of processes.children.get(pid) ?? []) visit(child.pid);
  };
  visit(root);
  return out;
}

/**
 * The proportional memory of a process, bytes (its private pages, and its share of pages it shares):
 * summed over processes, shared pages count once, as the kernel's own accounting would.
 */
export function pssBytes(pid: number): number | undefined {
  try {
    const match = /^Pss:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Sends `sig` to `pid`, if it is still there. */
export function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // gone
  }
}

/** Kills an instance's processes: its process group and anything else left in its session. */
export function killSession(leader: number, sig: NodeJS.Signals, sessions = scanSessions()): void {
  signal(-leader, sig);
  for (const proc of sessions.get(leader) ?? []) signal(proc.pid, sig);
}
