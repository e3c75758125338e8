// The DEA (DESIGN.md §6, docs/dea-protocol.md, docs/dea.md): stages apps into droplets and runs
// their instances on this machine, and says what it runs on the bus.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { publish, respond, subscribe, type Msg, type NatsConnection, type Subscription } from '../common/bus.js';
import {
  deaAdvertise,
  deaFindDroplet,
  deaFindTask,
  deaHeartbeat,
  deaLocate,
  deaShutdown,
  deaSshOpen,
  deaStart,
  deaStop,
  deaTaskCancel,
  deaTaskStart,
  deaUpdate,
  routerUnregister,
  stagingStart,
  type DropletExited,
  type FindDropletRequest,
  type FindTaskRequest,
  type InstanceState,
  type SshOpenRequest,
  type StagingReply,
  type StagingRequest,
  type StartMessage,
  type StopMessage,
  type TaskExited,
  type TaskStartMessage,
  type UpdateMessage,
} from '../common/bus-messages.js';
import type { Logger } from '../common/log.js';
import { RouteRegistrar } from '../common/route-registrar.js';
import { advertisement, heartbeat, reserved } from './advertise.js';
import { findReply, matchesFind, matchesStop } from './find-droplet.js';
import { DropletCache } from './instances/droplet-cache.js';
import { Instance } from './instances/instance.js';
import { InstanceLimits } from './instances/limits.js';
import { reapOrphans } from './instances/orphans.js';
import { scan } from '../common/procfs.js';
import { Containers } from './containers/container.js';
import { BUILTIN_BUILDPACKS_DIR, deaPaths, type DeaPaths } from './paths.js';
import type { DeaSettings } from './settings.js';
import { InstanceSshServer } from './ssh/server.js';
import { stage } from './staging/stager.js';
import type { TokenSource } from './uaa-client.js';

/**
 * The SIGTERM → SIGKILL grace of instances when the DEA itself stops: shorter than the supervisor's
 * 10 s before it kills the DEA, so that no instance outlives it.
 */
export const SHUTDOWN_GRACE_MS = 7_000;

/** How long the DEA remembers how a task ended, for a controller that missed its `task.exited`. */
export const FINISHED_TASK_MEMORY_MS = 15 * 60_000;

export interface DeaOptions {
  id: string;
  /** $DEVBOX_HOME/dea/<id> */
  dir: string;
  nc: NatsConnection;
  log: Logger;
  auth: TokenSource;
  settings: DeaSettings;
  /** Where the built-in buildpacks are (tests may point elsewhere). */
  buildpacksDir?: string;
  /** Directories no container may see besides the DEA's own ($DEVBOX_HOME). */
  privateDirs?: string[];
}

export class Dea {
  readonly id: string;
  readonly paths: DeaPaths;
  private readonly nc: NatsConnection;
  private readonly log: Logger;
  private readonly settings: DeaSettings;
  private readonly registrar: RouteRegistrar;
  private readonly droplets: DropletCache;
  readonly containers: Containers;
  private readonly limits: InstanceLimits;
  /** Where ssh sessions into the instances come in (docs/dea.md, "ssh"). */
  readonly ssh: InstanceSshServer;
  /** Every instance this DEA knows (a running task's too), crashed ones included, by instance guid. */
  private readonly instances = new Map<string, Instance>();
  /** Tasks that ended lately, by task guid: a controller that missed their `task.exited` asks (dea.find.task). */
  private readonly finishedTasks = new Map<string, { exited: TaskExited; at: number }>();
  private readonly stagingAbort = new AbortController();
  private readonly cachesInUse = new Set<string>();
  private readonly ports = new Set<number>();
  private readonly subs: Subscription[] = [];
  private timers: NodeJS.Timeout[] = [];
  private sampleTimer?: NodeJS.Timeout;
  private advertiseQueued = false;
  private running = false;
  private stopping = false;
  readonly counters = { stagings_active: 0, stagings_total: 0, stagings_succeeded: 0, stagings_failed: 0, instances_started: 0, crashes: 0, stops: 0 };

  constructor(private readonly options: DeaOptions) {
    this.id = options.id;
    this.nc = options.nc;
    this.log = options.log;
    this.settings = options.settings;
    this.paths = deaPaths(options.dir);
    for (const dir of Object.values(this.paths)) fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.registrar = new RouteRegistrar(this.nc, this.log);
    this.droplets = new DropletCache(this.paths.droplets, this.paths.tmp, options.auth, this.settings.dropletCacheSize);
    // Cgroups are named by the DEA's directory too: another box's dea-0 on the machine shares the
    // parent cgroup, and its start must not take this DEA's instance cgroups for stale ones.
    const owner = `${this.id}-${createHash('sha1').update(options.dir).digest('hex').slice(0, 10)}`;
    this.limits = new InstanceLimits(this.settings.memoryEnforcement, owner, this.log, this.settings.cgroupDir);
    this.containers = new Containers(this.settings, this.limits, this.log, [options.dir, ...(options.privateDirs ?? [])], this.paths.tmp);
    this.ssh = new InstanceSshServer({ log: this.log, instance: (guid) => this.instances.get(guid) });
  }

  async start(): Promise<void> {
    const reaped = await reapOrphans(this.paths.instances, this.log, (route) => publish(this.nc, routerUnregister, route));
    this.limits.removeStale();
    fs.rmSync(this.paths.staging, { recursive: true, force: true });
    fs.mkdirSync(this.paths.staging, { recursive: true, mode: 0o700 });
    await this.ssh.listen(this.settings.listenHost ?? '127.0.0.1');
    const log = this.log;
    const staging = stagingStart(this.id);
    this.subs.push(
      subscribe(this.nc, staging, (req, msg) => this.onStage(req, msg), {
        log,
        // The controller waits up to 15 minutes for the reply: say at once that this cannot stage.
        rejected: (reason, msg) => this.reply(msg, { task_id: '', error: { id: 'StagingError', message: `the staging request is malformed: ${reason}` } }),
      }),
      subscribe(this.nc, deaStart(this.id), (msg) => this.onStart(msg), { log }),
      subscribe(this.nc, deaTaskStart(this.id), (msg) => this.onStart(msg), { log }),
      subscribe(this.nc, deaTaskCancel, (msg) => this.onTaskCancel(msg.task_guid), { log }),
      subscribe(this.nc, deaFindTask, (req, msg) => this.onFindTask(req, msg), { log }),
      subscribe(this.nc, deaStop, (msg) => this.onStop(msg), { log }),
      subscribe(this.nc, deaFindDroplet, (req, msg) => this.onFind(req, msg), { log }),
      subscribe(this.nc, deaUpdate, (msg) => this.onUpdate(msg), { log }),
      subscribe(this.nc, deaSshOpen, (req, msg) => this.onSshOpen(req, msg), { log }),
      // Cloud Foundry's controller asks DEAs to advertise at once when it (re)starts.
      subscribe(this.nc, deaLocate, () => this.advertise(), { log }),
    );
    await this.registrar.start();
    this.running = true;
    this.advertise();
    this.publishHeartbeat();
    this.timers.push(
      setInterval(() => this.advertise(), this.settings.advertiseMs),
      setInterval(() => this.publishHeartbeat(), this.settings.heartbeatMs),
    );
    this.log.info('dea started', {
      id: this.id,
      memory_mb: this.settings.memoryMb,
      disk_mb: this.settings.diskMb,
      memory_enforcement: this.limits.mechanism,
      memory_enforcement_detail: this.limits.detail,
      isolation: this.containers.isolation,
      isolation_detail: this.containers.detail,
      orphans_killed: reaped,
      ssh_port: this.ssh.port,
    });
  }

  get healthy(): boolean {
    return this.running && !this.stopping;
  }

  /** Stops everything: stagings cancelled, instances stopped with DEA_SHUTDOWN, routes removed. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    // Said first (dea_ng's `dea.shutdown`), so the controllers place nothing more here while the
    // instances stop and the health manager starts them on the other DEAs.
    if (!this.nc.isClosed()) publish(this.nc, deaShutdown, { id: this.id, ip: this.settings.host ?? '127.0.0.1', app_id_to_count: advertisement(this.id, this.settings, this.list()).app_id_to_count });
    this.stopping = true;
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    for (const sub of this.subs) sub.unsubscribe();
    this.stagingAbort.abort();
    const grace = Math.min(this.settings.stopTimeoutMs, SHUTDOWN_GRACE_MS);
    await Promise.all([...this.instances.values()].map((i) => i.stop('DEA_SHUTDOWN', grace)));
    clearTimeout(this.sampleTimer);
    await this.ssh.close();
    await this.registrar.stop();
    if (!this.nc.isClosed()) {
      this.publishHeartbeat();
      await this.nc.flush().catch(() => undefined);
    }
    this.running = false;
  }

  list(): Instance[] {
    return [...this.instances.values()];
  }

  // ---- staging ----

  private async onStage(req: StagingRequest, msg: Msg): Promise<void> {
    if (this.stopping) {
      this.reply(msg, { task_id: req.task_id, error: { id: 'StagingError', message: 'the DEA is stopping' } });
      return;
    }
    this.counters.stagings_active += 1;
    this.counters.stagings_total += 1;
    let result: StagingReply;
    try {
      result = await stage(req, {
        paths: this.paths,
        nc: this.nc,
        log: this.log,
        auth: this.options.auth,
        builtinDir: this.options.buildpacksDir ?? BUILTIN_BUILDPACKS_DIR,
        timeoutMs: this.settings.stagingTimeoutMs,
        signal: this.stagingAbort.signal,
        cachesInUse: this.cachesInUse,
        containers: this.containers,
      });
    } finally {
      this.counters.stagings_active -= 1;
    }
    if ('error' in result) this.counters.stagings_failed += 1;
    else this.counters.stagings_succeeded += 1;
    this.reply(msg, result);
  }

  private reply(msg: Msg, value: StagingReply): void {
    respond(this.nc, msg, stagingStart(this.id), value);
  }

  // ---- instances ----

  private onStart(start: StartMessage | TaskStartMessage): void {
    if (this.stopping) return;
    if ('task_guid' in start && (this.list().some((i) => i.task?.guid === start.task_guid) || this.finishedTasks.has(start.task_guid))) return;
    // A new start of an index replaces what crashed there.
    for (const [guid, i] of this.instances) {
      if (i.state === 'CRASHED' && i.droplet === start.droplet && i.index === start.index) this.instances.delete(guid);
    }
    const needed = start.limits?.mem ?? 0;
    const available = this.settings.memoryMb - reserved(this.instances.values()).memory;
    if (needed > available) this.log.warn('starting an instance beyond the memory this DEA offers', { needed_mb: needed, available_mb: available });
    const instance = new Instance(start, {
      deaId: this.id,
      paths: this.paths,
      settings: this.settings,
      nc: this.nc,
      log: this.log,
      registrar: this.registrar,
      droplets: this.droplets,
      containers: this.containers,
      ports: this.ports,
      onChange: () => this.changed(),
      onExit: (i, exited) => this.onExit(i, exited),
    });
    this.instances.set(instance.guid, instance);
    this.counters.instances_started += 1;
    this.changed();
    this.scheduleSampling();
    void instance.run();
  }

  private onExit(instance: Instance, exited: DropletExited): void {
    if (instance.taskResult) {
      this.instances.delete(instance.guid);
      this.rememberTask(instance.taskResult);
    } else if (exited.reason === 'CRASHED') {
      this.counters.crashes += 1;
      // Keep only the latest crash of an index.
      for (const [guid, i] of this.instances) {
        if (i !== instance && i.state === 'CRASHED' && i.droplet === instance.droplet && i.index === instance.index) this.instances.delete(guid);
      }
    } else {
      this.instances.delete(instance.guid);
    }
    this.changed();
  }

  private async onStop(req: StopMessage): Promise<void> {
    const matching = this.list().filter((i) => matchesStop(i, req));
    const stops: Promise<void>[] = [];
    for (const i of matching) {
      if (i.state === 'CRASHED') this.instances.delete(i.guid);
      else {
        this.counters.stops += 1;
        stops.push(i.stop('STOPPED'));
      }
    }
    if (matching.length > 0) this.changed();
    await Promise.all(stops);
  }

  private onUpdate(req: UpdateMessage): void {
    const uris = req.uris.filter((u) => u !== '');
    for (const i of this.instances.values()) if (i.droplet === req.droplet && i.active) i.updateUris(uris);
  }

  /** `dea.task.cancel`: the task ends as a stop does; it exits FAILED, `task was cancelled`. */
  private async onTaskCancel(taskGuid: string): Promise<void> {
    const task = this.list().find((i) => i.task?.guid === taskGuid);
    if (!task) return;
    this.counters.stops += 1;
    await task.stop('STOPPED');
  }

  private rememberTask(exited: TaskExited): void {
    const now = Date.now();
    for (const [guid, t] of this.finishedTasks) if (now - t.at > FINISHED_TASK_MEMORY_MS) this.finishedTasks.delete(guid);
    this.finishedTasks.set(exited.task_guid, { exited, at: now });
  }

  private onFindTask(req: FindTaskRequest, msg: Msg): void {
    if (!msg.reply) return;
    for (const guid of new Set(req.task_guids)) {
      const running = this.list().find((i) => i.task?.guid === guid);
      const finished = this.finishedTasks.get(guid)?.exited;
      if (running && !running.taskResult) respond(this.nc, msg, deaFindTask, { task_guid: guid, dea: this.id, state: 'RUNNING' });
      else if (finished) respond(this.nc, msg, deaFindTask, { task_guid: guid, dea: this.id, state: finished.state, exited: finished });
    }
  }

  private onFind(req: FindDropletRequest, msg: Msg): void {
    if (!msg.reply) return;
    for (const i of this.list()) {
      if (matchesFind(i, req)) respond(this.nc, msg, deaFindDroplet, findReply(this.id, i, !!req.include_stats));
    }
  }

  /**
   * `dea.ssh.open`: the DEA that has the instance RUNNING answers with a one-time login to its ssh
   * server; the others stay silent.
   */
  private onSshOpen(req: SshOpenRequest, msg: Msg): void {
    if (!msg.reply || this.stopping) return;
    const instance = this.list().find((i) => matchesFind(i, { droplet: req.droplet, version: req.version, indices: [req.index], states: ['RUNNING'] }) && i.sessionTarget());
    if (!instance) return;
    respond(this.nc, msg, deaSshOpen, {
      dea: this.id,
      instance: instance.guid,
      // Where the proxy reaches this DEA: its advertised address, the instances' CF_INSTANCE_IP.
      host: this.settings.host ?? '127.0.0.1',
      port: this.ssh.port,
      password: this.ssh.oneTimePassword(instance.guid),
      host_key_fingerprint: this.ssh.fingerprint,
    });
  }

  /** Samples memory and CPU of every instance from one /proc scan, while there are instances. */
  private scheduleSampling(): void {
    if (this.sampleTimer || this.stopping) return;
    const tick = () => {
      const live = this.list().filter((i) => i.active && i.pid);
      if (live.length > 0) {
        const processes = scan();
        for (const i of live) i.sample(processes);
      }
      if (this.list().some((i) => i.active) && !this.stopping) this.sampleTimer = setTimeout(tick, this.settings.memoryCheckMs);
      else this.sampleTimer = undefined;
    };
    this.sampleTimer = setTimeout(tick, this.settings.memoryCheckMs);
  }

  // ---- what the DEA says ----

  /**
   * An instance changed: heartbeat at once (before anything else is said about it, e.g. RUNNING
   * before its router.register) and advertise, coalesced within a tick.
   */
  private changed(): void {
    this.publishHeartbeat();
    if (!this.advertiseQueued && !this.stopping) {
      this.advertiseQueued = true;
      setImmediate(() => {
        this.advertiseQueued = false;
        this.advertise();
      });
    }
  }

  advertise(): void {
    if (this.stopping || this.nc.isClosed()) return;
    publish(this.nc, deaAdvertise, advertisement(this.id, this.settings, this.list()));
  }

  publishHeartbeat(): void {
    if (this.nc.isClosed()) return;
    publish(this.nc, deaHeartbeat, heartbeat(this.id, this.list()));
  }

  varz(): Record<string, unknown> {
    const byState: Partial<Record<InstanceState, number>> = { STARTING: 0, RUNNING: 0, CRASHED: 0, STOPPING: 0 };
    for (const i of this.instances.values()) byState[i.state] = (byState[i.state] ?? 0) + 1;
    const used = reserved(this.instances.values());
    return {
      id: this.id,
      stacks: ['host'],
      instances: byState,
      stagings: {
        active: this.counters.stagings_active,
        total: this.counters.stagings_total,
        succeeded: this.counters.stagings_succeeded,
        failed: this.counters.stagings_failed,
      },
      instances_started: this.counters.instances_started,
      crashes: this.counters.crashes,
      stops: this.counters.stops,
      memory: { total_mb: this.settings.memoryMb, reserved_mb: used.memory, available_mb: Math.max(0, this.settings.memoryMb - used.memory) },
      disk: { total_mb: this.settings.diskMb, reserved_mb: used.disk, available_mb: Math.max(0, this.settings.diskMb - used.disk) },
      limits: {
        memory_enforcement: this.limits.mechanism,
        memory_enforcement_detail: this.limits.detail,
        pids_limit: this.limits.mechanism === 'pss-sampling' ? null : this.settings.pidsLimit,
        disk_enforcement: 'sampling',
        memory_check_ms: this.settings.memoryCheckMs,
        disk_check_ms: this.settings.diskCheckMs,
        log_rate_limit: this.settings.logRateLimit,
      },
      isolation: { containers: this.containers.isolation, detail: this.containers.detail, uid: this.containers.uid },
      ssh: { port: this.ssh.port, host_key_fingerprint: this.ssh.fingerprint, ...this.ssh.stats },
      droplet_cache: this.droplets.stats(),
    };
  }
}
