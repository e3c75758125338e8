// The redis-node's work on the bus (docs/redis.md, docs/services-protocol.md): it announces its plan
// on `RaaS.announce` and answers RaaS.provision/bind/unbind/unprovision/update/purge_orphan.<id> and
// RaaS.check_orphan. Each instance is a redis-server of its own (server.ts), kept running; what the
// node knows of it is in its directory, $DEVBOX_HOME/redis/node-<index>/instances/<instance GUID>/.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { NatsConnection } from '../common/bus.js';
import type { BindRequest, NodeReply, OrphanCheckReply, ProvisionRequest, PurgeOrphanRequest, UnprovisionRequest, UpdateRequest } from '../common/bus-messages.js';
import { readJson, writeSecretJson } from '../common/config.js';
import type { Logger } from '../common/log.js';
import { freePort, isListening } from '../common/net.js';
import { KeptRunning } from '../service-base/kept-running.js';
import { NodeBus, RequestError } from '../service-base/node.js';
import type { ServiceProtocol } from '../service-base/protocol.js';
import { instanceFiles, reachable, startRedisServer, stopLeftServer, type InstanceFiles, type InstanceMeta, type RunningRedis } from './server.js';
import { isInstanceName, plans, REDIS_DEFAULT_PORT, type RedisNodeSettings } from './settings.js';

/**
 * What a binding gets, as p-redis writes it: the instance's server and password, and a `uri` of
 * them. Nothing of the node's own (its id is in the request's subject).
 */
export interface RedisCredentials {
  host: string;
  port: number;
  password: string;
  uri: string;
}

/** The lock under which ports are chosen (no instance name looks like it). */
const PORTS = 'ports';

interface Instance {
  meta: InstanceMeta;
  files: InstanceFiles;
  server: KeptRunning<RunningRedis>;
}

export interface RedisNodeOptions {
  id: string;
  nc: NatsConnection;
  log: Logger;
  protocol: ServiceProtocol;
  settings: RedisNodeSettings;
  /** The redis-server binary and its version (`7.0`). */
  binary: string;
  version: string;
  /** Where its servers listen, and the address apps reach them at (in the credentials). */
  host: string;
  advertise: string;
  /** Its state directory: instances/<name>/ for each instance. */
  dir: string;
  /** Ports the box has promised to others (router, bus, status servers): never an instance's. */
  reservedPorts?: number[];
}

export class RedisNode {
  private readonly instances = new Map<string, Instance>();
  private readonly bus: NodeBus;
  private stopped = false;

  constructor(private readonly o: RedisNodeOptions) {
    this.bus = new NodeBus({ id: o.id, nc: o.nc, log: o.log, protocol: o.protocol, announceMs: o.settings.announceMs, announce: async () => this.announce() });
  }

  private get instancesDir(): string {
    return path.join(this.o.dir, 'instances');
  }

  /**
   * Loads its instances and serves at once; their servers start in the background (bindings of an
   * instance whose server is still starting get its credentials all the same).
   */
  async start(): Promise<void> {
    fs.mkdirSync(this.instancesDir, { recursive: true, mode: 0o700 });
    for (const name of fs.readdirSync(this.instancesDir)) {
      const files = instanceFiles(path.join(this.instancesDir, name));
      let meta: InstanceMeta | undefined;
      try {
        meta = isInstanceName(name) ? readJson<InstanceMeta>(files.meta) : undefined;
      } catch (error) {
        this.o.log.error('an instance of this node cannot be read; it is not served', { dir: files.dir, error: (error as Error).message });
        continue;
      }
      if (meta?.name !== name || !Number.isInteger(meta.port) || typeof meta.password !== 'string') {
        this.o.log.warn('ignoring a directory that is no instance of this node', { dir: files.dir });
        continue;
      }
      this.track(meta, files);
    }
    const { bus } = this;
    bus.handle('provision', (r) => this.provision(r));
    bus.handle('bind', (r) => this.bind(r));
    bus.handle('unbind', async () => ({ success: true })); // a binding is its instance's password: nothing to undo here (as p-redis)
    bus.handle('unprovision', (r) => this.unprovision(r));
    bus.handle('update', (r) => this.update(r));
    bus.handle('purge_orphan', (r) => this.purgeOrphan(r));
    bus.handleCheckOrphan(async () => this.checkOrphan());
    await bus.start();
    for (const instance of this.instances.values()) instance.server.startInBackground();
    this.o.log.info('redis-node serving', { id: this.o.id, instances: this.instances.size, capacity: this.o.settings.capacity });
  }

  /** Stops serving, then every instance's server (they save their data as they stop). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.bus.stop();
    await Promise.all([...this.instances.values()].map((i) => i.server.stop().catch(() => undefined)));
  }

  private track(meta: InstanceMeta, files: InstanceFiles): Instance {
    const instance: Instance = {
      meta,
      files,
      server: new KeptRunning<RunningRedis>({ what: `redis-server of ${meta.name}`, launch: () => this.launch(instance), log: this.o.log }),
    };
    this.instances.set(meta.name, instance);
    return instance;
  }

  /** Its server on the port it had when that is still free, else on a new one (saved: new bindings get it). */
  private async launch(instance: Instance): Promise<RunningRedis> {
    const plan = plans()[instance.meta.plan] ?? plans()['shared-vm'];
    const left = await stopLeftServer(instance.files);
    if (left) this.o.log.warn('stopped a redis-server an earlier node left running on this instance\'s data', { name: instance.meta.name, pid: left });
    await this.bus.locked(PORTS, async () => {
      const { port } = instance.meta;
      if (!this.reserved(instance.meta.name).has(port) && !(await isListening(port, reachable(this.o.host)))) return;
      const fresh = await this.freshPort(instance.meta.name);
      this.o.log.warn('an instance\'s port is taken: its server moves, and bindings made before must be made again', { name: instance.meta.name, port, new_port: fresh });
      instance.meta = { ...instance.meta, port: fresh };
      writeSecretJson(instance.files.meta, instance.meta);
    });
    return startRedisServer({ binary: this.o.binary, files: instance.files, host: this.o.host, port: instance.meta.port, password: instance.meta.password, plan });
  }

  /** Ports no instance may take: the box's, the machine's own Redis's, the other instances'. */
  private reserved(except?: string): Set<number> {
    const others = [...this.instances.values()].filter((i) => i.meta.name !== except).map((i) => i.meta.port);
    return new Set([REDIS_DEFAULT_PORT, ...(this.o.reservedPorts ?? []), ...others]);
  }

  private freshPort(except?: string): Promise<number> {
    return freePort(reachable(this.o.host), { exclude: this.reserved(except) });
  }

  announce(): void {
    if (this.stopped) return;
    this.bus.announceTo(Object.keys(plans()), { supported_versions: [this.o.version], available_capacity: this.available(), host: this.o.advertise });
  }

  private available(): number {
    return Math.max(0, this.o.settings.capacity - this.instances.size);
  }

  private credentials(instance: Instance): RedisCredentials {
    const { port, password } = instance.meta;
    const host = this.o.advertise;
    const hostInUri = host.includes(':') ? `[${host}]` : host;
    return { host, port, password, uri: `redis://:${encodeURIComponent(password)}@${hostInUri}:${port}` };
  }

  private checkName(name: unknown): string {
    if (!isInstanceName(name)) throw new RequestError(400, `invalid instance name ${JSON.stringify(name)}: expected the instance's GUID`);
    return name;
  }

  async provision(request: ProvisionRequest): Promise<NodeReply> {
    const name = this.checkName(request.name);
    const plan = plans()[request.plan];
    if (!plan) throw new RequestError(400, `unknown plan ${JSON.stringify(request.plan)}; this node serves ${Object.keys(plans()).join(', ')}`);
    if (request.version !== undefined && request.version !== this.o.version) throw new RequestError(400, `unsupported version ${JSON.stringify(request.version)}; this node serves ${this.o.version}`);
    return this.bus.locked(name, async () => {
      let instance = this.instances.get(name);
      if (!instance) {
        const files = instanceFiles(path.join(this.instancesDir, name));
        // Its place and its port are taken (tracked) in one step: two provisions at once get two
        // ports, and never more than the capacity.
        instance = await this.bus.locked(PORTS, async () => {
          if (this.instances.size >= this.o.settings.capacity) throw new RequestError(507, `node ${this.o.id} is full (${this.o.settings.capacity} instances)`);
          fs.mkdirSync(files.dir, { recursive: true, mode: 0o700 });
          const meta: InstanceMeta = { name, plan: plan.name, port: await this.freshPort(), password: randomBytes(24).toString('base64url'), created_at: new Date().toISOString() };
          writeSecretJson(files.meta, meta);
          return this.track(meta, files);
        });
        try {
          await instance.server.start();
        } catch (error) {
          await this.remove(instance);
          throw new RequestError(500, `the instance's redis-server did not start: ${(error as Error).message}`);
        }
        this.o.log.info('provisioned', { name, plan: plan.name, port: instance.meta.port, pid: instance.server.current?.pid });
        // Announced before the reply: the gateway learns the new capacity before it provisions again.
        this.announce();
      }
      return { success: true, credentials: { host: this.o.advertise, port: instance.meta.port, name } };
    });
  }

  async bind(request: BindRequest): Promise<NodeReply> {
    const name = this.checkName(request.name);
    return this.bus.locked(name, async () => {
      const instance = this.instances.get(name);
      if (!instance) throw new RequestError(404, `no instance ${name} on node ${this.o.id}`);
      return { success: true, credentials: { ...this.credentials(instance) } satisfies RedisCredentials };
    });
  }

  async unprovision(request: UnprovisionRequest): Promise<NodeReply> {
    const name = this.checkName(request.name);
    return this.bus.locked(name, async () => {
      const instance = this.instances.get(name);
      if (instance) {
        await this.remove(instance);
        this.o.log.info('unprovisioned', { name });
        this.announce();
      }
      return { success: true };
    });
  }

  /** Stops its server for good and removes its data. */
  private async remove(instance: Instance): Promise<void> {
    await instance.server.stop();
    await stopLeftServer(instance.files);
    fs.rmSync(instance.files.dir, { recursive: true, force: true });
    this.instances.delete(instance.meta.name);
  }

  /** p-redis has one plan: an update to it changes nothing; any other is not this node's. */
  async update(request: UpdateRequest): Promise<NodeReply> {
    const name = this.checkName(request.name);
    const instance = this.instances.get(name);
    if (!instance) throw new RequestError(404, `no instance ${name} on node ${this.o.id}`);
    if (request.plan !== instance.meta.plan) throw new RequestError(plans()[request.plan] ? 422 : 400, `instance ${name} cannot move to plan ${JSON.stringify(request.plan)}`);
    return { success: true };
  }

  /** Its handles: one per instance (`databases`, in the contract's words); bindings leave nothing here. */
  checkOrphan(): OrphanCheckReply {
    return { node_id: this.o.id, databases: [...this.instances.keys()].sort(), users: [] };
  }

  async purgeOrphan(request: PurgeOrphanRequest): Promise<NodeReply> {
    const names = request.databases.filter(isInstanceName);
    for (const name of names) await this.unprovision({ name });
    this.o.log.info('purged orphans', { instances: names.length });
    return { success: true };
  }

  varz(): Record<string, unknown> {
    const servers = [...this.instances.values()].map((i) => ({
      name: i.meta.name,
      port: i.meta.port,
      pid: i.server.current?.pid ?? null,
      running: i.server.running,
      restarts: i.server.restarts,
      last_error: i.server.lastError ?? null,
    }));
    return {
      id: this.o.id,
      instances: this.instances.size,
      capacity: this.o.settings.capacity,
      available_capacity: this.available(),
      plans: Object.fromEntries(Object.values(plans()).map((p) => [p.name, { maxmemory_bytes: p.maxmemoryBytes, maxclients: p.maxclients }])),
      servers,
      ...this.bus.stats,
    };
  }
}
