// Memory, process-count and disk limits of instances (DESIGN.md §6, docs/dea.md "Limits"). Memory
// and pids: a cgroup per instance, with cgroup v2 or v1 (whichever the machine lets the DEA create
// cgroups with), so that the kernel counts and enforces; without one, the DEA samples the
// proportional memory (PSS) of the instance's processes and kills it over its limit. Disk: the size
// of the instance's directory (its tmp and /dev/shm included), sampled.
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../../common/log.js';
import { signal } from '../../common/procfs.js';
import type { MemoryEnforcement } from '../settings.js';

export type MemoryMechanism = 'cgroup-v2' | 'cgroup-v1' | 'pss-sampling';

export interface InstanceCgroup {
  /** The `cgroup.procs` files a process writes its own pid into to enter (one per hierarchy). */
  procsFiles: string[];
  /**
   * Where a container sees its own cgroup, read-only (the host directory and its place under
   * /sys/fs/cgroup): a runtime reads its memory limit there (Node's heap is sized by it).
   */
  views: { source: string; target: string }[];
  /** The memory the kernel charges to the instance, bytes (undefined when unreadable). */
  current(): number | undefined;
  /** True once the kernel's OOM killer acted in this cgroup. */
  oomKilled(): boolean;
  /** True once a fork was refused at the pids limit. */
  pidsExhausted(): boolean;
  /** Every process in the instance (host pids). */
  pids(): number[];
  /** Removes the cgroup, killing what is left in it. */
  remove(): void;
}

export interface CgroupLimits {
  memoryBytes: number;
  pids: number;
}

const read = (file: string): string | undefined => {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
};

const write = (file: string, value: string): boolean => {
  try {
    fs.writeFileSync(file, value);
    return true;
  } catch {
    return false;
  }
};

const writable = (dir: string): boolean => {
  try {
    fs.accessSync(dir, fs.constants.W_OK);
    return true;
  } catch {
    return false;
  }
};

interface Mount {
  point: string;
  type: string;
  options: string[];
}

function mounts(): Mount[] {
  return (read('/proc/self/mounts') ?? '')
    .split('\n')
    .map((line) => line.split(' '))
    .filter((f) => f.length >= 4)
    .map(([, point, type, options]) => ({ point: point.replace(/\\040/g, ' '), type, options: options.split(',') }));
}

/** Our own cgroup paths: `0::/path` (v2) and `N:controllers:/path` (v1), by controller. */
function ownCgroups(): { v2?: string; v1: Map<string, string> } {
  const v1 = new Map<string, string>();
  let v2: string | undefined;
  for (const line of (read('/proc/self/cgroup') ?? '').split('\n')) {
    const match = /^(\d+):([^:]*):(.*)$/.exec(line.trim());
    if (!match) continue;
    if (match[1] === '0' && match[2] === '') v2 = match[3];
    else for (const controller of match[2].split(',')) v1.set(controller, match[3]);
  }
  return { v2, v1 };
}

const controllers = (dir: string, file: 'cgroup.controllers' | 'cgroup.subtree_control') => (read(path.join(dir, file)) ?? '').trim().split(/\s+/);

/**
 * A cgroup v2 directory where the DEA may create instance cgroups with the memory controller, or
 * why there is none. Usable: a configured (delegated) directory, or our own cgroup when it is the
 * root of its hierarchy (a container with its own cgroup namespace) — a non-root cgroup holding
 * processes cannot hand controllers to children (cgroup v2's no-internal-process rule).
 */
export function findCgroupParent(configured?: string): { dir?: string; reason: string } {
  let dir = configured;
  if (!dir) {
    const mount = mounts().find((m) => m.type === 'cgroup2');
    if (!mount) return { reason: 'no cgroup v2 hierarchy is mounted' };
    const own = ownCgroups().v2;
    if (own === undefined) return { reason: 'this process is in no cgroup v2' };
    dir = path.join(mount.point, own);
  }
  if (!controllers(dir, 'cgroup.controllers').includes('memory')) return { reason: `the memory controller is not available in ${dir}` };
  for (const controller of ['memory', 'pids']) {
    if (controllers(dir, 'cgroup.subtree_control').includes(controller)) continue;
    if (!write(path.join(dir, 'cgroup.subtree_control'), `+${controller}`) && controller === 'memory') {
      return { reason: `cannot enable the memory controller for children of ${dir}` };
    }
  }
  if (!writable(dir)) return { reason: `${dir} is not writable` };
  return { dir, reason: `instance cgroups under ${dir}` };
}

/** Our own cgroup v1 directories of the memory and pids controllers, where we may create children. */
export function findCgroupV1Parents(): { memory?: string; pids?: string; reason: string } {
  const own = ownCgroups().v1;
  const dirFor = (controller: string): string | undefined => {
    const mount = mounts().find((m) => m.type === 'cgroup' && m.options.includes(controller));
    const ownPath = own.get(controller);
    if (!mount || ownPath === undefined) return undefined;
    const dir = path.join(mount.point, ownPath);
    return writable(dir) ? dir : undefined;
  };
  const memory = dirFor('memory');
  if (!memory) return { reason: 'no writable cgroup v1 memory controller' };
  const pids = dirFor('pids');
  return { memory, pids, reason: `instance cgroups under ${memory}${pids ? ` and ${pids}` : ' (no pids controller)'}` };
}

export class InstanceLimits {
  readonly mechanism: MemoryMechanism;
  readonly detail: string;
  private readonly v2?: string;
  private readonly v1?: { memory: string; pids?: string };

  constructor(
    enforcement: MemoryEnforcement,
    /** Unique to this DEA on the machine (its id and directory): instance cgroups are named by it. */
    private readonly owner: string,
    private readonly log: Logger,
    configuredCgroup?: string,
  ) {
    if (enforcement === 'sampling') {
      this.mechanism = 'pss-sampling';
      this.detail = 'DEVBOX_DEA_MEMORY_ENFORCEMENT=sampling';
      return;
    }
    const v2 = findCgroupParent(configuredCgroup);
    const v1 = v2.dir || configuredCgroup ? undefined : findCgroupV1Parents();
    if (v2.dir) {
      this.v2 = v2.dir;
      this.mechanism = 'cgroup-v2';
      this.detail = v2.reason;
    } else if (v1?.memory) {
      this.v1 = { memory: v1.memory, pids: v1.pids };
      this.mechanism = 'cgroup-v1';
      this.detail = v1.reason;
    } else {
      this.mechanism = 'pss-sampling';
      this.detail = [v2.reason, v1?.reason].filter(Boolean).join('; ');
      if (enforcement === 'cgroup') log.warn('memory cgroups asked for but unavailable; sampling memory instead', { reason: this.detail });
    }
  }

  private get prefix(): string {
    return `devbox.${this.owner}.`;
  }

  /** Creates an instance's cgroup with its limits; undefined when sampling or on failure. */
  create(instanceGuid: string, limits: CgroupLimits): InstanceCgroup | undefined {
    const name = `${this.prefix}${instanceGuid}`;
    try {
      if (this.v2) return this.createV2(path.join(this.v2, name), limits);
      if (this.v1) return this.createV1(path.join(this.v1.memory, name), this.v1.pids && path.join(this.v1.pids, name), limits);
    } catch (error) {
      this.log.warn('could not create an instance cgroup; sampling memory for it', { error: (error as Error).message });
    }
    return undefined;
  }

  private createV2(dir: string, limits: CgroupLimits): InstanceCgroup {
    mkdirOnce(dir);
    const set = (file: string, value: string, required = false) => {
      if (!write(path.join(dir, file), value) && required) {
        removeCgroup(dir);
        throw new Error(`could not set ${file} in ${dir}`);
      }
    };
    if (limits.memoryBytes > 0) {
      set('memory.max', String(limits.memoryBytes), true);
      set('memory.swap.max', '0');
      set('memory.oom.group', '1');
    }
    if (limits.pids > 0) set('pids.max', String(limits.pids));
    const events = (file: string) => read(path.join(dir, file)) ?? '';
    return {
      procsFiles: [path.join(dir, 'cgroup.procs')],
      views: [{ source: dir, target: '/sys/fs/cgroup' }],
      current: () => numberIn(read(path.join(dir, 'memory.current'))),
      oomKilled: () => /^oom_kill\s+[1-9]/m.test(events('memory.events')),
      pidsExhausted: () => /^max\s+[1-9]/m.test(events('pids.events')),
      pids: () => pidsIn(dir),
      remove: () => removeCgroup(dir),
    };
  }

  private createV1(memory: string, pids: string | undefined, limits: CgroupLimits): InstanceCgroup {
    mkdirOnce(memory);
    if (limits.memoryBytes > 0) {
      if (!write(path.join(memory, 'memory.limit_in_bytes'), String(limits.memoryBytes))) {
        removeCgroup(memory);
        throw new Error(`could not set memory.limit_in_bytes in ${memory}`);
      }
      // No swap beyond the limit, where the kernel accounts swap.
      write(path.join(memory, 'memory.memsw.limit_in_bytes'), String(limits.memoryBytes));
    }
    if (pids) {
      mkdirOnce(pids);
      if (limits.pids > 0) write(path.join(pids, 'pids.max'), String(limits.pids));
    }
    return {
      procsFiles: [path.join(memory, 'cgroup.procs'), ...(pids ? [path.join(pids, 'cgroup.procs')] : [])],
      views: [{ source: memory, target: '/sys/fs/cgroup/memory' }, ...(pids ? [{ source: pids, target: '/sys/fs/cgroup/pids' }] : [])],
      // What the kernel charges, less the page cache it can drop at once (as `docker stats` shows).
      current: () => {
        const usage = numberIn(read(path.join(memory, 'memory.usage_in_bytes')));
        const inactive = numberIn(/^total_inactive_file\s+(\d+)/m.exec(read(path.join(memory, 'memory.stat')) ?? '')?.[1]) ?? 0;
        return usage === undefined ? undefined : Math.max(0, usage - inactive);
      },
      oomKilled: () => /^oom_kill\s+[1-9]/m.test(read(path.join(memory, 'memory.oom_control')) ?? ''),
      pidsExhausted: () => !!pids && /^max\s+[1-9]/m.test(read(path.join(pids, 'pids.events')) ?? ''),
      pids: () => pidsIn(memory),
      remove: () => {
        removeCgroup(memory);
        if (pids) removeCgroup(pids);
      },
    };
  }

  /** Removes leftover instance cgroups of this DEA (after a crash of the DEA). */
  removeStale(): void {
    for (const parent of [this.v2, this.v1?.memory, this.v1?.pids]) {
      if (!parent) continue;
      let names: string[] = [];
      try {
        names = fs.readdirSync(parent);
      } catch {
        continue;
      }
      for (const name of names) if (name.startsWith(this.prefix)) removeCgroup(path.join(parent, name));
    }
  }
}

function mkdirOnce(dir: string): void {
  try {
    fs.mkdirSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
}

function numberIn(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text.trim());
  return Number.isFinite(value) ? value : undefined;
}

const pidsIn = (dir: string): number[] =>
  (read(path.join(dir, 'cgroup.procs')) ?? '')
    .split('\n')
    .filter(Boolean)
    .map(Number);

function removeCgroup(dir: string): void {
  try {
    for (const pid of pidsIn(dir)) signal(pid, 'SIGKILL');
    fs.rmdirSync(dir);
  } catch {
    // busy a little longer (processes exiting); the next DEA start tries again
  }
}

/** Disk usage of a directory tree in bytes (allocated blocks, as du counts), without following links. */
export async function diskUsage(dir: string): Promise<number> {
  let total = 0;
  const stack = [dir];
  while (stack.length > 0) {
    const current = stack.pop()!;
    let entries: fs.Dirent[];
    try {
      entries = await fs.promises.readdir(current, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const entry of entries) {
      const full = path.join(current, entry.name);
      try {
        const stat = await fs.promises.lstat(full);
        total += stat.blocks * 512;
        if (entry.isDirectory()) stack.push(full);
      } catch {
        // removed meanwhile
      }
    }
  }
  return total;
}
