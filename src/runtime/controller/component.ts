// The `controller` component (DESIGN.md §5): the desired state of the cloud behind a v3-shaped API,
// served at api.<domain> through the router, and at the cf address (127.0.0.1 / localhost on the
// router's port, docs/router.md). SQLite in the state directory by default;
// DEVBOX_CONTROLLER_DB=mysql://… shares a MySQL database between controllers.
import type http from 'node:http';
import path from 'node:path';
import type { NatsConnection } from '../common/bus.js';
import { resolveAddresses, type ComponentContext, type ComponentModule } from '../common/component.js';
import { RouteRegistrar } from '../common/route-registrar.js';
import { ADDRESS_HOSTS, uaaBaseUrl, uaaIssuer } from '../common/config.js';
import { CONTROLLER_AUDIENCE, createTokenVerifier } from '../common/tokens.js';
import { redactUrl } from '../common/log.js';
import { publishAppLog } from '../common/app-log.js';
import { failAbandonedBuilds } from './actions/staging.js';
import { reconcileTasks, TASK_SWEEP_MS } from './actions/tasks.js';
import { DEPLOYMENT_TICK_MS, deploymentDriver } from './actions/deployments.js';
import { Blobstore, DatabaseBlobs } from './blobstore.js';
import { newCounters, type AppLog, type ControllerContext, type Urls } from './context.js';
import { subscribeControllerMessages } from './controllers/bus.js';
import { openDatabase, type ControllerDatabase } from './db/index.js';
import { createApiServer, type ApiStats } from './http/server.js';
import { DeaRunner, STAGING_TIMEOUT_MS } from './runner/dea-runner.js';
import { seed } from './seed.js';
import { SshProxies } from './ssh-proxies.js';
import { uaaSettings } from '../uaa/settings.js';

/** DESIGN.md: devbox's default memory is smaller than Cloud Foundry's 1G; said in docs/controller.md. */
export const DEFAULT_MEMORY_MB = 256;
export const DEFAULT_DISK_MB = 1024;
/** The largest app package (unpacked); DEVBOX_MAX_PACKAGE_BYTES overrides it. */
export const MAX_PACKAGE_BYTES = 1024 * 1024 * 1024;

export function publicUrls(domain: string, routerPort: number): Urls {
  const url = (host: string) => new URL(`http://${host}.${domain}:${routerPort}`).origin;
  return { api: url('api'), uaa: uaaBaseUrl(domain, routerPort), logs: url('logs') };
}

const controller: ComponentModule = {
  type: 'CloudController',
  create(ctx: ComponentContext) {
    const routerPort = ctx.ports?.router_port ?? ctx.config.router_port;
    const urls = publicUrls(ctx.config.domain, routerPort);
    const dbUrl = process.env.DEVBOX_CONTROLLER_DB || path.join(ctx.paths.db, 'controller.sqlite');
    const stats: ApiStats = { requests: 0, responses: {}, errors: 0 };
    let database: ControllerDatabase | undefined;
    let server: http.Server | undefined;
    let registrar: RouteRegistrar | undefined;
    let runner: DeaRunner | undefined;
    let counters: ReturnType<typeof newCounters> | undefined;
    let abandonedSweep: NodeJS.Timeout | undefined;
    let taskSweep: NodeJS.Timeout | undefined;
    let deploymentTicks: NodeJS.Timeout | undefined;
    let port = 0;

    const { host, advertise } = resolveAddresses(ctx);

    return {
      async start(bus: NatsConnection) {
        database = await openDatabase(dbUrl, { onRetry: (error) => ctx.log.warn('waiting for the controller database', { db: redactUrl(dbUrl), error: error.message }) });
        // uaa's users (the admin), by the ids uaa gives them: the controller seeds them with their roles.
        const users = uaaSettings(ctx.config, { routerPort }).users.map((u) => ({ guid: u.id, username: u.username, origin: u.origin }));
        await seed(database.db, ctx.config.domain, users);
        const verifier = createTokenVerifier({ publicPem: ctx.config.uaa.signing_key.public_pem, kid: ctx.config.uaa.signing_key.kid, issuer: uaaIssuer(urls.uaa), audience: CONTROLLER_AUDIENCE });
        counters = newCounters();
        runner = new DeaRunner(bus, counters, ctx.log);
        runner.listen();
        const appLog: AppLog = (appGuid, line) => {
          if (!bus.isClosed()) publishAppLog(bus, { app_guid: appGuid, source_type: line.source, source_instance: '0', message_type: line.type ?? 'OUT', message: line.message });
        };
        // On a shared database the bits are shared too: any controller serves what another stored.
        const shared = database.dialect === 'mysql';
        const context: ControllerContext = {
          db: database.db,
          urls,
          componentUrls: urls,
          log: ctx.log,
          runner,
          appLog,
          counters,
          blobstore: new Blobstore(ctx.paths.blobs, shared ? new DatabaseBlobs(database.db) : undefined),
          limits: { maxPackageBytes: Number(process.env.DEVBOX_MAX_PACKAGE_BYTES) || MAX_PACKAGE_BYTES },
          defaults: { memoryInMb: DEFAULT_MEMORY_MB, diskInMb: DEFAULT_DISK_MB, logRateLimit: -1 },
          sshProxies: new SshProxies({ host: `ssh.${ctx.config.domain}`, oauthClient: ctx.config.uaa.ssh_proxy_client.id }),
          sharedDatabase: shared,
        };
        subscribeControllerMessages(bus, context);
        // Alone on SQLite, every STAGING build at start was cut off; on a shared MySQL database other
        // controllers may be staging, so only builds past the staging timeout are, looked for every minute.
        await failAbandonedBuilds(context, shared ? STAGING_TIMEOUT_MS : 0);
        if (shared) {
          abandonedSweep = setInterval(() => void failAbandonedBuilds(context, STAGING_TIMEOUT_MS).catch((error: Error) => ctx.log.warn('looking for abandoned builds failed', { error: error.message })), 60_000);
          abandonedSweep.unref();
        }
        // Tasks whose end was missed, or whose DEA is gone, are settled from what the DEAs say.
        const settleTasks = () => void reconcileTasks(context).catch((error: Error) => ctx.log.warn('settling tasks failed', { error: error.message }));
        taskSweep = setInterval(settleTasks, TASK_SWEEP_MS);
        taskSweep.unref();
        // Soon after a (re)start too, once the DEAs have answered dea.locate: ends missed meanwhile.
        setTimeout(settleTasks, 1_000).unref();
        // Rolling deployments move on a step at a time, here and after a restart alike.
        const stepDeployments = deploymentDriver(context);
        deploymentTicks = setInterval(() => void stepDeployments().catch((error: Error) => ctx.log.warn('deployments failed to step', { error: error.message })), DEPLOYMENT_TICK_MS);
        deploymentTicks.unref();
        server = createApiServer(context, verifier, stats);
        server.keepAliveTimeout = 65_000;
        const wanted = Number(process.env.DEVBOX_CONTROLLER_PORT ?? 0);
        await new Promise<void>((resolve, reject) => {
          server!.once('error', reject);
          server!.listen({ host, port: wanted }, () => resolve());
        });
        const address = server.address();
        port = typeof address === 'object' && address ? address.port : 0;
        registrar = new RouteRegistrar(bus, ctx.log);
        registrar.add({ host: advertise, port, uris: [new URL(urls.api).hostname, ...ADDRESS_HOSTS], tags: { component: 'CloudController' }, private_instance_id: ctx.uuid });
        await registrar.start();
        ctx.log.info('api listening', { port, api: urls.api, db: database.location });
      },
      healthy: () => !!server?.listening,
      varz: () => ({ port, api: urls.api, db: database?.location ?? redactUrl(dbUrl), db_dialect: database?.dialect, deas: runner?.deaCount() ?? 0, ...counters, ...stats }),
      async stop() {
        clearInterval(abandonedSweep);
        clearInterval(taskSweep);
        clearInterval(deploymentTicks);
        await registrar?.stop();
        await new Promise<void>((resolve) => {
          if (!server) return resolve();
          server.close(() => resolve());
          server.closeIdleConnections();
        });
        await database?.close();
      },
    };
  },
};

export default controller;
