// The `logs` component (DESIGN.md §9, docs/logs.md), devbox's Loggregator: it subscribes `logs.>`
// (allAppLogs; no queue group: every logs instance keeps every line), keeps each app's recent
// lines in a bounded ring also appended to disk, and serves them, recent and streaming, at
// logs.<domain> through the router (log-cache's read API also at /api/v1 on the cf address), to
// whoever holds a token the controller accepts for the app. Apps bound to a service instance with a
// syslog drain URL have their lines forwarded there too (drains.ts).
import type http from 'node:http';
import tls from 'node:tls';
import { nowNs } from '../common/app-log.js';
import { publish, subscribe, type Msg, type NatsConnection, type Subscription } from '../common/bus.js';
import { allAppLogs, appLogs, type LogEnvelope } from '../common/bus-messages.js';
import { resolveAddresses, type ComponentContext, type ComponentModule } from '../common/component.js';
import { RouteRegistrar } from '../common/route-registrar.js';
import { ADDRESS_HOSTS, LOG_CACHE_PATH, uaaBaseUrl, uaaIssuer } from '../common/config.js';
import { createTokenVerifier, LOGS_AUDIENCE } from '../common/tokens.js';
import { runningSupervisor } from '../supervisor/lock.js';
import { AppAccess } from './access.js';
import { DrainGuard } from './drain-guard.js';
import { DrainManager } from './drains.js';
import { subjectGuid, toRecord } from './envelope.js';
import { createLogsServer, type LogsHttpCounters } from './server.js';
import { logsSettings } from './settings.js';
import { LogStore } from './store.js';
import { StreamHub } from './stream.js';

const logs: ComponentModule = {
  type: 'Loggregator',
  create(ctx: ComponentContext) {
    const routerPort = ctx.ports?.router_port ?? ctx.config.router_port;
    const settings = logsSettings(ctx.config, ctx.paths, routerPort);
    const { host, advertise } = resolveAddresses(ctx);
    const store = new LogStore({
      dir: settings.dir,
      ringLines: settings.ringLines,
      ringBytes: settings.ringBytes,
      fileBytes: settings.fileBytes,
      flushMs: settings.flushMs,
      retentionDays: settings.retentionDays,
      log: ctx.log,
    });
    const hub = new StreamHub({ pingMs: settings.pingMs, maxBufferedBytes: settings.maxBufferedBytes });
    const verifier = createTokenVerifier({
      publicPem: ctx.config.uaa.signing_key.public_pem,
      kid: ctx.config.uaa.signing_key.kid,
      issuer: uaaIssuer(uaaBaseUrl(ctx.config.domain, routerPort)),
      audience: LOGS_AUDIENCE,
    });
    const access = new AppAccess({ verifier, apiUrl: settings.apiUrl, cacheMs: settings.authCacheMs });
    const httpCounters: LogsHttpCounters = { requests: 0, recent_requests: 0, stream_requests: 0, read_requests: 0, responses: {} };
    const lines = { received: 0, dropped: 0 };
    let lastMisaddressedLog = 0;
    let server: http.Server | undefined;
    let sub: Subscription | undefined;
    let registrar: RouteRegistrar | undefined;
    let registered = false;
    let port = 0;
    let bus: NatsConnection | undefined;
    // Syslog drains: none at all with DEVBOX_LOGS_DRAIN_POLL_MS=0.
    const drainSettings = settings.drains;
    const guard = new DrainGuard({
      blockedRanges: drainSettings.blockedRanges,
      // The box is the supervisor and everything under it; a logs component run alone is its own box.
      boxRoot: () => runningSupervisor(ctx.paths.pidFile)?.pid,
    });
    const drains =
      drainSettings.pollMs > 0
        ? new DrainManager({
            apiUrl: settings.apiUrl,
            uaaUrl: drainSettings.uaaUrl,
            clientId: ctx.config.uaa.components_client.id,
            clientSecret: ctx.config.uaa.components_client.secret,
            pollMs: drainSettings.pollMs,
            timeoutMs: Math.min(10_000, Math.max(2_000, drainSettings.pollMs)),
            perApp: drainSettings.perApp,
            queueLines: drainSettings.queueLines,
            queueBytes: drainSettings.queueBytes,
            tls: {
              ca: drainSettings.caPems.length ? [...tls.rootCertificates, ...drainSettings.caPems] : undefined,
              rejectUnauthorized: !drainSettings.skipCertVerify,
            },
            check: (h, p) => guard.check(h, p),
            log: ctx.log.child({ part: 'drains' }),
            // Loggregator's own lines in an app's logs: source LGR, instance 0, ERR. Through the bus, as
            // every other line: stored, streamed and forwarded like them.
            emit: (appGuid, message) => {
              if (bus && !bus.isClosed()) publish(bus, appLogs(appGuid), { timestamp: nowNs(), app_guid: appGuid, source_type: 'LGR', source_instance: '0', message_type: 'ERR', message });
            },
          })
        : undefined;

    // Envelopes that fail their check are dropped (and logged) by subscribe(); counted here.
    const onRejected = () => {
      lines.received++;
      lines.dropped++;
    };
    const onMessage = (envelope: LogEnvelope, msg: Msg) => {
      lines.received++;
      if (subjectGuid(msg.subject) !== envelope.app_guid) {
        lines.dropped++;
        // Said at most every 10 s: a publisher sending garbage must not flood this component's log.
        if (Date.now() - lastMisaddressedLog > 10_000) {
          lastMisaddressedLog = Date.now();
          ctx.log.warn('dropped a log message whose subject names another app (counted in /varz lines_dropped)', { subject: msg.subject, dropped: lines.dropped });
        }
        return;
      }
      const record = toRecord(envelope);
      store.append(record);
      hub.publish(record);
      drains?.forward(record.envelope);
    };

    return {
      async start(nc: NatsConnection) {
        bus = nc;
        store.open();
        sub = subscribe(nc, allAppLogs, onMessage, { log: ctx.log, rejected: onRejected });
        server = createLogsServer({ store, hub, access, counters: httpCounters });
        server.keepAliveTimeout = 65_000;
        await new Promise<void>((resolve, reject) => {
          server!.once('error', reject);
          server!.listen({ host, port: ctx.port ?? settings.port }, () => resolve());
        });
        const address = server.address();
        port = typeof address === 'object' && address ? address.port : 0;
        registrar = new RouteRegistrar(nc, ctx.log);
        // logs.<domain>, and log-cache's paths on the cf address (127.0.0.1/api/v1, localhost/api/v1).
        const uris = [settings.host, ...ADDRESS_HOSTS.map((h) => `${h}${LOG_CACHE_PATH}`)];
        registrar.add({ host: advertise, port, uris, tags: { component: 'Loggregator' }, private_instance_id: ctx.uuid });
        await registrar.start();
        registered = true;
        drains?.start();
        ctx.log.info('logs listening', { port, host: settings.host, dir: settings.dir, ring_lines: settings.ringLines, file_bytes: settings.fileBytes, drain_poll_ms: drainSettings.pollMs });
      },
      healthy: () => registered && !!server?.listening,
      varz: () => ({
        port,
        host: settings.host,
        lines_received: lines.received,
        lines_dropped: lines.dropped,
        lines_stored: store.counters.stored,
        clients_streaming: hub.clients,
        apps: store.appCount,
        ring_lines: settings.ringLines,
        store: store.counters,
        streams: hub.counters,
        access: access.counters,
        http: httpCounters,
        drains: drains ? drains.varz() : { enabled: false },
      }),
      async stop() {
        registered = false;
        drains?.stop();
        sub?.unsubscribe();
        await registrar?.stop();
        hub.close();
        store.close();
        await new Promise<void>((resolve) => {
          if (!server) return resolve();
          server.close(() => resolve());
          server.closeAllConnections();
        });
      },
    };
  },
};

export default logs;
