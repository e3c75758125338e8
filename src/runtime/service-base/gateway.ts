// A built-in service gateway (DESIGN.md §10, docs/services-protocol.md), as vcap-services-base's:
// an Open Service Broker API v2 broker served on a loopback port and at `<broker host>.<domain>`
// through the router, registered with the controller at start. It learns its nodes from their
// announcements, provisions on the one with the most capacity, talks to them over the bus, keeps
// its record in a JSON file of its own and looks for orphans. The mysql-gateway and the
// redis-gateway are this, each with its offering and what it does on its nodes (its driver).
import type http from 'node:http';
import { publish, subscribe, type NatsConnection, type Subscription } from '../common/bus.js';
import { resolveAddresses, type ComponentContext } from '../common/component.js';
import { uaaBaseUrl } from '../common/config.js';
import { RouteRegistrar } from '../common/route-registrar.js';
import { Broker, type ServiceDriver } from './broker.js';
import { NodePool } from './nodes.js';
import { OrphanChecker } from './orphans.js';
import type { ServiceProtocol } from './protocol.js';
import { RecordStore, type BindingRecord } from './records.js';
import { BrokerRegistration } from './registration.js';
import { createBrokerServer } from './server.js';
import { envNumber } from './settings.js';

export interface GatewaySpec<B extends BindingRecord> {
  protocol: ServiceProtocol;
  /** Its settings' prefix: `DEVBOX_MYSQL` reads DEVBOX_MYSQL_REQUEST_TIMEOUT_MS and the others. */
  envPrefix: string;
  /** The broker's host under the box's domain (`mysql-broker`). */
  brokerHost: string;
  /** Its name as a broker of the controller: the offering's (`p-mysql`). */
  brokerName: string;
  /** Cloud Foundry's component type, in its route's tags (`MysqlGateway`). */
  type: string;
  catalog: () => Record<string, unknown>;
  /** The broker's basic-auth credentials. */
  credentials: { username: string; password: string };
  recordsFile: string;
  driver(deps: { bus: NatsConnection; records: RecordStore<B>; requestTimeoutMs: number }): ServiceDriver<B>;
  /** What a binding leaves on its node, for the orphan check (MySQL: its user). */
  bindingHandle?: (binding: B) => string | undefined;
}

export interface GatewayComponent {
  start(bus: NatsConnection): Promise<void>;
  varz(): Record<string, unknown>;
  healthy(): boolean;
  stop(): Promise<void>;
  /** The broker's loopback port once started (tests talk to it directly). */
  port(): number;
  /** Runs an orphan check now (tests; the timer does it every <PREFIX>_ORPHAN_MS). */
  checkOrphans(): Promise<unknown>;
}

export function createServiceGateway<B extends BindingRecord>(ctx: ComponentContext, spec: GatewaySpec<B>): GatewayComponent {
  const env = (name: string, fallback: number) => envNumber(`${spec.envPrefix}_${name}`, fallback, { min: 1 });
  const requestTimeoutMs = env('REQUEST_TIMEOUT_MS', 5_000);
  const nodeTimeoutMs = env('NODE_TIMEOUT_MS', 300_000);
  const orphanMs = env('ORPHAN_MS', 60_000);
  const gatherMs = env('ORPHAN_GATHER_MS', 1_000);
  const register = process.env[`${spec.envPrefix}_REGISTER_BROKER`] !== '0';
  const wantedPort = Number(process.env[`${spec.envPrefix}_GATEWAY_PORT`] ?? ctx.port ?? 0);
  const { protocol } = spec;
  const { host, advertise } = resolveAddresses(ctx);
  const routerPort = ctx.ports?.router_port ?? ctx.config.router_port;
  const brokerUrl = new URL(`http://${spec.brokerHost}.${ctx.config.domain}:${routerPort}`).origin;
  const { username, password } = spec.credentials;
  const records = new RecordStore<B>(spec.recordsFile);
  const pool = new NodePool(nodeTimeoutMs);
  const stats = { requests: 0, responses: {} as Record<string, number> };
  let server: http.Server | undefined;
  let registrar: RouteRegistrar | undefined;
  let registration: BrokerRegistration | undefined;
  let orphans: OrphanChecker<B> | undefined;
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
      const driver = spec.driver({ bus, records, requestTimeoutMs });
      const broker = new Broker<B>({ pool, records, driver, log: ctx.log, nodeLabel: protocol.nodeLabel });
      orphans = new OrphanChecker<B>(bus, protocol, records, ctx.log, {
        gatherMs,
        requestTimeoutMs,
        pending: () => ({ databases: broker.pendingNames, users: broker.pendingHandles }),
        bindingHandle: spec.bindingHandle,
      });
      announceSub = subscribe(
        bus,
        protocol.announce,
        (a) => {
          const known = pool.has(a.id);
          pool.announce(a);
          if (!known) ctx.log.info(`${protocol.nodeLabel} announced`, { node_id: a.id, plan: a.plan, available_capacity: a.available_capacity });
        },
        { log: ctx.log },
      );
      await bus.flush();
      publish(bus, protocol.discover, {});

      server = createBrokerServer<B>({ broker, orphans, catalog: spec.catalog, realm: spec.brokerHost, username, password, log: ctx.log, stats });
      await new Promise<void>((resolve, reject) => {
        server!.once('error', reject);
        server!.listen({ host, port: wantedPort }, () => resolve());
      });
      const address = server.address();
      port = typeof address === 'object' && address ? address.port : 0;
      registrar = new RouteRegistrar(bus, ctx.log);
      registrar.add({ host: advertise, port, uris: [new URL(brokerUrl).hostname], tags: { component: spec.type }, private_instance_id: ctx.uuid });
      await registrar.start();

      orphanTimer = setInterval(() => {
        for (const id of pool.prune()) ctx.log.warn(`${protocol.nodeLabel} dropped: silent too long`, { node_id: id, timeout_ms: nodeTimeoutMs });
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
          brokerName: spec.brokerName,
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
