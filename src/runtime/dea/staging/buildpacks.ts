// Buildpacks as Cloud Foundry runs them: the built-in ones in templates/buildpacks (tried in order
// when the app names none), or a directory of the user's given by its absolute path. Each is a
// directory with bin/detect, bin/compile or bin/supply + bin/finalize, and bin/release. Every step
// runs in the staging's container (run-step.ts), with the paths the container sees.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { Container, Mount } from '../containers/container.js';
import { NO_APP_DETECTED, StagingFailure } from './errors.js';
import { runStep, type StepOptions } from './run-step.js';

/**
 * The built-in buildpacks, in detection order: Cloud Foundry's (java, ruby, nodejs, go, python,
 * php), with staticfile late, as devbox's detects any index.html where Cloud Foundry's wants a
 * Staticfile (a PHP or Ruby app with an index.html is theirs), and binary, which detects nothing.
 * The one list: the controller's /v3/buildpacks shows it (repositories/platform.ts).
 */
export const BUILTIN_ORDER = ['java', 'ruby', 'nodejs', 'go', 'python', 'php', 'staticfile', 'binary'] as const;

/** Other names users write; Cloud Foundry's `<name>_buildpack` (`go_buildpack`, ...) works for every built-in. */
const ALIASES: Record<string, string> = { node: 'nodejs', static: 'staticfile', staticfiles: 'staticfile', golang: 'go' };

/** A buildpack given as a URL (`https://github.com/...`, `git@github.com:...`), which devbox does not download. */
const isUrl = (given: string) => /^[a-z][a-z0-9+.-]*:\/\//i.test(given) || /^[\w.-]+@[\w.-]+:/.test(given);

const urlRefused = (url: string, available: string) =>
  new StagingFailure(
    'NoSuchBuildpack',
    `Buildpack '${url}' is a URL, and devbox cannot download buildpacks: clone it (git clone ${url.split('#')[0]}) and push with -b and the clone's directory, or use a built-in one: ${available}.`,
  );

export interface Buildpack {
  /** The built-in's name, or the directory's path as the user gave it. */
  name: string;
  dir: string;
  builtin: boolean;
  /** A key for the per-app cache directory of this buildpack. */
  cacheKey: string;
}

const executable = (file: string): boolean => {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
};

export const hasStep = (bp: Buildpack, step: 'detect' | 'compile' | 'supply' | 'finalize' | 'release') => executable(path.join(bp.dir, 'bin', step));

/**
 * Where a staging's container sees a buildpack (read-only): /tmp/buildpacks/<name> (a user's:
 * custom-<hash>), from its directory or from the staging's copy of it.
 */
export const buildpackMount = (bp: Buildpack, source = bp.dir): Mount => ({ source, target: `/tmp/buildpacks/${bp.cacheKey}`, writable: false });

export function builtinBuildpacks(root: string): Buildpack[] {
  return BUILTIN_ORDER.filter((name) => fs.existsSync(path.join(root, name, 'bin'))).map((name) => ({ name, dir: path.join(root, name), builtin: true, cacheKey: name }));
}

/** Resolves what a staging request names: a built-in's name or an absolute directory path. */
export function resolveBuildpack(given: string, builtinRoot: string): Buildpack {
  const builtins = builtinBuildpacks(builtinRoot);
  const available = builtins.map((b) => b.name).join(', ');
  if (path.isAbsolute(given)) {
    let stat: fs.Stats | undefined;
    try {
      stat = fs.statSync(given);
    } catch {
      // reported below
    }
    if (!stat?.isDirectory()) {
      // `-b git@github.com:org/bp.git` made an absolute path of by a client that took it for a directory.
      const scp = /[\w.-]+@[\w.-]+:.*$/.exec(given)?.[0];
      if (scp) throw urlRefused(scp, available);
      throw new StagingFailure('NoSuchBuildpack', `Buildpack directory '${given}' does not exist on the DEA's machine. Built-in buildpacks: ${available}.`);
    }
    const bp: Buildpack = { name: given, dir: given, builtin: false, cacheKey: `custom-${createHash('sha1').update(given).digest('hex').slice(0, 12)}` };
    if (!hasStep(bp, 'compile') && !hasStep(bp, 'supply') && !hasStep(bp, 'finalize')) {
      throw new StagingFailure('NoSuchBuildpack', `'${given}' is not a buildpack: it has no executable bin/compile, bin/supply or bin/finalize.`);
    }
    return bp;
  }
  if (isUrl(given)) throw urlRefused(given, available);
  const key = given.trim().toLowerCase().replace(/[-_]buildpack$/, '');
  const name = ALIASES[key] ?? key;
  const found = builtins.find((b) => b.name === name);
  if (!found) throw new StagingFailure('NoSuchBuildpack', `Buildpack '${given}' not found. Available buildpacks: ${available} (or the absolute path of a buildpack directory).`);
  return found;
}

type RunOptions = Omit<StepOptions, 'captureStdout' | 'cwd' | 'container'>;

/** A directory of the staging: the DEA's path on the host, and the path its container sees. */
export interface Place {
  host: string;
  inside: string;
}

/** The staging's container and where its directories are. */
export interface StagingSpace {
  container: Container;
  /** The build directory (the app): /tmp/app inside. */
  build: Place;
  /** The supply buildpacks' deps directory: /tmp/deps inside. */
  deps: Place;
  /** The cache directory of each buildpack (/tmp/cache/<cacheKey> inside). */
  cache: (bp: Buildpack) => Place;
  /** Where the container sees a buildpack's directory. */
  buildpackDir: (bp: Buildpack) => string;
  /** Makes a directory the container's user writes into (owned by that user). */
  makeDir: (host: string) => void;
}

const stepFile = (space: StagingSpace, bp: Buildpack, step: string) => path.posix.join(space.buildpackDir(bp), 'bin', step);

/** Runs bin/detect of each candidate in order; the first that exits 0 wins (with its output). */
export async function detect(candidates: Buildpack[], space: StagingSpace, options: RunOptions): Promise<{ buildpack: Buildpack; detected: string }> {
  for (const bp of candidates) {
    if (!hasStep(bp, 'detect')) continue;
    const result = await runStep(stepFile(space, bp, 'detect'), [space.build.inside], { ...options, container: space.container, onLine: undefined, cwd: space.build.inside, captureStdout: true });
    if (result.timedOut) throw new StagingFailure('StagingTimeExpired', 'Staging timed out while detecting the buildpack');
    if (result.aborted) throw new StagingFailure('StagingError', 'Staging was cancelled: the DEA is stopping');
    if (result.code === 0) return { buildpack: bp, detected: result.stdout.trim().split('\n')[0]?.trim() || bp.name };
  }
  throw new StagingFailure('NoAppDetectedError', NO_APP_DETECTED);
}

const describeExit = (result: { code: number | null; signal: NodeJS.Signals | null; spawnError?: string; outOfMemory?: boolean }) =>
  result.spawnError
    ? `could not be run (${result.spawnError})`
    : result.outOfMemory
      ? 'ran out of the staging\'s memory'
      : result.signal
        ? `was killed by ${result.signal}`
        : `exited with status ${result.code}`;

/** The longest reason a staging error carries from a buildpack's **ERROR** line. */
const MAX_REASON = 1000;

/**
 * The reason in a buildpack's `**ERROR** ...` line (how Cloud Foundry's buildpacks mark why they
 * fail), without control characters, or ''. The first such line of a failing step goes into the staging error, so that push
 * says why (a toolchain to install) and not only that a step failed.
 */
const errorReason = (line: string): string =>
  // eslint-disable-next-line no-control-regex -- a buildpack's terminal escapes do not belong in the API's error
  /\*\*ERROR\*\*\s*(.+)$/.exec(line)?.[1].replace(/[\u0000-\u001f\u007f]/g, '').trim().slice(0, MAX_REASON) ?? '';

/**
 * Runs the buildpacks' build steps. Every buildpack but the last must be a supply buildpack; the
 * last runs bin/supply + bin/finalize when it has bin/finalize, else bin/compile.
 */
export async function build(buildpacks: Buildpack[], space: StagingSpace, options: RunOptions): Promise<void> {
  const run = async (bp: Buildpack, step: 'supply' | 'finalize' | 'compile', args: string[]) => {
    let reason = '';
    const onLine = (line: string, stream: 'OUT' | 'ERR') => {
      reason ||= errorReason(line);
      options.onLine?.(line, stream);
    };
    const result = await runStep(stepFile(space, bp, step), args, { ...options, onLine, container: space.container, cwd: space.build.inside });
    if (result.timedOut) throw new StagingFailure('StagingTimeExpired', `Staging timed out in the buildpack's ${step} step`);
    if (result.aborted) throw new StagingFailure('StagingError', 'Staging was cancelled: the DEA is stopping');
    if (result.code !== 0) {
      options.onLine?.(`Failed in bin/${step} of buildpack ${bp.name}: ${describeExit(result)}`, 'ERR');
      throw new StagingFailure('BuildpackCompileFailed', `App staging failed in the buildpack compile phase (bin/${step} of ${bp.name} ${describeExit(result)})${reason ? `: ${reason}` : ''}`);
    }
  };
  const deps = space.deps.inside;
  for (const [index, bp] of buildpacks.entries()) {
    const last = index === buildpacks.length - 1;
    const cache = space.cache(bp);
    space.makeDir(cache.host);
    if (!last) {
      if (!hasStep(bp, 'supply')) throw new StagingFailure('BuildpackCompileFailed', `Buildpack ${bp.name} cannot come before the last one: it has no bin/supply`);
      space.makeDir(path.join(space.deps.host, String(index)));
      await run(bp, 'supply', [space.build.inside, cache.inside, deps, String(index)]);
    } else if (hasStep(bp, 'finalize')) {
      space.makeDir(path.join(space.deps.host, String(index)));
      if (hasStep(bp, 'supply')) await run(bp, 'supply', [space.build.inside, cache.inside, deps, String(index)]);
      await run(bp, 'finalize', [space.build.inside, cache.inside, deps, String(index)]);
    } else if (hasStep(bp, 'compile')) {
      await run(bp, 'compile', [space.build.inside, cache.inside]);
    } else {
      throw new StagingFailure('BuildpackCompileFailed', `Buildpack ${bp.name} cannot be the last one: it has neither bin/finalize nor bin/compile`);
    }
  }
}

/** bin/release of the last buildpack → its default process types. */
export async function release(bp: Buildpack, space: StagingSpace, options: RunOptions): Promise<Record<string, string>> {
  if (!hasStep(bp, 'release')) return {};
  const buildDir = space.build.inside;
  const result = await runStep(stepFile(space, bp, 'release'), [buildDir], { ...options, container: space.container, onLine: (line) => options.onLine?.(line, 'ERR'), cwd: buildDir, captureStdout: true });
  if (result.timedOut) throw new StagingFailure('StagingTimeExpired', 'Staging timed out in the buildpack\'s release step');
  if (result.aborted) throw new StagingFailure('StagingError', 'Staging was cancelled: the DEA is stopping');
  if (result.code !== 0) throw new StagingFailure('BuildpackReleaseFailed', `buildpack's release step ${describeExit(result)}`);
  let parsed: unknown;
  try {
    parsed = parseYaml(result.stdout);
  } catch (error) {
    throw new StagingFailure('BuildpackReleaseFailed', `buildpack's release output invalid: ${(error as Error).message}`);
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new StagingFailure('BuildpackReleaseFailed', 'buildpack\'s release output invalid: expected a YAML mapping');
  const types = (parsed as { default_process_types?: unknown }).default_process_types;
  return processTypes(types, 'BuildpackReleaseFailed');
}

function processTypes(value: unknown, errorId: 'BuildpackReleaseFailed' | 'StagingError'): Record<string, string> {
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new StagingFailure(errorId, 'default_process_types must be a mapping of process type to command');
  const out: Record<string, string> = {};
  for (const [type, command] of Object.entries(value as Record<string, unknown>)) {
    if (typeof command === 'string' && command.trim() !== '') out[type] = command.trim();
  }
  return out;
}

/** A Procfile larger than this is not one. */
const MAX_PROCFILE = 64 * 1024;

/**
 * The app's Procfile (`type: command` lines), which wins over the buildpack's defaults. The DEA
 * reads it after the staging, which could have made it anything: only a regular file is read (not a
 * symbolic link to a file of the DEA's, not a FIFO that would block the read).
 */
export function readProcfile(buildDir: string): Record<string, string> {
  const file = path.join(buildDir, 'Procfile');
  let text: string;
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
    const stat = fs.fstatSync(fd);
    if (!stat.isFile() || stat.size > MAX_PROCFILE) return {};
    text = fs.readFileSync(fd, 'utf8');
  } catch {
    return {};
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const match = /^([A-Za-z0-9_-]+):\s*(.+?)\s*$/.exec(line);
    if (match) out[match[1]] = match[2];
  }
  return out;
}
