// The controller's side of running apps (docs/dea-protocol.md): staging builds on a DEA, starting
// and stopping instances, following the health manager's decisions, recording crashes, and asking
// the DEAs for instance stats.
import { RequestStrategy } from 'nats';
import type { Kysely } from 'kysely';
import { publishAppLog } from '../../common/app-log.js';
import { decodeJson, encodeJson, publishJson, subscribeJson, type NatsConnection } from '../../common/bus.js';
import type { Logger } from '../../common/log.js';
import type { Database } from '../db/schema.js';
import { serviceEntries } from '../services/vcap.js';
import { newGuid, now, parseJson, type Urls } from '../context.js';
import { appUris } from '../resources/apps.js';
import { recordEvent } from '../resources/audit-events.js';
import { DeaPool, type Advertisement } from './dea-pool.js';
import { stagingKey } from './staging-key.js';

export const STAGING_TIMEOUT_MS = 15 * 60 * 1000;
const SYSTEM_ACTOR = { guid: 'health_manager', type: 'client' as const, name: 'health_manager' };

export interface StagingReply {
  task_id: string;
  detected_buildpack?: string;
  buildpack_name?: string;
  start_command?: string;
  process_types?: Record<string, string>;
  droplet_sha1?: string;
  error?: { id: string; message: string };
}

export interface InstanceStats {
  dea: string;
  droplet: string;
  version: string;
  instance: string;
  index: number;
  state: string;
  state_timestamp: number;
  stats?: {
    name?: string;
    uris?: string[];
    host?: string;
    port?: number;
    uptime?: number;
    mem_quota?: number;
    disk_quota?: number;
    fds_quota?: number;
    usage?: { cpu?: number; mem?: number; disk?: number; time?: string };
  };
}

interface DropletExited {
  droplet: string;
  version?: string;
  instance?: string;
  index?: number;
  reason?: string;
  exit_status?: number;
  exit_description?: string;
}

export class Runner {
  readonly pool = new DeaPool();
  readonly counters = { stagings: 0, stagings_reused: 0, staging_failures: 0, starts_sent: 0, stops_sent: 0, crashes: 0 };

  constructor(
    readonly db: Kysely<Database>,
    private readonly bus: NatsConnection,
    private readonly urls: Urls,
    private readonly log: Logger,
  ) {}

  start(): void {
    subscribeJson<Advertisement>(this.bus, 'dea.advertise', (ad) => this.pool.advertise(ad), { log: this.log });
    subscribeJson<{ id?: unknown }>(this.bus, 'dea.shutdown', (msg) => {
      if (typeof msg.id === 'string') this.pool.remove(msg.id);
    }, { log: this.log });
    subscribeJson<{ droplet: string; indices?: number[]; version?: string }>(this.bus, 'health.start', (msg) => this.onHealthStart(msg), { log: this.log, queue: 'controllers' });
    subscribeJson<{ droplet: string; instances?: string[]; version?: string }>(this.bus, 'health.stop', (msg) => this.onHealthStop(msg), { log: this.log, queue: 'controllers' });
    subscribeJson<DropletExited>(this.bus, 'droplet.exited', (msg) => this.onExited(msg), { log: this.log, queue: 'controllers' });
    // DEAs that started before us advertise again within an interval; ask now to be ready sooner.
    this.bus.publish('dea.locate', encodeJson({}));
  }

  private appLog(appGuid: string, source: 'API' | 'STG', message: string, type: 'OUT' | 'ERR' = 'OUT') {
    publishAppLog(this.bus, { app_guid: appGuid, source_type: source, source_instance: '0', message_type: type, message });
  }

  /**
   * Builds left STAGING by a controller that died while staging them (kill -9: nothing answers their
   * DEA's reply any more) are FAILED, with their droplets, so that nobody waits for them. Alone on
   * its database a controller at start knows every STAGING build is such (`olderThanMs` 0); on a
   * shared one only builds older than the staging timeout can be.
   */
  async failAbandonedBuilds(olderThanMs: number): Promise<number> {
    const cutoff = new Date(Date.now() - olderThanMs).toISOString();
    const abandoned = await this.db.selectFrom('builds').select(['guid', 'app_guid', 'droplet_guid']).where('state', '=', 'STAGING').where('created_at', '<=', cutoff).execute();
    const error = 'StagingError - staging was cut off: the controller staging it stopped. Push or restage again.';
    for (const build of abandoned) {
      await this.db.updateTable('builds').set({ state: 'FAILED', error, updated_at: now() }).where('guid', '=', build.guid).where('state', '=', 'STAGING').execute();
      if (build.droplet_guid) await this.db.updateTable('droplets').set({ state: 'FAILED', error, updated_at: now() }).where('guid', '=', build.droplet_guid).where('state', '!=', 'STAGED').execute();
      this.log.warn('failed a build left staging by a stopped controller', { build: build.guid, app: build.app_guid });
    }
    return abandoned.length;
  }

  /** Sends the build to a DEA and records the outcome; resolves when staging has finished. */
  async stage(buildGuid: string): Promise<void> {
    const build = await this.db.selectFrom('builds').selectAll().where('guid', '=', buildGuid).executeTakeFirstOrThrow();
    if (build.state !== 'STAGING' || build.droplet_guid !== null) return; // reused, or staged already
    const app = await this.db.selectFrom('apps').selectAll().where('guid', '=', build.app_guid).executeTakeFirstOrThrow();
    const web = await this.db.selectFrom('processes').selectAll().where('app_guid', '=', app.guid).where('type', '=', 'web').executeTakeFirst();
    const key = await this.stagingKeyOf(build, app, web);
    const dropletGuid = newGuid();
    const at = now();
    await this.db.insertInto('droplets').values({ guid: dropletGuid, app_guid: app.guid, package_guid: build.package_guid, state: 'STAGING', error: null, process_types: '{}', buildpacks: '[]', stack: app.stack, sha1: null, bytes: 0, staging_key: null, created_at: at, updated_at: at }).execute();
    await this.db.updateTable('builds').set({ droplet_guid: dropletGuid, updated_at: at }).where('guid', '=', build.guid).execute();
    this.counters.stagings++;
    const fail = async (id: string, message: string) => {
      this.counters.staging_failures++;
      const error = `${id} - ${message}`;
      await this.db.updateTable('builds').set({ state: 'FAILED', error, updated_at: now() }).where('guid', '=', build.guid).execute();
      await this.db.updateTable('droplets').set({ state: 'FAILED', error, updated_at: now() }).where('guid', '=', dropletGuid).execute();
      this.appLog(app.guid, 'STG', `Staging failed: ${error}`, 'ERR');
    };
    const dea = this.pool.stager(build.staging_memory_in_mb, app.stack);
    if (!dea) return fail('InsufficientResources', 'no DEA is available to stage the app; is the dea component running? (devbox status)');
    const request = {
      app_id: app.guid,
      task_id: build.guid,
      package_guid: build.package_guid,
      droplet_guid: dropletGuid,
      package_download_uri: `${this.urls.api}/v3/packages/${build.package_guid}/download`,
      droplet_upload_uri: `${this.urls.api}/v3/droplets/${dropletGuid}/upload`,
      buildpacks: parseJson<string[]>(build.buildpacks, []),
      environment: parseJson<Record<string, string>>(app.environment_variables, {}),
      start_command: web?.command ?? null,
      memory_limit: build.staging_memory_in_mb,
      disk_limit: build.staging_disk_in_mb,
      stack: app.stack,
    };
    this.log.info('staging', { app: app.guid, build: build.guid, dea });
    let reply: StagingReply | undefined;
    try {
      const msg = await this.bus.request(`staging.${dea}.start`, encodeJson(request), { timeout: STAGING_TIMEOUT_MS });
      reply = decodeJson<StagingReply>(msg.data);
    } catch (error) {
      return fail('StagingError', `the DEA ${dea} did not answer: ${(error as Error).message}`);
    }
    if (!reply) return fail('StagingError', 'the DEA sent an unreadable staging reply');
    if (reply.error) return fail(reply.error.id, reply.error.message);
    const droplet = await this.db.selectFrom('droplets').select(['state', 'sha1']).where('guid', '=', dropletGuid).executeTakeFirst();
    if (droplet?.state !== 'STAGED') return fail('StagingError', 'the droplet was not uploaded');
    const processTypes = reply.process_types ?? (reply.start_command ? { web: reply.start_command } : {});
    const buildpack = reply.buildpack_name ?? reply.detected_buildpack ?? 'unknown';
    await this.db
      .updateTable('droplets')
      .set({ process_types: JSON.stringify(processTypes), buildpacks: JSON.stringify([{ name: buildpack, detect_output: reply.detected_buildpack ?? null, buildpack_name: buildpack, version: null }]), staging_key: key ?? null, updated_at: now() })
      .where('guid', '=', dropletGuid)
      .execute();
    await this.db.updateTable('builds').set({ state: 'STAGED', updated_at: now() }).where('guid', '=', build.guid).execute();
    this.log.info('staged', { app: app.guid, build: build.guid, buildpack });
  }

  /** What staging the build would start from (staging-key.ts); undefined when it must always stage. */
  private async stagingKeyOf(
    build: { package_guid: string; buildpacks: string },
    app: { environment_variables: string; stack: string },
    web: { command: string | null } | undefined,
  ): Promise<string | undefined> {
    const pkg = await this.db.selectFrom('packages').select('checksum').where('guid', '=', build.package_guid).executeTakeFirst();
    return stagingKey({ packageChecksum: pkg?.checksum ?? null, buildpacks: parseJson<string[]>(build.buildpacks, []), environment: app.environment_variables, startCommand: web?.command ?? null, stack: app.stack });
  }

  /**
   * Called when a build is created, before staging: a package staged for the first time whose
   * staging key equals that of one of the app's STAGED droplets gets a copy of that droplet (same
   * bits, same process types) and the build is STAGED before the API answers. A package staged
   * before (restage) is always staged again: that is what restage asks for.
   */
  async reuseDroplet(build: { guid: string; app_guid: string; package_guid: string; buildpacks: string }): Promise<boolean> {
    const app = await this.db.selectFrom('apps').select(['environment_variables', 'stack']).where('guid', '=', build.app_guid).executeTakeFirst();
    if (!app) return false;
    const web = await this.db.selectFrom('processes').select('command').where('app_guid', '=', build.app_guid).where('type', '=', 'web').executeTakeFirst();
    const key = await this.stagingKeyOf(build, app, web);
    if (key === undefined) return false;
    const stagedBefore = await this.db.selectFrom('builds').select('guid').where('package_guid', '=', build.package_guid).where('guid', '!=', build.guid).executeTakeFirst();
    if (stagedBefore) return false;
    const earlier = await this.db
      .selectFrom('droplets')
      .selectAll()
      .where('app_guid', '=', build.app_guid)
      .where('staging_key', '=', key)
      .where('state', '=', 'STAGED')
      .where('sha1', 'is not', null)
      .orderBy('created_at', 'desc')
      .executeTakeFirst();
    if (!earlier) return false;
    const at = now();
    const guid = newGuid();
    await this.db.insertInto('droplets').values({ ...earlier, guid, package_guid: build.package_guid, created_at: at, updated_at: at }).execute();
    await this.db.updateTable('builds').set({ droplet_guid: guid, state: 'STAGED', updated_at: at }).where('guid', '=', build.guid).execute();
    this.counters.stagings_reused++;
    this.appLog(build.app_guid, 'STG', `Files, buildpacks and environment are unchanged: reusing the droplet staged ${earlier.created_at} instead of staging again ('restage' stages anew)`);
    this.log.info('droplet reused', { app: build.app_guid, build: build.guid, from: earlier.guid, droplet: guid });
    return true;
  }

  /** Starts the given indices of the app's web process on the DEAs chosen by placement. */
  async startInstances(appGuid: string, indices: number[]): Promise<void> {
    const app = await this.db.selectFrom('apps').selectAll().where('guid', '=', appGuid).executeTakeFirst();
    if (!app || app.state !== 'STARTED' || !app.droplet_guid) return;
    const web = await this.db.selectFrom('processes').selectAll().where('app_guid', '=', app.guid).where('type', '=', 'web').executeTakeFirst();
    const droplet = await this.db.selectFrom('droplets').selectAll().where('guid', '=', app.droplet_guid).executeTakeFirst();
    if (!web || !droplet || droplet.state !== 'STAGED') return;
    const space = await this.db.selectFrom('spaces').selectAll().where('guid', '=', app.space_guid).executeTakeFirstOrThrow();
    const org = await this.db.selectFrom('organizations').selectAll().where('guid', '=', space.organization_guid).executeTakeFirstOrThrow();
    const uris = await appUris(this, app.guid);
    const processTypes = parseJson<Record<string, string>>(droplet.process_types, {});
    const command = web.command ?? processTypes.web;
    const limits = { mem: web.memory_in_mb, disk: web.disk_in_mb, fds: 16384 };
    const vcapApplication = {
      application_id: app.guid,
      application_name: app.name,
      application_uris: uris,
      application_version: web.version,
      cf_api: this.urls.api,
      limits,
      name: app.name,
      organization_id: org.guid,
      organization_name: org.name,
      space_id: space.guid,
      space_name: space.name,
      process_id: web.guid,
      process_type: web.type,
      uris,
      users: null,
      version: web.version,
    };
    const services = await serviceEntries(this.db, app.guid);
    for (const index of indices) {
      if (index >= web.instances) continue;
      const dea = this.pool.place(app.guid, web.memory_in_mb, app.stack);
      if (!dea) {
        this.appLog(app.guid, 'API', `Cannot start instance ${index}: no DEA has ${web.memory_in_mb}M free (devbox status shows the DEAs)`, 'ERR');
        continue;
      }
      publishJson(this.bus, `dea.${dea}.start`, {
        droplet: app.guid,
        version: web.version,
        name: app.name,
        index,
        process_guid: web.guid,
        process_type: web.type,
        space_guid: space.guid,
        uris,
        limits,
        env: parseJson<Record<string, string>>(app.environment_variables, {}),
        services,
        start_command: command,
        health_check_type: web.health_check_type,
        health_check_http_endpoint: web.health_check_endpoint,
        health_check_timeout: web.health_check_timeout ?? 60,
        vcap_application: vcapApplication,
        executableUri: `${this.urls.api}/v3/droplets/${droplet.guid}/download`,
        sha1: droplet.sha1,
        droplet_guid: droplet.guid,
      });
      this.counters.starts_sent++;
    }
  }

  /** Starts every instance of a started app (after start, restart, or a new droplet). */
  async startApp(appGuid: string): Promise<void> {
    const web = await this.db.selectFrom('processes').select('instances').where('app_guid', '=', appGuid).where('type', '=', 'web').executeTakeFirst();
    if (web) await this.startInstances(appGuid, [...Array(web.instances).keys()]);
  }

  stopApp(appGuid: string, filter: { indices?: number[]; instances?: string[] } = {}): void {
    publishJson(this.bus, 'dea.stop', { droplet: appGuid, ...filter });
    this.counters.stops_sent++;
  }

  /** Tells the DEAs the app's routes changed, so running instances are registered under them. */
  async routesChanged(appGuid: string): Promise<void> {
    publishJson(this.bus, 'dea.update', { droplet: appGuid, uris: await appUris(this, appGuid) });
  }

  /**
   * Stats of every instance of an app, gathered from the DEAs for up to `waitMs`. With `running`,
   * the gathering ends as soon as each of its indices has a RUNNING instance of its version: no
   * later reply can change the answer, and a push polls this until then.
   */
  async instances(appGuid: string, waitMs = 500, running?: { version: string; instances: number }): Promise<InstanceStats[]> {
    const found: InstanceStats[] = [];
    if (this.pool.size() === 0) return found;
    const runningIndices = new Set<number>();
    try {
      // Stop 50 ms after the last reply: the DEAs answer together, so waiting out waitMs is only
      // needed when nobody has an instance.
      const replies = await this.bus.requestMany('dea.find.droplet', encodeJson({ droplet: appGuid, include_stats: true }), { strategy: RequestStrategy.JitterTimer, jitter: 50, maxWait: waitMs });
      for await (const msg of replies) {
        const stats = decodeJson<InstanceStats>(msg.data);
        if (!stats || stats.droplet !== appGuid) continue;
        found.push(stats);
        if (running && stats.state === 'RUNNING' && stats.version === running.version && stats.index < running.instances) {
          runningIndices.add(stats.index);
          if (runningIndices.size === running.instances) break;
        }
      }
    } catch {
      // no DEA answered: no instances
    }
    return found;
  }

  private async onHealthStart(msg: { droplet: string; indices?: number[]; version?: string }) {
    if (typeof msg.droplet !== 'string' || !Array.isArray(msg.indices)) return;
    const web = await this.db.selectFrom('processes').select('version').where('app_guid', '=', msg.droplet).where('type', '=', 'web').executeTakeFirst();
    if (!web || (msg.version && msg.version !== web.version)) return;
    await this.startInstances(msg.droplet, msg.indices.filter((i) => Number.isInteger(i) && i >= 0));
  }

  private onHealthStop(msg: { droplet: string; instances?: string[] }) {
    if (typeof msg.droplet !== 'string' || !Array.isArray(msg.instances) || msg.instances.length === 0) return;
    this.stopApp(msg.droplet, { instances: msg.instances.filter((i) => typeof i === 'string') });
  }

  private async onExited(msg: DropletExited) {
    if (msg.reason !== 'CRASHED' || typeof msg.droplet !== 'string') return;
    const app = await this.db.selectFrom('apps').selectAll().where('guid', '=', msg.droplet).executeTakeFirst();
    if (!app) return;
    this.counters.crashes++;
    const space = await this.db.selectFrom('spaces').select('organization_guid').where('guid', '=', app.space_guid).executeTakeFirst();
    // As Cloud Controller records and announces a crash: the process is the actor, and the app's
    // log stream gets an API line.
    const web = await this.db.selectFrom('processes').select(['guid', 'type']).where('app_guid', '=', app.guid).where('type', '=', 'web').executeTakeFirst();
    const type = web?.type ?? 'web';
    this.appLog(app.guid, 'API', `Process has crashed with type: "${type}"`, 'ERR');
    await recordEvent(this.db, {
      type: 'audit.app.process.crash',
      actor: { guid: web?.guid ?? app.guid, type: 'process', name: type },
      target: { guid: app.guid, type: 'app', name: app.name },
      spaceGuid: app.space_guid,
      organizationGuid: space?.organization_guid,
      data: { instance: msg.instance, index: msg.index, reason: msg.reason, exit_status: msg.exit_status, exit_description: msg.exit_description },
    });
  }
}

export { SYSTEM_ACTOR };
