// The DEA's settings: fixed defaults, overridable from the environment (tests shorten the intervals).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isSubjectToken } from '../common/bus.js';
import { deaId } from './paths.js';

export type MemoryEnforcement = 'auto' | 'cgroup' | 'sampling';

/** Whether instances and stagings run in containers: `auto` where the machine allows, `off` never. */
export type ContainerMode = 'auto' | 'off';

export interface DeaSettings {
  /** `dea.advertise` interval (DEVBOX_DEA_ADVERTISE_MS, 5 s). */
  advertiseMs: number;
  /** `dea.heartbeat` interval (DEVBOX_DEA_HEARTBEAT_MS, 2 s). */
  heartbeatMs: number;
  /** Memory the DEA offers to instances, MB (DEVBOX_DEA_MEMORY_MB, 80% of physical RAM). */
  memoryMb: number;
  /** Disk the DEA offers to instances, MB (DEVBOX_DEA_DISK_MB, 80% of the free space at start). */
  diskMb: number;
  /** App log lines per second per instance before lines are dropped (DEVBOX_LOG_RATE_LIMIT, 1000). */
  logRateLimit: number;
  /** SIGTERM → SIGKILL grace on stop (DEVBOX_DEA_STOP_TIMEOUT_MS, 10 s). */
  stopTimeoutMs: number;
  /** Upper bound of one staging (DEVBOX_STAGING_TIMEOUT_S, 14 min: under the controller's 15). */
  stagingTimeoutMs: number;
  /** Memory sampling interval in RSS mode (DEVBOX_DEA_MEMORY_CHECK_MS, 500 ms). */
  memoryCheckMs: number;
  /** Disk usage sampling interval (DEVBOX_DEA_DISK_CHECK_MS, 5 s). */
  diskCheckMs: number;
  /** Health check poll interval while starting (DEVBOX_DEA_HEALTH_CHECK_MS, 50 ms). */
  healthCheckIntervalMs: number;
  /** cgroup (v2 or v1), sampling (PSS) or auto (DEVBOX_DEA_MEMORY_ENFORCEMENT; `rss` is read as sampling). */
  memoryEnforcement: MemoryEnforcement;
  /** A delegated cgroup v2 directory to create instance cgroups in (DEVBOX_DEA_CGROUP). */
  cgroupDir?: string;
  /** Processes (and threads) an instance may have, with a pids cgroup (DEVBOX_DEA_PIDS_LIMIT, 1024). */
  pidsLimit: number;
  /** Containers for instances and stagings (DEVBOX_DEA_CONTAINERS: auto or off). */
  containers: ContainerMode;
  /** The unprivileged uid (and gid) containers run as when the DEA runs as root (DEVBOX_DEA_CONTAINER_UID, 2000: CF's vcap). */
  containerUid: number;
  /** bubblewrap to make containers with (DEVBOX_DEA_BWRAP; default: bwrap on the PATH). */
  bwrap?: string;
  /** Droplets kept in the DEA's cache (DEVBOX_DEA_DROPLET_CACHE, 16). */
  dropletCacheSize: number;
  /** The DEA's advertised address (`--advertise`): instances are registered with the routers there. */
  host?: string;
  /** The address the DEA's own servers listen on (`--host`; default 127.0.0.1): its ssh server. */
  listenHost?: string;
}

/** The DEA's id (`--dea-id`, DEVBOX_DEA_ID; default dea-<index>) and directory (`--dir`, DEVBOX_DEA_DIR; default $DEVBOX_HOME/dea/<id>). */
export function deaIdentity(index: number, deasDir: string, env: NodeJS.ProcessEnv = process.env): { id: string; dir: string } {
  const id = env.DEVBOX_DEA_ID || deaId(index);
  // The id is part of bus subjects (dea.<id>.start) and of a directory name.
  if (!isSubjectToken(id)) throw new Error(`DEVBOX_DEA_ID='${id}': use letters, digits, - and _ only (it is part of NATS subjects)`);
  return { id, dir: path.resolve(env.DEVBOX_DEA_DIR || path.join(deasDir, id)) };
}

const num = (env: NodeJS.ProcessEnv, name: string, fallback: number): number => {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  return Number.isFinite(value) && value >= 0 ? value : fallback;
};

function freeDiskMb(dir: string): number {
  try {
    const stat = fs.statfsSync(fs.existsSync(dir) ? dir : os.tmpdir());
    return Math.floor((stat.bavail * stat.bsize) / (1024 * 1024));
  } catch {
    return 16 * 1024;
  }
}

export function deaSettings(dir: string, env: NodeJS.ProcessEnv = process.env): DeaSettings {
  const enforcement = env.DEVBOX_DEA_MEMORY_ENFORCEMENT;
  return {
    advertiseMs: num(env, 'DEVBOX_DEA_ADVERTISE_MS', 5_000) || 5_000,
    heartbeatMs: num(env, 'DEVBOX_DEA_HEARTBEAT_MS', 2_000) || 2_000,
    memoryMb: Math.floor(num(env, 'DEVBOX_DEA_MEMORY_MB', (os.totalmem() * 0.8) / (1024 * 1024))),
    diskMb: Math.floor(num(env, 'DEVBOX_DEA_DISK_MB', freeDiskMb(dir) * 0.8)),
    logRateLimit: num(env, 'DEVBOX_LOG_RATE_LIMIT', 1_000),
    stopTimeoutMs: num(env, 'DEVBOX_DEA_STOP_TIMEOUT_MS', 10_000),
    stagingTimeoutMs: num(env, 'DEVBOX_STAGING_TIMEOUT_S', 14 * 60) * 1000,
    memoryCheckMs: num(env, 'DEVBOX_DEA_MEMORY_CHECK_MS', 500) || 500,
    diskCheckMs: num(env, 'DEVBOX_DEA_DISK_CHECK_MS', 5_000) || 5_000,
    healthCheckIntervalMs: num(env, 'DEVBOX_DEA_HEALTH_CHECK_MS', 50) || 50,
    memoryEnforcement: enforcement === 'cgroup' ? 'cgroup' : enforcement === 'sampling' || enforcement === 'rss' ? 'sampling' : 'auto',
    cgroupDir: env.DEVBOX_DEA_CGROUP || undefined,
    pidsLimit: num(env, 'DEVBOX_DEA_PIDS_LIMIT', 1024),
    containers: env.DEVBOX_DEA_CONTAINERS === 'off' ? 'off' : 'auto',
    containerUid: num(env, 'DEVBOX_DEA_CONTAINER_UID', 2000) || 2000,
    bwrap: env.DEVBOX_DEA_BWRAP || undefined,
    dropletCacheSize: num(env, 'DEVBOX_DEA_DROPLET_CACHE', 16) || 16,
  };
}
