// Memory and disk limits of instances (DESIGN.md §6). Memory: a cgroup v2 memory controller when
// the machine lets the DEA create cgroups with it (the kernel then kills inside the cgroup at the
// limit), else sampling the resident memory of the instance's processes (procfs.ts) and killing
// the instance over its limit. Disk: the size of the instance's directory, sampled.
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../../common/log.js';
import type { MemoryEnforcement } from '../settings.js';

export type MemoryMechanism = 'cgroup-v2' | 'rss-sampling';

export interface InstanceCgroup {
  dir: string;
  /** The file the launcher writes its own pid into before it execs the app. */
  procsFile: string;
  /** memory.current, bytes (undefined when unreadable). */
  current(): number | undefined;
  /** True once the kernel's OOM killer acted in this cgroup. */
  oomKilled(): boolean;
  /** Removes the cgroup (its processes must be gone). */
  remove(): void;
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

/** The cgroup v2 mount point (pure v2 at /sys/fs/cgroup, or hybrid at /sys/fs/cgroup/unified). */
function cgroup2Mount(): string | undefined {
  const mounts = read('/proc/self/mounts') ?? '';
  for (const line of mounts.split('\n')) {
    const [, mountPoint, type] = line.split(' ');
    if (type === 'cgroup2' && mountPoint) return mountPoint.replace(/\\040/g, ' ');
  }
  return undefined;
}

/** Our own cgroup v2 path (`0::/path` in /proc/self/cgroup). */
function ownCgroup(): string | undefined {
  const line = (read('/proc/self/cgroup') ?? '').split('\n').find((l) => l.startsWith('0::'));
  return line?.slice(3).trim();
}

const controllers = (dir: string, file: 'cgroup.controllers' | 'cgroup.subtree_control') => (read(path.join(dir, file)) ?? '').trim().split(/\s+/);

/**
 * A cgroup v2 directory where the DEA may create instance cgroups with the memory controller, or
 * why there is none. Usable: a configured (delegated) directory, or our own cgroup when it is the
 * root of its hierarchy (a container with its own cgroup namespace) — a non-root cgroup holding
 * processes cannot hand controllers to children (cgroup v2's no-internal-process rule).
 */
export function findCgroupParent(configured?: string): { dir?: string; reason: string } {
  const candidates: string[] = [];
  if (configured) candidates.push(configured);
  else {
    const mount = cgroup2Mount();
    if (!mount) return { reason: 'no cgroup v2 hierarchy is mounted' };
    const own = ownCgroup();
    if (own === undefined) return { reason: 'this process is in no cgroup v2' };
    candidates.push(path.join(mount, own));
  }
  for (const dir of candidates) {
    if (!controllers(dir, 'cgroup.controllers').includes('memory')) return { reason: `the memory controller is not available in ${dir}` };
    if (!controllers(dir, 'cgroup.subtree_control').includes('memory') && !write(path.join(dir, 'cgroup.subtree_control'), '+memory')) {
      return { reason: `cannot enable the memory controller for children of ${dir}` };
    }
    try {
      fs.accessSync(dir, fs.constants.W_OK);
    } catch {
      return { reason: `${dir} is not writable` };
    }
    return { dir, reason: `instance cgroups under ${dir}` };
  }
  return { reason: 'no usable cgroup' };
}

export class MemoryLimiter {
  readonly mechanism: MemoryMechanism;
  readonly detail: string;
  private readonly parent?: string;

  constructor(
    enforcement: MemoryEnforcement,
    private readonly deaId: string,
    private readonly log: Logger,
    configuredCgroup?: string,
  ) {
    const found = enforcement === 'rss' ? { reason: 'DEVBOX_DEA_MEMORY_ENFORCEMENT=rss' } : findCgroupParent(configuredCgroup);
    if (found.dir) {
      this.parent = found.dir;
      this.mechanism = 'cgroup-v2';
    } else {
      this.mechanism = 'rss-sampling';
      if (enforcement === 'cgroup') log.warn('memory cgroups asked for but unavailable; sampling RSS instead', { reason: found.reason });
    }
    this.detail = found.reason;
  }

  /** Creates an instance's cgroup with its memory limit; undefined in RSS mode or on failure. */
  create(instanceGuid: string, limitBytes: number): InstanceCgroup | undefined {
    if (!this.parent) return undefined;
    const dir = path.join(this.parent, `devbox.${this.deaId}.${instanceGuid}`);
    try {
      fs.mkdirSync(dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        this.log.warn('could not create an instance cgroup; sampling RSS for it', { error: (error as Error).message });
        return undefined;
      }
    }
    if (limitBytes > 0) {
      if (!write(path.join(dir, 'memory.max'), String(limitBytes))) {
        this.log.warn('could not set memory.max; sampling RSS for this instance', { dir });
        this.removeDir(dir);
        return undefined;
      }
      write(path.join(dir, 'memory.swap.max'), '0');
      write(path.join(dir, 'memory.oom.group'), '1');
    }
    const events = () => read(path.join(dir, 'memory.events')) ?? '';
    return {
      dir,
      procsFile: path.join(dir, 'cgroup.procs'),
      current: () => {
        const value = Number(read(path.join(dir, 'memory.current')));
        return Number.isFinite(value) ? value : undefined;
      },
      oomKilled: () => /^oom_kill\s+[1-9]/m.test(events()),
      remove: () => this.removeDir(dir),
    };
  }

  /** Removes leftover instance cgroups of this DEA (after a crash of the DEA). */
  removeStale(): void {
    if (!this.parent) return;
    for (const name of fs.readdirSync(this.parent)) {
      if (name.startsWith(`devbox.${this.deaId}.`)) this.removeDir(path.join(this.parent, name));
    }
  }

  private removeDir(dir: string): void {
    try {
      const procs = (read(path.join(dir, 'cgroup.procs')) ?? '').split('\n').filter(Boolean);
      for (const pid of procs) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // gone
        }
      }
      fs.rmdirSync(dir);
    } catch {
      // busy a little longer (processes exiting); the next DEA start tries again
    }
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
