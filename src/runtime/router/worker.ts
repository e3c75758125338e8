// A router worker process (see cluster.ts): gets the route table from the primary, listens on the
// shared router port, proxies, and reports counters and access-log lines back over IPC.
import cluster from 'node:cluster';
import type net from 'node:net';
import { connect, Events, type NatsConnection } from 'nats';
import { createLogger } from '../common/log.js';
import { STATS_INTERVAL_MS, WORKER_SETTINGS_ENV, type BusAccess, type FromWorker, type ToWorker } from './cluster.js';
import { AccessLogPublisher, batchedSink, type AccessLogSink } from './handlers/access-log.js';
import { Router } from './router.js';
import type { RouterSettings } from './settings.js';

function main(): void {
  if (!cluster.isWorker || !process.send) throw new Error('the router worker runs only under the router component (node:cluster)');
  const settings = JSON.parse(process.env[WORKER_SETTINGS_ENV] ?? '{}') as RouterSettings;
  const slot = process.env.DEVBOX_ROUTER_WORKER_SLOT ?? String(cluster.worker?.id ?? 0);
  const sourceInstance = process.env.DEVBOX_ROUTER_SOURCE_INSTANCE ?? '0';
  const log = createLogger('router', { base: { worker: Number(slot), pid: process.pid } });
  const send = (message: FromWorker) => {
    if (process.connected) process.send!(message);
  };

  // Access-log lines go to the bus from here once the primary has shared its bus settings; until
  // then (or while this worker's connection is down) they are relayed through the primary.
  let nc: NatsConnection | undefined;
  let publisher: AccessLogPublisher | undefined;
  const relay = batchedSink((lines) => send({ t: 'logs', lines }));
  const accessLogSink: AccessLogSink = (req) => {
    if (publisher && nc && !nc.isClosed() && !reconnecting) publisher.addRequest(req);
    else relay(req);
  };
  let reconnecting = false;
  const connectBus = async (access: BusAccess) => {
    if (nc) return;
    try {
      nc = await connect({ ...access, name: `router-worker-${slot}`, reconnect: true, maxReconnectAttempts: -1, reconnectTimeWait: 200, waitOnFirstConnect: true });
      publisher = new AccessLogPublisher(nc, sourceInstance);
      for await (const status of nc.status()) {
        if (status.type === Events.Disconnect) reconnecting = true;
        else if (status.type === Events.Reconnect) reconnecting = false;
      }
    } catch (error) {
      log.warn('router worker could not connect to the bus; relaying access logs through the primary', { error: (error as Error).message });
    }
  };
  const router = new Router({ settings, log, accessLogSink });

  let listening = false;
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await router.close(3_000).catch(() => undefined);
    relay.flush();
    publisher?.flush();
    if (nc && !nc.isClosed()) await Promise.race([nc.drain().catch(() => undefined), new Promise((r) => setTimeout(r, 1_000))]);
    send({ t: 'report', report: router.report() });
    // Let the last IPC messages go out before leaving.
    setTimeout(() => process.exit(0), 50);
  };

  process.on('message', (message: ToWorker) => {
    switch (message.t) {
      case 'table': {
        for (const { msg, at } of message.entries) router.register(msg, at);
        if (message.suspended) router.busDown(message.at);
        router.warmUp(message.warm);
        if (!listening) {
          listening = true;
          router
            .listen()
            .then((port) => send({ t: 'listening', port, tlsPort: router.tlsPort }))
            .catch((error: Error) => {
              log.error('router worker could not listen', { error: error.message });
              process.exit(1);
            });
        }
        break;
      }
      case 'warm':
        router.warmUp(message.warm);
        break;
      case 'bus-access':
        void connectBus(message.access);
        break;
      case 'register':
        router.register(message.msg, message.at);
        break;
      case 'unregister':
        router.unregister(message.msg);
        break;
      case 'bus':
        if (message.up) router.busUp(message.at);
        else router.busDown(message.at);
        break;
      case 'send-sockets':
        for (const { which, handle } of router.ownSockets()) {
          try {
            process.send!({ t: 'socket', which } satisfies FromWorker, handle as net.Server);
          } catch (error) {
            log.warn('could not hand the listening socket over', { which, error: (error as Error).message });
          }
        }
        break;
      case 'stop':
        void stop();
        break;
    }
  });
  // The primary gone (killed, even with -9): node:cluster would exit this worker at once, cutting
  // the requests it has read and not answered yet (the one reset of issue 24). Instead the worker
  // stops accepting and finishes them (at most 3 s, stop()), then exits; meanwhile the next router's
  // workers accept on the listening sockets the supervisor keeps ("Restarts" in docs/router.md).
  cluster.worker!.exitedAfterDisconnect = true;
  process.on('disconnect', () => void stop());
  // Ctrl-C at a foreground `devbox up` reaches the whole process group: the primary coordinates
  // the stop. A worker sent SIGTERM on its own stops gracefully (and the primary replaces it).
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', () => void stop());
  process.on('uncaughtException', (error) => {
    log.error('uncaught exception in router worker; exiting', { error: error.stack ?? String(error) });
    process.exit(1);
  });
  setInterval(() => send({ t: 'report', report: router.report() }), STATS_INTERVAL_MS).unref();
  send({ t: 'ready' });
}

main();
