// The `mysql-node` component (DESIGN.md §10, docs/mysql-node.md): node mysql-node-<index>. It runs a
// private MySQL server in $DEVBOX_HOME/mysql/node-<index>/ (or uses the one DEVBOX_MYSQL_URL names)
// and serves the MyaaS protocol of docs/services-protocol.md on the bus. With neither a server
// binary nor a URL it still runs, healthy, but serves nothing and says why in /varz.
import path from 'node:path';
import type { NatsConnection } from '../common/bus.js';
import type { Component, ComponentContext, ComponentModule } from '../common/component.js';
import { MYSQL_PROTOCOL } from '../service-base/protocol.js';
import { boxPorts } from '../service-base/settings.js';
import { findMysqlServer, MYSQL_MISSING_HELP } from './mysqld.js';
import { nodeIdFromEnv, nodeSettings } from './names.js';
import { MysqlNode, type ServerAddress } from './node.js';
import { SupervisedMysqld } from './supervised.js';

/** mysql://USER:PASS@HOST:PORT → the admin address; throws a clear error for anything else. */
export function parseMysqlUrl(url: string): ServerAddress {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`DEVBOX_MYSQL_URL is not a URL: expected mysql://USER:PASS@HOST:PORT`);
  }
  if (parsed.protocol !== 'mysql:') throw new Error(`DEVBOX_MYSQL_URL must start with mysql:// (got ${parsed.protocol}//)`);
  return {
    host: parsed.hostname || '127.0.0.1',
    port: parsed.port ? Number(parsed.port) : 3306,
    user: decodeURIComponent(parsed.username || 'root'),
    password: decodeURIComponent(parsed.password),
  };
}

export interface MysqlNodeOptions {
  /** Where the server binary is looked for (tests pretend there is none). */
  findServer?: typeof findMysqlServer;
}

/** The component, with what the tests replace. */
export function createMysqlNode(ctx: ComponentContext, { findServer = findMysqlServer }: MysqlNodeOptions = {}): Component {
  const id = nodeIdFromEnv(ctx.index);
  // A node named with --node-id keeps its private server under that name.
  const dir = path.join(ctx.paths.mysql, process.env.DEVBOX_MYSQL_NODE_ID ? id : `node-${ctx.index}`);
  const settings = nodeSettings(); // refuses an unknown --plan at start
  let supervised: SupervisedMysqld | undefined;
  let node: MysqlNode | undefined;
  let external: ServerAddress | undefined;
  let unavailable: string | undefined;
  let starting: Promise<void> | undefined;
  let startError: string | undefined;

  const serve = async (bus: NatsConnection) => {
    const url = process.env.DEVBOX_MYSQL_URL;
    let address: () => ServerAddress;
    if (url) {
      const parsed = parseMysqlUrl(url);
      external = parsed;
      address = () => parsed;
      ctx.log.info('using an existing MySQL server', { host: parsed.host, port: parsed.port, user: parsed.user });
    } else if (!findServer()) {
      unavailable = MYSQL_MISSING_HELP;
      ctx.log.warn(MYSQL_MISSING_HELP);
      return;
    } else {
      const rootPassword = ctx.config.mysql.root_password;
      const server = new SupervisedMysqld({ dir, rootPassword, log: ctx.log, onRestart: () => void node?.announce(), reservedPorts: boxPorts(ctx.ports) });
      supervised = server;
      const started = await server.start();
      ctx.log.info('private mysqld running', { pid: started.pid, port: started.port, dir, adopted: started.adopted });
      address = () => ({ host: '127.0.0.1', port: server.port ?? started.port, user: 'root', password: rootPassword });
    }
    const serving = new MysqlNode({ id, nc: bus, log: ctx.log, settings, address, protocol: MYSQL_PROTOCOL });
    await serving.start();
    node = serving;
    ctx.log.info('mysql-node serving', { id, capacity: settings.capacity });
  };

  return {
    async start(bus: NatsConnection) {
      // The MySQL server starts in the background (its first start initialises a data directory,
      // seconds): the component is healthy at once, and the node announces its plans only when
      // MySQL is ready, so `devbox up` does not wait for it and nothing is offered that cannot be served.
      starting = serve(bus).catch((error: Error) => {
        startError = error.message;
        ctx.log.error('the mysql-node cannot serve', { error: error.message });
      });
    },
    healthy: () => true,
    varz: () => {
      if (unavailable) return { id, mysql: 'unavailable', reason: unavailable };
      if (startError && !node) return { id, mysql: 'failed', reason: startError };
      if (!node) return { id, mysql: 'starting' };
      const mysql = supervised
        ? { mode: 'private', running: supervised.running, pid: supervised.pid, port: supervised.port, restarts: supervised.restarts, last_error: supervised.lastError }
        : { mode: 'external', host: external?.host, port: external?.port };
      return { ...(node?.varz() ?? { id }), mysql };
    },
    async stop() {
      await starting;
      await node?.stop();
      await supervised?.stop();
    },
  };
}

const mysqlNode: ComponentModule = {
  type: 'MysqlNode',
  create: (ctx: ComponentContext) => createMysqlNode(ctx),
};

export default mysqlNode;
