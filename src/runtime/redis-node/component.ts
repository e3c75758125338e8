// The `redis-node` component (docs/redis.md): node redis-node-<index>, serving the `RaaS` protocol of
// docs/services-protocol.md on the bus for the `redis-gateway`. Each p-redis instance is a
// redis-server of its own that the node runs and keeps running, in
// $DEVBOX_HOME/redis/node-<index>/instances/<instance GUID>/. It starts none until an instance
// exists, so `devbox up` does not wait for Redis. Without a redis-server binary it still runs,
// healthy, but serves nothing and says why in /varz.
import path from 'node:path';
import type { NatsConnection } from '../common/bus.js';
import { resolveAddresses, type Component, type ComponentContext, type ComponentModule } from '../common/component.js';
import { REDIS_PROTOCOL } from '../service-base/protocol.js';
import { boxPorts } from '../service-base/settings.js';
import { RedisNode } from './node.js';
import { findRedisServer, REDIS_MISSING_HELP, redisNodeId, redisNodeSettings, redisVersion } from './settings.js';

export interface RedisNodeComponentOptions {
  /** Where the server binary is looked for (tests pretend there is none). */
  findServer?: () => string | undefined;
}

/** Where a node keeps its instances: redis/node-<index>/, or redis/<node id>/ for a node named with --node-id. */
export const redisNodeDir = (home: string, index: number, env: NodeJS.ProcessEnv = process.env) =>
  path.join(home, 'redis', env.DEVBOX_REDIS_NODE_ID ? redisNodeId(index, env) : `node-${index}`);

export function createRedisNode(ctx: ComponentContext, { findServer = findRedisServer }: RedisNodeComponentOptions = {}): Component {
  const id = redisNodeId(ctx.index);
  const dir = redisNodeDir(ctx.home, ctx.index);
  const settings = redisNodeSettings();
  const { host, advertise } = resolveAddresses(ctx);
  let node: RedisNode | undefined;
  let unavailable: string | undefined;
  let binary: string | undefined;
  let version: string | undefined;

  return {
    async start(bus: NatsConnection) {
      binary = findServer();
      if (!binary) {
        unavailable = REDIS_MISSING_HELP;
        ctx.log.warn(REDIS_MISSING_HELP);
        return;
      }
      version = redisVersion(binary) ?? '7.0';
      node = new RedisNode({ id, nc: bus, log: ctx.log, protocol: REDIS_PROTOCOL, settings, binary, version, host, advertise, dir, reservedPorts: boxPorts(ctx.ports) });
      await node.start();
    },
    healthy: () => true,
    varz: () => {
      if (unavailable) return { id, redis: 'unavailable', reason: unavailable };
      return { ...(node?.varz() ?? { id }), redis: { binary, version, host, advertise } };
    },
    async stop() {
      await node?.stop();
    },
  };
}

const redisNode: ComponentModule = {
  type: 'RedisNode',
  create: (ctx: ComponentContext) => createRedisNode(ctx),
};

export default redisNode;
