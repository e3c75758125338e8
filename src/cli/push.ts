// `devbox push` (docs/push.md): which apps to push with which settings (manifest, then flags), and the
// push of one app: settings, routes, files (only those the API lacks), staging, start, and the wait
// for its instances.
import { randomInt } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { ManifestRefused } from './api/apps.js';
import type { ApiClient } from './api/client.js';
import type { ProcessChange, ScaleChange } from './api/processes.js';
import type { App, Domain, Process, Route, ServiceCredentialBinding } from './api/resources.js';
import { collectAppFiles, fileResources, tarballStream, type AppFile } from './app-files.js';
import { CliError } from './base-command.js';
import { deployAndWait, stagePackage, startAndWait, traceStaging, type Staged, type Strategy, type Ui } from './lifecycle.js';
import type { AppManifest, Manifest, ManifestProcessEntry, ManifestSidecarEntry } from './manifest.js';
import type { Named } from './session.js';
import type { Steps } from './steps.js';
import { BadSize, byteSize, parseMegabytes } from './units.js';

/** One app to push: a name, a directory, and whatever settings the manifest and flags give. */
export interface PushPlan extends AppManifest {
  name: string;
  path: string;
}

export const MULTIPLE_APPS_WITH_FLAGS = 'Incorrect Usage: Command line flags (except -f and --no-start) cannot be applied when pushing multiple apps from a manifest file.';

/**
 * The apps a push pushes: the named one (from the manifest when it lists it, else from the flags
 * alone), or every app of the manifest. Flags override the manifest's settings of a single app;
 * with several apps only -f and --no-start may be given (cf's rule). Usage errors have exit code 2.
 */
export function planPush({ manifest, name, overrides, cwd }: { manifest?: Manifest; name?: string; overrides: AppManifest; cwd: string }): PushPlan[] {
  const given = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)) as AppManifest;
  if (given.noRoute && given.randomRoute) throw new CliError('Incorrect Usage: The following arguments cannot be used together: --no-route, --random-route', 2);
  if (given.healthCheckEndpoint !== undefined && given.healthCheckType !== undefined && given.healthCheckType !== 'http') {
    throw new CliError(`Incorrect Usage: --endpoint needs the http health check (-u http), not ${given.healthCheckType}`, 2);
  }
  let apps: AppManifest[];
  const where = manifest?.file ? `the manifest ${manifest.file}` : 'the manifest';
  if (!manifest) {
    if (!name) throw new CliError('Incorrect Usage: the required argument APP_NAME was not provided, and there is no manifest.yml to read it from.', 2);
    apps = [{ name }];
  } else if (name) {
    const found = manifest.apps.find((a) => a.name === name);
    if (found) apps = [found];
    else if (manifest.apps.length === 1 && manifest.apps[0].name === undefined) apps = [{ ...manifest.apps[0], name }];
    else {
      const names = manifest.apps.map((a) => a.name).filter(Boolean);
      throw new CliError(`App '${name}' is not in ${where} (it lists ${names.join(', ') || 'no named app'}). Push one of those, or push without the manifest: '--no-manifest'.`);
    }
  } else {
    apps = manifest.apps;
    const unnamed = apps.findIndex((a) => !a.name);
    if (unnamed >= 0) throw new CliError(`Incorrect Usage: applications[${unnamed}] in ${where} has no name. Give it one, or give the app's name: push NAME.`, 2);
  }
  if (apps.length > 1 && Object.keys(given).length > 0) throw new CliError(MULTIPLE_APPS_WITH_FLAGS, 2);
  return apps.map((app) => {
    if (app.processes?.some((p) => p.type === 'web')) return planWithWebEntry(app, given, cwd);
    const merged: AppManifest = { ...app, ...given };
    // Route flags replace the manifest's route choices as a whole.
    if (given.noRoute) merged.randomRoute = undefined;
    if (given.noRoute || given.randomRoute) merged.routes = undefined;
    if (given.randomRoute) merged.noRoute = undefined;
    // -u port|process drops the manifest's http endpoint.
    if (given.healthCheckType !== undefined && given.healthCheckType !== 'http' && given.healthCheckEndpoint === undefined) merged.healthCheckEndpoint = undefined;
    if (merged.healthCheckEndpoint !== undefined && merged.healthCheckType !== undefined && merged.healthCheckType !== 'http') {
      throw new CliError(`Incorrect Usage: the health check endpoint ${merged.healthCheckEndpoint} needs the http health check, not ${merged.healthCheckType}`, 2);
    }
    return { ...merged, name: merged.name as string, path: merged.path ?? cwd };
  });
}

/**
 * The web process's settings of a plan (top-level fields and flags) and the keys a `processes:`
 * entry gives them under (the first is written; cf accepts dashes and underscores alike).
 */
const WEB_FIELDS: { field: keyof AppManifest & string; keys: string[]; value?: (v: unknown) => unknown }[] = [
  { field: 'command', keys: ['command'] },
  { field: 'instances', keys: ['instances'] },
  { field: 'memory', keys: ['memory'], value: (mb) => `${String(mb)}M` },
  { field: 'disk', keys: ['disk_quota', 'disk-quota'], value: (mb) => `${String(mb)}M` },
  { field: 'healthCheckType', keys: ['health-check-type', 'health_check_type'] },
  { field: 'healthCheckEndpoint', keys: ['health-check-http-endpoint', 'health_check_http_endpoint'] },
  { field: 'healthCheckInvocationTimeout', keys: ['health-check-invocation-timeout', 'health_check_invocation_timeout'] },
  { field: 'timeout', keys: ['timeout'] },
];
const ENDPOINT_KEYS = ['health-check-http-endpoint', 'health_check_http_endpoint'];
const TYPE_KEYS = ['health-check-type', 'health_check_type'];
const DISK_KEYS = ['disk_quota', 'disk-quota'];

/** The first of these keys an entry gives (null counts: `command: null` is a value). */
const entryValue = (entry: ManifestProcessEntry, keys: string[]): unknown => entry[keys.find((k) => entry[k] !== undefined) ?? keys[0]];

/**
 * A plan whose manifest has a `processes:` entry for web: the web process is set by that entry
 * alone, made of (strongest first) the flags, the entry as written, and the app's top-level fields
 * for what the entry does not give. Cloud Controller's rule is that the entry wins over the top
 * level (it then ignores the top level: devbox keeps it for what the entry leaves out), and cf's
 * that flags win over both.
 */
function planWithWebEntry(app: AppManifest, given: AppManifest, cwd: string): PushPlan {
  const web: ManifestProcessEntry = { ...(app.processes?.find((p) => p.type === 'web') as ManifestProcessEntry) };
  const has = (keys: string[]) => keys.some((k) => web[k] !== undefined);
  let endpointFromTop = false;
  for (const { field, keys, value } of WEB_FIELDS) {
    const flag = given[field];
    const top = app[field];
    if (flag !== undefined) {
      for (const key of keys) delete web[key];
      web[keys[0]] = value ? value(flag) : flag;
    } else if (top !== undefined && !has(keys)) {
      web[keys[0]] = value ? value(top) : top;
      if (field === 'healthCheckEndpoint') endpointFromTop = true;
    }
  }
  // -u port|process drops an http endpoint, wherever the manifest wrote it; so does an entry's own
  // non-http type for an endpoint written at the top level.
  const type = entryValue(web, TYPE_KEYS);
  const dropEndpoint = given.healthCheckEndpoint === undefined && (given.healthCheckType !== undefined ? given.healthCheckType !== 'http' : endpointFromTop && type !== undefined && type !== 'http');
  if (dropEndpoint) for (const key of ENDPOINT_KEYS) delete web[key];
  const merged: AppManifest = { ...app, ...given };
  if (given.noRoute) merged.randomRoute = undefined;
  if (given.noRoute || given.randomRoute) merged.routes = undefined;
  if (given.randomRoute) merged.noRoute = undefined;
  for (const { field } of WEB_FIELDS) delete merged[field];
  merged.processes = app.processes?.map((p) => (p.type === 'web' ? web : p));
  return { ...merged, name: merged.name as string, path: merged.path ?? cwd };
}

/**
 * The manifest push applies for an app's `processes:` and `sidecars:` (YAML 1.1, as the controller
 * reads it): the entries as written. `routes: []` tells apply_manifest to leave the app's routes
 * alone (push has mapped them already; without it, an app with no route would get the default one).
 */
export function processesManifest(name: string, processes: ManifestProcessEntry[], sidecars: ManifestSidecarEntry[] = []): string {
  const app = { name, routes: [], ...(processes.length > 0 ? { processes } : {}), ...(sidecars.length > 0 ? { sidecars } : {}) };
  return stringify({ applications: [app] }, { version: '1.1' });
}

/**
 * What of the manifest push applies through apply_manifest: `what` (`processes`, `sidecars` or
 * `processes and sidecars`) and `named` (`processes web, worker and sidecars side-kick`).
 */
function appliedParts(processes: ManifestProcessEntry[], sidecars: ManifestSidecarEntry[]): { what: string; named: string } {
  const parts = [
    processes.length > 0 ? ['processes', `processes ${processes.map((p) => p.type).join(', ')}`] : undefined,
    sidecars.length > 0 ? ['sidecars', `sidecars ${sidecars.map((s) => s.name).join(', ')}`] : undefined,
  ].filter((part) => part !== undefined);
  return { what: parts.map((p) => p[0]).join(' and '), named: parts.map((p) => p[1]).join(' and ') };
}

/**
 * Whether applying these entries restarts instances of a started app (as a new command, health
 * check type or endpoint, memory or disk does: docs/push.md), compared with the app's processes; a
 * type the app does not have yet counts when it asks for instances. A size push cannot read counts
 * as a change (the controller says what is wrong with it).
 */
export function processesRestart(current: Process[], entries: ManifestProcessEntry[]): boolean {
  const mb = (value: unknown): number | undefined => {
    try {
      return parseMegabytes(String(value));
    } catch (error) {
      if (error instanceof BadSize) return undefined;
      throw error;
    }
  };
  return entries.some((entry) => {
    const process = current.find((p) => p.type === entry.type);
    if (!process) return typeof entry.instances === 'number' && entry.instances > 0;
    if (entry.command !== undefined) {
      const command = entry.command === null || entry.command === 'null' || entry.command === 'default' ? null : entry.command;
      if (command !== process.command) return true;
    }
    const type = entryValue(entry, TYPE_KEYS);
    if (type !== undefined && (type === 'none' ? 'process' : type) !== process.health_check.type) return true;
    const endpoint = entryValue(entry, ENDPOINT_KEYS);
    if (endpoint !== undefined && endpoint !== (process.health_check.data.endpoint ?? (process.health_check.type === 'http' ? '/' : undefined))) return true;
    if (entry.memory !== undefined && mb(entry.memory) !== process.memory_in_mb) return true;
    const disk = entryValue(entry, DISK_KEYS);
    return disk !== undefined && mb(disk) !== process.disk_in_mb;
  });
}

/**
 * Entries with a health check endpoint whose process would not have the http check (the entry gives
 * no type, and the process has or gets another one): the controller refuses these only when it
 * applies the manifest, after push has created the app, so push says so first.
 */
export function endpointProblems(current: Process[], entries: ManifestProcessEntry[]): string[] {
  const problems: string[] = [];
  for (const entry of entries) {
    const endpoint = entryValue(entry, ENDPOINT_KEYS);
    if (endpoint === undefined || entryValue(entry, TYPE_KEYS) !== undefined) continue;
    const type = current.find((p) => p.type === entry.type)?.health_check.type ?? (entry.type === 'web' ? 'port' : 'process');
    if (type !== 'http') problems.push(`Process "${entry.type}": the health check endpoint ${String(endpoint)} needs health-check-type http, and the process has the ${type} health check: add health-check-type: http to its entry`);
  }
  return problems;
}

/**
 * What `PATCH /v3/processes/:guid` must change for the plan (`change` undefined when nothing), and
 * whether that change restarts running instances (a new command, health check type or endpoint).
 */
export function processUpdate(web: Process, plan: AppManifest): { change?: ProcessChange; restarts: boolean } {
  const change: ProcessChange = {};
  let restarts = false;
  if (plan.command !== undefined && plan.command !== web.command) {
    change.command = plan.command;
    restarts = true;
  }
  const current = web.health_check;
  if (plan.healthCheckType !== undefined || plan.healthCheckEndpoint !== undefined || plan.timeout !== undefined || plan.healthCheckInvocationTimeout !== undefined) {
    const type = plan.healthCheckType ?? current.type;
    const data: Record<string, unknown> = {};
    if (plan.timeout !== undefined) data.timeout = plan.timeout;
    if (plan.healthCheckInvocationTimeout !== undefined) data.invocation_timeout = plan.healthCheckInvocationTimeout;
    if (plan.healthCheckEndpoint !== undefined) data.endpoint = plan.healthCheckEndpoint;
    const newType = type !== current.type;
    const newEndpoint = plan.healthCheckEndpoint !== undefined && plan.healthCheckEndpoint !== (current.data.endpoint ?? (current.type === 'http' ? '/' : undefined));
    const newTimeouts = (plan.timeout !== undefined && plan.timeout !== current.data.timeout) || (plan.healthCheckInvocationTimeout !== undefined && plan.healthCheckInvocationTimeout !== current.data.invocation_timeout);
    if (newType || newEndpoint || newTimeouts) change.health_check = { type, data };
    if (newType || newEndpoint) restarts = true;
  }
  return { change: Object.keys(change).length > 0 ? change : undefined, restarts };
}

/** What the process's scale must change for the plan (instances, memory, disk); undefined when nothing. */
export function scaleUpdate(web: Process, plan: AppManifest): ScaleChange | undefined {
  const change: ScaleChange = {};
  if (plan.instances !== undefined && plan.instances !== web.instances) change.instances = plan.instances;
  if (plan.memory !== undefined && plan.memory !== web.memory_in_mb) change.memory_in_mb = plan.memory;
  if (plan.disk !== undefined && plan.disk !== web.disk_in_mb) change.disk_in_mb = plan.disk;
  return Object.keys(change).length > 0 ? change : undefined;
}

/** A host name made of an app name, as cf makes its default route: `My_App` → `my-app`. */
export function hostFromName(name: string): string {
  const host = name
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-|-$/g, '')
    .slice(0, 63)
    .replace(/-$/, '');
  return host || 'app';
}

const ADJECTIVES = ['agile', 'bold', 'brave', 'bright', 'calm', 'clever', 'cosmic', 'daring', 'eager', 'fancy', 'gentle', 'happy', 'jolly', 'keen', 'lively', 'lucky', 'merry', 'nimble', 'proud', 'quick', 'quiet', 'shiny', 'silly', 'sunny', 'swift', 'tidy', 'vivid', 'witty', 'zany', 'zesty'];
const NOUNS = ['badger', 'bear', 'beaver', 'bison', 'camel', 'cheetah', 'crane', 'dolphin', 'eagle', 'ferret', 'gecko', 'heron', 'ibex', 'impala', 'koala', 'lemur', 'lynx', 'marmot', 'moose', 'otter', 'panda', 'puffin', 'quokka', 'raven', 'seal', 'tapir', 'walrus', 'wombat', 'yak', 'zebra'];

/** cf's random route: `myapp-brave-otter-qz`. */
export function randomHost(name: string, pick: (n: number) => number = randomInt): string {
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  return `${hostFromName(name)}-${ADJECTIVES[pick(ADJECTIVES.length)]}-${NOUNS[pick(NOUNS.length)]}-${letters[pick(26)]}${letters[pick(26)]}`;
}

/**
 * A manifest route (`host.domain[/path]`, or `domain[/path]`) split on the longest domain it ends
 * with; a CliError when it is on no known domain.
 */
export function resolveRoute(text: string, domains: Domain[]): { host: string; domain: Domain; path: string } {
  const slash = text.indexOf('/');
  const hostPart = (slash === -1 ? text : text.slice(0, slash)).toLowerCase();
  const routePath = slash === -1 ? '' : text.slice(slash).replace(/\/+$/, '');
  const exact = domains.find((d) => d.name.toLowerCase() === hostPart);
  if (exact) return { host: '', domain: exact, path: routePath };
  const domain = domains.filter((d) => hostPart.endsWith(`.${d.name.toLowerCase()}`)).sort((a, b) => b.name.length - a.name.length)[0];
  if (!domain) {
    const names = domains.map((d) => d.name);
    throw new CliError(`The route ${text} is not on a domain of this devbox (${names.join(', ') || 'none'}). Use a route like myapp.${names[0] ?? 'localhost'}.`);
  }
  return { host: hostPart.slice(0, -(domain.name.length + 1)), domain, path: routePath };
}

export interface PushOptions {
  noStart: boolean;
  space: Named;
  ui: Ui;
  /** `rolling`: a started app's web instances are replaced one at a time (a deployment of the new droplet). */
  strategy?: Strategy;
  /** With a rolling strategy: done once a first new instance runs. */
  noWait?: boolean;
}

/** Pushes one app: see docs/push.md for the order of things and why. */
export async function pushApp(client: ApiClient, plan: PushPlan, { noStart, space, ui, strategy, noWait }: PushOptions): Promise<App> {
  const { steps } = ui;
  const files = await steps.step('Packaging files to upload', () => collectAppFiles(plan.path), (f) => {
    if (f.archive) return `the archive ${path.basename(f.archive.path)}, ${byteSize(f.archive.size)}`;
    const list = f.entries.filter((e) => e.type === 'file');
    return `${list.length} file${list.length === 1 ? '' : 's'}, ${byteSize(list.reduce((sum, e) => sum + e.size, 0))}`;
  });
  if (files.skipped.length > 0) steps.warn(`Not pushed (neither files, directories nor links): ${files.skipped.join(', ')}`);
  if (files.entries.length === 0 && !files.archive) throw new CliError(`No app files found in '${files.root}' (after .cfignore). Push the app's directory with -p.`);

  let app = await client.apps.find(plan.name);
  const created = !app;
  // `processes:` and `sidecars:` are checked by the controller before anything is created or changed.
  const entries = plan.processes ?? [];
  const sidecars = plan.sidecars ?? [];
  const processes = app && entries.length > 0 ? await client.processes.ofApp(app.guid) : [];
  const processesYaml = entries.length > 0 || sidecars.length > 0 ? processesManifest(plan.name, entries, sidecars) : undefined;
  const applied = appliedParts(entries, sidecars);
  if (processesYaml) {
    const problems = endpointProblems(processes, entries);
    if (problems.length > 0) throw refused(plan.name, applied, problems);
    await manifestStep(plan.name, applied, () => client.apps.checkManifest(space.guid, processesYaml));
  }
  if (!app) {
    app = await client.apps.create(space.guid, plan.name, { buildpacks: plan.buildpacks, env: plan.env });
  } else {
    if (plan.buildpacks && !sameList(app.lifecycle.data.buildpacks, plan.buildpacks)) app = await client.apps.setBuildpacks(app.guid, plan.buildpacks);
    if (plan.env) {
      const current = await client.apps.environmentVariables(app.guid);
      const changed = Object.entries(plan.env).filter(([key, value]) => current[key] !== value);
      if (changed.length > 0) await client.apps.updateEnvironmentVariables(app.guid, Object.fromEntries(changed));
    }
  }

  const web = await client.processes.get(app.guid);
  if (plan.healthCheckEndpoint !== undefined && (plan.healthCheckType ?? web.health_check.type) !== 'http') {
    throw new CliError(`The health check endpoint ${plan.healthCheckEndpoint} needs the http health check, and app ${app.name} has the ${web.health_check.type} one: add -u http (or health-check-type: http in the manifest).`);
  }
  const processChange = processUpdate(web, plan);
  const scale = scaleUpdate(web, plan);
  const restarts = processChange.restarts || scale?.memory_in_mb !== undefined || scale?.disk_in_mb !== undefined || processesRestart(processes, entries);
  // New settings would restart the old droplet's instances now and again after staging: stop first.
  // --no-start leaves the app stopped, as cf does.
  if (app.state === 'STARTED' && (noStart || restarts)) {
    steps.line(`Stopping app ${app.name}...`);
    app = await client.apps.stop(app.guid);
  }
  if (processChange.change) await client.processes.update(web.guid, processChange.change);
  if (scale) await client.processes.scale(app.guid, 'web', scale);

  await applyRoutes(client, app, plan, created, space, steps);
  if (plan.services?.length) await bindServices(client, app, plan.services, steps);
  if (processesYaml) {
    steps.line(`Applying ${applied.named}...`);
    await manifestStep(plan.name, applied, () => client.apps.applyManifest(space.guid, processesYaml));
  }

  // Only what the API does not have yet goes up.
  const resources = fileResources(files);
  const matched = await client.builds.resourceMatches(resources);
  const have = new Set(matched.map((r) => r.path));
  const send: AppFile[] = files.entries.filter((e) => e.type === 'symlink' || (e.type === 'directory' && e.empty) || (e.type === 'file' && !have.has(e.path)));
  const newFiles = send.filter((e) => e.type === 'file');
  const newBytes = newFiles.reduce((sum, e) => sum + e.size, 0);
  const matchedBytes = matched.reduce((sum, r) => sum + r.size_in_bytes, 0);
  // The staging log stream connects while the files go up.
  const trace = noStart ? undefined : traceStaging(client, app, ui);
  let staged: Staged;
  try {
    const pkg = await client.builds.createPackage(app.guid);
    const { archive } = files;
    if (archive) {
      // An archive goes up as it is, whole (no resource matching: cf sends an archive's files the same way).
      await steps.step('Uploading files', () => client.builds.uploadPackage(pkg.guid, [], () => fs.createReadStream(archive.path)), () => `${path.basename(archive.path)} (${byteSize(archive.size)}) uploaded`);
    } else {
      await steps.step(
        'Uploading files',
        (update) => client.builds.uploadPackage(pkg.guid, matched, send.length > 0 ? () => tarballStream(files.root, send, (bytes) => update(`${byteSize(bytes)} of ${byteSize(newBytes)}`)) : undefined),
        () => `${newFiles.length} new file${newFiles.length === 1 ? '' : 's'} (${byteSize(newBytes)}) uploaded, ${matched.length} unchanged (${byteSize(matchedBytes)}) not sent again`,
      );
    }
    if (noStart) return app;
    staged = await stagePackage(client, app, pkg.guid, ui, trace);
  } finally {
    await trace?.stop();
  }
  if (strategy === 'rolling' && app.state === 'STARTED') {
    // The new droplet goes out a few instances at a time; the app keeps answering meanwhile.
    await deployAndWait(client, app, staged.droplet.guid, { noWait }, ui);
    return app;
  }
  await client.apps.setCurrentDroplet(app.guid, staged.droplet.guid);
  await startAndWait(client, app, { restart: app.state === 'STARTED' }, ui);
  return app;
}

/** The manifest's processes or sidecars refused: what the controller (or push) said, each problem on its own line. */
function refused(name: string, applied: { what: string }, problems: string[]): CliError {
  return new CliError(`The ${applied.what} of app ${name} in the manifest cannot be applied:\n${problems.map((p) => `  ${p}`).join('\n')}`);
}

/** A call with the manifest's processes and sidecars; the API's refusal as every problem it names. */
async function manifestStep(name: string, applied: { what: string }, call: () => Promise<void>): Promise<void> {
  try {
    await call();
  } catch (error) {
    if (error instanceof ManifestRefused) throw refused(name, applied, error.problems);
    throw error;
  }
}

/** The manifest's services bound to the app (those already bound are left as they are), before staging. */
async function bindServices(client: ApiClient, app: App, services: { name: string; parameters?: Record<string, unknown> }[], steps: Steps): Promise<void> {
  // A binding whose create failed is made again (the new create replaces it: docs/services.md).
  const failed = (b: ServiceCredentialBinding) => b.last_operation?.type === 'create' && b.last_operation.state === 'failed';
  const bound = (await client.services.bindings({ app_guids: app.guid, type: 'app' })).filter((b) => !failed(b));
  for (const service of services) {
    const instance = await client.services.instance(service.name);
    if (bound.some((b) => b.relationships.service_instance.data.guid === instance.guid)) continue;
    steps.line(`Binding service instance ${service.name} to app ${app.name}...`);
    await client.services.createBinding(instance, { app }, service.parameters);
  }
}

/** Routes as cf pushes them: no-route unmaps all; listed routes are mapped; else a default (or random) route when the app has none. */
async function applyRoutes(client: ApiClient, app: App, plan: PushPlan, created: boolean, space: Named, steps: Steps): Promise<void> {
  const current = created ? [] : await client.routes.ofApp(app.guid);
  if (plan.noRoute) {
    if (current.length === 0) return;
    steps.line('Unmapping routes...');
    for (const route of current) for (const destination of route.destinations.filter((d) => d.app.guid === app.guid)) await client.routes.unmap(route, destination);
    return;
  }
  let wanted: { host: string; domain: Domain; path: string }[];
  if (plan.routes) {
    const domains = await client.routes.domains();
    wanted = plan.routes.map((text) => resolveRoute(text, domains));
  } else if (current.length === 0) {
    const domain = await client.routes.defaultDomain();
    wanted = [{ host: plan.randomRoute ? randomHost(plan.name) : hostFromName(plan.name), domain, path: '' }];
  } else {
    return;
  }
  const missing = wanted.filter((w) => !current.some((r) => r.host === w.host && r.path === w.path && r.relationships.domain.data.guid === w.domain.guid));
  if (missing.length === 0) return;
  steps.line('Mapping routes...');
  for (const w of missing) {
    let route: Route | undefined = await client.routes.find(w.domain, w.host, w.path);
    route ??= await client.routes.create(space, w.domain, w.host, w.path);
    if (!route.destinations.some((d) => d.app.guid === app.guid)) await client.routes.map(route, app);
  }
}

const sameList = (a: string[], b: string[]) => a.length === b.length && a.every((x, i) => x === b[i]);
