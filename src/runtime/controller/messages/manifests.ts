// Space manifests (`POST /v3/spaces/:guid/actions/apply_manifest` and `.../manifest_diff`): the body
// is the manifest as YAML (Content-Type application/x-yaml), as cf sends it. Checked whole before
// anything is looked up or written, as Cloud Controller's AppManifestMessage: every problem of every
// app at once, each as "For application 'NAME': ...", in one answer (a compound 422).
import type { IncomingMessage } from 'node:http';
import { parseDocument } from 'yaml';
import { PROCESS_HEALTH_CHECK_TYPES } from '../../common/health-checks.js';
import { ApiError, unprocessable } from '../errors.js';
import { STACK, parseEnvironment } from './apps.js';
import { MAX_DISK_MB, MAX_MEMORY_MB } from './processes.js';
import { logSourceProblem, sidecarProblems, type SidecarCreateMessage } from './sidecars.js';

/** A manifest larger than this is not a manifest. */
export const MAX_MANIFEST_BYTES = 1024 * 1024;
/** How many YAML alias expansions a manifest may use (anchors are fine; billion-laughs bombs are not). */
const MAX_ALIAS_COUNT = 100;

/** Several 422s in one answer, as Cloud Controller's CompoundError renders them. */
export class CompoundError extends ApiError {
  constructor(readonly details: string[]) {
    super('UnprocessableEntity', details.join('\n'));
  }

  override toJSON() {
    return { errors: this.details.map((detail) => ({ detail, title: this.title, code: this.code })) };
  }
}

/** The settings of one process in a manifest: only what was given is set. */
export interface ManifestProcess {
  type: string;
  instances?: number;
  memoryInMb?: number;
  diskInMb?: number;
  logRateLimit?: number;
  /** null: back to the droplet's command. */
  command?: string | null;
  healthCheckType?: string;
  healthCheckEndpoint?: string;
  healthCheckTimeout?: number;
  healthCheckInvocationTimeout?: number;
}

export interface ManifestRoute {
  /** As written: `host.domain[:port][/path]`. */
  route: string;
}

export interface ManifestService {
  name: string;
  bindingName?: string;
  parameters?: Record<string, unknown>;
}

/** One entry of `sidecars:`: name, command and process types are required; memory when given. */
export type ManifestSidecar = SidecarCreateMessage;

/** One application of a manifest. */
export interface AppManifestMessage {
  name: string;
  buildpacks?: string[];
  stack?: string;
  env?: Record<string, string>;
  metadata?: { labels?: Record<string, string | null>; annotations?: Record<string, string | null> };
  /** web first when given; settings at the top level of the app are the web process's. */
  processes: ManifestProcess[];
  routes?: ManifestRoute[];
  noRoute: boolean;
  randomRoute: boolean;
  defaultRoute: boolean;
  services?: ManifestService[];
  /** Created, or updated when the app has one of the name (as Cloud Controller: none is removed). */
  sidecars?: ManifestSidecar[];
  /** The app as written (dashed keys), for the audit event (env hidden). */
  raw: Record<string, unknown>;
}

export interface ManifestMessage {
  apps: AppManifestMessage[];
  /** The applications as written, for the diff. */
  raw: Record<string, unknown>[];
}

// Keys Cloud Controller knows (AppManifestMessage), written with dashes or underscores.
const SUPPORTED = new Set([
  'name', 'path', 'buildpack', 'buildpacks', 'command', 'disk_quota', 'env', 'health_check_http_endpoint', 'health_check_invocation_timeout',
  'health_check_type', 'instances', 'memory', 'metadata', 'no_route', 'random_route', 'default_route', 'routes', 'services', 'stack', 'timeout',
  'processes', 'lifecycle', 'log_rate_limit_per_second', 'sidecars',
]);
// Known to Cloud Controller, not to devbox: refused by name with the reason.
const UNSUPPORTED: Record<string, string> = {
  docker: 'Docker apps are not supported: devbox runs buildpack apps on the host',
  cnb_credentials: 'Cloud Native Buildpacks are not supported by devbox',
  features: 'App features are not supported by devbox',
  health_check_interval: 'Health check interval is not supported by devbox (the DEA checks at a fixed interval)',
  readiness_health_check_type: 'Readiness health checks are not supported by devbox',
  readiness_health_check_http_endpoint: 'Readiness health checks are not supported by devbox',
  readiness_health_check_invocation_timeout: 'Readiness health checks are not supported by devbox',
  readiness_health_check_interval: 'Readiness health checks are not supported by devbox',
};
const SIDECAR_KEYS = ['name', 'command', 'process_types', 'memory'];
const PROCESS_KEYS = new Set(['type', 'command', 'disk_quota', 'health_check_http_endpoint', 'health_check_invocation_timeout', 'health_check_type', 'instances', 'memory', 'timeout', 'log_rate_limit_per_second']);

const underscore = (key: string) => key.replace(/-/g, '_');
const isObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value);

/** Reads the request's YAML body (bounded); 400 when it is not YAML. */
export async function readManifestBody(req: IncomingMessage): Promise<unknown> {
  const type = String(req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (!['application/x-yaml', 'text/yaml', 'application/yaml', 'text/x-yaml'].includes(type)) throw new ApiError('InvalidRequest', 'Content-Type must be yaml');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_MANIFEST_BYTES) throw new ApiError('RequestEntityTooLarge', `The manifest is larger than ${MAX_MANIFEST_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  const doc = parseDocument(Buffer.concat(chunks).toString('utf8'), { version: '1.1', merge: true, uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0) throw new ApiError('MessageParseError', `Request invalid due to parse error: invalid request body: ${doc.errors[0].message}`);
  try {
    return doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) as unknown;
  } catch (error) {
    throw new ApiError('MessageParseError', `Request invalid due to parse error: invalid request body: ${(error as Error).message}`);
  }
}

/** The manifest's applications, checked; a CompoundError with every problem otherwise. */
export function manifestMessage(data: unknown): ManifestMessage {
  if (!isObject(data)) throw unprocessable("Cannot parse manifest with no 'applications' field.");
  if (data.version !== undefined && data.version !== 1 && data.version !== '1') throw unprocessable('Unsupported manifest schema version. Currently supported versions: [1].');
  const list = data.applications;
  if (!Array.isArray(list) || list.length === 0) throw unprocessable("Cannot parse manifest with no 'applications' field.");
  const problems: string[] = [];
  const apps: AppManifestMessage[] = [];
  list.forEach((raw, index) => {
    const found: string[] = [];
    const app = appManifest(raw, found);
    // A name that is itself a problem (control characters, too long) is not repeated in the messages.
    // eslint-disable-next-line no-control-regex -- matching control characters is the point
    const name = isObject(raw) && typeof raw.name === 'string' && raw.name.trim() !== '' && raw.name.length <= 255 && !/[\u0000-\u001f\u007f]/.test(raw.name) ? raw.name : undefined;
    for (const problem of found) problems.push(name ? `For application '${name}': ${problem}` : `For application at index ${index}: ${problem}`);
    if (app) apps.push(app);
  });
  const seen = new Set<string>();
  for (const app of apps) {
    if (seen.has(app.name)) problems.push(`For application '${app.name}': the manifest lists this app more than once`);
    seen.add(app.name);
  }
  if (problems.length > 0) throw new CompoundError(problems);
  return { apps, raw: list as Record<string, unknown>[] };
}

/** Megabytes from a size with a unit (`256M`, `1G`, `512MB`, `1024K`), as Cloud Controller's ByteConverter. */
export function megabytes(value: unknown): number | 'unit' | 'number' {
  if (typeof value === 'number') return 'unit';
  if (typeof value !== 'string') return 'number';
  const m = /^\s*(-?\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$/.exec(value);
  if (!m) return 'number';
  const unit = m[2].toUpperCase();
  const factor: Record<string, number> = { B: 1 / (1024 * 1024), K: 1 / 1024, KB: 1 / 1024, M: 1, MB: 1, G: 1024, GB: 1024, T: 1024 * 1024, TB: 1024 * 1024 };
  if (!(unit in factor)) return 'unit';
  return Math.floor(Number(m[1]) * factor[unit]);
}

/** Bytes per second from `1K`, `16M`, `-1` (unlimited), as log-rate-limit-per-second; undefined when not a size. */
function bytesPerSecond(value: unknown): number | undefined {
  if (value === -1 || value === '-1') return -1;
  if (typeof value === 'number') return Number.isInteger(value) && value >= 0 ? value : undefined;
  const m = typeof value === 'string' ? /^\s*(\d+(?:\.\d+)?)\s*(B|K|KB|M|MB|G|GB|T|TB)\s*$/i.exec(value) : null;
  if (!m) return undefined;
  const power = { B: 0, K: 1, KB: 1, M: 2, MB: 2, G: 3, GB: 3, T: 4, TB: 4 }[m[2].toUpperCase() as 'B'];
  return Math.floor(Number(m[1]) * 1024 ** power);
}

function processSettings(raw: Record<string, unknown>, type: string, problems: string[], prefix = ''): ManifestProcess {
  const at = (label: string) => (prefix ? `Process "${type}": ${label}` : label);
  const process: ManifestProcess = { type };
  if (raw.instances !== undefined) {
    if (typeof raw.instances !== 'number' || !Number.isInteger(raw.instances)) problems.push(at('Instances must be an integer'));
    else if (raw.instances < 0) problems.push(at('Instances must be greater than or equal to 0'));
    else if (raw.instances > 1000) problems.push(at('Instances must be less than or equal to 1000'));
    else process.instances = raw.instances;
  }
  const size = (key: 'memory' | 'disk_quota', label: string, max: number): number | undefined => {
    if (raw[key] === undefined) return undefined;
    const mb = megabytes(raw[key]);
    if (mb === 'unit') problems.push(at(`${label} must use a supported unit: B, K, KB, M, MB, G, GB, T, or TB`));
    else if (mb === 'number') problems.push(at(`${label} is not a number`));
    else if (mb <= 0) problems.push(at(`${label} must be greater than 0MB`));
    else if (mb > max) problems.push(at(`${label} must be at most ${max}MB on devbox`));
    else return mb;
    return undefined;
  };
  process.memoryInMb = size('memory', 'Memory', MAX_MEMORY_MB);
  process.diskInMb = size('disk_quota', 'Disk quota', MAX_DISK_MB);
  if (raw.log_rate_limit_per_second !== undefined) {
    const rate = bytesPerSecond(raw.log_rate_limit_per_second);
    if (rate === undefined) problems.push(at('Log rate limit must use a supported unit: B, K, KB, M, MB, G, GB, T, or TB'));
    else process.logRateLimit = rate;
  }
  if (raw.command !== undefined) {
    if (raw.command === null || raw.command === 'null' || raw.command === 'default') process.command = null;
    else if (typeof raw.command !== 'string' || raw.command === '') problems.push(at('Command must be between 1 and 4096 characters'));
    else if (raw.command.length > 4096) problems.push(at('Command must be between 1 and 4096 characters'));
    else process.command = raw.command;
  }
  if (raw.health_check_type !== undefined) {
    const type = raw.health_check_type === 'none' ? 'process' : raw.health_check_type;
    if (typeof type !== 'string' || !(PROCESS_HEALTH_CHECK_TYPES as readonly string[]).includes(type)) problems.push(at(`Health check type must be "port", "process", or "http"`));
    else process.healthCheckType = type;
  }
  if (raw.health_check_http_endpoint !== undefined) {
    const endpoint = raw.health_check_http_endpoint;
    if (typeof endpoint !== 'string' || !endpoint.startsWith('/') || endpoint.length > 255) problems.push(at('Health check http endpoint must be a valid URI path'));
    else process.healthCheckEndpoint = endpoint;
  }
  if (process.healthCheckEndpoint !== undefined && process.healthCheckType !== undefined && process.healthCheckType !== 'http') {
    problems.push(at('Health check type must be "http" to set a health check HTTP endpoint'));
  }
  const seconds = (key: 'timeout' | 'health_check_invocation_timeout', label: string): number | undefined => {
    const value = raw[key];
    if (value === undefined) return undefined;
    if (typeof value !== 'number' || !Number.isInteger(value)) problems.push(at(`${label} must be an integer`));
    else if (value < 1) problems.push(at(`${label} must be greater than or equal to 1`));
    else if (value > 600) problems.push(at(`${label} must be less than or equal to 600`));
    else return value;
    return undefined;
  };
  process.healthCheckTimeout = seconds('timeout', 'Timeout');
  process.healthCheckInvocationTimeout = seconds('health_check_invocation_timeout', 'Health check invocation timeout');
  return process;
}

const processGiven = (p: ManifestProcess) => Object.entries(p).some(([k, v]) => k !== 'type' && v !== undefined);

function appManifest(raw: unknown, problems: string[]): AppManifestMessage | undefined {
  if (!isObject(raw)) {
    problems.push('Application must be a mapping of its attributes (name, memory, ...)');
    return undefined;
  }
  const app: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) app[underscore(key)] = value;
  const name = app.name;
  if (typeof name !== 'string' || name.trim() === '') problems.push('Name must not be empty');
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  else if (/[\u0000-\u001f\u007f]/.test(name)) problems.push('Name must not contain control characters (line breaks, tabs, NUL, escapes): use printable characters only');
  else if (name.length > 255) problems.push('Name is too long (maximum is 255 characters)');

  const unknown = Object.keys(raw).filter((k) => !SUPPORTED.has(underscore(k)) && !(underscore(k) in UNSUPPORTED));
  if (unknown.length > 0) problems.push(`Unknown field(s): '${unknown.join("', '")}'`);
  for (const key of Object.keys(app)) if (key in UNSUPPORTED) problems.push(UNSUPPORTED[key]);
  if (raw.disk_quota !== undefined && raw['disk-quota'] !== undefined) problems.push('Disk quota is given twice (disk_quota and disk-quota): give one');

  const manifest: AppManifestMessage = {
    name: typeof name === 'string' ? name : '',
    processes: [],
    noRoute: false,
    randomRoute: false,
    defaultRoute: false,
    raw: { ...raw, ...(raw.env !== undefined ? { env: '[PRIVATE DATA HIDDEN]' } : {}) },
  };

  if (app.lifecycle !== undefined && app.lifecycle !== 'buildpack') problems.push("Lifecycle must be 'buildpack': devbox runs buildpack apps only");
  if (app.buildpack !== undefined && app.buildpacks !== undefined) problems.push('Buildpack and Buildpacks fields cannot be used together.');
  else if (app.buildpacks !== undefined) {
    if (!Array.isArray(app.buildpacks) || app.buildpacks.some((b) => typeof b !== 'string' || b === '')) problems.push('Buildpacks must be a list of strings');
    else manifest.buildpacks = app.buildpacks as string[];
  } else if (app.buildpack !== undefined) {
    if (app.buildpack === null || app.buildpack === 'default' || app.buildpack === 'null') manifest.buildpacks = [];
    else if (typeof app.buildpack !== 'string' || app.buildpack === '') problems.push('Buildpack must be a string');
    else manifest.buildpacks = [app.buildpack];
  }
  if (app.stack !== undefined) {
    if (app.stack !== STACK) problems.push(`Stack must be an existing stack: devbox runs apps on the '${STACK}' stack`);
    else manifest.stack = STACK;
  }
  if (app.env !== undefined && app.env !== null) {
    if (!isObject(app.env)) problems.push('Env must be an object of keys and values');
    else {
      try {
        manifest.env = parseEnvironment(app.env);
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        problems.push(error.detail);
      }
    }
  }
  if (app.metadata !== undefined) {
    const metadata = app.metadata;
    const valid = isObject(metadata) && Object.keys(metadata).every((k) => k === 'labels' || k === 'annotations') &&
      Object.values(metadata).every((v) => v === undefined || (isObject(v) && Object.values(v).every((x) => x === null || typeof x === 'string')));
    if (!valid) problems.push('Metadata must be an object with labels and annotations of string values');
    else manifest.metadata = metadata as AppManifestMessage['metadata'];
  }

  // Processes: the app's top-level settings are the web process's; a `processes` entry of type web replaces them (as CC).
  const web = processSettings(app, 'web', problems);
  const byType = new Map<string, ManifestProcess>();
  if (processGiven(web)) byType.set('web', web);
  if (app.processes !== undefined) {
    if (!Array.isArray(app.processes)) problems.push('Processes must be an array of process configurations');
    else {
      for (const entry of app.processes) {
        if (!isObject(entry)) {
          problems.push('Processes must be an array of process configurations');
          continue;
        }
        const p: Record<string, unknown> = {};
        for (const [key, value] of Object.entries(entry)) p[underscore(key)] = value;
        if (typeof p.type !== 'string' || p.type === '') {
          problems.push('All Processes must specify a type');
          continue;
        }
        const unknownKeys = Object.keys(entry).filter((k) => !PROCESS_KEYS.has(underscore(k)));
        if (unknownKeys.length > 0) problems.push(`Process "${p.type}": Unknown field(s): '${unknownKeys.join("', '")}'`);
        if (byType.has(p.type) && p.type !== 'web') problems.push(`Process "${p.type}" may only be present once`);
        byType.set(p.type, processSettings(p, p.type, problems, 'process'));
      }
    }
  }
  manifest.processes = [...byType.values()].sort((a, b) => (a.type === 'web' ? -1 : b.type === 'web' ? 1 : a.type.localeCompare(b.type)));

  const flag = (key: 'no_route' | 'random_route' | 'default_route', label: string): boolean => {
    const value = app[key];
    if (value === undefined || value === null) return false;
    if (typeof value !== 'boolean') {
      problems.push(`${label} must be a boolean`);
      return false;
    }
    return value;
  };
  manifest.noRoute = flag('no_route', 'No-route');
  manifest.randomRoute = flag('random_route', 'Random-route');
  manifest.defaultRoute = flag('default_route', 'Default-route');
  if (app.routes !== undefined && app.routes !== null) {
    if (!Array.isArray(app.routes) || app.routes.some((r) => !isObject(r))) problems.push('Routes must be a list of route objects');
    else {
      const routes: ManifestRoute[] = [];
      for (const entry of app.routes as Record<string, unknown>[]) {
        const extra = Object.keys(entry).filter((k) => !['route', 'protocol', 'options'].includes(k));
        if (extra.length > 0) problems.push(`Routes: Unknown field(s): '${extra.join("', '")}'`);
        if (typeof entry.route !== 'string' || !/^(?:[a-z0-9*](?:[a-z0-9-]*[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?::\d+)?(?:\/[^\s?#]*)?$/i.test(entry.route)) {
          problems.push(`The route '${String(entry.route)}' is not a properly formed URL`);
          continue;
        }
        if (entry.protocol !== undefined && entry.protocol !== 'http1') problems.push(`Route protocol must be 'http1' (route '${entry.route}'): devbox's router speaks HTTP/1.1`);
        routes.push({ route: entry.route });
      }
      manifest.routes = routes;
    }
    if (manifest.noRoute && manifest.routes?.length) problems.push('Cannot use the combination of no-route and routes');
  }
  if (manifest.noRoute && manifest.randomRoute) problems.push('Cannot use the combination of no-route and random-route');
  if (app.services !== undefined && app.services !== null) {
    if (!Array.isArray(app.services)) problems.push('Services must be a list of service instance names');
    else {
      const services: ManifestService[] = [];
      for (const entry of app.services) {
        if (typeof entry === 'string' && entry !== '') services.push({ name: entry });
        else if (isObject(entry) && typeof entry.name === 'string' && entry.name !== '') {
          const extra = Object.keys(entry).filter((k) => !['name', 'parameters', 'binding_name'].includes(k));
          if (extra.length > 0) problems.push(`Services: Unknown field(s): '${extra.join("', '")}'`);
          if (entry.parameters !== undefined && !isObject(entry.parameters)) problems.push(`Service "${entry.name}": Parameters must be an object`);
          if (entry.binding_name !== undefined && typeof entry.binding_name !== 'string') problems.push(`Service "${entry.name}": Binding name must be a string`);
          services.push({ name: entry.name, parameters: entry.parameters as Record<string, unknown> | undefined, bindingName: entry.binding_name as string | undefined });
        } else problems.push('Services must be a list of service instance names, or of objects with a name');
      }
      manifest.services = services;
    }
  }
  if (app.sidecars !== undefined && app.sidecars !== null) manifest.sidecars = sidecarsOf(app.sidecars, problems);
  return manifest;
}

/**
 * `sidecars:`, each entry checked as Cloud Controller checks a sidecar create (its
 * SidecarCreateMessage): a problem is `Sidecar "NAME": ...`, or `Sidecar name can't be blank`.
 * `memory` is a size with a unit (`64M`), or a number of megabytes.
 */
function sidecarsOf(value: unknown, problems: string[]): ManifestSidecar[] | undefined {
  if (!Array.isArray(value) || value.some((entry) => !isObject(entry))) {
    problems.push('Sidecars must be an array of sidecar configurations');
    return undefined;
  }
  const sidecars: ManifestSidecar[] = [];
  const seen = new Set<string>();
  for (const entry of value as Record<string, unknown>[]) {
    const raw: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(entry)) raw[underscore(key)] = v;
    const named = typeof raw.name === 'string' && raw.name.trim() !== '' ? raw.name : undefined;
    const found: string[] = [];
    const unknownKeys = Object.keys(entry).filter((k) => !SIDECAR_KEYS.includes(underscore(k)));
    if (unknownKeys.length > 0) found.push(`Unknown field(s): '${unknownKeys.join("', '")}'`);
    let memory: unknown;
    if (raw.memory !== undefined && raw.memory !== null) {
      const mb = typeof raw.memory === 'number' ? raw.memory : megabytes(raw.memory);
      if (mb === 'unit' || mb === 'number') found.push('Memory must use a supported unit: B, K, KB, M, MB, G, GB, T, or TB');
      else memory = mb;
    }
    const { fields, problems: invalid } = sidecarProblems({ name: raw.name, command: raw.command, process_types: raw.process_types, memory_in_mb: memory }, true);
    found.push(...invalid);
    if (fields.name !== undefined && fields.processTypes !== undefined) {
      const long = logSourceProblem(fields.name, fields.processTypes);
      if (long) found.push(long);
    }
    if (named !== undefined && seen.has(named)) found.push('may only be present once');
    if (named !== undefined) seen.add(named);
    // Cloud Controller's words: the sidecar's name first, or the problem lower-cased after "Sidecar".
    for (const problem of found) problems.push(named !== undefined ? `Sidecar "${named}": ${problem}` : `Sidecar ${problem.charAt(0).toLowerCase()}${problem.slice(1)}`);
    if (found.length === 0) sidecars.push(fields as ManifestSidecar);
  }
  return sidecars;
}
