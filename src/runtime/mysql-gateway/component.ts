// The `mysql-gateway` component (DESIGN.md §10, docs/services-protocol.md): an Open Service Broker
// API v2 broker for MySQL databases, served on a loopback port and at mysql-broker.<domain> through
// the router. It picks mysql-nodes by capacity from their `MyaaS.announce`, talks to them over the
// bus, keeps its own record in $DEVBOX_HOME/mysql-gateway/records.json and looks for orphans.
import type http from 'node:http';
import path from 'node:path';
import { publish, subscribe, type NatsConnection, type Subscription } from '../common/bus.js';
import { myaasAnnounce, myaasDiscover } from '../common/bus-messages.js';
import { resolveAddresses, type ComponentContext, type ComponentModule } from '../common/component.js';
import { uaaBaseUrl } from '../common/config.js';
import { RouteRegistrar } from '../common/route-registrar.js';
import { Broker } from './broker.js';
import { SERVICE_NAME } from './catalog.js';
import { NodePool } from './nodes.js';
import { OrphanChecker } from './orphans.js';
import { RecordStore } from './records.js';
import { BrokerRegistration } from './registration.js';
import { createBrokerServer } from './server.js';

export const BROKER_HOST = 'mysql-broker';

const envMs = (name: string, fallback: number) => {
  const value = Number(process.env[name]);
  return Number.isFinite(value) && value > 0 ? value : fallback;
};

export const recordsFile = (home: string) => path.join(home, 'mysql-gateway', 'records.json');

export interface GatewayComponent {
  start(bus: NatsConnection): Promise<void>;
  varz(): Record<string, unknown>;
  healthy(): boolean;
  stop(): Promise<void>;
  /** The broker's loopback port once started (tests talk to it directly). */
  port(): number;
  /** Runs an orphan check now (tests; the timer does it every DEVBOX_MYSQL_ORPHAN_MS). */
  checkOrphans(): Promise<unknown>;
}

export function createGateway(ctx: ComponentContext): GatewayComponent {
  const requestTimeoutMs = envMs('DEVBOX_MYSQL_REQUEST_TIMEOUT_MS', 5_000);
  const nodeTimeoutMs = envMs('DEVBOX_MYSQL_NODE_TIMEOUT_MS', 300_000);
  const orphanMs = envMs('DEVBOX_MYSQL_ORPHAN_MS', 60_000);
  const gatherMs = envMs('DEVBOX_MYSQL_ORPHAN_GATHER_MS', 1_000);
  const register = process.env.DEVBOX_MYSQL_REGISTER_BROKER !== '0';
  const wantedPort = Number(process.env.DEVBOX_MYSQL_GATEWAY_PORT ?? ctx.port ?? 0);
  const { host, advertise } = resolveAddresses(ctx);
  const routerPort = ctx.ports?.router_port ?? ctx.config.router_port;
  const brokerUrl = new URL(`http://${BROKER_HOST}.${ctx.config.domain}:${routerPort}`).origin;
  const { username, password } = ctx.config.mysql.broker;
  const records = new RecordStore(recordsFile(ctx.home));
  const pool = new NodePool(nodeTimeoutMs);
  const stats = { requests: 0, responses: {} as Record<string, number> };
  let server: http.Server | undefined;
  let registrar: RouteRegistrar | undefined;
  let registration: BrokerRegistration | undefined;
  let broker: Broker | undefined;
  let orphans: OrphanChecker | undefined;
  let announceSub: Subscription | undefined;
  let orphanTimer: NodeJS.Timeout | undefined;
  let port = 0;

  const runOrphanCheck = async () => {
    if (!orphans) return undefined;
    try {
      return await orphans.check();
    } catch (error) {
      ctx.log.warn('orphan check failed', { error: (error as Error).message });
      return undefined;
    }
  };

  return {
    async start(bus: NatsConnection) {
      broker = new Broker({ bus, pool, records, log: ctx.log, requestTimeoutMs });
      orphans = new OrphanChecker(bus, records, ctx.log, {
        gatherMs,
        requestTimeoutMs,
        pending: () => ({ databases: broker!.pendingDatabases, users: broker!.pendingUsers }),
      });
      announceSub = subscribe(
        bus,
        myaasAnnounce,
        (a) => {
          const known = pool.has(a.id);
          pool.announce(a);
          if (!known) ctx.log.info('mysql-node announced', { node_id: a.id, plan: a.plan, available_capacity: a.available_capacity });
        },
        { log: ctx.log },
      );
      await bus.flush();
      publish(bus, myaasDiscover, {});

      server = createBrokerServer({ broker, orphans, username, password, log: ctx.log, stats });
      await new Promise<void>((resolve, reject) => {
        server!.once('error', reject);
        server!.listen({ host, port: wantedPort }, () => resolve());
      });
      const address = server.address();
      port = typeof address === 'object' && address ? address.port : 0;
      registrar = new RouteRegistrar(bus, ctx.log);
      registrar.add({ host: advertise, port, uris: [new URL(brokerUrl).hostname], tags: { component: 'MysqlGateway' }, private_instance_id: ctx.uuid });
      await registrar.start();

      orphanTimer = setInterval(() => {
        for (const id of pool.prune()) ctx.log.warn('mysql-node dropped: silent too long', { node_id: id, timeout_ms: nodeTimeoutMs });
        void runOrphanCheck();
      }, orphanMs);
      orphanTimer.unref();

      if (register) {
        const { domain } = ctx.config;
        registration = new BrokerRegistration({
          apiUrl: new URL(`http://api.${domain}:${routerPort}`).origin,
          uaaUrl: uaaBaseUrl(domain, routerPort),
          clientId: ctx.config.uaa.components_client.id,
          clientSecret: ctx.config.uaa.components_client.secret,
          brokerName: SERVICE_NAME,
          brokerUrl,
          username,
          password,
          log: ctx.log,
        });
        registration.start();
      }
      ctx.log.info('broker listening', { port, url: brokerUrl, records: records.file, instances: records.instances.size, bindings: records.bindings.size });
    },
    healthy: () => !!server?.listening,
    varz: () => ({
      port,
      broker_url: brokerUrl,
      instances: records.instances.size,
      bindings: records.bindings.size,
      nodes: pool.list(),
      orphans: orphans?.last ?? null,
      orphan_databases: orphans?.last?.databases ?? 0,
      orphan_users: orphans?.last?.users ?? 0,
      broker_registration: registration ? { state: registration.state, attempts: registration.attempts, last_error: registration.lastError } : null,
      requests: stats.requests,
      responses: stats.responses,
    }),
    async stop() {
      clearInterval(orphanTimer);
      registration?.stop();
      announceSub?.unsubscribe();
      await registrar?.stop();
      await new Promise<void>((resolve) => {
        if (!server) return resolve();
        server.close(() => resolve());
        server.closeIdleConnections();
      });
    },
    port: () => port,
    checkOrphans: runOrphanCheck,
  };
}

const mysqlGateway: ComponentModule = {
  type: 'MysqlGateway',
  create: (ctx: ComponentContext) => createGateway(ctx),
};

export default mysqlGateway;
