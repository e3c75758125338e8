// What a container sees of the machine (the stack is the host): the system directories read-only,
// and the toolchains on the DEA's PATH (node, python, the buildpacks' tools) read-only at their own
// paths, so that what staged on the host runs the same inside. Nothing else: not the user's home,
// not $DEVBOX_HOME, not another instance.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** One mount of the container's root: a host directory, or a symlink (merged-/usr systems' /bin → usr/bin). */
export type RootEntry = { kind: 'ro-bind'; source: string; target: string } | { kind: 'symlink'; link: string; target: string } | { kind: 'dir'; target: string };

/** The host's system directories, as they are (directories bound read-only, symlinks recreated). */
const SYSTEM = ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32', '/etc', '/opt'];

const underAny = (dir: string, roots: readonly string[]) => roots.some((root) => dir === root || dir.startsWith(`${root}/`));
const contains = (outer: string, inner: string) => inner === outer || inner.startsWith(`${outer.replace(/\/$/, '')}/`);

export interface Rootfs {
  entries: RootEntry[];
  /** PATH inside the container: the host's PATH dirs that are there, in order. */
  path: string;
}

/**
 * The container root for a host PATH. A PATH dir outside the system directories is a toolchain:
 * its prefix (the parent of `bin`, `sbin` or `shims`, where a toolchain keeps its libraries, as
 * pyenv or nvm do) is bound read-only, unless that prefix would reveal a home directory or the
 * state directory, in which case only the dir itself is bound.
 */
export function rootfsFor(hostPath: string, privateDirs: string[]): Rootfs {
  const system: RootEntry[] = [];
  const toolchains: RootEntry[] = [];
  const bound: string[] = [];
  for (const dir of SYSTEM) {
    let stat: fs.Stats;
    try {
      stat = fs.lstatSync(dir);
    } catch {
      continue;
    }
    if (stat.isSymbolicLink()) system.push({ kind: 'symlink', link: fs.readlinkSync(dir), target: dir });
    else if (stat.isDirectory()) {
      system.push({ kind: 'ro-bind', source: dir, target: dir });
      bound.push(dir);
    }
  }
  const homes = [os.homedir(), '/root', '/home'];
  const forbidden = (dir: string) => dir === '/' || homes.includes(dir) || privateDirs.some((p) => contains(dir, p));
  const made = new Set<string>();
  const kept: string[] = [];
  for (const dir of hostPath.split(':').filter((d) => path.isAbsolute(d))) {
    const resolved = realDir(dir);
    if (!resolved) continue;
    if (underAny(dir, bound) && underAny(resolved, bound)) {
      kept.push(dir);
      continue;
    }
    const prefix = ['bin', 'sbin', 'shims'].includes(path.basename(dir)) ? path.dirname(dir) : dir;
    const source = !forbidden(prefix) ? prefix : !forbidden(dir) ? dir : undefined;
    if (!source || privateDirs.some((p) => contains(p, source))) continue;
    kept.push(dir);
    if (underAny(source, bound)) continue;
    // Parents are made traversable inside (bwrap would copy a 0700 /root's mode).
    for (let parent = path.dirname(source); parent !== '/' && !underAny(parent, bound); parent = path.dirname(parent)) made.add(parent);
    if (source === dir) {
      toolchains.push({ kind: 'ro-bind', source: resolved, target: source });
    } else {
      // A toolchain's prefix (~/.cargo for ~/.cargo/bin): its directories only. Files at its top
      // are where tools keep their tokens (~/.cargo/credentials.toml).
      made.add(source);
      const real = realDir(source) ?? source;
      for (const child of subdirectories(real)) toolchains.push({ kind: 'ro-bind', source: path.join(real, child), target: path.join(source, child) });
    }
    bound.push(source);
  }
  // Parents before what is mounted in them.
  const parents: RootEntry[] = [...made].sort((a, b) => a.length - b.length).map((target) => ({ kind: 'dir', target }));
  return { entries: [...system, ...parents, ...toolchains], path: kept.join(':') };
}

function subdirectories(dir: string): string[] {
  try {
    return fs
      .readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory() || (e.isSymbolicLink() && realDir(path.join(dir, e.name)) !== undefined))
      .map((e) => e.name)
      .sort();
  } catch {
    return [];
  }
}

function realDir(dir: string): string | undefined {
  try {
    const real = fs.realpathSync(dir);
    return fs.statSync(real).isDirectory() ? real : undefined;
  } catch {
    return undefined;
  }
}
