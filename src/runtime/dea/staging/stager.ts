// One staging task (`staging.<dea id>.start`): download the package, run the buildpack(s) in a
// container of the staging's own, tar the droplet, upload it, and say how it went. Every line goes
// to the app's logs as STG.
//
// The container is what Cloud Foundry gives a stager (docs/dea.md, "Staging"): the app at /tmp/app,
// the deps at /tmp/deps, the app's buildpack caches under /tmp/cache, the buildpacks read-only under
// /tmp/buildpacks, a home of its own at /home/vcap, as the containers' unprivileged user, with only
// the environment a stager gets. The DEA itself downloads, unpacks, tars and uploads.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { stringify as toYaml } from 'yaml';
import { publishAppLog } from '../../common/app-log.js';
import type { NatsConnection } from '../../common/bus.js';
import type { StagingReply, StagingRequest } from '../../common/bus-messages.js';
import type { Logger } from '../../common/log.js';
import { waitFor } from '../../common/poll.js';
import { createTarball, extractTarball } from '../archive.js';
import { CONTAINER_HOME, type Container, type Containers, type Mount } from '../containers/container.js';
import { baseEnv } from '../instances/env.js';
import type { DeaPaths } from '../paths.js';
import { downloadToFile, uploadFile } from '../transfer.js';
import type { TokenSource } from '../uaa-client.js';
import { build, buildpackMount, builtinBuildpacks, detect, readProcfile, release, resolveBuildpack, type Buildpack, type Place, type StagingSpace } from './buildpacks.js';
import { StagingFailure } from './errors.js';

export interface StagerDeps {
  paths: DeaPaths;
  nc: NatsConnection;
  log: Logger;
  auth: TokenSource;
  builtinDir: string;
  timeoutMs: number;
  signal: AbortSignal;
  /** The app caches in use by a running staging (two stagings of one app must not share one). */
  cachesInUse: Set<string>;
  /** The DEA's containers: each staging runs in one of its own. */
  containers: Containers;
}

const MB = 1024 * 1024;
/** A staging gets at least this much memory, whatever the app's limit (Cloud Foundry's minimum_staging_memory_mb). */
export const MIN_STAGING_MEMORY_MB = 1024;
/** Processes (and threads) a staging may have, where there is a pids cgroup. */
export const STAGING_PIDS_LIMIT = 1024;

export const formatSize = (bytes: number): string => {
  if (bytes < 1024) return `${bytes}B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)}K`;
  if (bytes < 1024 * 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(1)}M`;
  return `${(bytes / (1024 * 1024 * 1024)).toFixed(1)}G`;
};

export interface StagingPlacement {
  /** PATH inside the container. */
  path: string;
  /** HOME: the staging's own home (/home/vcap in a container). */
  home: string;
  tmpDir: string;
  /** USER (`vcap` in a container; the DEA's user without one). */
  user?: string;
}

/**
 * The machine's Go module settings, which a staging gets from the DEA's environment as it gets the
 * proxies (the go buildpack downloads modules as the machine's settings allow; an app's own env wins).
 */
export const STAGING_PASSTHROUGH = ['GOPROXY', 'GONOPROXY', 'GOPRIVATE', 'GONOSUMDB', 'GOSUMDB', 'GOINSECURE'];

/**
 * The environment buildpacks run with, built from scratch as Cloud Foundry gives a stager: PATH,
 * LANG, USER, the machine's time zone, proxies and CA settings (what instances get too), the
 * machine's Go module settings, then the app's own environment (its PATH too: the PATH the
 * buildpacks find the host's toolchains on), then the platform's HOME, TMPDIR, CF_STACK and
 * MEMORY_LIMIT. Nothing else of the DEA's environment: not the HOME, secrets or settings of the
 * shell that ran devbox.
 */
export function stagingEnv(request: StagingRequest, placement: StagingPlacement, host: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const env = baseEnv(placement);
  for (const key of STAGING_PASSTHROUGH) {
    const value = host[key];
    if (value) env[key] = value;
  }
  for (const [key, value] of Object.entries(request.environment ?? {})) env[key] = String(value);
  Object.assign(env, {
    HOME: placement.home,
    TMPDIR: placement.tmpDir,
    CF_STACK: request.stack || 'host',
    MEMORY_LIMIT: `${request.memory_limit || 256}m`,
  });
  return env;
}

async function sha1File(file: string): Promise<string> {
  const hash = createHash('sha1');
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export async function stage(request: StagingRequest, deps: StagerDeps): Promise<StagingReply> {
  // The request passed its contract's check (bus-messages.ts): ids and URIs are there.
  const taskId = request.task_id;
  const appGuid = request.app_id;
  const log = deps.log.child({ task_id: taskId, app_guid: appGuid });
  const stg = (message: string, type: 'OUT' | 'ERR' = 'OUT') => {
    publishAppLog(deps.nc, { app_guid: appGuid, source_type: 'STG', source_instance: '0', message_type: type, message });
  };
  // The task's own name (the container's handle too), unique even if one task is staged twice at once.
  const name = `${taskId.replace(/[^A-Za-z0-9_-]/g, '') || 'task'}-${randomBytes(4).toString('hex')}`;
  const root = path.join(deps.paths.staging, name);
  const held: string[] = [];
  const deadline = Date.now() + deps.timeoutMs;
  let container: Container | undefined;
  try {
    // root/: the DEA's (the package, the droplet, staging_info.yml); the rest is the container's.
    const dirs = { build: path.join(root, 'app'), deps: path.join(root, 'deps'), home: path.join(root, 'home'), tmp: path.join(root, 'tmp') };
    for (const dir of [root, dirs.build]) fs.mkdirSync(dir, { recursive: true, mode: 0o700 });

    // Resolve named buildpacks first: a wrong name fails before any download.
    const named = (request.buildpacks ?? []).filter((b) => typeof b === 'string' && b.trim() !== '');
    const chosen = named.map((b) => resolveBuildpack(b, deps.builtinDir));

    stg('Downloading app package...');
    const packageFile = path.join(root, 'package.tgz');
    let downloaded: { size: number };
    try {
      downloaded = await downloadToFile(request.package_download_uri, packageFile, { auth: deps.auth });
      await extractTarball(packageFile, dirs.build, { owner: deps.containers.owner });
    } catch (error) {
      throw new StagingFailure('StagingError', `Failed to download the app package: ${(error as Error).message}`);
    } finally {
      fs.rmSync(packageFile, { force: true });
    }
    stg(`Downloaded app package (${formatSize(downloaded.size)})`);
    log.debug('package downloaded', { bytes: downloaded.size });

    // The app's caches, all buildpacks' (chosen by detection, inside): a second staging of the app
    // while one runs gets a throw-away one.
    const appCache = path.join(deps.paths.cache, appGuid.replace(/[^A-Za-z0-9_-]/g, ''));
    let cacheRoot = appCache;
    if (deps.cachesInUse.has(appCache)) cacheRoot = path.join(root, 'cache');
    else {
      deps.cachesInUse.add(appCache);
      held.push(appCache);
    }
    const candidates = chosen.length > 0 ? chosen : builtinBuildpacks(deps.builtinDir);
    const { containers } = deps;
    // A buildpack directory of the user's runs from a copy of the staging's, given to the container's
    // user: its own directory may not be readable by that uid (a private home, mkdtemp's 0700).
    const sources = new Map<Buildpack, string>();
    for (const bp of candidates) {
      if (bp.builtin || containers.isolation !== 'namespaces') continue;
      const copy = path.join(root, 'buildpacks', bp.cacheKey);
      try {
        await fs.promises.cp(bp.dir, copy, { recursive: true, verbatimSymlinks: true });
      } catch (error) {
        throw new StagingFailure('StagingError', `Could not copy buildpack ${bp.dir} for the staging: ${(error as Error).message}`);
      }
      containers.own(copy);
      sources.set(bp, copy);
    }
    const mountOf = (bp: Buildpack) => buildpackMount(bp, sources.get(bp));
    const mounts = { build: { source: dirs.build, target: '/tmp/app' }, deps: { source: dirs.deps, target: '/tmp/deps' }, cache: { source: cacheRoot, target: '/tmp/cache' }, home: { source: dirs.home, target: CONTAINER_HOME } } satisfies Record<string, Mount>;
    container = containers.create({
      handle: name,
      mounts: Object.values(mounts),
      tmp: dirs.tmp,
      readOnly: candidates.map(mountOf),
      limits: { memoryBytes: Math.max(MIN_STAGING_MEMORY_MB, request.memory_limit ?? 0) * MB, pids: STAGING_PIDS_LIMIT },
    });
    const place = (mount: Mount, ...parts: string[]): Place => ({ host: path.join(mount.source, ...parts), inside: path.join(containers.inside(mount), ...parts) });
    const makeDir = (dir: string) => {
      const made = fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
      if (made) containers.own(made);
    };
    makeDir(path.join(dirs.home, 'tmp'));
    const space: StagingSpace = {
      container,
      build: place(mounts.build),
      deps: place(mounts.deps),
      cache: (bp: Buildpack) => place(mounts.cache, bp.cacheKey),
      buildpackDir: (bp: Buildpack) => containers.inside(mountOf(bp)),
      makeDir,
    };

    const home = place(mounts.home);
    const env = stagingEnv(request, { path: containers.path, home: home.inside, tmpDir: path.join(home.inside, 'tmp'), user: container.isolated ? 'vcap' : undefined });
    const runOptions = { env, deadline, signal: deps.signal, onLine: (line: string, stream: 'OUT' | 'ERR') => stg(line, stream) };
    let detected: string;
    if (chosen.length === 0) {
      const result = await detect(candidates, space, runOptions);
      chosen.push(result.buildpack);
      detected = result.detected;
    } else {
      detected = chosen[chosen.length - 1].builtin ? chosen[chosen.length - 1].name : path.basename(chosen[chosen.length - 1].dir);
    }
    const final = chosen[chosen.length - 1];
    log.info('staging', { buildpacks: chosen.map((b) => b.name), isolation: containers.isolation });

    // A cache written before containers (or as another uid) becomes the container user's, once.
    for (const bp of chosen) {
      const cache = space.cache(bp).host;
      if (fs.existsSync(cache) && !containers.owns(cache)) containers.own(cache);
    }
    await build(chosen, space, runOptions);
    log.debug('built');
    const released = await release(final, space, runOptions);
    log.debug('released', { process_types: Object.keys(released) });
    const processTypes = { ...released, ...readProcfile(dirs.build) };
    const userCommand = typeof request.start_command === 'string' ? request.start_command.trim() : '';
    const startCommand = userCommand || processTypes.web || '';
    if (!startCommand) {
      throw new StagingFailure(
        'StagingError',
        `The app has no start command: buildpack ${final.builtin ? final.name : final.dir} gives none for it. Give one with -c (or command: in the manifest, or a Procfile with a web: line).`,
      );
    }

    fs.writeFileSync(path.join(root, 'staging_info.yml'), toYaml({ detected_buildpack: detected, start_command: startCommand }));
    const entries = ['app', 'staging_info.yml'];
    if (fs.readdirSync(dirs.deps).length > 0) entries.push('deps');
    const droplet = path.join(root, 'droplet.tgz');
    await createTarball(root, entries, droplet);
    const size = fs.statSync(droplet).size;
    const sha1 = await sha1File(droplet);
    log.debug('droplet packed', { bytes: size });

    stg('Uploading droplet...');
    try {
      await uploadFile(request.droplet_upload_uri, droplet, { auth: deps.auth, contentType: 'application/gzip', idleTimeoutMs: 120_000 });
    } catch (error) {
      throw new StagingFailure('StagingError', `Failed to upload the droplet: ${(error as Error).message}`);
    }
    stg(`Uploaded droplet (${formatSize(size)})`);
    stg('Staging complete');
    log.info('staged', { detected, start_command: startCommand, droplet_bytes: size });
    return {
      task_id: taskId,
      detected_buildpack: detected,
      buildpack_name: final.name,
      start_command: startCommand,
      process_types: processTypes,
      droplet_sha1: sha1,
      droplet_size: size,
    };
  } catch (error) {
    const failure = error instanceof StagingFailure ? error : new StagingFailure('StagingError', (error as Error).message);
    stg(`Staging failed: ${failure.id}: ${failure.message}`, 'ERR');
    log.warn('staging failed', { id: failure.id, error: failure.message });
    return { task_id: taskId, error: { id: failure.id, message: failure.message } };
  } finally {
    if (container) {
      // Everything in it ends first (a dying process keeps its cgroup busy), then the container goes.
      const ending = container;
      ending.kill();
      const cgroup = ending.cgroup;
      if (cgroup) await waitFor('the staging container to empty', () => cgroup.pids().length === 0, { timeoutMs: 2_000, intervalMs: 20, onTimeout: () => true });
      ending.destroy();
    }
    for (const dir of held) deps.cachesInUse.delete(dir);
    await fs.promises.rm(root, { recursive: true, force: true }).catch(() => undefined);
  }
}
