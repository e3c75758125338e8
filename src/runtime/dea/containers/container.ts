// Containers for instances and stagings, what Warden gave Cloud Foundry's DEA (docs/security.md,
// "Containers"): each in its own mount, pid, ipc and uts namespaces (bubblewrap), the machine's
// system directories and toolchains read-only, its own home at /home/vcap and nothing else of the
// machine; as an unprivileged uid when the DEA runs as root (CF's vcap), the user's own otherwise
// (in a user namespace); in a cgroup with its memory and pids limits. Everything in a container
// ends with it: its init is pid 1 of its pid namespace and dies with the container's outer process.
//
// Where the machine cannot (no bubblewrap, no user namespaces), `Containers` says why once and a
// container is a process session of the DEA's user, as before (the cgroup limits still apply).
import { spawn, spawnSync, type ChildProcess, type StdioOptions } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findExecutable } from '../../common/executables.js';
import type { Logger } from '../../common/log.js';
import { withNodeOnPath } from '../host.js';
import type { InstanceCgroup, InstanceLimits } from '../instances/limits.js';
import { killSession, processTree, scan as processScan, signal, type ProcessScan } from '../../common/procfs.js';
import type { DeaSettings } from '../settings.js';
import { rootfsFor, type Rootfs } from './rootfs.js';

/** Where a container's own directory is mounted: CF's home of the vcap user. */
export const CONTAINER_HOME = '/home/vcap';

export type Isolation = 'namespaces' | 'none';

/** A host directory the container sees at `target`. */
export interface Mount {
  source: string;
  target: string;
  writable?: boolean;
}

export interface ContainerSpec {
  /** The container's name (its hostname): the instance guid or the staging task. */
  handle: string;
  /** The container's own directories (read-write), e.g. the home at /home/vcap. */
  mounts: Mount[];
  /** Mounted at /tmp and /dev/shm (counted as the container's disk). */
  tmp: string;
  /** More read-only directories (a buildpack). */
  readOnly?: Mount[];
  /** Memory and pids limits; none when undefined. */
  limits?: { memoryBytes: number; pids: number };
}

export interface RunOptions {
  /** The working directory, as the container sees it. */
  cwd: string;
  env: Record<string, string>;
  stdio?: StdioOptions;
}

/**
 * Enters the cgroups (each `cgroup.procs` file given first) and execs the rest: the pid written is
 * the one that becomes the container's outer process, so everything it starts is inside from its
 * first instruction.
 */
const ENTER = 'n=$1; shift; while [ "$n" -gt 0 ]; do echo $$ > "$1" || { echo "devbox: could not enter the container cgroup $1" >&2; exit 70; }; shift; n=$((n-1)); done; exec "$@"';

/** How this machine makes containers: bubblewrap, the root's view, the uid to run as. */
interface Sandbox {
  bwrap: string;
  /** As root: setpriv drops root's capabilities and becomes the containers' uid. */
  setpriv?: string;
  rootfs: Rootfs;
  uid: number;
  gid: number;
}

/** The command that runs `argv` in a container (after entering the cgroups whose procs files are `enter`). */
function containerCommand(sandbox: Sandbox | undefined, spec: ContainerSpec, argv: string[], cwd: string, cgroup: InstanceCgroup | undefined): { file: string; args: string[] } {
  const enter = cgroup?.procsFiles ?? [];
  const wrapper = (rest: string[]) => ({ file: '/bin/sh', args: ['-c', ENTER, 'devbox-container', String(enter.length), ...enter, ...rest] });
  if (!sandbox) return wrapper(argv);
  const args = ['--unshare-pid', '--unshare-ipc', '--unshare-uts', '--unshare-cgroup-try', '--hostname', spec.handle.slice(0, 63), '--die-with-parent', '--new-session'];
  if (!sandbox.setpriv) args.push('--unshare-user', '--disable-userns');
  for (const entry of sandbox.rootfs.entries) {
    if (entry.kind === 'symlink') args.push('--symlink', entry.link, entry.target);
    else if (entry.kind === 'dir') args.push('--perms', '0755', '--dir', entry.target);
    else args.push('--ro-bind', entry.source, entry.target);
  }
  args.push('--proc', '/proc', '--dev', '/dev', '--bind', spec.tmp, '/tmp', '--bind', spec.tmp, '/dev/shm');
  // Its own cgroup only, read-only, where its cgroup namespace says it is (its root).
  if (cgroup && cgroup.views.length > 0) {
    for (const dir of ['/sys', '/sys/fs', '/sys/fs/cgroup']) args.push('--perms', '0755', '--dir', dir);
    for (const view of cgroup.views) args.push('--ro-bind', view.source, view.target);
  }
  // bwrap makes missing mount points with the DEA's umask (0077): make their parents traversable.
  const parents = new Set<string>();
  for (const { target } of [...spec.mounts, ...(spec.readOnly ?? [])]) {
    for (let dir = path.dirname(target); dir !== '/'; dir = path.dirname(dir)) parents.add(dir);
  }
  for (const dir of [...parents].sort((a, b) => a.length - b.length)) args.push('--perms', '0755', '--dir', dir);
  for (const mount of spec.mounts) args.push(mount.writable === false ? '--ro-bind' : '--bind', mount.source, mount.target);
  for (const mount of spec.readOnly ?? []) args.push('--ro-bind', mount.source, mount.target);
  args.push('--chdir', cwd, '--');
  // As root, bwrap keeps root's capabilities for its command: setpriv drops them all and becomes vcap.
  const drop = sandbox.setpriv ? [sandbox.setpriv, `--reuid=${sandbox.uid}`, `--regid=${sandbox.gid}`, '--clear-groups', '--no-new-privs', '--inh-caps=-all', '--bounding-set=-all', '--'] : [];
  return wrapper([sandbox.bwrap, ...args, ...drop, ...argv]);
}

/** Makes a container's own directories, owned by its uid. */
function makeDirs(spec: ContainerSpec, uid: number, gid: number): void {
  for (const source of [...spec.mounts.filter((m) => m.writable !== false).map((m) => m.source), spec.tmp]) {
    fs.mkdirSync(source, { recursive: true, mode: 0o700 });
    if (process.getuid?.() === 0 && uid !== 0) fs.chownSync(source, uid, gid);
  }
}

/** The machine's container support, probed once per DEA. */
export class Containers {
  readonly isolation: Isolation;
  /** How containers are made here, or which protections could not be set up and why. */
  readonly detail: string;
  /** The host uid and gid of containers' processes (the DEA's own when it is not root). */
  readonly uid: number;
  readonly gid: number;
  private readonly sandbox?: Sandbox;

  constructor(
    settings: Pick<DeaSettings, 'containers' | 'containerUid' | 'bwrap'>,
    private readonly limits: InstanceLimits,
    log: Logger,
    /** Directories no container may see ($DEVBOX_HOME, the DEA's directory). */
    privateDirs: string[],
    /** A scratch directory of the DEA's, for the probe. */
    probeDir: string,
  ) {
    const root = process.getuid?.() === 0;
    const found = settings.containers === 'off' ? { reason: 'DEVBOX_DEA_CONTAINERS=off' } : probe(settings.bwrap ?? findExecutable('bwrap'), root ? settings.containerUid : undefined, privateDirs, probeDir);
    if ('sandbox' in found) {
      this.sandbox = found.sandbox;
      this.isolation = 'namespaces';
      this.uid = found.sandbox.uid;
      this.gid = found.sandbox.gid;
      this.detail = `bubblewrap: mount, pid, ipc and uts namespaces, ${root ? `uid ${this.uid}` : 'a user namespace with the user’s own uid'}`;
    } else {
      this.isolation = 'none';
      this.uid = process.getuid?.() ?? 0;
      this.gid = process.getgid?.() ?? 0;
      this.detail = `no containers (${found.reason}): instances and stagings run as processes of ${os.userInfo().username}, can read what that user can and see every process`;
      log.warn('containers are unavailable; instances and stagings run as plain processes', { reason: found.reason });
    }
  }

  /** Whether what the DEA makes for a container must be given to the container's uid (a root DEA). */
  private get chowns(): boolean {
    return process.getuid?.() === 0 && this.uid !== 0;
  }

  /** Who files the DEA makes for a container must belong to; undefined when they are the DEA's already. */
  get owner(): { uid: number; gid: number } | undefined {
    return this.chowns ? { uid: this.uid, gid: this.gid } : undefined;
  }

  /** Whether `dir` is already the container user's (so `own` has nothing to do for it). */
  owns(dir: string): boolean {
    return !this.chowns || fs.statSync(dir).uid === this.uid;
  }

  /** The PATH inside a container (the host's toolchains that are there). */
  get path(): string {
    return this.sandbox?.rootfs.path ?? withNodeOnPath(process.env.PATH);
  }

  /** Where the container sees one of its mounts (the host path itself without isolation). */
  inside(mount: Mount): string {
    return this.sandbox ? mount.target : mount.source;
  }

  /** Creates the container's directories (owned by its uid) and its cgroup. */
  create(spec: ContainerSpec): Container {
    makeDirs(spec, this.uid, this.gid);
    const cgroup = spec.limits ? this.limits.create(spec.handle, spec.limits) : undefined;
    return new Container(cgroup, (argv, cwd, group) => containerCommand(this.sandbox, spec, argv, cwd, group), !!this.sandbox);
  }

  /** Gives a directory tree the container was handed (a package, a droplet) to its uid. */
  own(dir: string): void {
    if (!this.chowns) return;
    const stack = [dir];
    while (stack.length > 0) {
      const current = stack.pop()!;
      fs.lchownSync(current, this.uid, this.gid);
      if (!fs.lstatSync(current).isDirectory()) continue;
      for (const name of fs.readdirSync(current)) stack.push(path.join(current, name));
    }
  }
}

/** Tries bubblewrap for real once: a container that must run as the right uid and write its home. */
function probe(bwrap: string | undefined, rootUid: number | undefined, privateDirs: string[], probeDir: string): { sandbox: Sandbox } | { reason: string } {
  if (!bwrap) return { reason: 'bubblewrap (bwrap) is not installed: apt-get install bubblewrap' };
  const setpriv = rootUid !== undefined ? findExecutable('setpriv') : undefined;
  if (rootUid !== undefined && !setpriv) return { reason: 'setpriv (util-linux) is not installed' };
  const uid = rootUid ?? process.getuid?.() ?? 0;
  const gid = rootUid ?? process.getgid?.() ?? 0;
  const sandbox: Sandbox = { bwrap, setpriv, rootfs: rootfsFor(withNodeOnPath(process.env.PATH), privateDirs), uid, gid };
  const spec: ContainerSpec = { handle: 'probe', mounts: [{ source: path.join(probeDir, 'probe-home'), target: CONTAINER_HOME }], tmp: path.join(probeDir, 'probe-tmp') };
  try {
    makeDirs(spec, uid, gid);
    const { file, args } = containerCommand(sandbox, spec, ['/bin/sh', '-c', 'test "$(id -u)" = "$1" && touch /home/vcap/ok', 'probe', String(uid)], CONTAINER_HOME, undefined);
    const result = spawnSync(file, args, { env: { PATH: sandbox.rootfs.path }, encoding: 'utf8', timeout: 10_000 });
    if (result.status !== 0 || !fs.existsSync(path.join(spec.mounts[0].source, 'ok'))) {
      const said = `${result.stderr ?? ''}${result.error?.message ?? ''}`.trim().split('\n')[0];
      return { reason: `bubblewrap could not make a container here: ${said || `exit ${result.status}`} (are user namespaces restricted?)` };
    }
    return { sandbox };
  } finally {
    fs.rmSync(spec.mounts[0].source, { recursive: true, force: true });
    fs.rmSync(spec.tmp, { recursive: true, force: true });
  }
}

/** One container: one process at a time in it (an instance's, or a staging's steps one after another). */
export class Container {
  private child?: ChildProcess;
  /** The outer process has exited (and been reaped: its pid may be another process's now). */
  private exited = false;

  constructor(
    readonly cgroup: InstanceCgroup | undefined,
    private readonly command: (argv: string[], cwd: string, cgroup: InstanceCgroup | undefined) => { file: string; args: string[] },
    /** In namespaces of its own (else a session of the DEA's user). */
    readonly isolated: boolean,
  ) {}

  /** Starts `argv` in the container: its own session (and, isolated, its own pid namespace). */
  run(argv: string[], options: RunOptions): ChildProcess {
    const { file, args } = this.command(argv, options.cwd, this.cgroup);
    const child = spawn(file, args, { cwd: this.isolated ? '/' : options.cwd, env: options.env, detached: true, stdio: options.stdio ?? ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.exited = false;
    child.once('exit', () => (this.exited = true));
    return child;
  }

  /** Every process of the container (host pids), from a scan of /proc or the cgroup. */
  members(scan?: ProcessScan): number[] {
    const pid = this.child?.pid;
    if (this.cgroup) return this.cgroup.pids();
    if (!pid || (this.isolated && this.exited)) return [];
    if (this.isolated) return processTree(pid, new Set(), scan);
    return (scan ?? processScan()).sessions.get(pid)?.map((p) => p.pid) ?? [pid];
  }

  /**
   * Asks the container's processes to end (SIGTERM), as CF's stop does: everything but the
   * container's own outer process and its init, which would take the rest down at once.
   */
  terminate(): void {
    const pid = this.exited ? undefined : this.child?.pid;
    if (!pid) return;
    if (!this.isolated) return killSession(pid, 'SIGTERM');
    const processes = processScan();
    const init = processes.children.get(pid)?.map((p) => p.pid) ?? [];
    const keep = new Set([pid, ...init]);
    for (const member of this.members(processes)) if (!keep.has(member)) signal(member, 'SIGTERM');
  }

  /** Ends everything in the container at once. */
  kill(): void {
    const pid = this.child?.pid;
    // Without isolation, what the app left in its session goes too (Linux reuses no pid that is
    // still a session's id). Isolated, the outer process's death takes its pid namespace, and so
    // everything, with it; once it has been reaped its pid is not ours any more.
    if (pid && !this.isolated) killSession(pid, 'SIGKILL');
    else if (pid && !this.exited) signal(pid, 'SIGKILL');
    for (const member of this.cgroup?.pids() ?? []) signal(member, 'SIGKILL');
  }

  /** Kills what is left and removes the cgroup (the directories are the owner's to remove). */
  destroy(): void {
    this.kill();
    this.cgroup?.remove();
  }
}
