// The `logs` component (DESIGN.md §9, docs/logs.md), devbox's Loggregator: it subscribes `logs.>`
// (allAppLogs; no queue group: every logs instance keeps every line), keeps each app's recent
// lines in a bounded ring also appended to disk, and serves them, recent and streaming, at
// logs.<domain> through the router (log-cache's read API also at /api/v1 on the cf address), to
// whoever holds a token the controller accepts for the app.
import type http from 'node:http';
import { subscribe, type Msg, type NatsConnection, type Subscription } from '../common/bus.js';
import { allAppLogs, type LogEnvelope } from '../common/bus-messages.js';
import { resolveAddresses, type ComponentContext, type ComponentModule } from '../common/component.js';
import { RouteRegistrar } from '../common/route-registrar.js';
import { ADDRESS_HOSTS, LOG_CACHE_PATH, uaaBaseUrl, uaaIssuer } from '../common/config.js';
import { createTokenVerifier, LOGS_AUDIENCE } from '../common/tokens.js';
import { AppAccess } from './access.js';
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
    };

    return {
      async start(bus: NatsConnection) {
        store.open();
        sub = subscribe(bus, allAppLogs, onMessage, { log: ctx.log, rejected: onRejected });
        server = createLogsServer({ store, hub, access, counters: httpCounters });
        server.keepAliveTimeout = 65_000;
        await new Promise<void>((resolve, reject) => {
          server!.once('error', reject);
          server!.listen({ host, port: ctx.port ?? settings.port }, () => resolve());
        });
        const address = server.address();
        port = typeof address === 'object' && address ? address.port : 0;
        registrar = new RouteRegistrar(bus, ctx.log);
        // logs.<domain>, and log-cache's paths on the cf address (127.0.0.1/api/v1, localhost/api/v1).
        const uris = [settings.host, ...ADDRESS_HOSTS.map((h) => `${h}${LOG_CACHE_PATH}`)];
        registrar.add({ host: advertise, port, uris, tags: { component: 'Loggregator' }, private_instance_id: ctx.uuid });
        await registrar.start();
        registered = true;
        ctx.log.info('logs listening', { port, host: settings.host, dir: settings.dir, ring_lines: settings.ringLines, file_bytes: settings.fileBytes });
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
      }),
      async stop() {
        registered = false;
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
