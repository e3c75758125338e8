// One app instance on this DEA (`dea.<id>.start`): droplet into its own directory, its own process
// group, health checked, registered with the router once healthy, limits watched, and exactly one
// `droplet.exited` when it ends, whatever ends it.
import type { ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { publishAppLog } from '../../common/app-log.js';
import { publish, type NatsConnection } from '../../common/bus.js';
import {
  dropletExited,
  processSourceType,
  sidecarSourceType,
  taskExited,
  type LogSourceType,
  type TaskExited,
  type TaskStartMessage,
  routerUnregister,
  type DropletExited,
  type ExitReason,
  type HealthCheckType,
  type InstanceState,
  type InstanceStats,
  type RouterRegisterMessage,
  type SidecarStart,
  type StartMessage,
} from '../../common/bus-messages.js';
import type { Logger } from '../../common/log.js';
import { freePort } from '../../common/net.js';
import { waitFor } from '../../common/poll.js';
import type { RouteRegistrar } from '../../common/route-registrar.js';
import { extractTarball } from '../archive.js';
import { CONTAINER_HOME, type Container, type Containers } from '../containers/container.js';
import type { DeaPaths } from '../paths.js';
import type { DeaSettings } from '../settings.js';
import { formatSize } from '../staging/stager.js';
import type { DropletCache } from './droplet-cache.js';
import { instanceEnv } from './env.js';
import { checkOnce } from './health-check.js';
import { launcherArgs } from './launcher.js';
import { diskUsage } from './limits.js';
import { LogForwarder } from './log-forwarder.js';
import { sidecarFd, supervisedLaunch, SupervisorReport } from './sidecars.js';
import { CLOCK_TICKS, pssBytes, readStat, type ProcessScan } from '../../common/procfs.js';

const MB = 1024 * 1024;
/** Leaves nothing of the app to the group or others (the instance directory is 0700 as well). */
const APP_UMASK = 0o077;

export interface InstanceDeps {
  deaId: string;
  paths: DeaPaths;
  settings: DeaSettings;
  nc: NatsConnection;
  log: Logger;
  registrar: RouteRegistrar;
  droplets: DropletCache;
  containers: Containers;
  /** Ports given to this DEA's live instances. */
  ports: Set<number>;
  /** The instance changed state (heartbeat now). */
  onChange(instance: Instance): void;
  /** The instance ended; `exited` has been published. */
  onExit(instance: Instance, exited: DropletExited): void;
}

/** Where an ssh session into the instance runs (docs/dea.md, "ssh"). */
export interface SessionTarget {
  container: Container;
  /** The environment the app was started with. */
  env: Record<string, string>;
  /** The app directory, as the container sees it. */
  cwd: string;
  /** The launcher's file descriptor limit. */
  fds?: number;
}

/** Something that lives as long as the instance (an ssh connection into it). */
export interface Attachment {
  /** The instance ended: end too. */
  end(): void;
}

/** What the DEA writes beside an instance, to find its processes again after a crash of the DEA. */
export interface InstanceRecord {
  pid: number;
  starttime: number;
  app: string;
  index: number;
  /** Its registration, so that a DEA reaping it after a crash can take it off the routers first. */
  route?: RouterRegisterMessage;
}

export const INSTANCE_RECORD = 'instance.json';

const nowSeconds = () => Date.now() / 1000;

function exitStatus(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  const number = signal ? os.constants.signals[signal] : undefined;
  return number ? 128 + number : -1;
}

export class Instance {
  readonly guid = randomUUID();
  /** What it is an instance of: its process's guid (the start message's `droplet`). */
  readonly droplet: string;
  /** The app its logs and routes are for. */
  readonly appGuid: string;
  /** `web`, `worker`...: the process type, in log source types and crash descriptions. */
  readonly processType: string;
  /** Set when this runs a task (CC v3): once, no health check, no routes; it ends SUCCEEDED or FAILED. */
  readonly task?: { guid: string; name: string };
  /** How the task ended, once it has. */
  taskResult?: TaskExited;
  /** `APP/PROC/WEB` or `APP/TASK/<name>`: the source of its output and of its exit's description. */
  private readonly sourceType: LogSourceType;
  readonly index: number;
  readonly version: string;
  /** The instance's directory on the host: instance.json (the DEA's) and home/, the container's. */
  readonly dir: string;
  /** The container's home, /home/vcap inside: app/, deps/, tmp/ and staging_info.yml. */
  readonly home: string;
  state: InstanceState = 'STARTING';
  stateTimestamp = nowSeconds();
  port = 0;
  pid?: number;
  /** When the process started (ms), for uptime. */
  startedAt?: number;
  exited?: DropletExited;
  readonly usage = { cpu: 0, mem: 0, disk: 0, time: new Date().toISOString() };
  /** The routes of the instance: the start message's, then what `dea.update` says. */
  uris: string[];
  readonly logs: LogForwarder;
  /** The sidecars started beside the app (none for a task): docs/dea.md, "Sidecars". */
  readonly sidecars: SidecarStart[];
  /** Their ports, in the order of `sidecars`. */
  private sidecarPorts: number[] = [];
  /** What the supervisor of an instance with sidecars reported: which process ended first. */
  private report?: SupervisorReport;

  private readonly log: Logger;
  private child?: ChildProcess;
  private container?: Container;
  /** Where ssh sessions run, once the app has started. */
  private target?: SessionTarget;
  /** The ssh connections into the instance: they end when it does. */
  private readonly attachments = new Set<Attachment>();
  private stopReason?: Exclude<ExitReason, 'CRASHED'>;
  private crashDescription?: string;
  private registered = false;
  private finished = false;
  private killTimer?: NodeJS.Timeout;
  private diskTimer?: NodeJS.Timeout;
  private lastCpu?: { ticks: number; at: number };
  private readonly done: Promise<void>;
  private resolveDone!: () => void;

  constructor(
    readonly start: StartMessage | TaskStartMessage,
    private readonly deps: InstanceDeps,
  ) {
    this.droplet = start.droplet;
    this.appGuid = start.app_guid ?? start.droplet;
    this.processType = start.process_type || 'web';
    if ('task_guid' in start) this.task = { guid: start.task_guid, name: start.task_name };
    this.sourceType = this.task ? `APP/TASK/${this.task.name}` : processSourceType(this.processType);
    this.index = start.index;
    this.version = start.version;
    this.dir = path.join(deps.paths.instances, this.guid);
    this.home = path.join(this.dir, 'home');
    this.uris = start.uris ?? [];
    this.log = deps.log.child({ app_guid: this.appGuid, index: this.index, instance: this.guid });
    this.logs = new LogForwarder(deps.nc, { appGuid: this.appGuid, sourceType: this.sourceType, index: this.index }, deps.settings.logRateLimit);
    this.sidecars = this.task ? [] : (start.sidecars ?? []);
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
  }

  get memLimitBytes(): number {
    return (this.start.limits?.mem ?? 0) * MB;
  }

  get diskLimitBytes(): number {
    return (this.start.limits?.disk ?? 0) * MB;
  }

  /** True while the instance holds resources (counts against the DEA's memory). */
  get active(): boolean {
    return !this.finished;
  }

  /** Resolves once the instance has ended (its droplet.exited is out). */
  whenDone(): Promise<void> {
    return this.done;
  }

  private cell(message: string, type: 'OUT' | 'ERR' = 'OUT'): void {
    if (this.deps.nc.isClosed()) return;
    publishAppLog(this.deps.nc, { app_guid: this.appGuid, source_type: 'CELL', source_instance: String(this.index), message_type: type, message });
  }

  private setState(state: InstanceState): void {
    this.state = state;
    this.stateTimestamp = nowSeconds();
    this.deps.onChange(this);
  }

  /** Downloads, unpacks, starts and health checks the instance. Never throws. */
  async run(): Promise<void> {
    try {
      await this.prepareAndSpawn();
      if (this.finished && !this.child) {
        // Stopped while it was being prepared: whatever was unpacked meanwhile goes too.
        await fs.promises.rm(this.dir, { recursive: true, force: true }).catch(() => undefined);
        return;
      }
      if (this.finished || !this.child) return;
      // A task has nothing to check: it runs from the moment its process does.
      if (this.task) return this.setState('RUNNING');
      await this.waitHealthy();
    } catch (error) {
      this.log.warn('instance failed to start', { error: (error as Error).message });
      if (this.child && !this.finished) this.kill((error as Error).message);
      else await this.finish(this.stopReason ?? 'CRASHED', -1, (error as Error).message);
    }
  }

  private async prepareAndSpawn(): Promise<void> {
    const { start, deps } = this;
    this.cell(`Creating container for app ${start.name}, instance ${this.guid}`);
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const home = { source: this.home, target: CONTAINER_HOME };
    const container = deps.containers.create({
      handle: this.guid,
      mounts: [home],
      tmp: path.join(this.home, 'tmp'),
      limits: { memoryBytes: this.memLimitBytes, pids: deps.settings.pidsLimit },
    });
    this.container = container;
    this.cell('Successfully created container');
    this.cell('Downloading droplet...');
    let droplet;
    try {
      droplet = await deps.droplets.get(start.executableUri, start.sha1);
    } catch (error) {
      throw new Error(`Failed to download the droplet: ${(error as Error).message}`, { cause: error });
    }
    if (this.finished) return;
    this.cell(droplet.downloaded ? `Downloaded droplet (${formatSize(droplet.size)})` : `Downloaded droplet (${formatSize(droplet.size)}, cached)`);
    await extractTarball(droplet.file, this.home, { umask: APP_UMASK, owner: deps.containers.owner });
    const app = fs.mkdirSync(path.join(this.home, 'app'), { recursive: true, mode: 0o700 });
    if (app) deps.containers.own(app);
    if (this.finished) return;

    const command = start.start_command?.trim() || this.stagedCommand();
    if (!command) throw new Error('the droplet has no start command and none was given');

    this.port = await this.pickPort();
    if (this.finished) return;
    const inside = (dir: string) => path.join(deps.containers.inside(home), dir);
    const env = instanceEnv(start, {
      instanceGuid: this.guid,
      port: this.port,
      appDir: inside('app'),
      depsDir: inside('deps'),
      tmpDir: inside('tmp'),
      host: this.host,
      path: deps.containers.path,
      user: container.isolated ? 'vcap' : undefined,
    });
    // With sidecars, a supervisor starts them and the app, each with a port and pipes of its own.
    while (this.sidecarPorts.length < this.sidecars.length) this.sidecarPorts.push(await this.pickPort());
    if (this.finished) return;
    const supervised = this.sidecars.length > 0 ? supervisedLaunch(start, this.sidecars, this.sidecarPorts, env, start.limits?.fds || undefined, command) : undefined;
    const child = supervised
      ? container.run(supervised.argv, { cwd: inside('app'), env: supervised.env, stdio: supervised.stdio })
      : container.run(['bash', ...launcherArgs(start.limits?.fds || undefined, command)], { cwd: inside('app'), env });
    this.child = child;
    this.pid = child.pid;
    this.startedAt = Date.now();
    this.target = { container, env: supervised?.env ?? env, cwd: inside('app'), fds: start.limits?.fds || undefined };
    child.once('error', (error) => {
      this.log.error('could not start the instance process', { error: error.message });
      void this.finish(this.stopReason ?? 'CRASHED', -1, `Failed to start the process: ${error.message}`);
    });
    child.once('exit', (code, signal) => void this.onProcessExit(code, signal));
    void this.logs.attach(child.stdout!, 'OUT');
    void this.logs.attach(child.stderr!, 'ERR');
    if (supervised) {
      this.report = new SupervisorReport(child.stdio[3] as Readable);
      this.sidecars.forEach((sidecar, i) => {
        const logs = new LogForwarder(deps.nc, { appGuid: this.appGuid, sourceType: sidecarSourceType(this.processType, sidecar.name), index: this.index }, deps.settings.logRateLimit);
        void logs.attach(child.stdio[sidecarFd(i)] as Readable, 'OUT');
        void logs.attach(child.stdio[sidecarFd(i) + 1] as Readable, 'ERR');
      });
    }
    if (child.pid) this.writeRecord(child.pid);
    this.log.info('instance process started', { pid: child.pid, port: this.port, command });
    this.cell('Starting health monitoring of container');
    this.scheduleDiskCheck(0);
  }

  /** A free port from the OS that no other instance of this DEA was given (they bind it later). */
  private async pickPort(): Promise<number> {
    let port = await freePort();
    for (let tries = 0; this.deps.ports.has(port) && tries < 10; tries++) port = await freePort();
    this.deps.ports.add(port);
    return port;
  }

  private stagedCommand(): string | undefined {
    try {
      const info = parseYaml(fs.readFileSync(path.join(this.home, 'staging_info.yml'), 'utf8')) as { start_command?: unknown } | null;
      return typeof info?.start_command === 'string' && info.start_command.trim() ? info.start_command : undefined;
    } catch {
      return undefined;
    }
  }

  private writeRecord(pid: number): void {
    const record: InstanceRecord = { pid, starttime: readStat(pid)?.starttime ?? 0, app: this.appGuid, index: this.index, route: this.route() };
    try {
      fs.writeFileSync(path.join(this.dir, INSTANCE_RECORD), JSON.stringify(record), { mode: 0o600 });
    } catch {
      // the instance went meanwhile
    }
  }

  private async waitHealthy(): Promise<void> {
    const type: HealthCheckType = this.start.health_check_type || 'port';
    const given = this.start.health_check_timeout;
    const timeoutS = given && given > 0 ? given : 60;
    const deadline = (this.startedAt ?? Date.now()) + timeoutS * 1000;
    const spec = { type, port: this.port, endpoint: this.start.health_check_http_endpoint, attemptTimeoutMs: 1_000 };
    // Stopped, crashed or exited meanwhile: nothing left to wait for.
    const ended = () => !!(this.finished || this.stopReason || this.crashDescription);
    let reason = '';
    const outcome = await waitFor(
      `instance ${this.index} of ${this.appGuid} to become healthy`,
      async () => {
        if (ended()) return 'ended';
        const result = await checkOnce(spec);
        reason = result.reason;
        if (ended()) return 'ended';
        return result.healthy && 'healthy';
      },
      { deadline, intervalMs: this.deps.settings.healthCheckIntervalMs, retryIf: () => false, onTimeout: () => 'never healthy' as const },
    );
    if (outcome === 'healthy') return this.becomeRunning();
    if (outcome === 'never healthy') {
      this.cell(`Instance never healthy after ${timeoutS}s: ${reason}`, 'ERR');
      return this.kill(`Instance never healthy after ${timeoutS}s: ${reason}`);
    }
  }

  private becomeRunning(): void {
    this.cell('Container became healthy');
    this.setState('RUNNING');
    this.register();
    this.log.info('instance running', { port: this.port });
  }

  /** The DEA's advertised address: what the routers connect to. */
  private get host(): string {
    return this.deps.settings.host ?? '127.0.0.1';
  }

  private route() {
    return { host: this.host, port: this.port, uris: this.uris, app: this.appGuid, private_instance_id: this.guid, private_instance_index: String(this.index), tags: { component: this.deps.deaId } };
  }

  private register(): void {
    if (this.uris.length === 0) return;
    this.deps.registrar.add(this.route());
    this.registered = true;
  }

  /** `dea.update`: the app's routes changed. A RUNNING instance is registered under the new ones. */
  updateUris(uris: string[]): void {
    const removed = this.uris.filter((u) => !uris.includes(u));
    this.uris = [...uris];
    // A DEA restarted after a crash unregisters its orphans' routes from this record: keep it current.
    if (this.pid && !this.finished) this.writeRecord(this.pid);
    if (this.state !== 'RUNNING' || this.finished || this.stopReason) return;
    if (this.registered && removed.length > 0 && !this.deps.nc.isClosed()) {
      // Only the uris that went: the others keep answering meanwhile.
      publish(this.deps.nc, routerUnregister, { ...this.route(), uris: removed });
    }
    if (this.uris.length > 0) this.register();
    else this.unregister();
  }

  private unregister(): void {
    if (!this.registered) return;
    this.registered = false;
    this.deps.registrar.remove(this.host, this.port);
  }

  /** Where an ssh session runs: the instance's container while it is RUNNING (not a task's, not once stopping). */
  sessionTarget(): SessionTarget | undefined {
    if (this.task || this.state !== 'RUNNING' || this.finished || this.stopReason || this.crashDescription) return undefined;
    return this.target;
  }

  /**
   * Ties `attachment` to the instance: it ends when the instance does (its processes went with
   * the container). Returns what detaches it; an instance that has ended ends it at once.
   */
  attach(attachment: Attachment): () => void {
    if (this.finished) {
      attachment.end();
      return () => undefined;
    }
    this.attachments.add(attachment);
    return () => this.attachments.delete(attachment);
  }

  /** The DEA ends the instance as a crash (limits, health): SIGKILL to all of it. */
  kill(description: string): void {
    if (this.finished || this.stopReason) return;
    this.crashDescription ??= description;
    this.unregister();
    this.container?.kill();
  }

  /** Stops the instance (dea.stop or the DEA's shutdown): SIGTERM, SIGKILL after the grace. */
  async stop(reason: Exclude<ExitReason, 'CRASHED'>, graceMs = this.deps.settings.stopTimeoutMs): Promise<void> {
    if (this.finished) return this.done;
    if (this.stopReason) return this.done;
    this.stopReason = reason;
    this.setState('STOPPING');
    this.cell(`Stopping instance ${this.guid}`);
    this.unregister();
    if (this.child && this.child.exitCode === null && this.child.signalCode === null && this.pid) {
      this.container?.terminate();
      this.killTimer = setTimeout(() => this.container?.kill(), graceMs);
    } else if (!this.child) {
      await this.finish(reason, 0, reason === 'STOPPED' ? 'stopped' : 'DEA shutdown');
    }
    return this.done;
  }

  private async onProcessExit(code: number | null, signal: NodeJS.Signals | null): Promise<void> {
    // Anything the app left behind in its container goes with it.
    this.container?.kill();
    let status = exitStatus(code, signal);
    // With sidecars: the supervisor says which ended first (a crash) and how the app ended (a stop).
    if (this.report) {
      await this.report.settled(2_000);
      const ended = this.stopReason ? this.report.app : this.report.first;
      if (ended) status = ended.status;
      const sidecar = typeof ended?.who === 'number' ? this.sidecars[ended.who] : undefined;
      if (!this.stopReason && sidecar && ended) this.crashDescription ??= `${sidecarSourceType(this.processType, sidecar.name)}: Exited with status ${ended.status}`;
    }
    this.log.info('instance process ended', { code, signal });
    if (this.container?.cgroup?.oomKilled()) this.crashDescription = 'out of memory';
    else if (this.container?.cgroup?.pidsExhausted()) this.cell(`Instance reached its limit of ${this.deps.settings.pidsLimit} processes`, 'ERR');
    if (this.stopReason) {
      await this.finish(this.stopReason, status, this.stopReason === 'STOPPED' ? 'stopped' : 'DEA shutdown');
    } else {
      const description = this.crashDescription ?? `${this.sourceType}: Exited with status ${status}`;
      this.cell(`Exit status ${status}${this.crashDescription ? ` (${this.crashDescription})` : ''}`, this.crashDescription ? 'ERR' : 'OUT');
      await this.finish('CRASHED', status, description);
    }
  }

  private async finish(reason: ExitReason, status: number, description: string): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    clearTimeout(this.killTimer);
    clearTimeout(this.diskTimer);
    this.unregister();
    if (reason !== 'CRASHED') this.cell(`Exit status ${status}`);
    this.cell('Destroying container');
    const exited: DropletExited = {
      droplet: this.droplet,
      version: this.version,
      instance: this.guid,
      index: this.index,
      reason,
      exit_status: status,
      exit_description: description,
      ...(reason === 'CRASHED' ? { crash_timestamp: Math.floor(Date.now() / 1000) } : {}),
    };
    this.exited = exited;
    if (reason === 'CRASHED') {
      this.state = 'CRASHED';
      this.stateTimestamp = nowSeconds();
    }
    if (this.task) this.taskResult = this.taskOutcome(exited);
    if (!this.deps.nc.isClosed()) {
      if (this.taskResult) publish(this.deps.nc, taskExited, this.taskResult);
      else publish(this.deps.nc, dropletExited, exited);
    }
    this.log.info('instance exited', { reason, exit_status: status, exit_description: description });
    this.deps.onExit(this, exited);
    this.container?.destroy();
    for (const attachment of [...this.attachments]) attachment.end();
    this.attachments.clear();
    await fs.promises.rm(this.dir, { recursive: true, force: true }).catch(() => undefined);
    if (this.port) this.deps.ports.delete(this.port);
    for (const port of this.sidecarPorts) this.deps.ports.delete(port);
    this.cell('Successfully destroyed container');
    this.resolveDone();
  }

  /**
   * How a task ended: SUCCEEDED on exit status 0, else FAILED with Cloud Foundry's reason (its exit
   * status, `task was cancelled`, out of memory...).
   */
  private taskOutcome(exited: DropletExited): TaskExited {
    const failed = (reason: string): TaskExited => ({ ...base, state: 'FAILED', failure_reason: reason });
    const base = { task_guid: this.task!.guid, app_guid: this.appGuid, dea: this.deps.deaId, exit_status: exited.exit_status };
    if (exited.reason === 'STOPPED') return failed('task was cancelled');
    if (exited.reason === 'DEA_SHUTDOWN' || exited.reason === 'DEA_EVACUATION') return failed('the DEA running the task stopped');
    if (exited.exit_status === 0 && !this.crashDescription) return { ...base, state: 'SUCCEEDED', failure_reason: null };
    return failed(exited.exit_description);
  }

  /**
   * One memory/CPU sample from a /proc scan. Memory is what the kernel charges to the instance's
   * cgroup, or without one the PSS of its processes (shared pages counted once); over the limit
   * without a cgroup, the DEA ends the instance (with one, the kernel does).
   */
  sample(processes: ProcessScan): void {
    if (!this.pid || this.finished || !this.container) return;
    const members = this.container.members(processes);
    let ticks = 0;
    for (const pid of members) ticks += processes.byPid.get(pid)?.ticks ?? 0;
    const now = Date.now();
    if (this.lastCpu && now > this.lastCpu.at) {
      const seconds = (now - this.lastCpu.at) / 1000;
      this.usage.cpu = Math.max(0, (ticks - this.lastCpu.ticks) / CLOCK_TICKS / seconds);
    }
    this.lastCpu = { ticks, at: now };
    const charged = this.container.cgroup?.current();
    const memory = charged ?? members.reduce((sum, pid) => sum + (pssBytes(pid) ?? processes.byPid.get(pid)?.rssBytes ?? 0), 0);
    this.usage.mem = memory;
    this.usage.time = new Date(now).toISOString();
    if (!this.container.cgroup && this.memLimitBytes > 0 && memory > this.memLimitBytes && !this.stopReason) {
      this.log.warn('instance over its memory limit', { pss: memory, limit: this.memLimitBytes });
      this.cell(`Instance exceeded its memory limit of ${this.start.limits?.mem}M (using ${formatSize(memory)})`, 'ERR');
      this.kill('out of memory');
    }
  }

  private scheduleDiskCheck(delay: number): void {
    clearTimeout(this.diskTimer);
    this.diskTimer = setTimeout(() => void this.checkDisk(), delay);
    this.diskTimer.unref();
  }

  private async checkDisk(): Promise<void> {
    if (this.finished) return;
    this.usage.disk = await diskUsage(this.dir);
    if (this.finished) return;
    if (this.diskLimitBytes > 0 && this.usage.disk > this.diskLimitBytes && !this.stopReason) {
      this.log.warn('instance over its disk quota', { disk: this.usage.disk, limit: this.diskLimitBytes });
      this.cell(`Instance exceeded its disk quota of ${this.start.limits?.disk}M (using ${formatSize(this.usage.disk)})`, 'ERR');
      this.kill('disk quota exceeded');
      return;
    }
    this.scheduleDiskCheck(this.deps.settings.diskCheckMs);
  }

  stats(): InstanceStats {
    return {
      name: this.start.name,
      uris: this.uris,
      host: this.host,
      port: this.port,
      uptime: this.startedAt ? Math.floor((Date.now() - this.startedAt) / 1000) : 0,
      mem_quota: this.memLimitBytes,
      disk_quota: this.diskLimitBytes,
      fds_quota: this.start.limits?.fds || 16384,
      usage: { ...this.usage },
    };
  }
}
