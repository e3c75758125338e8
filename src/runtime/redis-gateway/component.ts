// The `redis-gateway` component (docs/redis.md): an Open Service Broker API v2 broker offering
// `p-redis`, served on a loopback port and at redis-broker.<domain> through the router, registered
// with the controller at start. It picks redis-nodes by capacity from their `RaaS.announce`, talks
// to them over the bus and keeps its record in $DEVBOX_HOME/redis-gateway/records.json. The gateway
// itself is service-base/gateway.ts; what is Redis's is in broker.ts and catalog.ts.
import fs from 'node:fs';
import path from 'node:path';
import type { ComponentContext, ComponentModule } from '../common/component.js';
import { readJson, secret, writeSecretJson } from '../common/config.js';
import { createServiceGateway, type GatewayComponent } from '../service-base/gateway.js';
import { REDIS_PROTOCOL } from '../service-base/protocol.js';
import { redisDriver } from './broker.js';
import { catalog, SERVICE_NAME } from './catalog.js';

export const BROKER_HOST = 'redis-broker';

export const gatewayDir = (home: string) => path.join(home, 'redis-gateway');
export const recordsFile = (home: string) => path.join(gatewayDir(home), 'records.json');
export const credentialsFile = (home: string) => path.join(gatewayDir(home), 'broker.json');

/**
 * The broker's basic-auth credentials: made at its first start and kept in its own directory (0600).
 * Nobody else needs them: the gateway hands them to the controller when it registers.
 */
export function brokerCredentials(home: string): { username: string; password: string } {
  const file = credentialsFile(home);
  if (fs.existsSync(file)) {
    const saved = readJson<{ username?: unknown; password?: unknown }>(file);
    if (typeof saved.username === 'string' && typeof saved.password === 'string' && saved.password !== '') return { username: saved.username, password: saved.password };
  }
  const made = { username: 'broker', password: secret() };
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  writeSecretJson(file, made);
  return made;
}

export function createRedisGateway(ctx: ComponentContext): GatewayComponent {
  return createServiceGateway(ctx, {
    protocol: REDIS_PROTOCOL,
    envPrefix: 'DEVBOX_REDIS',
    brokerHost: BROKER_HOST,
    brokerName: SERVICE_NAME,
    type: 'RedisGateway',
    catalog,
    credentials: brokerCredentials(ctx.home),
    recordsFile: recordsFile(ctx.home),
    driver: ({ bus, requestTimeoutMs }) => redisDriver(bus, REDIS_PROTOCOL, requestTimeoutMs),
  });
}

const redisGateway: ComponentModule = {
  type: 'RedisGateway',
  create: (ctx: ComponentContext) => createRedisGateway(ctx),
};

export default redisGateway;
