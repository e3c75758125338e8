// The real redis-node on a real bus, for the node's tests and the redis-gateway's: its context in a
// temporary DEVBOX_HOME, and a look at the redis-server processes it runs (by their working
// directory: Redis works in its instance's data directory).
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import { connect, type NatsConnection } from 'nats';
import type { Component, ComponentContext } from '../../../src/runtime/common/component.js';
import { statePaths } from '../../../src/runtime/common/config.js';
import { createLogger } from '../../../src/runtime/common/log.js';
import { createRedisNode, type RedisNodeComponentOptions } from '../../../src/runtime/redis-node/component.js';
import { redisCommands, type RespReply } from '../../../src/runtime/redis-node/resp.js';
import { testConfig } from '../mysql-gateway/helpers.js';

export interface Credentials {
  host: string;
  port: number;
  password: string;
  uri: string;
}

export function redisNodeContext(home: string, lines: string[], index = 0): ComponentContext {
  return {
    name: 'redis-node',
    index,
    uuid: randomUUID(),
    home,
    paths: statePaths(home),
    config: testConfig(1),
    log: createLogger('redis-node', { write: (line) => void lines.push(line), level: 'debug' }),
  };
}

export interface RunningRedisNode {
  component: Component;
  nc: NatsConnection;
  lines: string[];
  varz(): { instances: number; available_capacity: number; servers: Array<{ name: string; port: number; pid: number | null; running: boolean; restarts: number }> } & Record<string, unknown>;
  stop(): Promise<void>;
}

/** The component (redis-node-<index>) started on the bus at `busPort`, its state in `home`. */
export async function startRedisNode({ home, busPort, index = 0, options }: { home: string; busPort: number; index?: number; options?: RedisNodeComponentOptions }): Promise<RunningRedisNode> {
  const lines: string[] = [];
  const nc = await connect({ servers: `127.0.0.1:${busPort}`, name: 'redis-node-test' });
  const component = createRedisNode(redisNodeContext(home, lines, index), options);
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await component.stop();
    await nc.close();
  };
  try {
    await component.start(nc);
  } catch (error) {
    await stop();
    throw error;
  }
  return { component, nc, lines, varz: () => component.varz() as ReturnType<RunningRedisNode['varz']>, stop };
}

/** The pids of the redis-servers working in a directory under `home` (any still running is a leak once the node stopped). */
export function serversUnder(home: string): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (fs.readFileSync(`/proc/${entry}/comm`, 'utf8').trim() !== 'redis-server') continue;
      if (fs.readlinkSync(`/proc/${entry}/cwd`).startsWith(`${home}/`)) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

export const isRunning = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z';
  } catch {
    return false;
  }
};

/** AUTH with the credentials' password, then `commands`: their replies (an error reply is a RespError, not thrown). */
export async function asClient(credentials: Pick<Credentials, 'host' | 'port' | 'password'>, ...commands: string[][]): Promise<RespReply[]> {
  const [auth, ...replies] = await redisCommands({ host: credentials.host, port: credentials.port, timeoutMs: 5_000 }, [['AUTH', credentials.password], ...commands]);
  if (auth !== 'OK') throw new Error(`AUTH failed: ${String(auth)}`);
  return replies;
}
