// One staging task (`staging.<dea id>.start`): download the package, run the buildpack(s), tar the
// droplet, upload it, and say how it went. Every line goes to the app's logs as STG.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { stringify as toYaml } from 'yaml';
import { publishAppLog } from '../../common/app-log.js';
import type { NatsConnection } from '../../common/bus.js';
import type { StagingReply, StagingRequest } from '../../common/bus-messages.js';
import type { Logger } from '../../common/log.js';
import { createTarball, extractTarball } from '../archive.js';
import { withNodeOnPath } from '../host.js';
import type { DeaPaths } from '../paths.js';
import { downloadToFile, uploadFile } from '../transfer.js';
import type { TokenSource } from '../uaa-client.js';
import { build, builtinBuildpacks, detect, readProcfile, release, resolveBuildpack, type Buildpack } from './buildpacks.js';
import { StagingFailure } from './errors.js';

export interface StagerDeps {
  paths: DeaPaths;
  nc: NatsConnection;
  log: Logger;
  auth: TokenSource;
  builtinDir: string;
  timeoutMs: number;
  signal: AbortSignal;
  /** Cache directories in use by a running staging (two stagings of one app must not share one). */
  cachesInUse: Set<string>;
}

export const formatSize = (bytes: number): string => {
  if (bytes < 1024) return `${bytes}B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)}K`;
  if (bytes < 1024 * 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(1)}M`;
  return `${(bytes / (1024 * 1024 * 1024)).toFixed(1)}G`;
};

/** The environment buildpacks run with: the DEA's (minus devbox's own settings), then the app's. */
export function stagingEnv(request: StagingRequest, tmpDir: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    // DEVBOX_* may carry the bus URL with its token: never hand those to a buildpack or the app.
    if (value !== undefined && !key.startsWith('DEVBOX_')) env[key] = value;
  }
  env.PATH = withNodeOnPath(env.PATH);
  for (const [key, value] of Object.entries(request.environment ?? {})) env[key] = String(value);
  env.CF_STACK = request.stack || 'host';
  env.MEMORY_LIMIT = `${request.memory_limit || 256}m`;
  env.TMPDIR = tmpDir;
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
  const root = path.join(deps.paths.staging, `${taskId.replace(/[^A-Za-z0-9_-]/g, '') || 'task'}-${randomBytes(4).toString('hex')}`);
  const held: string[] = [];
  const deadline = Date.now() + deps.timeoutMs;
  try {
    const dirs = { build: path.join(root, 'app'), deps: path.join(root, 'deps'), tmp: path.join(root, 'tmp') };
    for (const dir of [root, dirs.build, dirs.deps, dirs.tmp]) fs.mkdirSync(dir, { recursive: true, mode: 0o700 });

    // Resolve named buildpacks first: a wrong name fails before any download.
    const named = (request.buildpacks ?? []).filter((b) => typeof b === 'string' && b.trim() !== '');
    const chosen = named.map((b) => resolveBuildpack(b, deps.builtinDir));

    stg('Downloading app package...');
    const packageFile = path.join(root, 'package.tgz');
    let downloaded: { size: number };
    try {
      downloaded = await downloadToFile(request.package_download_uri, packageFile, { auth: deps.auth });
      await extractTarball(packageFile, dirs.build);
    } catch (error) {
      throw new StagingFailure('StagingError', `Failed to download the app package: ${(error as Error).message}`);
    } finally {
      fs.rmSync(packageFile, { force: true });
    }
    stg(`Downloaded app package (${formatSize(downloaded.size)})`);

    const env = stagingEnv(request, dirs.tmp);
    const runOptions = { env, deadline, signal: deps.signal, onLine: (line: string, stream: 'OUT' | 'ERR') => stg(line, stream) };
    let detected: string;
    if (chosen.length === 0) {
      const result = await detect(builtinBuildpacks(deps.builtinDir), dirs.build, runOptions);
      chosen.push(result.buildpack);
      detected = result.detected;
    } else {
      detected = chosen[chosen.length - 1].builtin ? chosen[chosen.length - 1].name : path.basename(chosen[chosen.length - 1].dir);
    }
    const final = chosen[chosen.length - 1];
    log.info('staging', { buildpacks: chosen.map((b) => b.name) });

    const cacheFor = (bp: Buildpack) => {
      const dir = path.join(deps.paths.cache, appGuid.replace(/[^A-Za-z0-9_-]/g, ''), bp.cacheKey);
      if (deps.cachesInUse.has(dir)) return path.join(root, 'cache', bp.cacheKey);
      deps.cachesInUse.add(dir);
      held.push(dir);
      return dir;
    };
    const caches = new Map(chosen.map((bp) => [bp, cacheFor(bp)]));
    await build(chosen, { build: dirs.build, deps: dirs.deps, cache: (bp) => caches.get(bp)! }, runOptions);
    const released = await release(final, dirs.build, runOptions);
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
    for (const dir of held) deps.cachesInUse.delete(dir);
    await fs.promises.rm(root, { recursive: true, force: true }).catch(() => undefined);
  }
}
