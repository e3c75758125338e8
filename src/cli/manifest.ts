// cf's manifest.yml (docs/push.md): an `applications:` list, each app with the attributes `cf push`
// knows. Read as YAML 1.1 like the cf CLI (go-yaml), with anchors and merge keys but a bound on alias
// expansion. Every problem is reported at once, each naming the application and the field; fields
// devbox does not know are warnings, not errors, as in cf.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LineCounter, parseDocument, type Tags } from 'yaml';
import { CliError } from './base-command.js';
import { PROCESS_HEALTH_CHECK_TYPES, type ProcessHealthCheckType } from '../runtime/common/health-checks.js';
import { BadSize, parseMegabytes } from './units.js';


/** How many alias expansions a manifest may use (anchors are fine; billion-laughs bombs are not). */
export const MAX_ALIAS_COUNT = 100;
/** A manifest larger than this is not a manifest. */
export const MAX_MANIFEST_BYTES = 1024 * 1024;
/** The health check timeout (`timeout`, `-t`) range the controller accepts, in seconds. */
export const MAX_TIMEOUT_SECONDS = 600;

/** One application of a manifest (or of the flags): only what was given is set. */
export interface AppManifest {
  name?: string;
  /** Absolute: relative paths are resolved against the manifest's directory. */
  path?: string;
  memory?: number;
  disk?: number;
  instances?: number;
  /** Built-in buildpack names or absolute directories; [] = detect. */
  buildpacks?: string[];
  /** null = back to the buildpack's command (cf's `command: null` / `-c null`). */
  command?: string | null;
  env?: Record<string, string>;
  routes?: string[];
  /** Service instances to bind at push (cf's `services:`), with optional binding parameters. */
  services?: { name: string; parameters?: Record<string, unknown> }[];
  noRoute?: boolean;
  randomRoute?: boolean;
  healthCheckType?: ProcessHealthCheckType;
  healthCheckEndpoint?: string;
  healthCheckInvocationTimeout?: number;
  timeout?: number;
  /**
   * cf's `processes:` as written (each with a string `type`, the other fields unchecked: the
   * controller's apply_manifest checks them and says what is wrong).
   */
  processes?: ManifestProcessEntry[];
  /**
   * cf's `sidecars:` as written (each with a string `name`, the other fields unchecked: the
   * controller's apply_manifest checks them, as it checks `processes:`).
   */
  sidecars?: ManifestSidecarEntry[];
}

/** One entry of an app's `processes:`: its type and its other fields exactly as the manifest gives them. */
export type ManifestProcessEntry = { type: string } & Record<string, unknown>;

/** One entry of an app's `sidecars:`: its name and its other fields (command, process_types, memory) exactly as the manifest gives them. */
export type ManifestSidecarEntry = { name: string } & Record<string, unknown>;

export interface Manifest {
  /** The file read (absolute), when there was one. */
  file?: string;
  apps: AppManifest[];
  warnings: string[];
}

/** A manifest that cannot be used: what is wrong with it, every problem on its own line. */
export class ManifestError extends CliError {
  constructor(readonly problems: string[], file?: string) {
    super(`${file ? `The manifest ${file} cannot be used` : 'The manifest cannot be used'}:\n${problems.map((p) => `  ${p}`).join('\n')}`);
  }
}

// Fields the cf CLI knows that devbox does not act on: warned about by name, then ignored.
const UNSUPPORTED: Record<string, string> = {
  metadata: 'metadata (labels, annotations) is not supported by push',
  'log-rate-limit-per-second': 'log rate limits are not enforced by devbox',
  'readiness-health-check-type': 'readiness health checks are not supported',
  'readiness-health-check-http-endpoint': 'readiness health checks are not supported',
  'readiness-health-check-invocation-timeout': 'readiness health checks are not supported',
  'readiness-health-check-interval': 'readiness health checks are not supported',
  'health-check-interval': 'the health check interval is fixed by the DEA',
  lifecycle: 'devbox has the buildpack lifecycle only',
  'default-route': "devbox maps the default route whenever an app has none (unless no-route), so it has no effect",
};
// Fields cf itself no longer accepts (cf CLI v7+): an error that says what to use instead.
const REMOVED: Record<string, string> = {
  host: "'host' is no longer supported (cf v7): use routes: [{route: HOST.DOMAIN}]",
  hosts: "'hosts' is no longer supported (cf v7): use routes: [{route: HOST.DOMAIN}]",
  domain: "'domain' is no longer supported (cf v7): use routes: [{route: HOST.DOMAIN}]",
  domains: "'domains' is no longer supported (cf v7): use routes: [{route: HOST.DOMAIN}]",
  'no-hostname': "'no-hostname' is no longer supported (cf v7): use routes: [{route: DOMAIN}]",
  docker: 'docker images are not supported: devbox runs buildpack apps on the host',
  inherit: "'inherit' is no longer supported (cf v7): put every setting in this manifest",
};
const KNOWN = new Set([
  'name', 'path', 'memory', 'disk_quota', 'disk-quota', 'instances', 'buildpacks', 'buildpack', 'command', 'env', 'routes', 'services',
  'no-route', 'random-route', 'health-check-type', 'health-check-http-endpoint', 'health-check-invocation-timeout', 'timeout', 'stack', 'processes', 'sidecars',
]);

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const isObject = (value: unknown): value is Record<string, Json> => value !== null && typeof value === 'object' && !Array.isArray(value);
const show = (value: unknown) => (typeof value === 'string' ? `"${value}"` : JSON.stringify(value) ?? String(value));

/** Reads and checks a manifest file; a ManifestError (exit 1) with every problem, or a CliError when it cannot be read. */
export function readManifest(file: string): Manifest {
  const absolute = path.resolve(file);
  let text: string;
  try {
    const stat = fs.statSync(absolute);
    if (stat.isDirectory()) return readManifest(findManifestIn(absolute) ?? path.join(absolute, 'manifest.yml'));
    if (stat.size > MAX_MANIFEST_BYTES) throw new ManifestError([`the file is ${stat.size} bytes; a manifest may have at most ${MAX_MANIFEST_BYTES}`], absolute);
    text = fs.readFileSync(absolute, 'utf8');
  } catch (error) {
    if (error instanceof CliError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new CliError(`The manifest ${absolute} does not exist. Give the path of a manifest with -f, or push without one.`);
    throw new CliError(`The manifest ${absolute} cannot be read: ${(error as Error).message}`);
  }
  return parseManifest(text, { file: absolute, baseDir: path.dirname(absolute) });
}

/** `manifest.yml` (or `manifest.yaml`) in a directory, as cf looks for it. */
export function findManifestIn(dir: string): string | undefined {
  for (const name of ['manifest.yml', 'manifest.yaml']) {
    const candidate = path.join(dir, name);
    if (fs.existsSync(candidate) && fs.statSync(candidate).isFile()) return candidate;
  }
  return undefined;
}

const TOO_DEEP = 'it nests lists or maps too deeply; a manifest needs only a few levels';

/** Where the data contains itself (an anchor aliased inside its own node), as a path like `applications[0].env`. */
function aliasLoop(data: unknown, at = 'the manifest', ancestors = new Set<object>()): string | undefined {
  if (data === null || typeof data !== 'object') return undefined;
  if (ancestors.has(data)) return at;
  ancestors.add(data);
  for (const [key, value] of Object.entries(data)) {
    const found = aliasLoop(value, Array.isArray(data) ? `${at}[${key}]` : at === 'the manifest' ? key : `${at}.${key}`, ancestors);
    if (found) return found;
  }
  ancestors.delete(data);
  return undefined;
}

/**
 * The yaml package's YAML 1.1 float rule takes a lone `.` (`path: .`) for NaN; go-yaml, the cf CLI's
 * parser, reads it as the string it is. A float must have a digit.
 */
function floatsNeedADigit(tags: Tags): Tags {
  return tags.map((tag) => (typeof tag === 'object' && tag.tag === 'tag:yaml.org,2002:float' && 'test' in tag && tag.test?.test('.') ? { ...tag, test: new RegExp(`(?=.*[0-9])${tag.test.source}`) } : tag));
}

/** Parses and checks a manifest's text. Relative paths (path, buildpack directories) are resolved against baseDir. */
export function parseManifest(text: string, { file, baseDir = process.cwd() }: { file?: string; baseDir?: string } = {}): Manifest {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { version: '1.1', merge: true, uniqueKeys: true, prettyErrors: false, lineCounter, customTags: floatsNeedADigit });
  if (doc.errors.length > 0) {
    const problems = doc.errors.slice(0, 5).map((e) => {
      const at = lineCounter.linePos(e.pos[0]);
      return `line ${at.line}, column ${at.col}: ${e.message.replace(/; please use YAML\.parseAllDocuments\(\)/, '').replace(/^Maximum call stack size exceeded$/, TOO_DEEP)}`;
    });
    throw new ManifestError([`it is not valid YAML:`, ...problems.map((p) => `  ${p}`)], file);
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (error) {
    if (error instanceof ReferenceError) {
      throw new ManifestError([`its YAML aliases expand too much (more than ${MAX_ALIAS_COUNT} expansions): ${error.message}`], file);
    }
    if (error instanceof RangeError) throw new ManifestError([`it cannot be read as YAML: ${TOO_DEEP}`], file);
    throw new ManifestError([`it cannot be read as YAML: ${(error as Error).message}`], file);
  }
  const loop = aliasLoop(data);
  if (loop) throw new ManifestError([`${loop} is an alias of a node that contains it (a YAML recursion): write the values out instead`], file);
  const variable = /\(\(([^()\s]+)\)\)/.exec(text);
  if (variable) {
    const at = lineCounter.linePos(variable.index);
    throw new ManifestError([`line ${at.line} uses the variable ((${variable[1]})): manifest variables (--var, --vars-file) are not supported; write the value in the manifest`], file);
  }
  return checkManifest(data, { file, baseDir });
}

function checkManifest(data: unknown, { file, baseDir }: { file?: string; baseDir: string }): Manifest {
  const problems: string[] = [];
  const warnings: string[] = [];
  if (!isObject(data)) throw new ManifestError([`it must be a mapping with an 'applications' list, got ${data === null || data === undefined ? 'an empty document' : show(data)}`], file);
  const unknownTop = Object.keys(data).filter((k) => k !== 'applications' && k !== 'version');
  for (const key of unknownTop) {
    if (key === 'inherit') problems.push(REMOVED.inherit);
    else if (key in KNOWN_SET_TOP) problems.push(`'${key}' at the top of the manifest belongs to an application: put it under applications`);
  }
  const ignoredTop = unknownTop.filter((k) => k !== 'inherit' && !(k in KNOWN_SET_TOP));
  if (ignoredTop.length > 0) warnings.push(`the manifest has fields devbox does not know, ignored: ${ignoredTop.join(', ')}`);
  if (data.version !== undefined && data.version !== 1) problems.push(`version must be 1, got ${show(data.version)}`);
  const list = data.applications;
  if (list === undefined || list === null) problems.push("applications is missing: the manifest must list its apps under 'applications:'");
  else if (!Array.isArray(list)) problems.push(`applications must be a list, got ${show(list)}`);
  else if (list.length === 0) problems.push('applications is empty: list at least one app');
  const apps: AppManifest[] = [];
  if (Array.isArray(list)) {
    list.forEach((raw, i) => {
      const app = checkApp(raw, `applications[${i}]`, baseDir, problems, warnings);
      if (app) apps.push(app);
    });
    const seen = new Map<string, number>();
    apps.forEach((app, i) => {
      if (app.name === undefined) return;
      if (seen.has(app.name)) problems.push(`applications[${i}].name "${app.name}" is also the name of applications[${seen.get(app.name)}]: app names must be unique`);
      else seen.set(app.name, i);
    });
  }
  if (problems.length > 0) throw new ManifestError(problems, file);
  return { file, apps, warnings };
}

// Application fields written at the top level of a manifest (cf v6's "global" attributes, gone in v7).
const KNOWN_SET_TOP: Record<string, true> = Object.fromEntries([...KNOWN].filter((k) => k !== 'name').map((k) => [k, true]));

function checkApp(raw: unknown, at: string, baseDir: string, problems: string[], warnings: string[]): AppManifest | undefined {
  if (!isObject(raw)) {
    problems.push(`${at} must be a mapping of app attributes (name, memory, ...), got ${show(raw)}`);
    return undefined;
  }
  const name = typeof raw.name === 'string' && raw.name.trim() !== '' ? raw.name : undefined;
  const where = (field: string) => `${at}.${field}`;
  const who = name ? ` (app '${name}')` : '';
  const bad = (field: string, expected: string, value: unknown) => problems.push(`${where(field)} must be ${expected}, got ${show(value)}${who}`);
  const app: AppManifest = {};

  if (raw.name !== undefined && name === undefined) bad('name', 'a non-empty string', raw.name);
  if (name !== undefined) app.name = name;

  const str = (field: string): string | undefined => {
    const value = raw[field];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'string' || value === '') {
      bad(field, 'a non-empty string', value);
      return undefined;
    }
    return value;
  };
  const bool = (field: string): boolean | undefined => {
    const value = raw[field];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'boolean') {
      bad(field, 'true or false', value);
      return undefined;
    }
    return value;
  };
  const whole = (field: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined => {
    const value = raw[field];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'number' || !Number.isInteger(value)) {
      bad(field, 'a whole number', value);
      return undefined;
    }
    if (value < min || value > max) {
      bad(field, max === Number.MAX_SAFE_INTEGER ? `at least ${min}` : `between ${min} and ${max}`, value);
      return undefined;
    }
    return value;
  };
  const size = (field: string): number | undefined => {
    const value = raw[field];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'string') {
      bad(field, 'a size with a unit, like 256M or 1G', value);
      return undefined;
    }
    try {
      return parseMegabytes(value);
    } catch (error) {
      if (!(error instanceof BadSize)) throw error;
      bad(field, 'a size with a unit, like 256M or 1G', value);
      return undefined;
    }
  };

  const appPath = str('path');
  if (appPath !== undefined) app.path = path.resolve(baseDir, appPath);
  const memory = size('memory');
  if (memory !== undefined) app.memory = memory;
  if (raw.disk_quota !== undefined && raw['disk-quota'] !== undefined) problems.push(`${at} has both disk_quota and disk-quota: give one${who}`);
  const disk = raw['disk-quota'] !== undefined ? size('disk-quota') : size('disk_quota');
  if (disk !== undefined) app.disk = disk;
  const instances = whole('instances', 0, 1000);
  if (instances !== undefined) app.instances = instances;

  // buildpacks (a list) or the deprecated buildpack (one name)
  if (raw.buildpacks !== undefined && raw.buildpack !== undefined) problems.push(`${at} has both buildpack and buildpacks: use buildpacks${who}`);
  if (raw.buildpacks !== undefined && raw.buildpacks !== null) {
    if (!Array.isArray(raw.buildpacks) || raw.buildpacks.some((b) => typeof b !== 'string' || b === '')) bad('buildpacks', 'a list of buildpack names or directories', raw.buildpacks);
    else app.buildpacks = normalizeBuildpacks(raw.buildpacks as string[], baseDir);
  } else if (raw.buildpack !== undefined && raw.buildpack !== null) {
    const one = str('buildpack');
    if (one !== undefined) {
      app.buildpacks = normalizeBuildpacks([one], baseDir);
      warnings.push(`${where('buildpack')} is deprecated: use buildpacks: [${one}]${who}`);
    }
  }

  if (raw.command !== undefined) {
    if (raw.command === null || raw.command === 'null' || raw.command === 'default') app.command = null;
    else if (typeof raw.command === 'string' && raw.command.trim() !== '') app.command = raw.command;
    else bad('command', 'a command line (or null for the buildpack\'s)', raw.command);
  }

  if (raw.env !== undefined && raw.env !== null) {
    if (!isObject(raw.env)) bad('env', 'a mapping of variable names to values', raw.env);
    else {
      const env: Record<string, string> = {};
      for (const [key, value] of Object.entries(raw.env)) {
        if (typeof value === 'string') env[key] = value;
        else if (typeof value === 'number' || typeof value === 'boolean') env[key] = String(value);
        else bad(`env.${key}`, 'a string, number or boolean', value);
      }
      app.env = env;
    }
  }

  if (raw.routes !== undefined && raw.routes !== null) {
    if (!Array.isArray(raw.routes)) bad('routes', 'a list of {route: HOST.DOMAIN[/PATH]}', raw.routes);
    else {
      const routes: string[] = [];
      raw.routes.forEach((entry, j) => {
        if (!isObject(entry) || typeof entry.route !== 'string' || entry.route.trim() === '') {
          bad(`routes[${j}]`, 'a mapping with a route, like {route: myapp.localhost}', entry);
          return;
        }
        const extra = Object.keys(entry).filter((k) => k !== 'route');
        if (extra.length > 0) warnings.push(`${where(`routes[${j}]`)} has fields devbox does not know, ignored: ${extra.join(', ')}${who}`);
        const route = entry.route.trim();
        if (/^[a-z][a-z0-9+.-]*:\/\//i.test(route)) bad(`routes[${j}].route`, 'a route without a scheme, like myapp.localhost/path', route);
        else if (/:\d+$/.test(route.split('/')[0])) bad(`routes[${j}].route`, 'an HTTP route (devbox has no TCP routes)', route);
        else routes.push(route);
      });
      app.routes = routes;
    }
  }
  if (raw.services !== undefined && raw.services !== null) {
    if (!Array.isArray(raw.services)) bad('services', 'a list of service instance names (or {name, parameters})', raw.services);
    else {
      const services: { name: string; parameters?: Record<string, unknown> }[] = [];
      raw.services.forEach((entry, j) => {
        if (typeof entry === 'string' && entry.trim() !== '') services.push({ name: entry.trim() });
        else if (isObject(entry) && typeof entry.name === 'string' && entry.name.trim() !== '' && (entry.parameters === undefined || isObject(entry.parameters))) {
          services.push({ name: entry.name.trim(), ...(entry.parameters ? { parameters: entry.parameters } : {}) });
        } else bad(`services[${j}]`, 'a service instance name, or {name, parameters}', entry);
      });
      app.services = services;
    }
  }
  const noRoute = bool('no-route');
  if (noRoute !== undefined) app.noRoute = noRoute;
  const randomRoute = bool('random-route');
  if (randomRoute !== undefined) app.randomRoute = randomRoute;
  if (app.noRoute && app.routes && app.routes.length > 0) problems.push(`${at} has both no-route and routes: give one${who}`);

  const type = raw['health-check-type'];
  if (type !== undefined && type !== null) {
    if (type === 'none') {
      app.healthCheckType = 'process';
      warnings.push(`${where('health-check-type')} 'none' is deprecated: use 'process'${who}`);
    } else if (typeof type === 'string' && (PROCESS_HEALTH_CHECK_TYPES as readonly string[]).includes(type)) app.healthCheckType = type as ProcessHealthCheckType;
    else bad('health-check-type', `one of ${PROCESS_HEALTH_CHECK_TYPES.join(', ')}`, type);
  }
  const endpoint = str('health-check-http-endpoint');
  if (endpoint !== undefined) {
    if (!endpoint.startsWith('/')) bad('health-check-http-endpoint', 'a path starting with /', endpoint);
    else app.healthCheckEndpoint = endpoint;
  }
  if (app.healthCheckEndpoint !== undefined && app.healthCheckType !== undefined && app.healthCheckType !== 'http') {
    problems.push(`${where('health-check-http-endpoint')} needs health-check-type http, not ${app.healthCheckType}${who}`);
  }
  const invocation = whole('health-check-invocation-timeout', 1, MAX_TIMEOUT_SECONDS);
  if (invocation !== undefined) app.healthCheckInvocationTimeout = invocation;
  const timeout = whole('timeout', 1, MAX_TIMEOUT_SECONDS);
  if (timeout !== undefined) app.timeout = timeout;

  const processes = checkKeyedList<ManifestProcessEntry>(raw.processes, PROCESSES, at, who, problems);
  if (processes !== undefined) app.processes = processes;
  const sidecars = checkKeyedList<ManifestSidecarEntry>(raw.sidecars, SIDECARS, at, who, problems);
  if (sidecars !== undefined) app.sidecars = sidecars;

  const stack = raw.stack;
  if (stack !== undefined && stack !== null && stack !== 'host') {
    if (typeof stack !== 'string') bad('stack', 'a stack name', stack);
    else warnings.push(`${where('stack')} '${stack}' ignored: devbox runs every app on the 'host' stack${who}`);
  }

  for (const key of Object.keys(raw)) {
    if (key in REMOVED) problems.push(`${where(key)}: ${REMOVED[key]}${who}`);
  }
  const unsupported = Object.keys(raw).filter((k) => k in UNSUPPORTED);
  for (const key of unsupported) warnings.push(`${where(key)} ignored: ${UNSUPPORTED[key]}${who}`);
  const unknown = Object.keys(raw).filter((k) => !KNOWN.has(k) && !(k in UNSUPPORTED) && !(k in REMOVED));
  if (unknown.length > 0) warnings.push(`${at} has fields devbox does not know, ignored: ${unknown.join(', ')}${who}`);
  return app;
}

/** How `processes:` and `sidecars:` entries are told apart and named in problems. */
interface KeyedList {
  field: 'processes' | 'sidecars';
  key: 'type' | 'name';
  /** `process`, `sidecar`: one entry. */
  noun: string;
  /** What the key must be: `a process type such as web or worker`. */
  keyMust: string;
  /** What each entry is listed once by: `process type`. */
  once: string;
  like: string;
}

const PROCESSES: KeyedList = { field: 'processes', key: 'type', noun: 'process', keyMust: 'a process type such as web or worker', once: 'process type', like: 'like {type: worker, instances: 1}' };
const SIDECARS: KeyedList = { field: 'sidecars', key: 'name', noun: 'sidecar', keyMust: 'a sidecar name', once: 'sidecar', like: 'like {name: my-sidecar, process_types: [web], command: ./run}' };

/**
 * `processes:` or `sidecars:`: a list of mappings, each with its key (a type, a name) given once.
 * Only the shape is checked here; the fields of each entry go to the controller as written (it
 * knows their rules, as Cloud Controller, and says what is wrong in its words).
 */
function checkKeyedList<T extends Record<string, unknown>>(value: unknown, list: KeyedList, at: string, who: string, problems: string[]): T[] | undefined {
  if (value === undefined || value === null) return undefined;
  const { field, key, noun, like } = list;
  if (!Array.isArray(value)) {
    problems.push(`${at}.${field} must be a list of ${field}, each a mapping with a ${key}, ${like}, got ${show(value)}${who}`);
    return undefined;
  }
  const entries: T[] = [];
  const seen = new Map<string, number>();
  value.forEach((entry: unknown, j) => {
    const where = `${at}.${field}[${j}]`;
    if (!isObject(entry)) return void problems.push(`${where} must be a mapping with a ${key}, ${like}, got ${show(entry)}${who}`);
    const id = entry[key];
    if (id === undefined || id === null) return void problems.push(`${where} has no ${key}: every ${noun} needs one, ${like}${who}`);
    if (typeof id !== 'string' || id.trim() === '') return void problems.push(`${where}.${key} must be ${list.keyMust}, got ${show(id)}${who}`);
    const first = seen.get(id);
    if (first !== undefined) return void problems.push(`${where}.${key} "${id}" is also the ${key} of ${field}[${first}]: list each ${list.once} once${who}`);
    seen.set(id, j);
    entries.push({ ...entry, [key]: id } as T);
  });
  return entries;
}

/**
 * Buildpacks as the DEA takes them: built-in names as given, directories as absolute paths (a
 * relative one is resolved against `baseDir`); `default` / `null` alone mean "detect" ([]).
 */
export function normalizeBuildpacks(names: string[], baseDir = process.cwd()): string[] {
  if (names.length === 1 && (names[0] === 'default' || names[0] === 'null')) return [];
  return names.map((name) => {
    if (!isBuildpackPath(name)) return name;
    if (name === '~' || name.startsWith('~/')) return path.join(os.homedir(), name.slice(1));
    return path.resolve(baseDir, name);
  });
}

/**
 * A buildpack given as a directory rather than a name: it has a slash, starts with `.` or `~`, or is
 * absolute. URLs (git buildpacks) are names here: the DEA refuses them with the list of buildpacks.
 */
export function isBuildpackPath(name: string): boolean {
  // URLs, and git's `user@host:path` form.
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(name) || /^[\w.-]+@[\w.-]+:/.test(name)) return false;
  return name.includes('/') || name.includes(path.sep) || name.startsWith('.') || name.startsWith('~');
}
