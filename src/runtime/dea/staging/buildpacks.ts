// Buildpacks as Cloud Foundry runs them: the built-in ones in templates/buildpacks (tried in order
// when the app names none), or a directory of the user's given by its absolute path. Each is a
// directory with bin/detect, bin/compile or bin/supply + bin/finalize, and bin/release.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { NO_APP_DETECTED, StagingFailure } from './errors.js';
import { runStep, type StepOptions } from './run-step.js';

/** The built-in buildpacks, in detection order. */
export const BUILTIN_ORDER = ['nodejs', 'python', 'staticfile', 'binary'] as const;

/** Names Cloud Foundry users also write (`nodejs_buildpack`, ...). */
const ALIASES: Record<string, string> = { node: 'nodejs', static: 'staticfile', staticfiles: 'staticfile' };

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
    if (!stat?.isDirectory()) throw new StagingFailure('NoSuchBuildpack', `Buildpack directory '${given}' does not exist on the DEA's machine. Built-in buildpacks: ${available}.`);
    const bp: Buildpack = { name: given, dir: given, builtin: false, cacheKey: `custom-${createHash('sha1').update(given).digest('hex').slice(0, 12)}` };
    if (!hasStep(bp, 'compile') && !hasStep(bp, 'supply') && !hasStep(bp, 'finalize')) {
      throw new StagingFailure('NoSuchBuildpack', `'${given}' is not a buildpack: it has no executable bin/compile, bin/supply or bin/finalize.`);
    }
    return bp;
  }
  const key = given.trim().toLowerCase().replace(/[-_]buildpack$/, '');
  const name = ALIASES[key] ?? key;
  const found = builtins.find((b) => b.name === name);
  if (!found) {
    const hint = /^[a-z]+:\/\//i.test(given) ? ' devbox cannot download buildpacks; clone it and give its directory\'s absolute path instead.' : '';
    throw new StagingFailure('NoSuchBuildpack', `Buildpack '${given}' not found. Available buildpacks: ${available} (or the absolute path of a buildpack directory).${hint}`);
  }
  return found;
}

type RunOptions = Omit<StepOptions, 'captureStdout' | 'cwd'>;

/** Runs bin/detect of each candidate in order; the first that exits 0 wins (with its output). */
export async function detect(candidates: Buildpack[], buildDir: string, options: RunOptions): Promise<{ buildpack: Buildpack; detected: string }> {
  for (const bp of candidates) {
    if (!hasStep(bp, 'detect')) continue;
    const result = await runStep(path.join(bp.dir, 'bin', 'detect'), [buildDir], { ...options, onLine: undefined, cwd: buildDir, captureStdout: true });
    if (result.timedOut) throw new StagingFailure('StagingTimeExpired', 'Staging timed out while detecting the buildpack');
    if (result.aborted) throw new StagingFailure('StagingError', 'Staging was cancelled: the DEA is stopping');
    if (result.code === 0) return { buildpack: bp, detected: result.stdout.trim().split('\n')[0]?.trim() || bp.name };
  }
  throw new StagingFailure('NoAppDetectedError', NO_APP_DETECTED);
}

export interface BuildDirs {
  build: string;
  deps: string;
  /** The cache directory of each buildpack, by cacheKey. */
  cache: (bp: Buildpack) => string;
}

const describeExit = (result: { code: number | null; signal: NodeJS.Signals | null; spawnError?: string }) =>
  result.spawnError ? `could not be run (${result.spawnError})` : result.signal ? `was killed by ${result.signal}` : `exited with status ${result.code}`;

/**
 * Runs the buildpacks' build steps. Every buildpack but the last must be a supply buildpack; the
 * last runs bin/supply + bin/finalize when it has bin/finalize, else bin/compile.
 */
export async function build(buildpacks: Buildpack[], dirs: BuildDirs, options: RunOptions): Promise<void> {
  const run = async (bp: Buildpack, step: 'supply' | 'finalize' | 'compile', args: string[]) => {
    const result = await runStep(path.join(bp.dir, 'bin', step), args, { ...options, cwd: dirs.build });
    if (result.timedOut) throw new StagingFailure('StagingTimeExpired', `Staging timed out in the buildpack's ${step} step`);
    if (result.aborted) throw new StagingFailure('StagingError', 'Staging was cancelled: the DEA is stopping');
    if (result.code !== 0) {
      options.onLine?.(`Failed in bin/${step} of buildpack ${bp.name}: ${describeExit(result)}`, 'ERR');
      throw new StagingFailure('BuildpackCompileFailed', `App staging failed in the buildpack compile phase (bin/${step} of ${bp.name} ${describeExit(result)})`);
    }
  };
  for (const [index, bp] of buildpacks.entries()) {
    const last = index === buildpacks.length - 1;
    const cache = dirs.cache(bp);
    fs.mkdirSync(cache, { recursive: true, mode: 0o700 });
    if (!last) {
      if (!hasStep(bp, 'supply')) throw new StagingFailure('BuildpackCompileFailed', `Buildpack ${bp.name} cannot come before the last one: it has no bin/supply`);
      const depsDir = path.join(dirs.deps, String(index));
      fs.mkdirSync(depsDir, { recursive: true, mode: 0o700 });
      await run(bp, 'supply', [dirs.build, cache, dirs.deps, String(index)]);
    } else if (hasStep(bp, 'finalize')) {
      fs.mkdirSync(path.join(dirs.deps, String(index)), { recursive: true, mode: 0o700 });
      if (hasStep(bp, 'supply')) await run(bp, 'supply', [dirs.build, cache, dirs.deps, String(index)]);
      await run(bp, 'finalize', [dirs.build, cache, dirs.deps, String(index)]);
    } else if (hasStep(bp, 'compile')) {
      await run(bp, 'compile', [dirs.build, cache]);
    } else {
      throw new StagingFailure('BuildpackCompileFailed', `Buildpack ${bp.name} cannot be the last one: it has neither bin/finalize nor bin/compile`);
    }
  }
}

/** bin/release of the last buildpack → its default process types. */
export async function release(bp: Buildpack, buildDir: string, options: RunOptions): Promise<Record<string, string>> {
  if (!hasStep(bp, 'release')) return {};
  const result = await runStep(path.join(bp.dir, 'bin', 'release'), [buildDir], { ...options, onLine: (line) => options.onLine?.(line, 'ERR'), cwd: buildDir, captureStdout: true });
  if (result.timedOut) throw new StagingFailure('StagingTimeExpired', 'Staging timed out in the buildpack\'s release step');
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

/** The app's Procfile (`type: command` lines), which wins over the buildpack's defaults. */
export function readProcfile(buildDir: string): Record<string, string> {
  const file = path.join(buildDir, 'Procfile');
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return {};
  }
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const match = /^([A-Za-z0-9_-]+):\s*(.+?)\s*$/.exec(line);
    if (match) out[match[1]] = match[2];
  }
  return out;
}
