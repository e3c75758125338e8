// Names, plans and settings of the redis-node (docs/redis.md). Instance names come from the gateway
// over the bus and name directories: each is checked against its exact shape before use.
import { spawnSync } from 'node:child_process';
import { findExecutable } from '../common/executables.js';
import { envNumber, nodeIdFrom } from '../service-base/settings.js';

/** An instance is named by its GUID (Cloud Foundry's instance id), either case: nothing else, so never `..`. */
export const INSTANCE_NAME = /^[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}$/i;
export const isInstanceName = (value: unknown): value is string => typeof value === 'string' && INSTANCE_NAME.test(value);

export interface RedisPlan {
  name: string;
  /** `maxmemory`: past it, writes fail with OOM (`maxmemory-policy noeviction`, as p-redis). */
  maxmemoryBytes: number;
  /** `maxclients`: connections to the instance's server. */
  maxclients: number;
}

const MB = 1024 * 1024;

/** p-redis's shared-vm: a redis-server of the instance's own on the node's machine. */
export function plans(): Record<string, RedisPlan> {
  return {
    'shared-vm': {
      name: 'shared-vm',
      maxmemoryBytes: envNumber('DEVBOX_REDIS_MAXMEMORY_BYTES', 64 * MB, { min: MB }),
      maxclients: envNumber('DEVBOX_REDIS_MAXCLIENTS', 100, { min: 1 }),
    },
  };
}

export interface RedisNodeSettings {
  /** Instances (redis-server processes) it may run. */
  capacity: number;
  announceMs: number;
}

export function redisNodeSettings(): RedisNodeSettings {
  return {
    capacity: envNumber('DEVBOX_REDIS_CAPACITY', 20),
    announceMs: envNumber('DEVBOX_REDIS_ANNOUNCE_MS', 30_000),
  };
}

/** The node's id (`--node-id`, DEVBOX_REDIS_NODE_ID; default redis-node-<index>): part of bus subjects. */
export const redisNodeId = (index: number, env: NodeJS.ProcessEnv = process.env): string => nodeIdFrom('DEVBOX_REDIS_NODE_ID', `redis-node-${index}`, env);

/** The well-known port: the machine's own redis-server may be there; no instance ever is. */
export const REDIS_DEFAULT_PORT = 6379;

export const REDIS_MISSING_HELP =
  'no redis-server found: install it (apt-get install redis-server) for the p-redis service; devbox runs a redis-server of its own for each instance, never the machine\'s';

/** Debian's redis-server (or one on the PATH), or undefined when Redis is not installed. */
export function findRedisServer(): string | undefined {
  return findExecutable('redis-server');
}

/** `7.0` of `Redis server v=7.0.15 …`; undefined when it does not say. */
export function redisVersion(binary: string): string | undefined {
  const out = spawnSync(binary, ['--version'], { encoding: 'utf8', timeout: 5_000 });
  return /\bv=(\d+\.\d+)/.exec(out.stdout ?? '')?.[1];
}
