// Space manifests, as Cloud Controller's apply_manifest: every app of the manifest is created or
// updated (lifecycle, env, metadata, processes and their scale and health checks, routes, service
// bindings). Everything the manifest names is resolved first (domains, routes of other spaces,
// service instances), so a manifest that cannot be applied changes nothing; then the apps, processes
// and routes are written in one transaction with their audit events. Service bindings come last (a
// managed instance's broker is called, outside any transaction); a binding that fails fails the job.
// The work is done before the answer, as devbox's other jobs: the job is COMPLETE or FAILED at once.
import { randomInt } from 'node:crypto';
import { newGuid, now, type RequestContext } from '../context.js';
import { ApiError, unprocessable } from '../errors.js';
import { CompoundError, megabytes, type AppManifestMessage, type ManifestMessage, type ManifestProcess } from '../messages/manifests.js';
import { metadataUpdate } from '../messages/validate.js';
import { appManifestHash, type AppManifestParts } from '../presenters/manifests.js';
import { insertApp, insertProcess, NEW_APP_FEATURES, saveProcessSettings, updateApp, type AppRow, type ProcessRow } from '../repositories/apps.js';
import type { DomainRow } from '../repositories/domains.js';
import { insertJob, type JobRow } from '../repositories/jobs.js';
import { allDomains, appDestinationsOfRoute, appProcesses, appRouteAddresses, appServiceNames, findAppByName, findInstanceInSpace, findRouteByAddress } from '../repositories/manifests.js';
import { isUniqueViolation, jsonColumn, type Db } from '../repositories/query.js';
import { DEFAULT_APP_PORT, deleteRouteDestination, insertRoute, insertRouteDestination, isMapped, type RouteRow } from '../repositories/routes.js';
import { findAppBinding, type InstanceRow } from '../repositories/services.js';
import { sidecarsOfApp } from '../repositories/sidecars.js';
import type { SpaceRow } from '../repositories/spaces.js';
import { apiLog, newProcess } from './apps.js';
import { recordAppEvent, recordEvent } from './audit.js';
import { applyToInstances, routesChanged } from './instances.js';
import { assertRouteHostAllowed } from './routes.js';
import { completedJob, jobErrors, serviceJobOutcome } from './jobs.js';
import { createServiceBinding } from './service-bindings.js';
import { createFailed, readLastOperation } from './service-operations.js';
import { newSidecar, processMemoryProblem, updatedSidecar, writeNewSidecar, writeSidecarUpdate } from './sidecars.js';

interface RouteAddress {
  host: string;
  path: string;
  domain: DomainRow;
  /** The route when it exists (in this space). */
  existing?: RouteRow;
  url: string;
}

/** What applying one app needs, resolved before anything is written. */
interface AppPlan {
  manifest: AppManifestMessage;
  existing?: AppRow;
  processes: ProcessRow[];
  routes: RouteAddress[];
  /** no-route: unmap every route. */
  unmapAll: boolean;
  services: { instance: InstanceRow; parameters?: Record<string, unknown>; bindingName?: string }[];
}

const HOST = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** `host.domain[/path]` on the longest domain it ends with; a problem when it is on none. */
function splitRoute(route: string, domains: DomainRow[]): { host: string; path: string; domain: DomainRow } | string {
  if (/:\d+(\/|$)/.test(route)) return `The route '${route}' has a port: devbox has HTTP routes only (no TCP domains)`;
  const slash = route.indexOf('/');
  const address = (slash === -1 ? route : route.slice(0, slash)).toLowerCase();
  const path = slash === -1 ? '' : route.slice(slash).replace(/\/+$/, '');
  const exact = domains.find((d) => d.name.toLowerCase() === address);
  if (exact) {
    if (exact.organization_guid === null) return `The route '${route}' has no host: routes in shared domains must have a host defined`;
    return { host: '', path, domain: exact };
  }
  const domain = domains.filter((d) => address.endsWith(`.${d.name.toLowerCase()}`)).sort((a, b) => b.name.length - a.name.length)[0];
  if (!domain) return `The route '${route}' did not match any existing domains.`;
  const host = address.slice(0, -(domain.name.length + 1));
  if (host !== '*' && !HOST.test(host)) return `The route '${route}' has an invalid host: Host must be either "*" or contain only alphanumeric characters, "_", or "-"`;
  return { host, path, domain };
}

const ADJECTIVES = ['agile', 'bold', 'brave', 'bright', 'calm', 'clever', 'daring', 'eager', 'gentle', 'happy', 'jolly', 'keen', 'lively', 'lucky', 'merry', 'nimble', 'proud', 'quick', 'quiet', 'swift'];
const NOUNS = ['badger', 'bear', 'beaver', 'bison', 'crane', 'eagle', 'ferret', 'gecko', 'heron', 'ibex', 'koala', 'lemur', 'lynx', 'marmot', 'otter', 'panda', 'puffin', 'raven', 'walrus', 'wombat'];

/** The host of the app's default route: its name, which must be a DNS label (as CC requires). */
const defaultHost = (name: string) => name.toLowerCase().replace(/_/g, '-');

async function planApp(ctx: RequestContext, space: SpaceRow, manifest: AppManifestMessage, domains: DomainRow[], problems: string[]): Promise<AppPlan> {
  const problem = (text: string) => problems.push(`For application '${manifest.name}': ${text}`);
  const existing = await findAppByName(ctx.db, space.guid, manifest.name);
  const plan: AppPlan = { manifest, existing, processes: existing ? await appProcesses(ctx.db, existing.guid) : [], routes: [], unmapAll: false, services: [] };
  const address = async (route: string) => {
    const split = splitRoute(route, domains);
    if (typeof split === 'string') return void problem(split);
    const found = await findRouteByAddress(ctx.db, split.domain.guid, split.host, split.path);
    if (!found) {
      // A new route obeys what POST /v3/routes does: no platform hostname (api, uaa, logs…).
      try {
        assertRouteHostAllowed(split.host, split.domain);
      } catch (error) {
        return void problem((error as Error).message);
      }
    }
    if (found && found.space_guid !== space.guid) return void problem(`The app cannot be mapped to route ${route} because the route is not in this space. Apps must be mapped to routes in the same space.`);
    plan.routes.push({ ...split, existing: found, url: `${split.host ? `${split.host}.` : ''}${split.domain.name}${split.path}` });
  };
  if (manifest.noRoute) plan.unmapAll = true;
  else if (manifest.routes) for (const r of manifest.routes) await address(r.route);
  else if (!existing || (await appRouteAddresses(ctx.db, existing.guid)).length === 0) {
    // No route asked for and the app has none: the default route (or a random one), as CC maps it.
    const domain = domains.find((d) => d.organization_guid === null && !d.internal);
    if (!domain) problem('No default domains available');
    else if (manifest.randomRoute) {
      const host = `${defaultHost(manifest.name)}-${ADJECTIVES[randomInt(ADJECTIVES.length)]}-${NOUNS[randomInt(NOUNS.length)]}-${randomInt(100)}`.slice(0, 63).replace(/-+$/, '');
      await address(`${host}.${domain.name}`);
    } else {
      const host = defaultHost(manifest.name);
      if (host.length > 63) problem('Failed to create default route from app name: Host cannot exceed 63 characters');
      else if (!HOST.test(host)) problem('Failed to create default route from app name: Host must be either "*" or contain only alphanumeric characters, "_", or "-"');
      else await address(`${host}.${domain.name}`);
    }
  }
  for (const service of manifest.services ?? []) {
    const instance = await findInstanceInSpace(ctx.db, space.guid, service.name);
    if (!instance) problem(`Service instance '${service.name}' not found`);
    else plan.services.push({ instance, parameters: service.parameters, bindingName: service.bindingName });
  }
  if (existing && existing.lifecycle_type !== 'buildpack') problem('devbox runs buildpack apps only');
  // An http endpoint needs the http check, whichever of the two the manifest changes.
  for (const p of manifest.processes) {
    const current = plan.processes.find((row) => row.type === p.type);
    const type = p.healthCheckType ?? current?.health_check_type ?? (p.type === 'web' ? 'port' : 'process');
    if (p.healthCheckEndpoint !== undefined && type !== 'http') problem(`${p.type === 'web' ? '' : `Process "${p.type}": `}Health check type must be "http" to set a health check HTTP endpoint`);
  }
  return plan;
}

/** The process row after the manifest's settings (a new version when its instances must restart), and whether anything changed. */
function updatedProcess(row: ProcessRow, p: ManifestProcess, at: string): { next: ProcessRow; changed: boolean } {
  const next: ProcessRow = {
    ...row,
    instances: p.instances ?? row.instances,
    memory_in_mb: p.memoryInMb ?? row.memory_in_mb,
    disk_in_mb: p.diskInMb ?? row.disk_in_mb,
    log_rate_limit_in_bytes_per_second: p.logRateLimit ?? row.log_rate_limit_in_bytes_per_second,
    command: p.command === undefined ? row.command : p.command,
    health_check_type: p.healthCheckType ?? row.health_check_type,
    health_check_timeout: p.healthCheckTimeout ?? row.health_check_timeout,
    health_check_invocation_timeout: p.healthCheckInvocationTimeout ?? row.health_check_invocation_timeout,
  };
  next.health_check_endpoint = next.health_check_type === 'http' ? (p.healthCheckEndpoint ?? row.health_check_endpoint ?? '/') : null;
  const restarts =
    next.command !== row.command || next.health_check_type !== row.health_check_type || next.health_check_endpoint !== row.health_check_endpoint || next.memory_in_mb !== row.memory_in_mb || next.disk_in_mb !== row.disk_in_mb;
  const changed = restarts || next.instances !== row.instances || next.health_check_timeout !== row.health_check_timeout || next.health_check_invocation_timeout !== row.health_check_invocation_timeout || next.log_rate_limit_in_bytes_per_second !== row.log_rate_limit_in_bytes_per_second;
  if (restarts) next.version = newGuid();
  if (changed) next.updated_at = at;
  return { next, changed };
}

interface Written {
  app: AppRow;
  created: boolean;
  /** Processes before and after, for the running instances to follow. */
  processes: { before: ProcessRow; after: ProcessRow }[];
  routesChanged: boolean;
  mapped: string[];
}

/** The app, its processes and its routes, in the transaction. */
async function writeApp(ctx: RequestContext, trx: Db, space: SpaceRow, plan: AppPlan, at: string): Promise<Written> {
  const { manifest } = plan;
  let app: AppRow;
  const created = !plan.existing;
  if (!plan.existing) {
    app = {
      guid: newGuid(),
      name: manifest.name,
      space_guid: space.guid,
      state: 'STOPPED',
      lifecycle_type: 'buildpack',
      buildpacks: JSON.stringify(manifest.buildpacks ?? []),
      stack: manifest.stack ?? 'host',
      environment_variables: JSON.stringify(manifest.env ?? {}),
      droplet_guid: null,
      metadata: JSON.stringify(metadataUpdate({ metadata: manifest.metadata }, { labels: {}, annotations: {} })),
      ...NEW_APP_FEATURES,
      created_at: at,
      updated_at: at,
    };
    await insertApp(trx, app);
    await recordAppEvent(trx, ctx.actor, app, 'audit.app.create', { request: { name: app.name, lifecycle: { buildpacks: manifest.buildpacks ?? [], stack: app.stack } }, manifest_triggered: true });
  } else {
    const current = plan.existing;
    const env = { ...jsonColumn('apps', current, 'environment_variables', {} as Record<string, string>), ...(manifest.env ?? {}) };
    app = {
      ...current,
      buildpacks: manifest.buildpacks ? JSON.stringify(manifest.buildpacks) : current.buildpacks,
      stack: manifest.stack ?? current.stack,
      environment_variables: JSON.stringify(env),
      metadata: manifest.metadata ? JSON.stringify(metadataUpdate({ metadata: manifest.metadata }, jsonColumn('apps', current, 'metadata', { labels: {}, annotations: {} }))) : current.metadata,
    };
    const changed = app.buildpacks !== current.buildpacks || app.stack !== current.stack || app.environment_variables !== current.environment_variables || app.metadata !== current.metadata;
    if (changed) {
      app.updated_at = at;
      await updateApp(trx, app.guid, { buildpacks: app.buildpacks, stack: app.stack, environment_variables: app.environment_variables, metadata: app.metadata, updated_at: at });
    }
  }
  await recordAppEvent(trx, ctx.actor, app, 'audit.app.apply_manifest', { request: { manifest: { applications: [manifest.raw] } } });

  const processes: Written['processes'] = [];
  const rows = [...plan.processes];
  if (created) {
    const web = newProcess(ctx, app.guid, 'web', at);
    await insertProcess(trx, web);
    rows.push(web);
  }
  for (const p of manifest.processes) {
    let row = rows.find((r) => r.type === p.type);
    if (!row) {
      row = newProcess(ctx, app.guid, p.type, at);
      await insertProcess(trx, row);
    }
    const { next, changed } = updatedProcess(row, p, at);
    if (!changed) continue;
    await saveProcessSettings(trx, next);
    const scaled = next.instances !== row.instances || next.memory_in_mb !== row.memory_in_mb || next.disk_in_mb !== row.disk_in_mb || next.log_rate_limit_in_bytes_per_second !== row.log_rate_limit_in_bytes_per_second;
    const updated = next.command !== row.command || next.health_check_type !== row.health_check_type || next.health_check_endpoint !== row.health_check_endpoint || next.health_check_timeout !== row.health_check_timeout || next.health_check_invocation_timeout !== row.health_check_invocation_timeout;
    const event = { process_guid: row.guid, process_type: row.type, manifest_triggered: true };
    if (scaled) await recordAppEvent(trx, ctx.actor, app, 'audit.app.process.scale', event);
    if (updated) await recordAppEvent(trx, ctx.actor, app, 'audit.app.process.update', event);
    processes.push({ before: row, after: next });
  }
  await writeSidecars(trx, app, manifest, processes, at);

  let changedRoutes = false;
  const mapped: string[] = [];
  if (plan.unmapAll && plan.existing) {
    for (const route of await appRouteAddresses(trx, app.guid)) {
      for (const destination of await appDestinationsOfRoute(trx, route.guid, app.guid)) {
        await deleteRouteDestination(trx, destination.guid);
        await recordAppEvent(trx, ctx.actor, app, 'audit.app.unmap-route', { route_guid: route.guid, process_type: destination.process_type, manifest_triggered: true });
        changedRoutes = true;
      }
    }
  }
  for (const address of plan.routes) {
    let route = address.existing ?? (await findRouteByAddress(trx, address.domain.guid, address.host, address.path));
    if (!route) {
      route = { guid: newGuid(), host: address.host, path: address.path, domain_guid: address.domain.guid, space_guid: space.guid, metadata: JSON.stringify({ labels: {}, annotations: {} }), created_at: at, updated_at: at };
      await insertRoute(trx, route);
      await recordEvent(trx, { type: 'audit.route.create', actor: ctx.actor, target: { guid: route.guid, type: 'route', name: address.url }, spaceGuid: space.guid, data: { request: { host: route.host, path: route.path, domain_guid: route.domain_guid }, manifest_triggered: true } });
    }
    if (await isMapped(trx, route.guid, app.guid, 'web')) continue;
    await insertRouteDestination(trx, { guid: newGuid(), route_guid: route.guid, app_guid: app.guid, process_type: 'web', port: null, created_at: at, updated_at: at });
    await recordAppEvent(trx, ctx.actor, app, 'audit.app.map-route', { route_guid: route.guid, app_port: DEFAULT_APP_PORT, process_type: 'web', manifest_triggered: true });
    changedRoutes = true;
    mapped.push(address.url);
  }
  return { app, created, processes, routesChanged: changedRoutes, mapped };
}

/**
 * In Cloud Controller's order: the processes whose memory the manifest changed must still hold
 * the sidecars they have; then the manifest's sidecars are created or updated (by name), each
 * checked against the app's processes and other sidecars. A problem is a 422 naming the app, and
 * the transaction (the whole manifest) is rolled back.
 */
async function writeSidecars(trx: Db, app: AppRow, manifest: AppManifestMessage, processes: Written['processes'], at: string): Promise<void> {
  try {
    const resized = processes.filter(({ before, after }) => after.memory_in_mb !== before.memory_in_mb).map(({ after }) => after);
    const problem = resized.length > 0 ? await processMemoryProblem(trx, app.guid, resized) : undefined;
    if (problem) throw unprocessable(problem);
    for (const sidecar of manifest.sidecars ?? []) {
      const current = (await sidecarsOfApp(trx, app.guid)).find((s) => s.name === sidecar.name);
      if (current) await writeSidecarUpdate(trx, updatedSidecar(current, sidecar, at), sidecar);
      else await writeNewSidecar(trx, newSidecar(app.guid, sidecar, at));
    }
  } catch (error) {
    if (error instanceof ApiError) throw unprocessable(`For application '${app.name}': ${error.detail}`);
    throw error;
  }
}

async function failedJob(db: Db, operation: string, resource: { guid: string; type: string }, errors: ApiError[]): Promise<JobRow> {
  const at = now();
  const row: JobRow = {
    guid: newGuid(),
    operation,
    state: 'FAILED',
    resource_guid: resource.guid,
    resource_type: resource.type,
    errors: jobErrors(errors),
    payload: null,
    run_at: null,
    lease_owner: null,
    lease_until: null,
    created_at: at,
    updated_at: at,
  };
  await insertJob(db, row);
  return row;
}

/**
 * Applies the manifest to the space. A 422 (CompoundError, every problem) when something it names
 * cannot be resolved, before anything is written; else the job, COMPLETE, or FAILED when a service
 * binding could not be made (the rest is applied, as in Cloud Controller).
 */
export async function applyManifest(ctx: RequestContext, space: SpaceRow, message: ManifestMessage): Promise<JobRow> {
  const domains = await allDomains(ctx.db);
  const problems: string[] = [];
  const plans: AppPlan[] = [];
  for (const manifest of message.apps) plans.push(await planApp(ctx, space, manifest, domains, problems));
  if (problems.length > 0) throw new CompoundError(problems);

  const at = now();
  let written: Written[];
  try {
    written = await ctx.db.transaction().execute(async (trx) => {
      const out: Written[] = [];
      for (const plan of plans) out.push(await writeApp(ctx, trx, space, plan, at));
      return out;
    });
  } catch (error) {
    // Another request took a name or a route between the check and the write.
    if (isUniqueViolation(error)) throw unprocessable('An app or route of the manifest was created by another request meanwhile: apply the manifest again');
    throw error;
  }

  for (const w of written) {
    if (w.created) apiLog(ctx, w.app.guid, `Created app with guid ${w.app.guid}`);
    apiLog(ctx, w.app.guid, `Applied manifest to app with guid ${w.app.guid}`);
    for (const url of w.mapped) apiLog(ctx, w.app.guid, `Added route ${url} to app with guid ${w.app.guid}`);
    for (const { before, after } of w.processes) await applyToInstances(ctx, w.app, before, after);
    if (w.routesChanged) await routesChanged(ctx, w.app.guid);
  }

  const failures: ApiError[] = [];
  for (const [i, plan] of plans.entries()) {
    const app = written[i].app;
    for (const service of plan.services) {
      // Bound already (or binding): nothing to do; a bind that failed is tried again.
      const existing = await findAppBinding(ctx.db, service.instance.guid, app.guid);
      if (existing && !createFailed(readLastOperation('service_bindings', existing))) continue;
      try {
        const { job } = await createServiceBinding(ctx, { type: 'app', appGuid: app.guid, instanceGuid: service.instance.guid, name: service.bindingName ?? null, parameters: service.parameters, metadata: { labels: {}, annotations: {} } });
        // The broker is asked now, as the manifest's job; an asynchronous one goes on after it (create in progress).
        if (job) await serviceJobOutcome(ctx, job);
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        failures.push(unprocessable(`For application '${app.name}': For service '${service.instance.name}': ${error.detail}`));
      }
    }
  }
  const resource = { guid: space.guid, type: 'space' };
  if (failures.length > 0) return failedJob(ctx.db, 'space.apply_manifest', resource, failures);
  return completedJob(ctx.db, 'space.apply_manifest', resource);
}

/** What an app's manifest is made of, from the database. */
export async function appManifestParts(db: Db, app: AppRow): Promise<AppManifestParts> {
  const routes = (await appRouteAddresses(db, app.guid)).map((r) => `${r.host ? `${r.host}.` : ''}${r.domain}${r.path}`);
  return { app, processes: await appProcesses(db, app.guid), routes, services: await appServiceNames(db, app.guid), sidecars: await sidecarsOfApp(db, app.guid) };
}

export interface DiffOp {
  op: 'add' | 'remove' | 'replace';
  path: string;
  value?: unknown;
  was?: unknown;
}

const RECOGNIZED = new Set([
  'buildpack', 'buildpacks', 'command', 'disk-quota', 'disk_quota', 'log-rate-limit-per-second', 'docker', 'env', 'health-check-http-endpoint', 'health-check-invocation-timeout',
  'health-check-interval', 'health-check-type', 'instances', 'metadata', 'memory', 'lifecycle', 'name', 'no-route', 'processes', 'random-route', 'default-route', 'routes',
  'services', 'sidecars', 'stack', 'timeout', 'features',
]);

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/** `512M`, `1G`, `1024MB` all as `NM`, so that units do not make a difference. */
function normalizeSize(value: unknown): unknown {
  const mb = megabytes(value);
  return typeof mb === 'number' ? `${mb}M` : value;
}

function normalizeProcesses(value: unknown): unknown {
  if (!Array.isArray(value)) return value;
  return value.map((p: unknown) => {
    if (p === null || typeof p !== 'object') return p;
    const out: Record<string, unknown> = { ...(p as Record<string, unknown>) };
    for (const key of ['memory', 'disk_quota', 'disk-quota']) if (out[key] !== undefined) out[key] = normalizeSize(out[key]);
    return out;
  });
}

/** Sidecars as the app's manifest shows them: by name, their process types sorted, memory as `NM`. */
function normalizeSidecars(value: unknown): unknown {
  if (!Array.isArray(value)) return value;
  const out = value.map((s: unknown) => {
    if (s === null || typeof s !== 'object') return s;
    const entry: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(s as Record<string, unknown>)) entry[key.replace(/-/g, '_')] = v;
    const hash: Record<string, unknown> = { name: entry.name, process_types: Array.isArray(entry.process_types) ? [...(entry.process_types as unknown[])].sort() : entry.process_types, command: entry.command };
    if (entry.memory !== undefined && entry.memory !== null) hash.memory = typeof entry.memory === 'number' ? `${entry.memory}M` : normalizeSize(entry.memory);
    return hash;
  });
  return out.sort((a, b) => String((a as Record<string, unknown> | null)?.name).localeCompare(String((b as Record<string, unknown> | null)?.name)));
}

/**
 * The diff of the manifest against the space, as Cloud Controller's SpaceDiffManifest: for each
 * app, each recognised key that differs from the app's current manifest (a new app: every key is
 * an `add`). Objects (env, metadata) diff key by key; lists are replaced whole.
 */
export async function manifestDiff(ctx: RequestContext, space: SpaceRow, message: ManifestMessage): Promise<DiffOp[]> {
  const diff: DiffOp[] = [];
  for (const [index, raw] of message.raw.entries()) {
    const existing = await findAppByName(ctx.db, space.guid, String(raw.name));
    let current: Record<string, unknown> = {};
    if (existing) {
      current = appManifestHash(await appManifestParts(ctx.db, existing));
      const web = (current.processes as Record<string, unknown>[] | undefined)?.find((p) => p.type === 'web');
      if (web) current = { ...current, ...web };
      if (raw['disk-quota'] !== undefined) current['disk-quota'] = current.disk_quota;
      delete current.type;
    }
    for (const [key, given] of Object.entries(raw)) {
      if (!RECOGNIZED.has(key)) continue;
      let value = given;
      let was = current[key];
      const nested = was !== undefined && ['processes', 'routes'].includes(key);
      // As Cloud Controller: memory and disk are compared only inside processes.
      if (!nested && ['memory', 'disk_quota', 'disk-quota'].includes(key)) continue;
      if (key === 'sidecars') {
        value = normalizeSidecars(value);
        // Only the manifest's sidecars are compared (a manifest removes none), and memory only where it gives one.
        if (Array.isArray(was) && Array.isArray(value)) {
          const wanted = value as (Record<string, unknown> | null)[];
          was = (was as Record<string, unknown>[])
            .filter((s) => wanted.some((w) => w?.name === s.name))
            .map((s) => (wanted.find((w) => w?.name === s.name)?.memory === undefined ? Object.fromEntries(Object.entries(s).filter(([k]) => k !== 'memory')) : s));
        }
      }
      if (key === 'processes') {
        value = normalizeProcesses(value);
        // Only the fields the manifest gives are compared, and only its processes.
        if (Array.isArray(was) && Array.isArray(value)) {
          const wanted = value as Record<string, unknown>[];
          was = (was as Record<string, unknown>[])
            .filter((p) => wanted.some((w) => w?.type === p.type))
            .map((p) => Object.fromEntries(Object.entries(p).filter(([k]) => wanted.find((w) => w?.type === p.type)?.[k] !== undefined)));
        }
      }
      if (key === 'routes' && Array.isArray(was) && Array.isArray(value)) {
        was = (was as Record<string, unknown>[]).map((r) => Object.fromEntries(Object.entries(r).filter(([k]) => (value as Record<string, unknown>[]).some((v) => v?.[k] !== undefined))));
      }
      const path = `/applications/${index}/${key}`;
      const isMap = (v: unknown) => v !== null && typeof v === 'object' && !Array.isArray(v);
      if (isMap(value) && isMap(was)) {
        const before = was as Record<string, unknown>;
        const after = value as Record<string, unknown>;
        for (const k of Object.keys(after)) {
          if (!(k in before)) diff.push({ op: 'add', path: `${path}/${k}`, value: after[k] });
          else if (!same(before[k], after[k])) diff.push({ op: 'replace', path: `${path}/${k}`, value: after[k], was: before[k] });
        }
        for (const k of Object.keys(before)) if (!(k in after)) diff.push({ op: 'remove', path: `${path}/${k}`, was: before[k] });
      } else if (was === undefined || was === null) {
        diff.push({ op: 'add', path, value });
      } else if (!same(was, value)) {
        diff.push({ op: 'replace', path, value, was });
      }
    }
  }
  return diff;
}
