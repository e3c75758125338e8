// The `health` component (DESIGN.md §7, docs/health.md): Cloud Foundry's health manager (hm9000).
// It compares the controller's desired state with what the DEAs report and asks the controller, on
// the bus, to start missing instances (`health.start`) and stop extra ones (`health.stop`), with
// Cloud Foundry's crash restart policy.
import { Events } from 'nats';
import { subscribe, type NatsConnection, type Subscription } from '../common/bus.js';
import { deaHeartbeat, dropletExited } from '../common/bus-messages.js';
import type { ComponentContext, ComponentModule } from '../common/component.js';
import { ActualState } from './actual-state.js';
import { analyze, type IdleReason } from './analyzer.js';
import { crashKey, pruneCrashes, recordCrash, type Crash, type CrashRecord } from './crash-policy.js';
import { DesiredState } from './desired-state.js';
import { isActiveState } from './messages.js';
import { Sender } from './sender.js';
import { healthSettings } from './settings.js';

const health: ComponentModule = {
  type: 'HealthManager',
  create(ctx: ComponentContext) {
    const settings = healthSettings(ctx.config, ctx.ports?.router_port);
    const log = ctx.log;
    const client = ctx.config.uaa.components_client;
    let actual = new ActualState(settings.heartbeatMs, Date.now());
    let sender: Sender | undefined;
    let crashes = new Map<string, CrashRecord>();
    let missingSince = new Map<string, number>();
    let timer: NodeJS.Timeout | undefined;
    const subscriptions: Subscription[] = [];
    let running = false;
    let idle: IdleReason | undefined | null = null;
    let lastAnalysis: number | undefined;
    let analyses = 0;
    /** Heartbeats and exits dropped for failing their contract's check. */
    let malformed = 0;

    const desired = new DesiredState({
      apiUrl: settings.apiUrl,
      uaaUrl: settings.uaaUrl,
      clientId: client.id,
      clientSecret: client.secret,
      pollMs: settings.pollMs,
      timeoutMs: settings.fetchTimeoutMs,
      log,
      onSnapshot: () => tick(),
    });

    const onCrashes = (list: Crash[]) => {
      for (const crash of list) {
        const key = crashKey(crash.app, crash.index);
        const record = recordCrash(crashes.get(key), crash, settings.crash);
        crashes.set(key, record);
        sender?.crashed(crash.app, crash.index);
        log.info('instance crashed', { app: crash.app, index: crash.index, version: crash.version, crash_count: record.count });
      }
      // The first crashes restart at once: no need to wait for the next tick.
      if (list.length > 0) tick();
    };

    function tick(): void {
      if (!running || !sender) return;
      const now = Date.now();
      const gone = actual.prune(now);
      if (gone.deas.length > 0) log.warn('DEAs went silent; their instances are gone', { deas: gone.deas, instances: gone.instances.length });
      crashes = pruneCrashes(crashes, now, settings.crash);
      const snapshot = actual.snapshot(now);
      sender.settle(snapshot, now);
      const analysis = analyze({
        now,
        desired: desired.snapshot,
        actual: snapshot,
        crashes,
        pending: sender.pending(),
        missingSince,
        settings,
      });
      missingSince = analysis.missingSince;
      lastAnalysis = now;
      analyses++;
      if (analysis.idle !== idle) {
        if (analysis.idle) log.info('not acting', { why: analysis.idle });
        else log.info('acting: desired and actual state are both known');
        idle = analysis.idle;
      }
      if (analysis.idle) return;
      const processes = desired.snapshot?.processes;
      sender.retain((app) => processes?.get(app)?.state === 'STARTED');
      sender.send(analysis.decisions, now);
    }

    async function watchReconnects(nc: NatsConnection): Promise<void> {
      // Heartbeats published while this connection was down were missed: the actual view is
      // incomplete until a full interval has been heard again.
      for await (const status of nc.status()) {
        if (status.type === Events.Reconnect) actual.listenFrom(Date.now());
      }
    }

    return {
      async start(nc: NatsConnection) {
        actual = new ActualState(settings.heartbeatMs, Date.now());
        sender = new Sender({ nc, log, pendingMs: settings.pendingMs });
        const rejected = () => malformed++;
        subscriptions.push(
          subscribe(nc, deaHeartbeat, (hb) => onCrashes(actual.onHeartbeat(hb, Date.now())), { log, rejected }),
          subscribe(nc, dropletExited, (ex) => onCrashes(actual.onExited(ex, Date.now())), { log, rejected }),
        );
        void watchReconnects(nc).catch(() => undefined);
        running = true;
        desired.start();
        timer = setInterval(tick, settings.tickMs);
        log.info('health manager started', {
          api: settings.apiUrl,
          poll_ms: settings.pollMs,
          grace_ms: settings.graceMs,
          heartbeat_ms: settings.heartbeatMs,
          crash_base_ms: settings.crash.baseMs,
          crash_cap_ms: settings.crash.capMs,
        });
      },
      healthy: () => running && subscriptions.every((s) => !s.isClosed()),
      varz() {
        const now = Date.now();
        const snapshot = actual.snapshot(now);
        const processes = [...(desired.snapshot?.processes.values() ?? [])];
        const started = processes.filter((p) => p.state === 'STARTED');
        const byState: Record<string, number> = {};
        for (const i of snapshot.instances) byState[i.state] = (byState[i.state] ?? 0) + 1;
        return {
          desired_apps: started.length,
          desired_processes: processes.length,
          desired_instances: started.reduce((n, p) => n + p.instances, 0),
          ...desired.stats(),
          actual_instances: snapshot.instances.filter((i) => isActiveState(i.state)).length,
          actual_instances_by_state: byState,
          deas: snapshot.deas.length,
          ...actual.stats,
          malformed_messages: malformed,
          ...(sender?.stats ?? {}),
          pending_starts: sender?.pending().length ?? 0,
          scheduled_restarts: sender?.scheduledCount(now) ?? 0,
          crashing_indices: crashes.size,
          analyses,
          acting: lastAnalysis !== undefined && !idle,
          last_analysis: lastAnalysis === undefined ? null : new Date(lastAnalysis).toISOString(),
          not_acting_because: idle ?? null,
        };
      },
      async stop() {
        running = false;
        if (timer) clearInterval(timer);
        timer = undefined;
        desired.stop();
        for (const s of subscriptions.splice(0)) if (!s.isClosed()) s.unsubscribe();
      },
    };
  },
};

export default health;
