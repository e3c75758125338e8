// One p-redis instance's redis-server, as p-redis's shared-vm plan ran it: a process of its own, on a
// port of its own, with a password of its own (`requirepass`) and its data in a directory of its own
// (RDB snapshots and the append-only file, so it outlives a restart), the administrative commands an
// app could use to leave its instance renamed to nothing (docs/redis.md). The node's child: under
// setpriv --pdeathsig it gets SIGTERM (and saves) if the node dies, even by SIGKILL.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { findExecutable } from '../common/executables.js';
import { isListening } from '../common/net.js';
import { waitFor } from '../common/poll.js';
import { lastLines, ownerOnly } from '../service-base/files.js';
import { stopProcess, type RunningServer } from '../service-base/kept-running.js';
import { redisCommands } from './resp.js';
import type { RedisPlan } from './settings.js';

/** What the node keeps of an instance, in its directory's instance.json (0600: it holds the password). */
export interface InstanceMeta {
  name: string;
  plan: string;
  /** Its server's port: kept across restarts (the bindings' credentials carry it) while it is free. */
  port: number;
  /** `requirepass`: random, never logged, shown only in a binding's credentials. */
  password: string;
  created_at: string;
}

export interface InstanceFiles {
  dir: string;
  meta: string;
  conf: string;
  data: string;
  pidFile: string;
  logFile: string;
}

export const instanceFiles = (dir: string): InstanceFiles => ({
  dir,
  meta: path.join(dir, 'instance.json'),
  conf: path.join(dir, 'redis.conf'),
  data: path.join(dir, 'data'),
  pidFile: path.join(dir, 'redis-server.pid'),
  logFile: path.join(dir, 'redis-server.log'),
});

/**
 * Commands renamed to nothing, so that no client (nor a Lua script) can run them: CONFIG (the
 * server's settings, its password and files), DEBUG and MODULE (code in the server; Redis 7 also
 * refuses them by default), SHUTDOWN, ACL (users and passwords), the replication commands SLAVEOF,
 * REPLICAOF, SYNC, PSYNC and FAILOVER, MIGRATE (connections to other servers), MONITOR, and SAVE,
 * BGSAVE, BGREWRITEAOF (the node's to decide). p-redis's shared-vm plan disabled the same ones.
 */
export const DISABLED_COMMANDS = ['CONFIG', 'DEBUG', 'MODULE', 'SHUTDOWN', 'ACL', 'SLAVEOF', 'REPLICAOF', 'SYNC', 'PSYNC', 'FAILOVER', 'MIGRATE', 'MONITOR', 'SAVE', 'BGSAVE', 'BGREWRITEAOF'] as const;

/** A value in redis.conf's double quotes (its parser's escapes). */
const quoted = (value: string) => `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n').replace(/\r/g, '\\r')}"`;

export function redisConf({ host, port, password, files, plan }: { host: string; port: number; password: string; files: InstanceFiles; plan: RedisPlan }): string {
  return [
    '# Written by devbox\'s redis-node at every start of this server: changes here are lost.',
    `bind ${host}`,
    `port ${port}`,
    'protected-mode yes',
    `requirepass ${quoted(password)}`,
    'daemonize no',
    'supervised no',
    `pidfile ${quoted(files.pidFile)}`,
    `logfile ${quoted(files.logFile)}`,
    'loglevel notice',
    `dir ${quoted(files.data)}`,
    'dbfilename dump.rdb',
    // Persistence: snapshots, and the append-only file fsync'ed every second.
    'save 900 1 300 10 60 10000',
    'appendonly yes',
    'appendfsync everysec',
    `maxmemory ${Math.trunc(plan.maxmemoryBytes)}`,
    'maxmemory-policy noeviction',
    `maxclients ${Math.trunc(plan.maxclients)}`,
    'timeout 0',
    'tcp-keepalive 300',
    // Redis 7's own locks on what an app could use to leave its instance (their defaults, said here).
    'enable-protected-configs no',
    'enable-debug-command no',
    'enable-module-command no',
    ...DISABLED_COMMANDS.map((command) => `rename-command ${command} ""`),
    '',
  ].join('\n');
}

/** setpriv --pdeathsig TERM, where util-linux's setpriv has it: the server goes when the node does. */
let deathSignal: string[] | undefined;
function parentDeathPrefix(): string[] {
  if (deathSignal) return deathSignal;
  const setpriv = findExecutable('setpriv');
  const help = setpriv ? spawnSync(setpriv, ['--help'], { encoding: 'utf8', timeout: 5_000 }).stdout ?? '' : '';
  deathSignal = setpriv && help.includes('--pdeathsig') ? [setpriv, '--pdeathsig', 'TERM', '--'] : [];
  return deathSignal;
}

/** Where to reach a server listening on `host` from this machine. */
export const reachable = (host: string) => (host === '0.0.0.0' || host === '' ? '127.0.0.1' : host === '::' ? '::1' : host);

export interface RunningRedis extends RunningServer {
  password: string;
}

export interface RedisServerOptions {
  binary: string;
  files: InstanceFiles;
  /** The address it listens on. */
  host: string;
  port: number;
  password: string;
  plan: RedisPlan;
  startTimeoutMs?: number;
}

/** Writes its redis.conf and starts it; resolves once it answers PING with its password. */
export async function startRedisServer(o: RedisServerOptions): Promise<RunningRedis> {
  const { files } = o;
  fs.mkdirSync(files.data, { recursive: true, mode: 0o700 });
  const probe = reachable(o.host);
  if (await isListening(o.port, probe)) throw new Error(`port ${o.port} is already in use`);
  fs.writeFileSync(files.conf, redisConf(o), { mode: 0o600 });
  fs.chmodSync(files.conf, 0o600);
  // Owner-only files (umask 077): its snapshot, append-only file and log hold the app's data.
  const [command, ...args] = [...parentDeathPrefix(), ...ownerOnly(o.binary, [files.conf]).flat()];
  const child = spawn(command, args, { stdio: 'ignore', cwd: files.dir });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const running = () => child.exitCode === null && child.signalCode === null;
  try {
    await waitFor(
      `redis-server on port ${o.port}`,
      async () => {
        if (!running()) throw new Error(`it exited (${child.exitCode ?? child.signalCode}): ${lastLines(files.logFile)}`);
        const [auth, pong] = await redisCommands({ host: probe, port: o.port, timeoutMs: 1_000 }, [['AUTH', o.password], ['PING']]);
        return auth === 'OK' && pong === 'PONG';
      },
      { timeoutMs: o.startTimeoutMs ?? 10_000, intervalMs: 20, retryIf: (error) => running() && !/it exited/.test((error as Error).message) },
    );
  } catch (error) {
    child.kill('SIGKILL');
    await exited;
    throw error;
  }
  return {
    pid: child.pid!,
    port: o.port,
    password: o.password,
    running,
    onExit: (listener) => child.once('exit', listener),
    async stop() {
      if (!running()) return;
      // SIGTERM: Redis writes its snapshot and the append-only file, then exits; SIGKILL after 10 s.
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * A redis-server left running on this instance's data by a node that could not stop it (killed where
 * setpriv has no --pdeathsig): its pid file names it, and it works in this very data directory (Redis
 * changes to its `dir`). Stopped before a new one starts on the same data.
 */
export async function stopLeftServer(files: InstanceFiles): Promise<number | undefined> {
  let pid: number;
  try {
    pid = Number(fs.readFileSync(files.pidFile, 'utf8').trim());
  } catch {
    return undefined;
  }
  const ours = () => {
    try {
      return fs.readlinkSync(`/proc/${pid}/cwd`) === files.data;
    } catch {
      return false; // gone, or not ours to look at
    }
  };
  if (!Number.isInteger(pid) || pid <= 1 || !ours()) return undefined;
  await stopProcess(pid, ours, { what: 'redis-server', graceMs: 10_000 });
  return pid;
}
