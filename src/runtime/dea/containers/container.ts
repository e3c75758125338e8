// Containers for instances and stagings, what Warden gave Cloud Foundry's DEA (docs/security.md,
// "Containers"): each in its own mount, pid, ipc and uts namespaces (bubblewrap), the machine's
// system directories and toolchains read-only, its own home at /home/vcap and nothing else of the
// machine; as an unprivileged uid when the DEA runs as root (CF's vcap), the user's own otherwise
// (in a user namespace); in a cgroup with its memory and pids limits. Everything in a container
// ends with it: its init is pid 1 of its pid namespace and dies with the container's outer process.
//
// Where the machine cannot (no bubblewrap, no user namespaces), `Containers` says why once and a
// container is a process session of the DEA's user, as before (the cgroup limits still apply).
//
// A running container takes more processes (ssh sessions, docs/dea.md "ssh"): `exec` enters its
// cgroup, its namespaces (nsenter, the container's init as the target) and its user, as `run` does.
import { spawn, spawnSync, type ChildProcess, type StdioOptions } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn as spawnPty, type IPty } from 'node-pty';
import { findExecutable } from '../../common/executables.js';
import type { Logger } from '../../common/log.js';
import { withNodeOnPath } from '../host.js';
import type { InstanceCgroup, InstanceLimits } from '../instances/limits.js';
import { killSession, processTree, scan as processScan, signal, type ProcessScan } from '../../common/procfs.js';
import type { DeaSettings } from '../settings.js';
import { rootfsFor, type RootEntry, type Rootfs } from './rootfs.js';

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

/** A program to start on the host. */
interface Command {
  file: string;
  args: string[];
}

/** Runs `rest` after entering the cgroups whose procs files are given (ENTER). */
function entering(cgroup: InstanceCgroup | undefined, rest: string[]): Command {
  const enter = cgroup?.procsFiles ?? [];
  return { file: '/bin/sh', args: ['-c', ENTER, 'devbox-container', String(enter.length), ...enter, ...rest] };
}

/** As root, what becomes the containers' uid with every capability dropped (bwrap keeps root's for its command). */
const dropPrivileges = (sandbox: Sandbox): string[] =>
  sandbox.setpriv ? [sandbox.setpriv, `--reuid=${sandbox.uid}`, `--regid=${sandbox.gid}`, '--clear-groups', '--no-new-privs', '--inh-caps=-all', '--bounding-set=-all', '--'] : [];

/** The command that runs `argv` in a container (after entering the cgroups whose procs files are `enter`). */
function containerCommand(sandbox: Sandbox | undefined, spec: ContainerSpec, argv: string[], cwd: string, cgroup: InstanceCgroup | undefined): Command {
  const wrapper = (rest: string[]) => entering(cgroup, rest);
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
  // INSIDE sets again what hostEnv kept from the host's programs (sh, bwrap, setpriv), in the container.
  return wrapper([sandbox.bwrap, ...args, ...dropPrivileges(sandbox), '/bin/sh', '-c', INSIDE, 'devbox-run', cwd, ...argv]);
}

/**
 * How a process joins a running container (found once per DEA): nsenter, and without root a way to
 * the user namespace that owns the container's others. bubblewrap's `--disable-userns` puts the
 * container's processes in a user namespace nested in the one it made, where they hold no
 * capability over the mount, pid, ipc, uts and cgroup namespaces: nsenter must enter the outer one
 * to join those, then the inner one (where the container's uid is mapped and has no capability).
 * util-linux 2.39's `nsenter --user-parent` does the first step; older ones get the outer namespace
 * from perl (the NS_GET_PARENT ioctl on the init's, given to nsenter as fd 3).
 */
type Entry = { nsenter: string; setpriv?: string; script?: string; parent: 'root' | 'user-parent' | { perl: string } } | { problem: string };

/** The NS_GET_PARENT ioctl (linux/nsfs.h). */
const NS_GET_PARENT = 0xb702;
/** `perl -e PARENT_USERNS <pid> <command...>`: runs the command with fd 3 open on the parent of the user namespace of `pid`. */
const PARENT_USERNS = [
  'use POSIX ();',
  'my $pid = shift @ARGV;',
  'open(my $ns, "<", "/proc/$pid/ns/user") or die "devbox: the user namespace of $pid: $!\n";',
  `my $fd = ioctl($ns, ${NS_GET_PARENT}, 0);`,
  'defined $fd or die "devbox: the parent user namespace of $pid: $!\n";',
  '$fd = 0 if $fd eq "0 but true";',
  'defined POSIX::dup2($fd, 3) or die "devbox: dup2: $!\n";',
  'exec { $ARGV[0] } @ARGV or die "devbox: $ARGV[0]: $!\n";',
].join(' ');
/**
 * In the container: sets the variables that came as CONTAINER_LOADER_ENV (`hostEnv`), enters the
 * working directory, execs the rest. (File descriptors stay: an instance's sidecar supervisor
 * reports on fd 3.)
 */
const INSIDE = [
  'for __kv in $CONTAINER_LOADER_ENV; do __v=$(printf %s "${__kv#*=}" | /usr/bin/base64 -d; echo .); export "${__kv%%=*}=${__v%.}"; done',
  'unset CONTAINER_LOADER_ENV __kv __v',
  'cd -- "$1" || exit 1',
  'shift',
  'exec "$@"',
].join('; ');

/**
 * What glibc's loader and libc read at start (the variables it ignores for setuid programs, and
 * GLIBC_TUNABLES), and perl's: the host programs that enter a container (sh, nsenter, perl, setpriv)
 * must not get the app's or a user's, which would load their files outside the container (as root
 * with a root DEA).
 */
const LOADER_VARIABLES = /^(LD_\w*|GCONV_PATH|GETCONF_DIR|GLIBC_TUNABLES|HOSTALIASES|LOCALDOMAIN|LOCPATH|MALLOC_\w*|NIS_PATH|NLSPATH|RESOLV_HOST_CONF|RES_OPTIONS|TMPDIR|TZDIR|PERL\w*)$/;

/**
 * The environment for the host's part of entering a container: `env` without the loader's
 * variables, which travel as CONTAINER_LOADER_ENV (`NAME=<base64 value>` words) for INSIDE to set.
 */
function hostEnv(env: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  const carried: string[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (!LOADER_VARIABLES.test(name)) out[name] = value;
    else carried.push(`${name}=${Buffer.from(value).toString('base64')}`);
  }
  // Not a DEVBOX_ name (apps get none); set only when there is something to carry, and never the app's own.
  delete out.CONTAINER_LOADER_ENV;
  if (carried.length > 0) out.CONTAINER_LOADER_ENV = carried.join(' ');
  return out;
}

function findEntry(sandbox: Sandbox | undefined): Entry {
  const nsenter = findExecutable('nsenter');
  if (!nsenter) return { problem: 'nsenter (util-linux) is not installed' };
  const script = findExecutable('script');
  if (sandbox?.setpriv) return { nsenter, setpriv: sandbox.setpriv, script, parent: 'root' };
  const setpriv = findExecutable('setpriv');
  const help = spawnSync(nsenter, ['--help'], { encoding: 'utf8', timeout: 5_000 }).stdout ?? '';
  if (help.includes('--user-parent')) return { nsenter, setpriv, script, parent: 'user-parent' };
  const perl = findExecutable('perl');
  if (perl) return { nsenter, setpriv, script, parent: { perl } };
  return { problem: 'entering a container without root needs nsenter --user-parent (util-linux 2.39) or perl' };
}

/** A word sh reads back as `text`. */
const shellQuote = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;

/** The namespaces of `pid` that are not this process's own (nsenter's flag for each), `user` apart. */
function namespacesOf(pid: number): { flags: string[]; user: boolean } {
  const differs = (ns: string) => {
    try {
      return fs.readlinkSync(`/proc/${pid}/ns/${ns}`) !== fs.readlinkSync(`/proc/self/ns/${ns}`);
    } catch {
      return false;
    }
  };
  const flags = (['mnt', 'uts', 'ipc', 'pid', 'cgroup'] as const).filter(differs).map((ns) => ({ mnt: '-m', uts: '-u', ipc: '-i', pid: '-p', cgroup: '-C' })[ns]);
  return { flags, user: differs('user') };
}

/**
 * The command that runs `argv` in the running container whose init is `init`, in `cwd` (as the
 * container sees it), and how many processes down from the one started `argv` runs (nsenter forks
 * it into the pid namespace).
 *
 * On a `terminal` (a pseudo-terminal of the DEA's), `argv` runs under `script` on one of the
 * container's own: the DEA's is not in the container's /dev/pts, where `tty` and ttyname() look it
 * up, and ^C then reaches only the command's processes (script relays it as a byte, the
 * container's terminal sends SIGINT), never nsenter, which shares the DEA's terminal's process group.
 */
function joinCommand(entry: Entry, sandbox: Sandbox, init: number, argv: string[], cwd: string, cgroup: InstanceCgroup | undefined, terminal: boolean): Command & { depth: number } {
  if ('problem' in entry) throw new Error(`cannot enter the container: ${entry.problem}`);
  const { flags, user } = namespacesOf(init);
  const onTerminal = terminal && entry.script ? [entry.script, '-q', '-e', '-c', `exec ${argv.map(shellQuote).join(' ')}`, '/dev/null'] : argv;
  // A session closes fd 3 first: the parent user namespace given to nsenter (the process must not keep it).
  const inside = ['/bin/sh', '-c', `exec 3<&-; ${INSIDE}`, 'devbox-session', cwd, ...onTerminal];
  const depth = (flags.includes('-p') ? 1 : 0) + (onTerminal === argv ? 0 : 1);
  return { ...joinArgv(entry, sandbox, init, flags, user, inside, cgroup), depth };
}

function joinArgv(entry: Exclude<Entry, { problem: string }>, sandbox: Sandbox, init: number, flags: string[], user: boolean, inside: string[], cgroup: InstanceCgroup | undefined): Command {
  if (entry.parent === 'root' || !user) {
    return entering(cgroup, [entry.nsenter, '-t', String(init), ...flags, '--', ...dropPrivileges(sandbox), ...inside]);
  }
  // Then the container's own user namespace (its init is pid 1 there), where the uid is the user's
  // and has no capability; no new privileges from there on, as bwrap gives its command.
  const inner = [entry.nsenter, '-t', '1', '-U', '--preserve-credentials', '--', ...(entry.setpriv ? [entry.setpriv, '--no-new-privs', '--'] : []), ...inside];
  if (entry.parent === 'user-parent') {
    return entering(cgroup, [entry.nsenter, '-t', String(init), '-U', '--user-parent', '--preserve-credentials', ...flags, '--', ...inner]);
  }
  return entering(cgroup, [entry.parent.perl, '-e', PARENT_USERNS, String(init), entry.nsenter, '--user=/proc/self/fd/3', '--preserve-credentials', '-t', String(init), ...flags, '--', ...inner]);
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
  /** How processes join running containers: found at the first ssh session. */
  private entry?: Entry;

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
    const sandbox = this.sandbox;
    return new Container(
      cgroup,
      (argv, cwd, group) => containerCommand(sandbox, spec, argv, cwd, group),
      sandbox ? (init, argv, cwd, group, terminal) => joinCommand((this.entry ??= findEntry(sandbox)), sandbox, init, argv, cwd, group, terminal) : undefined,
    );
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

/**
 * The containers' uid has a name, `vcap` with its home at /home/vcap, as on Cloud Foundry (a shell
 * prompt, `whoami`, npm and git look it up): the host's /etc/passwd and /etc/group with that entry
 * added, written beside the probe and mounted over the host's in every container.
 */
function vcapUser(uid: number, dir: string): RootEntry[] {
  const entries: RootEntry[] = [];
  const add = (file: string, line: string, taken: (fields: string[]) => boolean) => {
    let text = '';
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      return;
    }
    if (text.split('\n').some((l) => taken(l.split(':')))) return;
    const copy = path.join(dir, `container-${path.basename(file)}`);
    fs.mkdirSync(dir, { recursive: true });
    // The container's uid reads it; nobody else on the host needs to (the DEA's files are owner-only).
    fs.writeFileSync(copy, `${text.replace(/\n?$/, '\n')}${line}\n`, { mode: 0o400 });
    fs.chmodSync(copy, 0o400);
    fs.chownSync(copy, uid, uid);
    entries.push({ kind: 'ro-bind', source: copy, target: file });
  };
  add('/etc/passwd', `vcap:x:${uid}:${uid}:vcap:${CONTAINER_HOME}:/bin/bash`, (f) => f[2] === String(uid) || f[0] === 'vcap');
  add('/etc/group', `vcap:x:${uid}:`, (f) => f[2] === String(uid) || f[0] === 'vcap');
  return entries;
}

/** Tries bubblewrap for real once: a container that must run as the right uid and write its home. */
function probe(bwrap: string | undefined, rootUid: number | undefined, privateDirs: string[], probeDir: string): { sandbox: Sandbox } | { reason: string } {
  if (!bwrap) return { reason: 'bubblewrap (bwrap) is not installed: apt-get install bubblewrap' };
  const setpriv = rootUid !== undefined ? findExecutable('setpriv') : undefined;
  if (rootUid !== undefined && !setpriv) return { reason: 'setpriv (util-linux) is not installed' };
  const uid = rootUid ?? process.getuid?.() ?? 0;
  const gid = rootUid ?? process.getgid?.() ?? 0;
  const sandbox: Sandbox = { bwrap, setpriv, rootfs: rootfsFor(withNodeOnPath(process.env.PATH), privateDirs), uid, gid };
  if (rootUid !== undefined) sandbox.rootfs.entries.push(...vcapUser(rootUid, probeDir));
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

/** What `exec` starts: the process, where it runs (as the container sees it) and its environment. */
export interface ExecOptions {
  cwd: string;
  env: Record<string, string>;
}

/** A pseudo-terminal for `exec`: its size and TERM. */
export interface PtyOptions {
  term: string;
  cols: number;
  rows: number;
}

/**
 * One container: its process (an instance's, or a staging's steps one after another), and the
 * processes `exec` starts in it while it runs (ssh sessions).
 */
export class Container {
  private child?: ChildProcess;
  /** The outer process has exited (and been reaped: its pid may be another process's now). */
  private exited = false;
  /** What `exec` started and has not ended: host pid → how many processes down its command runs. */
  private readonly execs = new Map<number, number>();

  constructor(
    readonly cgroup: InstanceCgroup | undefined,
    private readonly command: (argv: string[], cwd: string, cgroup: InstanceCgroup | undefined) => Command,
    /** How a process joins the running container, given its init; undefined without isolation. */
    private readonly join?: (init: number, argv: string[], cwd: string, cgroup: InstanceCgroup | undefined, terminal: boolean) => Command & { depth: number },
  ) {}

  /** In namespaces of its own (else a session of the DEA's user). */
  get isolated(): boolean {
    return !!this.join;
  }

  /** Starts `argv` in the container: its own session (and, isolated, its own pid namespace). */
  run(argv: string[], options: RunOptions): ChildProcess {
    const { file, args } = this.command(argv, options.cwd, this.cgroup);
    // Isolated, the app's environment reaches the host's programs that make the container only
    // without the loader's variables (LD_PRELOAD from `set-env` would load the app's files as root).
    const env = this.isolated ? hostEnv(options.env) : options.env;
    const child = spawn(file, args, { cwd: this.isolated ? '/' : options.cwd, env, detached: true, stdio: options.stdio ?? ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.exited = false;
    child.once('exit', () => (this.exited = true));
    return child;
  }

  /**
   * What starts `argv` in the running container: its cgroup, and, isolated, its namespaces (those of
   * its init, the only child of the outer process) and its uid, in `cwd`; without isolation a
   * process of the DEA's user in `cwd`. Throws when the container is not running.
   */
  private entering(argv: string[], { cwd, env }: ExecOptions, terminal: boolean): Command & { cwd: string; env: Record<string, string>; depth: number } {
    const pid = this.exited ? undefined : this.child?.pid;
    if (!pid) throw new Error('the container is not running');
    if (!this.join) return { ...this.command(argv, cwd, this.cgroup), cwd, env, depth: 0 };
    const init = readChildren(pid)[0];
    if (!init) throw new Error('the container is not running');
    return { ...this.join(init, argv, cwd, this.cgroup, terminal), cwd: '/', env: hostEnv(env) };
  }

  /** Starts `argv` in the running container with pipes (stdin, stdout and stderr apart), in a session of its own. */
  exec(argv: string[], options: ExecOptions): ChildProcess {
    const { file, args, cwd, env, depth } = this.entering(argv, options, false);
    const child = spawn(file, args, { cwd, env, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
    this.track(child.pid, depth, (done) => child.once('exit', done));
    return child;
  }

  /** Starts `argv` in the running container on a new pseudo-terminal (node-pty: its own session, the terminal its controlling one). */
  execPty(argv: string[], options: ExecOptions & PtyOptions): IPty {
    const { file, args, cwd, env, depth } = this.entering(argv, options, true);
    const terminal = spawnPty(file, args, { name: options.term, cols: options.cols, rows: options.rows, cwd, env, encoding: null });
    this.track(terminal.pid, depth, (done) => terminal.onExit(done));
    return terminal;
  }

  private track(pid: number | undefined, depth: number, onExit: (done: () => void) => void): void {
    if (!pid) return;
    this.execs.set(pid, depth);
    onExit(() => this.execs.delete(pid));
  }

  /**
   * The process of an `exec` that signals are for: the command itself, not nsenter (which waits
   * for it in the DEA's pid namespace) nor script (undefined while they have not started it yet).
   */
  mainProcess(execPid: number): number | undefined {
    let pid: number | undefined = execPid;
    for (let depth = this.execs.get(execPid) ?? 0; pid && depth > 0; depth--) pid = readChildren(pid)[0];
    return pid;
  }

  /**
   * Sends `sig` to what an `exec` started: its command and everything under it; with `nsenter`,
   * the nsenter that waits for it too. Without isolation, its whole session.
   */
  signalExec(execPid: number, sig: NodeJS.Signals, { nsenter = false } = {}): void {
    if (!this.isolated) return killSession(execPid, sig);
    const root = nsenter ? execPid : this.mainProcess(execPid);
    if (root) for (const pid of processTree(root)) signal(pid, sig);
  }

  /** Every process of the container (host pids), from a scan of /proc or the cgroup. */
  members(scan?: ProcessScan): number[] {
    if (this.cgroup) return this.cgroup.pids();
    const pid = this.child?.pid;
    const processes = scan ?? processScan();
    const out: number[] = [];
    if (pid && !(this.isolated && this.exited)) out.push(...this.tree(pid, processes));
    for (const exec of this.execs.keys()) out.push(...this.tree(exec, processes));
    return out;
  }

  /** A process of the container and what it started: isolated, its descendants; else its session. */
  private tree(pid: number, processes: ProcessScan): number[] {
    if (this.isolated) return processTree(pid, new Set(), processes);
    return processes.sessions.get(pid)?.map((p) => p.pid) ?? [pid];
  }

  /**
   * Asks the container's processes to end (SIGTERM), as CF's stop does: everything but the
   * container's own outer process and its init, which would take the rest down at once (nor the
   * nsenters of `exec`, which wait for their commands and say how they ended).
   */
  terminate(): void {
    const pid = this.exited ? undefined : this.child?.pid;
    if (!pid) return;
    if (!this.isolated) {
      for (const leader of [pid, ...this.execs.keys()]) killSession(leader, 'SIGTERM');
      return;
    }
    const processes = processScan();
    const init = processes.children.get(pid)?.map((p) => p.pid) ?? [];
    const keep = new Set([pid, ...init, ...this.execs.keys()]);
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
    // What `exec` started: its own sessions without isolation; isolated, in the pid namespace that
    // just ended (its nsenter follows when its command is gone).
    if (!this.isolated) for (const leader of this.execs.keys()) killSession(leader, 'SIGKILL');
    for (const member of this.cgroup?.pids() ?? []) signal(member, 'SIGKILL');
  }

  /** Kills what is left and removes the cgroup (the directories are the owner's to remove). */
  destroy(): void {
    this.kill();
    this.cgroup?.remove();
  }
}

/** The children of a process (`/proc/<pid>/task/<pid>/children`, or a scan of /proc where the kernel lacks it). */
function readChildren(pid: number): number[] {
  try {
    return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return processScan().children.get(pid)?.map((p) => p.pid) ?? [];
  }
}
