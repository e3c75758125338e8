// Where a drain may connect. Apps' users choose drain URLs, and the logs component connects from the
// host, as the box, so a drain must not become a way into the box itself: its host is resolved and
// checked, and then that very address is connected to (a name that resolves elsewhere a moment later
// changes nothing; a writer reuses a yes for 30 s, syslog-writer.ts). Refused:
//
// - an address in a blocked range (DEVBOX_LOGS_DRAIN_BLOCKED_RANGES, `10.0.0.0-10.255.255.255,…`:
//   Cloud Foundry's BLACKLISTED_SYSLOG_RANGES of the syslog agent; none by default, since on a
//   development machine a receiver on loopback is what a drain is for);
// - a socket of the box itself: a local address (loopback, the wildcard, the machine's own
//   interfaces) on a port that one of the box's processes listens on, the supervisor and everything
//   under it: the router's ports, the bus, uaa, the controller, the logs component, the broker, every
//   status server, MariaDB, the DEAs' ssh servers and the apps' own instances. Told from /proc: the
//   listening sockets of the port (/proc/net/tcp, tcp6) against the socket descriptors of the box's
//   processes (/proc/<pid>/fd).
import dns from 'node:dns/promises';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { isLoopbackName } from '../common/http.js';
import { parseStat } from '../common/procfs.js';

export interface IpRange {
  start: string;
  end: string;
}

export type GuardDecision = { ok: true; address: string; family: 4 | 6 } | { ok: false; reason: string };

export interface DrainGuardOptions {
  blockedRanges?: IpRange[];
  /**
   * The root of the box's process tree (the supervisor), asked at each check (it may change after a
   * restart); undefined: the component's own process only (a logs component run alone).
   */
  boxRoot?: () => number | undefined;
  /** Where /proc is (tests). */
  procRoot?: string;
  /** Resolves a host name (tests); default dns.lookup, first address. */
  lookup?: (host: string) => Promise<{ address: string; family: number }>;
}

/**
 * Parses `A-B,C-D` (Cloud Foundry's BLACKLISTED_SYSLOG_RANGES): each range two addresses of one
 * family, start not after end. Throws a message that says what is wrong.
 */
export function parseIpRanges(text: string, name = 'DEVBOX_LOGS_DRAIN_BLOCKED_RANGES'): IpRange[] {
  if (text.trim() === '') return [];
  return text.split(',').map((part) => {
    const ends = part.trim().split('-');
    if (ends.length !== 2) throw new Error(`${name}: '${part.trim()}' is not a range; write START-END, e.g. 10.0.0.0-10.255.255.255`);
    const [start, end] = ends.map((e) => e.trim());
    for (const ip of [start, end]) if (net.isIP(ip) === 0) throw new Error(`${name}: '${ip}' is not an IP address`);
    if (Buffer.compare(ip16(start), ip16(end)) > 0) throw new Error(`${name}: in '${part.trim()}' the start comes after the end`);
    return { start, end };
  });
}

/** An address as 16 bytes (IPv4 as ::ffff:a.b.c.d), as Go's net.ParseIP, so that both families compare. */
export function ip16(address: string): Buffer {
  const out = Buffer.alloc(16);
  if (net.isIPv4(address)) {
    out[10] = 0xff;
    out[11] = 0xff;
    address.split('.').forEach((octet, i) => (out[12 + i] = Number(octet)));
    return out;
  }
  let text = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  // An embedded IPv4 tail (::ffff:127.0.0.1) as two groups.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const b = v4[1].split('.').map(Number);
    text = text.slice(0, -v4[1].length) + `${((b[0] << 8) | b[1]).toString(16)}:${((b[2] << 8) | b[3]).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const groups = tail === undefined ? headGroups : [...headGroups, ...Array<string>(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups];
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g || '0', 16), i * 2));
  return out;
}

export const inRange = (address: string, range: IpRange): boolean => {
  const ip = ip16(address);
  return Buffer.compare(ip, ip16(range.start)) >= 0 && Buffer.compare(ip, ip16(range.end)) <= 0;
};

/** Whether a connection to this address reaches this machine: loopback, the wildcard, or one of its interfaces. */
export function isLocalAddress(address: string): boolean {
  const ip = ip16(address);
  const v4 = ip.subarray(0, 12).equals(Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]));
  if (v4 && (ip[12] === 127 || ip.subarray(12).equals(Buffer.alloc(4)))) return true;
  if (ip.equals(Buffer.alloc(16)) || ip.equals(ip16('::1'))) return true;
  for (const list of Object.values(os.networkInterfaces())) {
    for (const iface of list ?? []) if (ip16(iface.address).equals(ip)) return true;
  }
  return false;
}

/** The inodes of the sockets listening on `port` (any local address), from /proc/net/tcp and tcp6. */
export async function listeningInodes(port: number, procRoot = '/proc'): Promise<Set<string>> {
  const inodes = new Set<string>();
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  for (const file of ['net/tcp', 'net/tcp6']) {
    let text: string;
    try {
      // Asynchronous: the kernel may take tens of ms to write a long table, and the component's
      // event loop serves `cf logs` meanwhile.
      text = await fs.promises.readFile(`${procRoot}/${file}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      // sl local_address rem_address st tx:rx tr:tm retrnsmt uid timeout inode
      if (fields.length < 10 || fields[3] !== '0A') continue;
      if (fields[1].split(':')[1] !== hexPort) continue;
      inodes.add(fields[9]);
    }
  }
  return inodes;
}

/** `root` and every process under it (read asynchronously from /proc/<pid>/stat). */
export async function processTreeOf(root: number, procRoot = '/proc'): Promise<number[]> {
  let names: string[];
  try {
    names = await fs.promises.readdir(procRoot);
  } catch {
    return [root];
  }
  const children = new Map<number, number[]>();
  const pids = names.filter((n) => /^\d+$/.test(n));
  for (let i = 0; i < pids.length; i += 64) {
    await Promise.all(
      pids.slice(i, i + 64).map(async (name) => {
        try {
          const stat = parseStat(await fs.promises.readFile(`${procRoot}/${name}/stat`, 'utf8'));
          if (!stat) return;
          const list = children.get(stat.ppid) ?? [];
          list.push(stat.pid);
          children.set(stat.ppid, list);
        } catch {
          // gone meanwhile
        }
      }),
    );
  }
  const out: number[] = [];
  const seen = new Set<number>();
  const stack = [root];
  while (stack.length) {
    const pid = stack.pop()!;
    if (seen.has(pid)) continue;
    seen.add(pid);
    out.push(pid);
    stack.push(...(children.get(pid) ?? []));
  }
  return out;
}

/**
 * Whether one of `pids` holds one of the socket `inodes`. A process whose descriptors cannot be read
 * is passed over: the box's components run as the logs component's own user (always readable); what
 * may not be readable is an app's process in a container of another user, and an app's port is no
 * more than every app on the machine reaches anyway.
 */
export async function socketOwnedBy(inodes: ReadonlySet<string>, pids: readonly number[], procRoot = '/proc'): Promise<boolean> {
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = await fs.promises.readdir(`${procRoot}/${pid}/fd`);
    } catch {
      continue;
    }
    const links = await Promise.all(fds.map((fd) => fs.promises.readlink(`${procRoot}/${pid}/fd/${fd}`).catch(() => '')));
    for (const link of links) {
      const m = /^socket:\[(\d+)\]$/.exec(link);
      if (m && inodes.has(m[1])) return true;
    }
  }
  return false;
}

export class DrainGuard {
  private readonly ranges: IpRange[];
  private readonly procRoot: string;

  constructor(private readonly options: DrainGuardOptions = {}) {
    this.ranges = options.blockedRanges ?? [];
    this.procRoot = options.procRoot ?? '/proc';
  }

  /** Resolves `host` and says whether a drain may connect to that address and `port`. */
  async check(host: string, port: number): Promise<GuardDecision> {
    let address: string;
    let family: number;
    try {
      ({ address, family } = await this.resolve(host));
    } catch (error) {
      return { ok: false, reason: `cannot resolve ${host} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})` };
    }
    const blocked = this.ranges.find((r) => inRange(address, r));
    if (blocked) return { ok: false, reason: `${address} is in a blocked range (${blocked.start}-${blocked.end}, DEVBOX_LOGS_DRAIN_BLOCKED_RANGES)` };
    if (isLocalAddress(address) && (await this.boxOwnsPort(port))) {
      return { ok: false, reason: `port ${port} on ${address} is devbox's own (a component or an app of this box), and drains may not reach the box itself` };
    }
    return { ok: true, address, family: family === 6 ? 6 : 4 };
  }

  private async resolve(host: string): Promise<{ address: string; family: number }> {
    const literal = net.isIP(host);
    if (literal) return { address: host, family: literal };
    // *.localhost is loopback (RFC 6761), as browsers and curl take it; Node's resolver may not.
    if (isLoopbackName(host)) return { address: '127.0.0.1', family: 4 };
    if (this.options.lookup) return this.options.lookup(host);
    return dns.lookup(host, { verbatim: true });
  }

  /** Whether a process of the box listens on `port` (any local address). */
  async boxOwnsPort(port: number): Promise<boolean> {
    const inodes = await listeningInodes(port, this.procRoot);
    if (inodes.size === 0) return false;
    const root = this.options.boxRoot?.() ?? process.pid;
    return socketOwnedBy(inodes, await processTreeOf(root, this.procRoot), this.procRoot);
  }
}
