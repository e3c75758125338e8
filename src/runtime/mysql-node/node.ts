// The mysql-node's work on the bus (docs/services-protocol.md, docs/mysql-node.md): announces its
// plans, answers MyaaS.provision/bind/unbind/unprovision/update/purge_orphan.<id> and MyaaS.check_orphan,
// and enforces the plans' size quotas. Its own bookkeeping (plan per database, binding per user,
// quota state, the password secret) lives in the server, in devbox_node, so it survives restarts.
import { randomBytes } from 'node:crypto';
import { createPool, type Pool, type RowDataPacket } from 'mysql2/promise';
import type { NatsConnection } from '../common/bus.js';
import type { BindRequest, NodeReply, OrphanCheckReply, ProvisionRequest, PurgeOrphanRequest, UnbindRequest, UnprovisionRequest, UpdateRequest } from '../common/bus-messages.js';
import type { Logger } from '../common/log.js';
import { NodeBus, RequestError as NodeError } from '../service-base/node.js';
import type { ServiceProtocol } from '../service-base/protocol.js';
import {
  grantPattern,
  isDatabaseName,
  isLegacyDatabaseName,
  isUserName,
  passwordForBinding,
  plans,
  SUPPORTED_VERSIONS,
  userForBinding,
  type NodeSettings,
  type Plan,
} from './names.js';

/** Where the node reaches its server as an administrator. */
export interface ServerAddress {
  host: string;
  port: number;
  user: string;
  password: string;
}

const USER_HOST = '%';
const META = 'devbox_node';

/**
 * What a binding gets (docs/services-protocol.md): the VCAP_SERVICES credentials of a p-mysql binding,
 * as cf-mysql writes them, and nothing of devbox's own (the node's id is in the request's subject).
 */
export interface MysqlCredentials {
  hostname: string;
  port: number;
  name: string;
  username: string;
  password: string;
  uri: string;
  jdbcUrl: string;
}

const MB = 1024 * 1024;
const megabytes = (bytes: number) => `${(bytes / MB).toFixed(bytes < 10 * MB ? 1 : 0)} MB`;

export class MysqlNode {
  private pool: Pool | undefined;
  private poolKey = '';
  private secret = '';
  private readonly bus: NodeBus;
  private quotaTimer: NodeJS.Timeout | undefined;
  private quotaRunning: Promise<void> | undefined;
  private stats = { databases: 0, users: 0, quota_revoked: [] as string[] };
  private stopped = false;
  /** Provisions and unprovisions done: an announcement counted before one of them is stale. */
  private changes = 0;

  constructor(
    private readonly options: {
      id: string;
      nc: NatsConnection;
      log: Logger;
      settings: NodeSettings;
      /** MySQL's `MyaaS`. */
      protocol: ServiceProtocol;
      /** Called for every use: a restarted private server may be on another port. */
      address: () => ServerAddress;
    },
  ) {
    const { id, nc, log, protocol, settings } = options;
    this.bus = new NodeBus({ id, nc, log, protocol, announceMs: settings.announceMs, announce: () => this.announce() });
  }

  get id(): string {
    return this.options.id;
  }

  private db(): Pool {
    const address = this.options.address();
    const key = `${address.host}:${address.port}:${address.user}`;
    if (!this.pool || key !== this.poolKey) {
      void this.pool?.end().catch(() => undefined);
      this.pool = createPool({ ...address, connectionLimit: 4, multipleStatements: false, connectTimeout: 5_000 });
      this.poolKey = key;
    }
    return this.pool;
  }

  private async rows<T>(sql: string, values: unknown[] = []): Promise<T[]> {
    const [rows] = await this.db().query<RowDataPacket[]>(sql, values);
    return rows as unknown as T[];
  }

  private async exec(sql: string, values: unknown[] = []): Promise<void> {
    await this.db().query(sql, values);
  }

  async start(): Promise<void> {
    await this.ensureSchema();
    await this.refreshStats();
    const { log } = this.options;
    const { bus } = this;
    bus.handle('provision', (r) => this.provision(r));
    bus.handle('bind', (r) => this.bind(r));
    bus.handle('unbind', (r) => this.unbind(r));
    bus.handle('unprovision', (r) => this.unprovision(r));
    bus.handle('update', (r) => this.update(r));
    bus.handle('purge_orphan', (r) => this.purgeOrphan(r));
    bus.handleCheckOrphan(() => this.checkOrphan());
    await bus.start();
    this.quotaTimer = setInterval(() => {
      this.quotaRunning ??= this.enforceQuotas()
        .catch((error: unknown) => log.warn('quota check failed', { error: (error as Error).message }))
        .finally(() => (this.quotaRunning = undefined));
    }, Math.max(50, this.options.settings.quotaMs));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.bus.stop();
    clearInterval(this.quotaTimer);
    await this.quotaRunning;
    await this.pool?.end().catch(() => undefined);
    this.pool = undefined;
  }

  varz(): Record<string, unknown> {
    const all = plans();
    return {
      id: this.id,
      databases: this.stats.databases,
      users: this.stats.users,
      capacity: this.options.settings.capacity,
      available_capacity: Math.max(0, this.options.settings.capacity - this.stats.databases),
      plans: Object.fromEntries(Object.values(all).map((p) => [p.name, { quota_bytes: p.quotaBytes, max_user_connections: p.maxUserConnections }])),
      quota_revoked: this.stats.quota_revoked,
      ...this.bus.stats,
    };
  }

  /** Serialises operations on one database (or user): a retry racing the original waits for it. */
  private locked<T>(key: string, work: () => Promise<T>): Promise<T> {
    return this.bus.locked(key, work);
  }

  private async ensureSchema(): Promise<void> {
    await this.exec(`CREATE DATABASE IF NOT EXISTS ${META}`);
    await this.exec(
      `CREATE TABLE IF NOT EXISTS ${META}.instances (name VARCHAR(64) PRIMARY KEY, plan VARCHAR(32) NOT NULL, quota_exceeded TINYINT NOT NULL DEFAULT 0, created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)`,
    );
    await this.exec(`CREATE TABLE IF NOT EXISTS ${META}.bindings (username VARCHAR(32) PRIMARY KEY, name VARCHAR(64) NOT NULL, binding_id VARCHAR(255) NOT NULL)`);
    await this.exec(`CREATE TABLE IF NOT EXISTS ${META}.settings (name VARCHAR(64) PRIMARY KEY, value VARCHAR(255) NOT NULL)`);
    await this.exec(`INSERT IGNORE INTO ${META}.settings (name, value) VALUES ('binding_secret', ?)`, [randomBytes(32).toString('base64url')]);
    const [row] = await this.rows<{ value: string }>(`SELECT value FROM ${META}.settings WHERE name = 'binding_secret'`);
    this.secret = row.value;
  }

  private async refreshStats(): Promise<void> {
    const [instances] = await this.rows<{ n: number }>(`SELECT COUNT(*) AS n FROM ${META}.instances`);
    const [users] = await this.rows<{ n: number }>(`SELECT COUNT(*) AS n FROM ${META}.bindings`);
    const revoked = await this.rows<{ name: string }>(`SELECT name FROM ${META}.instances WHERE quota_exceeded = 1 ORDER BY name`);
    this.stats.databases = Number(instances.n);
    this.stats.users = Number(users.n);
    this.stats.quota_revoked = revoked.map((r) => r.name);
  }

  async announce(): Promise<void> {
    if (this.stopped) return;
    const generation = this.changes;
    try {
      await this.refreshStats();
    } catch (error) {
      // The server is down (restarting): say nothing rather than something stale.
      this.options.log.warn('not announcing: the MySQL server does not answer', { error: (error as Error).message });
      return;
    }
    // A provision finished while counting: its own announcement carries the newer count. A stale one
    // arriving after it would give the gateway back a place that is taken.
    if (generation !== this.changes) return;
    const { host, port } = this.options.address();
    const available = Math.max(0, this.options.settings.capacity - this.stats.databases);
    this.bus.announceTo(Object.keys(this.options.settings.plans), { supported_versions: SUPPORTED_VERSIONS, available_capacity: available, host, port });
  }

  private baseCredentials(name: string): Pick<MysqlCredentials, 'hostname' | 'port' | 'name'> {
    const { host, port } = this.options.address();
    return { hostname: host, port, name };
  }

  private async instance(name: string): Promise<{ name: string; plan: string; quota_exceeded: number } | undefined> {
    const [row] = await this.rows<{ name: string; plan: string; quota_exceeded: number }>(`SELECT name, plan, quota_exceeded FROM ${META}.instances WHERE name = ?`, [name]);
    return row;
  }

  async provision(request: ProvisionRequest): Promise<NodeReply> {
    const { name } = request;
    if (!isDatabaseName(name)) throw new NodeError(400, `invalid database name ${JSON.stringify(name)}: expected cf_ and the instance GUID with its dashes as underscores`);
    const served = this.options.settings.plans;
    const plan = served[request.plan];
    if (!plan) throw new NodeError(400, `unknown plan ${JSON.stringify(request.plan)}; this node serves ${Object.keys(served).join(', ')}`);
    if (request.version !== undefined && !SUPPORTED_VERSIONS.includes(request.version))
      throw new NodeError(400, `unsupported version ${JSON.stringify(request.version)}; this node serves ${SUPPORTED_VERSIONS.join(', ')}`);
    return this.locked(name, async () => {
      const existing = await this.instance(name);
      if (!existing) {
        await this.refreshStats();
        if (this.stats.databases >= this.options.settings.capacity) throw new NodeError(507, `node ${this.id} is full (${this.options.settings.capacity} databases)`);
        // Recorded first: every database of this node's naming that it made is in devbox_node.instances
        // (check_orphan lists only those), even when it stops between the two statements.
        await this.exec(`INSERT INTO ${META}.instances (name, plan) VALUES (?, ?) ON DUPLICATE KEY UPDATE name = name`, [name, plan.name]);
        await this.exec('CREATE DATABASE IF NOT EXISTS ?? CHARACTER SET utf8mb4', [name]);
        this.stats.databases++;
        this.options.log.info('provisioned', { name, plan: plan.name });
        // Announced before the reply: the gateway learns the new capacity before it provisions again.
        this.changes++;
        await this.announce();
      } else {
        // A retry: make sure the database is there (a half-done earlier attempt).
        await this.exec('CREATE DATABASE IF NOT EXISTS ?? CHARACTER SET utf8mb4', [name]);
      }
      return { success: true, credentials: this.baseCredentials(name) };
    });
  }

  async bind(request: BindRequest): Promise<NodeReply> {
    const { name, binding_id: bindingId } = request;
    if (!isDatabaseName(name)) throw new NodeError(400, `invalid database name ${JSON.stringify(name)}`);
    if (bindingId.length > 255) throw new NodeError(400, 'binding_id is longer than 255 characters');
    const username = userForBinding(bindingId);
    return this.locked(name, async () => {
      const instance = await this.instance(name);
      if (!instance) throw new NodeError(404, `no database ${name} on node ${this.id}`);
      const plan: Plan = plans()[instance.plan] ?? plans().small;
      const [bound] = await this.rows<{ name: string }>(`SELECT name FROM ${META}.bindings WHERE username = ?`, [username]);
      if (bound && bound.name !== name) throw new NodeError(409, `binding ${bindingId} already belongs to database ${bound.name}`);
      const password = passwordForBinding(this.secret, bindingId);
      const limit = Math.trunc(plan.maxUserConnections);
      await this.exec(`CREATE USER IF NOT EXISTS ?@? IDENTIFIED BY ? WITH MAX_USER_CONNECTIONS ${limit}`, [username, USER_HOST, password]);
      await this.exec(`ALTER USER ?@? IDENTIFIED BY ? WITH MAX_USER_CONNECTIONS ${limit}`, [username, USER_HOST, password]);
      await this.exec('GRANT ALL PRIVILEGES ON ??.* TO ?@?', [grantPattern(name), username, USER_HOST]);
      if (instance.quota_exceeded) await this.exec('REVOKE INSERT, UPDATE, CREATE ON ??.* FROM ?@?', [grantPattern(name), username, USER_HOST]);
      await this.exec(`INSERT INTO ${META}.bindings (username, name, binding_id) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE name = VALUES(name)`, [username, name, bindingId]);
      if (!bound) {
        this.stats.users++;
        this.options.log.info('bound', { name, username });
      }
      const { host, port } = this.options.address();
      return {
        success: true,
        credentials: {
          ...this.baseCredentials(name),
          username,
          password,
          uri: `mysql://${username}:${encodeURIComponent(password)}@${host}:${port}/${name}?reconnect=true`,
          jdbcUrl: `jdbc:mysql://${host}:${port}/${name}?user=${username}&password=${encodeURIComponent(password)}`,
        } satisfies MysqlCredentials,
      };
    });
  }

  async unbind(request: UnbindRequest): Promise<NodeReply> {
    const { username, name } = request.credentials;
    if (!isUserName(username)) throw new NodeError(400, `invalid username ${JSON.stringify(username)}: expected u and 15 hex digits`);
    if (name !== undefined && !isDatabaseName(name)) throw new NodeError(400, `invalid database name ${JSON.stringify(name)}`);
    const [bound] = await this.rows<{ name: string }>(`SELECT name FROM ${META}.bindings WHERE username = ?`, [username]);
    return this.locked(bound?.name ?? name ?? username, async () => {
      await this.dropUser(username);
      this.options.log.info('unbound', { name: bound?.name ?? name, username });
      return { success: true };
    });
  }

  async unprovision(request: UnprovisionRequest): Promise<NodeReply> {
    const { name } = request;
    if (!isDatabaseName(name)) throw new NodeError(400, `invalid database name ${JSON.stringify(name)}`);
    const extra = (request.bindings ?? []).map((b) => b.username).filter(isUserName);
    return this.locked(name, async () => {
      await this.dropDatabase(name, extra);
      this.options.log.info('unprovisioned', { name });
      this.changes++;
      await this.announce();
      return { success: true };
    });
  }

  /**
   * Moves the database to another plan this node serves, when its data fits the plan's size (422
   * otherwise: nothing changes). The bound users get the new plan's connection limit, and the new
   * size applies at once: a database that was over its old plan's size and fits the new one gets
   * its writes back now, not at the enforcer's next pass.
   */
  async update(request: UpdateRequest): Promise<NodeReply> {
    const { name } = request;
    if (!isDatabaseName(name)) throw new NodeError(400, `invalid database name ${JSON.stringify(name)}`);
    const served = this.options.settings.plans;
    const plan = served[request.plan];
    if (!plan) {
      // A plan of p-mysql this node does not offer (--plan): the change is not possible here.
      if (plans()[request.plan]) throw new NodeError(422, `node ${this.id} does not serve plan ${request.plan} (it serves ${Object.keys(served).join(', ')})`);
      throw new NodeError(400, `unknown plan ${JSON.stringify(request.plan)}; this node serves ${Object.keys(served).join(', ')}`);
    }
    return this.locked(name, async () => {
      if (!(await this.instance(name))) throw new NodeError(404, `no database ${name} on node ${this.id}`);
      const size = (await this.sizes()).get(name) ?? 0;
      if (size > plan.quotaBytes) {
        throw new NodeError(422, `the database holds ${megabytes(size)}, more than plan ${plan.name} allows (${megabytes(plan.quotaBytes)}); drop or truncate tables until it fits (InnoDB does not shrink on DELETE), then try again`);
      }
      await this.exec(`UPDATE ${META}.instances SET plan = ? WHERE name = ?`, [plan.name, name]);
      const limit = Math.trunc(plan.maxUserConnections);
      for (const username of await this.usersOf(name)) await this.exec(`ALTER USER IF EXISTS ?@? WITH MAX_USER_CONNECTIONS ${limit}`, [username, USER_HOST]);
      await this.applyQuota(name, size);
      await this.refreshStats();
      this.options.log.info('plan updated', { name, plan: plan.name });
      return { success: true };
    });
  }

  /**
   * The node's handles: every database it recorded in devbox_node.instances, with or without its
   * data, and any `cf_<32 hex>` database of the old naming on the server. A `cf_<guid>` database the
   * node did not make is not its handle: a shared server (DEVBOX_MYSQL_URL) may hold cf-mysql's.
   */
  private async ownDatabases(): Promise<Set<string>> {
    const recorded = (await this.rows<{ name: string }>(`SELECT name FROM ${META}.instances`)).map((r) => r.name).filter(isDatabaseName);
    const legacy = (await this.rows<{ name: string }>('SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA')).map((r) => r.name).filter(isLegacyDatabaseName);
    return new Set([...recorded, ...legacy]);
  }

  async checkOrphan(): Promise<OrphanCheckReply> {
    const databases = [...(await this.ownDatabases())];
    const users = [...new Set((await this.rows<{ user: string }>('SELECT User AS user FROM mysql.user')).map((r) => r.user).filter(isUserName))];
    return { node_id: this.id, databases: databases.sort(), users: users.sort() };
  }

  async purgeOrphan(request: PurgeOrphanRequest): Promise<NodeReply> {
    const own = await this.ownDatabases();
    const databases = request.databases.filter((name) => isDatabaseName(name) && own.has(name));
    const users = request.users.filter(isUserName);
    for (const name of databases) await this.locked(name, () => this.dropDatabase(name, []));
    for (const username of users) await this.dropUser(username);
    this.options.log.info('purged orphans', { databases: databases.length, users: users.length });
    return { success: true };
  }

  /** Drops the user (so it cannot come back), then kills its open connections. Absent is fine. */
  private async dropUser(username: string): Promise<void> {
    await this.exec('DROP USER IF EXISTS ?@?', [username, USER_HOST]);
    await this.killConnections([username]);
    await this.exec(`DELETE FROM ${META}.bindings WHERE username = ?`, [username]);
    await this.refreshStats();
  }

  private async usersOf(name: string): Promise<string[]> {
    const ours = (await this.rows<{ username: string }>(`SELECT username FROM ${META}.bindings WHERE name = ?`, [name])).map((r) => r.username);
    const granted = (await this.rows<{ user: string }>('SELECT User AS user FROM mysql.db WHERE Db = ?', [grantPattern(name)])).map((r) => r.user);
    return [...new Set([...ours, ...granted])].filter(isUserName);
  }

  private async dropDatabase(name: string, extraUsers: string[]): Promise<void> {
    const users = [...new Set([...(await this.usersOf(name)), ...extraUsers])];
    for (const username of users) await this.exec('DROP USER IF EXISTS ?@?', [username, USER_HOST]);
    await this.killConnections(users);
    await this.exec('DROP DATABASE IF EXISTS ??', [name]);
    await this.exec(`DELETE FROM ${META}.bindings WHERE name = ?`, [name]);
    if (users.length) await this.exec(`DELETE FROM ${META}.bindings WHERE username IN (?)`, [users]);
    await this.exec(`DELETE FROM ${META}.instances WHERE name = ?`, [name]);
    await this.refreshStats();
  }

  private async killConnections(users: string[]): Promise<number> {
    if (!users.length) return 0;
    const sessions = await this.rows<{ id: number }>('SELECT ID AS id FROM information_schema.PROCESSLIST WHERE USER IN (?)', [users]);
    let killed = 0;
    for (const { id } of sessions) {
      try {
        await this.exec('KILL CONNECTION ?', [Number(id)]);
        killed++;
      } catch {
        // it ended meanwhile
      }
    }
    return killed;
  }

  /** Bytes per database: InnoDB's data+index length, or the tablespace files when they say more. */
  async sizes(): Promise<Map<string, number>> {
    const sizes = new Map<string, number>();
    const tables = await this.rows<{ name: string; size: string | number | null }>(
      "SELECT TABLE_SCHEMA AS name, SUM(COALESCE(DATA_LENGTH, 0) + COALESCE(INDEX_LENGTH, 0)) AS size FROM information_schema.TABLES WHERE TABLE_SCHEMA LIKE 'cf\\_%' GROUP BY TABLE_SCHEMA",
    );
    for (const row of tables) sizes.set(row.name, Number(row.size ?? 0));
    try {
      const files = await this.rows<{ name: string; size: string | number | null }>(
        "SELECT SUBSTRING_INDEX(NAME, '/', 1) AS name, SUM(ALLOCATED_SIZE) AS size FROM information_schema.INNODB_SYS_TABLESPACES WHERE NAME LIKE 'cf\\_%/%' GROUP BY SUBSTRING_INDEX(NAME, '/', 1)",
      );
      for (const row of files) sizes.set(row.name, Math.max(sizes.get(row.name) ?? 0, Number(row.size ?? 0)));
    } catch {
      // MySQL names this table differently; data+index length alone then.
    }
    return sizes;
  }

  /** One pass of the quota enforcer: revoke writes from databases over their plan's size, restore under it. */
  async enforceQuotas(): Promise<void> {
    if (this.stopped) return;
    const instances = await this.rows<{ name: string; plan: string; quota_exceeded: number }>(`SELECT name, plan, quota_exceeded FROM ${META}.instances`);
    const sizes = await this.sizes();
    const all = plans();
    for (const instance of instances) {
      if (!isDatabaseName(instance.name)) continue;
      const plan = all[instance.plan] ?? all.small;
      const size = sizes.get(instance.name) ?? 0;
      if (size > plan.quotaBytes === !!instance.quota_exceeded) continue;
      await this.locked(instance.name, () => this.applyQuota(instance.name, size));
    }
    await this.refreshStats();
  }

  /**
   * Revokes or restores the writes of a database's users by its size against its plan's, as the row
   * says now (an update may have changed the plan since the size was measured). Call it holding the
   * database's lock.
   */
  private async applyQuota(name: string, size: number): Promise<void> {
    const instance = await this.instance(name);
    if (!instance) return;
    const all = plans();
    const plan = all[instance.plan] ?? all.small;
    const over = size > plan.quotaBytes;
    if (over === !!instance.quota_exceeded) return;
    const users = await this.usersOf(name);
    for (const username of users) {
      try {
        if (over) await this.exec('REVOKE INSERT, UPDATE, CREATE ON ??.* FROM ?@?', [grantPattern(name), username, USER_HOST]);
        else await this.exec('GRANT INSERT, UPDATE, CREATE ON ??.* TO ?@?', [grantPattern(name), username, USER_HOST]);
      } catch (error) {
        this.options.log.warn('changing a user’s rights failed', { name, username, error: (error as Error).message });
      }
    }
    // Rights are checked at statement time, but kill sessions anyway so no open transaction
    // keeps writing past the quota.
    if (over) await this.killConnections(users);
    await this.exec(`UPDATE ${META}.instances SET quota_exceeded = ? WHERE name = ?`, [over ? 1 : 0, name]);
    this.options.log.info(over ? 'quota exceeded: writes revoked' : 'back under quota: writes restored', { name, size, quota: plan.quotaBytes });
  }
}
