// Staging: the one owner of the build and droplet state machines.
//   build:   STAGING → STAGED | FAILED
//   droplet: STAGING → STAGED (its bits uploaded by the DEA) | FAILED
// A build of an unchanged app gets a copy of the droplet it already has, STAGED at once (droplet
// reuse, docs/push.md); otherwise a DEA stages it (runner.stage) and uploads the droplet here.
import { unprocessable } from '../errors.js';
import { newGuid, now, type ControllerContext, type RequestContext } from '../context.js';
import type { BuildCreateMessage } from '../messages/builds.js';
import { findAppProcess, getApp, insertProcess, listProcessesOfApp, updateApp, type AppRow } from '../repositories/apps.js';
import {
  findAppDroplet,
  findDropletByStagingKey,
  getBuild,
  insertBuild,
  insertDroplet,
  markBuildFailed,
  markBuildStaged,
  markDropletFailed,
  markDropletUploaded,
  packageStagedBefore,
  recordDropletStaging,
  setBuildDroplet,
  stagingBuildsBefore,
  type BuildRow,
  type DropletRow,
} from '../repositories/droplets.js';
import { findPackage } from '../repositories/packages.js';
import { jsonColumn, type Db } from '../repositories/query.js';
import { StagingFailure } from '../runner/runner.js';
import { stagingKey } from '../runner/staging-key.js';
import { apiLog, newProcess } from './apps.js';
import { recordAppEvent } from './audit.js';

type Context = Pick<ControllerContext, 'db' | 'runner' | 'componentUrls' | 'appLog' | 'log' | 'counters'>;

const stagingLog = (ctx: Pick<ControllerContext, 'appLog'>, appGuid: string, message: string, type: 'OUT' | 'ERR' = 'OUT') => ctx.appLog(appGuid, { source: 'STG', message, type });

/** Creates a build of a READY package: STAGED at once when the droplet can be reused, else staged on a DEA in the background. */
export async function createBuild(ctx: RequestContext & Context, message: BuildCreateMessage): Promise<BuildRow> {
  const pkg = await findPackage(ctx.db, message.packageGuid);
  if (!pkg) throw unprocessable('Unable to use package. Ensure that the package exists and you have access to it.');
  if (pkg.state !== 'READY') throw unprocessable(`Unable to stage the package: it is not uploaded yet (state ${pkg.state}).`);
  const app = await getApp(ctx.db, pkg.app_guid);
  const web = await findAppProcess(ctx.db, app.guid, 'web');
  const at = now();
  const row: BuildRow = {
    guid: newGuid(),
    app_guid: app.guid,
    package_guid: pkg.guid,
    droplet_guid: null,
    state: 'STAGING',
    error: null,
    buildpacks: JSON.stringify(message.buildpacks ?? jsonColumn('apps', app, 'buildpacks', [] as string[])),
    staging_memory_in_mb: message.stagingMemoryInMb ?? Math.max(1024, web?.memory_in_mb ?? 0),
    staging_disk_in_mb: message.stagingDiskInMb ?? Math.max(2048, web?.disk_in_mb ?? 0),
    created_by: JSON.stringify({ guid: ctx.actor.guid, name: ctx.actor.name, email: '' }),
    created_at: at,
    updated_at: at,
  };
  await ctx.db.transaction().execute(async (trx) => {
    await insertBuild(trx, row);
    await recordAppEvent(trx, ctx.actor, app, 'audit.app.build.create', { build_guid: row.guid, package_guid: pkg.guid });
  });
  apiLog(ctx, app.guid, `Creating build for app with guid ${app.guid}`);
  // An unchanged app's build is STAGED at once with the droplet it already has (docs/push.md).
  const reused = await reuseDroplet(ctx, row, app);
  if (reused) return reused;
  void stage(ctx, row, app).catch((error: Error) => ctx.log.error('staging failed', { build: row.guid, error: error.message }));
  return row;
}

/** What staging the build would start from (staging-key.ts); undefined when it must always stage. */
async function stagingKeyOf(db: Db, build: BuildRow, app: AppRow): Promise<string | undefined> {
  const pkg = await findPackage(db, build.package_guid);
  const web = await findAppProcess(db, app.guid, 'web');
  return stagingKey({ packageChecksum: pkg?.checksum ?? null, buildpacks: jsonColumn('builds', build, 'buildpacks', [] as string[]), environment: app.environment_variables, startCommand: web?.command ?? null, stack: app.stack });
}

/**
 * A package staged for the first time whose staging key equals that of one of the app's STAGED
 * droplets gets a copy of that droplet (same bits, same process types) and the build is STAGED. A
 * package staged before (restage) is always staged again: that is what restage asks for.
 */
async function reuseDroplet(ctx: Context, build: BuildRow, app: AppRow): Promise<BuildRow | undefined> {
  const key = await stagingKeyOf(ctx.db, build, app);
  if (key === undefined || (await packageStagedBefore(ctx.db, build.package_guid, build.guid))) return undefined;
  const earlier = await findDropletByStagingKey(ctx.db, app.guid, key);
  if (!earlier) return undefined;
  const at = now();
  const guid = newGuid();
  await ctx.db.transaction().execute(async (trx) => {
    // The copy keeps the staging time of the bits (an earlier copy's own, by induction the original's):
    // what the message below and the app's `last uploaded` tell.
    await insertDroplet(trx, { ...earlier, guid, package_guid: build.package_guid, created_at: earlier.created_at, updated_at: at });
    await markBuildStaged(trx, build.guid, guid, at);
  });
  ctx.counters.stagings_reused++;
  stagingLog(ctx, app.guid, `Files, buildpacks and environment are unchanged: reusing the droplet staged ${earlier.created_at} instead of staging again ('restage' stages anew)`);
  ctx.log.info('droplet reused', { app: app.guid, build: build.guid, from: earlier.guid, droplet: guid });
  return getBuild(ctx.db, build.guid);
}

/** Stages the build on a DEA and records the outcome; resolves when staging has finished. */
export async function stage(ctx: Context, build: BuildRow, app: AppRow): Promise<void> {
  const web = await findAppProcess(ctx.db, app.guid, 'web');
  const key = await stagingKeyOf(ctx.db, build, app);
  const dropletGuid = newGuid();
  const at = now();
  await ctx.db.transaction().execute(async (trx) => {
    await insertDroplet(trx, { guid: dropletGuid, app_guid: app.guid, package_guid: build.package_guid, state: 'STAGING', error: null, process_types: '{}', buildpacks: '[]', stack: app.stack, sha1: null, bytes: 0, staging_key: null, created_at: at, updated_at: at });
    await setBuildDroplet(trx, build.guid, dropletGuid, at);
  });
  ctx.counters.stagings++;
  try {
    const result = await ctx.runner.stage(
      {
        app_id: app.guid,
        task_id: build.guid,
        package_guid: build.package_guid,
        droplet_guid: dropletGuid,
        package_download_uri: `${ctx.componentUrls.api}/v3/packages/${build.package_guid}/download`,
        droplet_upload_uri: `${ctx.componentUrls.api}/v3/droplets/${dropletGuid}/upload`,
        buildpacks: jsonColumn('builds', build, 'buildpacks', [] as string[]),
        environment: jsonColumn('apps', app, 'environment_variables', {} as Record<string, string>),
        start_command: web?.command ?? null,
        memory_limit: build.staging_memory_in_mb,
        disk_limit: build.staging_disk_in_mb,
        stack: app.stack,
      },
      build.staging_memory_in_mb,
      app.stack,
    );
    const droplet = await findAppDroplet(ctx.db, app.guid, dropletGuid);
    if (droplet?.state !== 'STAGED') throw new StagingFailure('StagingError', 'the droplet was not uploaded');
    const processTypes = result.process_types ?? (result.start_command ? { web: result.start_command } : {});
    const buildpack = result.buildpack_name ?? result.detected_buildpack ?? 'unknown';
    const done = now();
    await ctx.db.transaction().execute(async (trx) => {
      await recordDropletStaging(trx, dropletGuid, { process_types: JSON.stringify(processTypes), buildpacks: JSON.stringify([{ name: buildpack, detect_output: result.detected_buildpack ?? null, buildpack_name: buildpack, version: null }]), staging_key: key ?? null }, done);
      await markBuildStaged(trx, build.guid, dropletGuid, done);
    });
    ctx.log.info('staged', { app: app.guid, build: build.guid, buildpack });
  } catch (error) {
    if (!(error instanceof StagingFailure)) throw error;
    ctx.counters.staging_failures++;
    const message = `${error.id} - ${error.message}`;
    await failStaging(ctx.db, build.guid, dropletGuid, message);
    stagingLog(ctx, app.guid, `Staging failed: ${message}`, 'ERR');
  }
}

async function failStaging(db: Db, buildGuid: string, dropletGuid: string | null, error: string): Promise<void> {
  const at = now();
  await db.transaction().execute(async (trx) => {
    await markBuildFailed(trx, buildGuid, error, at);
    if (dropletGuid) await markDropletFailed(trx, dropletGuid, error, at);
  });
}

/** The DEA's upload of the droplet it staged: STAGING → STAGED with its bits. */
export async function dropletUploaded(db: Db, droplet: DropletRow, bits: { sha1: string; bytes: number }): Promise<DropletRow> {
  const at = now();
  await markDropletUploaded(db, droplet.guid, bits, at);
  return { ...droplet, state: 'STAGED', sha1: bits.sha1, bytes: bits.bytes, updated_at: at };
}

/**
 * Builds left STAGING by a controller that died while staging them (kill -9: nothing answers their
 * DEA's reply any more) are FAILED, with their droplets, so that nobody waits for them. Alone on
 * its database a controller at start knows every STAGING build is such (`olderThanMs` 0); on a
 * shared one only builds older than the staging timeout can be.
 */
export async function failAbandonedBuilds(ctx: Pick<ControllerContext, 'db' | 'log'>, olderThanMs: number): Promise<number> {
  const cutoff = new Date(Date.now() - olderThanMs).toISOString();
  const abandoned = await stagingBuildsBefore(ctx.db, cutoff);
  for (const build of abandoned) {
    await failStaging(ctx.db, build.guid, build.droplet_guid, 'StagingError - staging was cut off: the controller staging it stopped. Push or restage again.');
    ctx.log.warn('failed a build left staging by a stopped controller', { build: build.guid, app: build.app_guid });
  }
  return abandoned.length;
}

/**
 * Makes a STAGED droplet of the app its current one; running instances keep theirs until a restart.
 * Every process type the droplet names (its Procfile's, its buildpack's) gets a process if the app
 * has none of that type yet, with no instances but web's one, as in Cloud Controller.
 */
export async function assignDroplet(ctx: RequestContext, app: AppRow, dropletGuid: string): Promise<DropletRow> {
  const droplet = await findAppDroplet(ctx.db, app.guid, dropletGuid);
  if (!droplet) throw unprocessable('Unable to assign current droplet. Ensure the droplet exists and belongs to this app.');
  if (droplet.state !== 'STAGED') throw unprocessable(`Unable to assign current droplet: the droplet is ${droplet.state}, not STAGED.`);
  const types = Object.keys(jsonColumn('droplets', droplet, 'process_types', {} as Record<string, string>));
  await ctx.db.transaction().execute(async (trx) => {
    const at = now();
    await updateApp(trx, app.guid, { droplet_guid: droplet.guid, updated_at: at });
    const existing = new Set((await listProcessesOfApp(trx, app.guid)).map((p) => p.type));
    for (const type of types.filter((t) => !existing.has(t))) await insertProcess(trx, newProcess(ctx, app.guid, type, at));
    await recordAppEvent(trx, ctx.actor, app, 'audit.app.droplet.mapped', { request: { droplet_guid: droplet.guid } });
  });
  return droplet;
}
