// The typed client every API command uses: Cloud Controller v3 through the router, with the session's
// bearer token (refreshed once on CF-InvalidAuthToken, then the request is retried), every page of a
// list, names resolved to guids in the targeted org/space, and API errors turned into messages that
// say what went wrong and what to do next.
import { randomBytes } from 'node:crypto';
import { CliError } from './base-command.js';
import { request, streamRequest, type HttpResponse } from '../runtime/common/http.js';
import { sleep } from '../runtime/common/net.js';
import { NOT_LOGGED_IN, Session, type Named } from './session.js';

export const DEFAULT_ORG = 'devbox';
export const DEFAULT_SPACE = 'dev';
/** How long a request waits for the router to learn the API's route (just after `devbox up`). */
export const ROUTE_WAIT_MS = 5_000;

// --- v3 resources (the fields the CLI reads) --------------------------------------------------

export interface Resource {
  guid: string;
  created_at: string;
  updated_at: string;
}

export interface Organization extends Resource {
  name: string;
}

export interface Space extends Resource {
  name: string;
  relationships: { organization: { data: { guid: string } } };
}

export interface App extends Resource {
  name: string;
  state: 'STARTED' | 'STOPPED';
  lifecycle: { type: string; data: { buildpacks: string[]; stack: string } };
  relationships: { space: { data: { guid: string } } };
}

export interface Process extends Resource {
  type: string;
  command: string | null;
  instances: number;
  memory_in_mb: number;
  disk_in_mb: number;
  health_check: { type: string; data: Record<string, unknown> };
  relationships: { app: { data: { guid: string } } };
}

/** One instance of a process as `GET /v3/processes/:guid/stats` reports it. */
export interface ProcessInstanceStats {
  type: string;
  index: number;
  /** RUNNING, STARTING, CRASHED or DOWN. */
  state: string;
  /** cpu is a fraction of one core (0.003 = 0.3%); mem and disk are bytes. Empty for an instance that is down. */
  usage?: { cpu?: number; mem?: number; disk?: number; time?: string };
  mem_quota?: number | null;
  disk_quota?: number | null;
  /** Seconds since the instance started. */
  uptime?: number;
  /** When the instance entered its state (seconds since the epoch), when known. */
  since?: number | null;
  details?: string | null;
  instance_guid?: string | null;
}

export interface Package extends Resource {
  type: string;
  /** AWAITING_UPLOAD, PROCESSING_UPLOAD, READY, FAILED, ... */
  state: string;
}

export interface Build extends Resource {
  state: 'STAGING' | 'STAGED' | 'FAILED';
  /** `NoAppDetectedError - An app was not successfully detected by any available buildpack` when FAILED. */
  error: string | null;
  package: { guid: string };
  droplet: { guid: string } | null;
}

/** A file of the app as resource_matches and the upload name it. */
export interface FileResource {
  path: string;
  checksum: { value: string };
  size_in_bytes: number;
  mode: string;
}

/** How many resources one resource_matches request asks about (the API's JSON bodies are at most 1 MiB). */
export const RESOURCE_MATCH_BATCH = 1000;

export interface Domain extends Resource {
  name: string;
}

export interface Destination {
  guid: string;
  app: { guid: string; process: { type: string } };
}

export interface Route extends Resource {
  host: string;
  path: string;
  url: string;
  destinations: Destination[];
  relationships: { space: { data: { guid: string } }; domain: { data: { guid: string } } };
}

export interface AuditEvent extends Resource {
  type: string;
  actor: { guid: string; type: string; name: string };
  target: { guid: string; type: string; name: string };
  data: Record<string, unknown>;
}

export interface AppEnvironment {
  staging_env_json: Record<string, unknown>;
  running_env_json: Record<string, unknown>;
  environment_variables: Record<string, string>;
  system_env_json: Record<string, unknown>;
  application_env_json: Record<string, unknown>;
}

export interface Droplet extends Resource {
  buildpacks?: { name: string; detect_output?: string | null; buildpack_name?: string | null }[];
  process_types?: Record<string, string>;
}

export interface ServiceBroker extends Resource {
  name: string;
  url: string;
}

export interface ServiceOffering extends Resource {
  name: string;
  description: string;
  tags: string[];
  relationships: { service_broker: { data: { guid: string } } };
}

export interface ServicePlan extends Resource {
  name: string;
  description: string;
  free: boolean;
  relationships: { service_offering: { data: { guid: string } } };
}

export interface ServiceInstance extends Resource {
  name: string;
  type: 'managed' | 'user-provided';
  tags: string[];
  dashboard_url?: string | null;
  last_operation: { type: string; state: string; description?: string };
  relationships: { space: { data: { guid: string } }; service_plan?: { data: { guid: string } } };
}

export interface ServiceCredentialBinding extends Resource {
  name: string | null;
  type: 'app' | 'key';
  relationships: { app?: { data: { guid: string } }; service_instance: { data: { guid: string } } };
}

/** A service instance with what `services` / `service` show about it. */
export interface ServiceInstanceSummary {
  instance: ServiceInstance;
  offering?: string;
  plan?: string;
  broker?: string;
  apps: string[];
}

interface Page<T> {
  pagination: { next: { href: string } | null };
  resources: T[];
}

interface CfErrorBody {
  errors?: { code: number; title: string; detail: string }[];
}

// --- what the commands show ---------------------------------------------------------------------

export interface Target {
  api: string;
  user: string;
  org: Named;
  space: Named;
}

export interface ProcessSummary {
  type: string;
  instances: number;
  /** Instances the process stats report as RUNNING (0 while the API has no stats: see docs/cli.md). */
  running: number;
  memory_in_mb: number;
  disk_in_mb: number;
  command: string | null;
  /** Each instance as the process stats report it (empty for a stopped app, or while the API has none). */
  stats: ProcessInstanceStats[];
}

export interface AppSummary {
  app: App;
  processes: ProcessSummary[];
  routes: string[];
  droplet?: Droplet;
}

export interface RouteSpec {
  domain: string;
  host?: string;
  path?: string;
}

export interface RouteSummary {
  route: Route;
  space: string;
  domain: string;
  apps: string[];
}

/** An API call that failed: the Cloud Controller error's detail and title, and the HTTP status. */
export class ApiRequestError extends CliError {
  constructor(
    message: string,
    readonly status: number,
    readonly title?: string,
    readonly detail?: string,
  ) {
    super(message);
  }
}

/** cf's reading of map-route's flags: hosts are lower case, a path starts with '/'. */
export function normalizeRouteSpec(spec: RouteSpec): RouteSpec {
  const path = spec.path && !spec.path.startsWith('/') ? `/${spec.path}` : spec.path;
  return { domain: spec.domain.toLowerCase(), host: spec.host?.toLowerCase(), path: path === '/' ? '' : path };
}

export function routeUrl(given: RouteSpec): string {
  const spec = normalizeRouteSpec(given);
  return `${spec.host ? `${spec.host}.` : ''}${spec.domain}${spec.path ?? ''}`;
}

/**
 * DEVBOX_TRACE=true (as cf's CF_TRACE): one line per API request on stderr, with its status and
 * time, for seeing what a command does and where its time goes. Never the token.
 */
const TRACING = /^(1|true|yes)$/i.test(process.env.DEVBOX_TRACE ?? '');

function trace(method: string, url: string, status: number, started: number): void {
  if (TRACING) process.stderr.write(`TRACE ${new Date().toISOString()} ${method} ${url} -> ${status} (${(performance.now() - started).toFixed(1)} ms)\n`);
}

/** Gateway answers of the router: the API endpoint failed or is being replaced. */
const RETRIED_STATUSES = new Set([502, 503, 504]);
/** How long a read is retried through them: a crashed controller is back within a few seconds. */
const READ_RETRY_MS = 15_000;

export class ApiClient {
  constructor(readonly session: Session) {}

  /** The client of the session API commands run in (see Session.resume); targets devbox/dev in a new session. */
  static async connect(home: string): Promise<ApiClient> {
    const { session, fresh } = await Session.resume(home);
    const client = new ApiClient(session);
    if (fresh) await client.targetDefault();
    return client;
  }

  get user(): string {
    return this.session.user;
  }

  // --- transport --------------------------------------------------------------------------------

  /** One authenticated request; a refused token is refreshed once and the request repeated. */
  async send(method: string, pathOrUrl: string, { body, headers = {} }: { body?: string; headers?: Record<string, string> } = {}): Promise<HttpResponse> {
    const url = /^https?:\/\//.test(pathOrUrl) ? pathOrUrl : `${this.session.api}${pathOrUrl.startsWith('/') ? '' : '/'}${pathOrUrl}`;
    if (url.startsWith('https:')) throw new CliError(`devbox's CLI speaks plain HTTP only; ${url} needs HTTPS`);
    const attempt = async (token: string) =>
      request({
        url,
        method,
        headers: { accept: 'application/json', ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers, authorization: `bearer ${token}` },
        body,
        routeWaitMs: ROUTE_WAIT_MS,
      });
    const started = performance.now();
    let res = await attempt(await this.session.accessToken());
    if (res.status === 401 && errorTitle(res) === 'CF-InvalidAuthToken') res = await attempt(await this.session.refresh());
    // The router answered for an API that is not there for a moment (a controller restarting after
    // a crash): a read is asked again for a while; a write is not (it may have been done).
    for (let delay = 100, waited = 0; method === 'GET' && RETRIED_STATUSES.has(res.status) && waited < READ_RETRY_MS; waited += delay, delay = Math.min(delay * 2, 1_000)) {
      trace(method, url, res.status, started);
      await sleep(delay);
      res = await attempt(await this.session.accessToken());
    }
    trace(method, url, res.status, started);
    return res;
  }

  /**
   * A streamed request body (uploads): `body` makes the body anew, so that a refused token can be
   * refreshed and the request sent again.
   */
  async sendStream(method: string, path: string, body: () => AsyncIterable<Buffer>, headers: Record<string, string>): Promise<HttpResponse> {
    const url = `${this.session.api}${path}`;
    const attempt = async (token: string) => streamRequest({ url, method, headers: { accept: 'application/json', ...headers, authorization: `bearer ${token}` }, body: body() });
    const started = performance.now();
    let res = await attempt(await this.session.accessToken());
    if (res.status === 401 && errorTitle(res) === 'CF-InvalidAuthToken') res = await attempt(await this.session.refresh());
    trace(method, url, res.status, started);
    if (res.status >= 400) throw this.error(res);
    return res;
  }

  /** A JSON request that must succeed; anything else becomes an ApiRequestError with a readable message. */
  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.send(method, path, { body: body === undefined ? undefined : JSON.stringify(body) });
    if (res.status >= 400) throw this.error(res);
    if (res.text === '') return undefined as T;
    try {
      return JSON.parse(res.text) as T;
    } catch {
      throw new ApiRequestError(`The API answered ${method} ${path} with something that is not JSON: ${res.text.slice(0, 200)}`, res.status);
    }
  }

  /** Every resource of a list, following `pagination.next`. */
  async list<T>(path: string, query: Record<string, string | string[] | undefined> = {}): Promise<T[]> {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, Array.isArray(value) ? value.join(',') : value);
    if (!params.has('per_page')) params.set('per_page', '500');
    const out: T[] = [];
    let next: string | undefined = `${path}?${params.toString()}`;
    for (let pages = 0; next; pages++) {
      if (pages >= 1000) throw new CliError(`${path} has more than 1000 pages; stopped reading`);
      const page: Page<T> = await this.call<Page<T>>('GET', next);
      out.push(...page.resources);
      next = page.pagination.next?.href;
    }
    return out;
  }

  private error(res: HttpResponse): ApiRequestError {
    const title = errorTitle(res);
    const cf = parseJson<CfErrorBody>(res.text)?.errors?.[0];
    if (!cf) {
      const routerError = res.headers['x-cf-routererror'];
      if (routerError === 'unknown_route') {
        return new ApiRequestError(`The router has no route to the API (${this.session.api}): the controller is not registered. Check it with 'devbox status'.`, res.status);
      }
      return new ApiRequestError(`The API answered HTTP ${res.status}: ${res.text.slice(0, 200) || '(no body)'}`, res.status);
    }
    let hint = '';
    if (title === 'CF-InvalidAuthToken' || title === 'CF-NotAuthenticated') return new ApiRequestError(NOT_LOGGED_IN, res.status, title, cf.detail);
    if (title === 'CF-NotAuthorized') hint = ` Log in as a user who may do this with 'devbox login'.`;
    else if (res.status >= 500) hint = this.session.isLocal ? ` The controller's log says more: devbox's logs/controller.log in ${this.session.home}.` : '';
    return new ApiRequestError(`${cf.detail}${hint}`, res.status, title, cf.detail);
  }

  // --- orgs and spaces ------------------------------------------------------------------------

  info(): Promise<{ links: Record<string, { href: string; meta?: { version?: string } } | null> }> {
    return this.call('GET', '/');
  }

  async apiVersion(): Promise<string> {
    return (await this.info()).links.cloud_controller_v3?.meta?.version ?? '';
  }

  organizations(): Promise<Organization[]> {
    return this.list<Organization>('/v3/organizations', { order_by: 'name' });
  }

  async organization(name: string): Promise<Organization> {
    const [org] = await this.list<Organization>('/v3/organizations', { names: name });
    if (!org) throw new CliError(`Organization '${name}' not found. 'devbox orgs' lists the organizations.`);
    return org;
  }

  spaces(orgGuid: string): Promise<Space[]> {
    return this.list<Space>('/v3/spaces', { organization_guids: orgGuid, order_by: 'name' });
  }

  async space(org: Named, name: string): Promise<Space> {
    const [space] = await this.list<Space>('/v3/spaces', { organization_guids: org.guid, names: name });
    if (!space) throw new CliError(`Space '${name}' not found in org ${org.name}. 'devbox spaces' lists its spaces.`);
    return space;
  }

  /** Creates a space; undefined when it exists already (cf answers that with OK). */
  async createSpace(org: Named, name: string): Promise<Space | undefined> {
    try {
      return await this.call<Space>('POST', '/v3/spaces', { name, relationships: { organization: { data: { guid: org.guid } } } });
    } catch (error) {
      if (error instanceof ApiRequestError && error.title === 'CF-UniquenessError') return undefined;
      throw error;
    }
  }

  // --- target --------------------------------------------------------------------------------

  /** The targeted org and space, or a CliError saying how to target them. */
  target(): Target {
    const { org, space } = this.session;
    if (!org && !space) throw new CliError("No org and space targeted, use 'devbox target -o ORG -s SPACE' to target an org and space.");
    if (!org) throw new CliError("No org targeted, use 'devbox target -o ORG' to target an org.");
    if (!space) throw new CliError("No space targeted, use 'devbox target -s SPACE' to target a space.");
    return { api: this.session.api, user: this.session.user, org, space };
  }

  /**
   * Targets an org (by name; the current one when omitted) and a space in it. Targeting an org without
   * naming a space targets its only space, or none when it has several (as cf does).
   */
  async setTarget(orgName?: string, spaceName?: string): Promise<{ org?: Named; space?: Named }> {
    let org: Named | undefined = this.session.org;
    let space: Named | undefined = this.session.space;
    if (orgName !== undefined) {
      const found = await this.organization(orgName);
      org = { guid: found.guid, name: found.name };
      const spaces = spaceName === undefined ? await this.spaces(org.guid) : [];
      space = spaces.length === 1 ? { guid: spaces[0].guid, name: spaces[0].name } : undefined;
    }
    if (spaceName !== undefined) {
      if (!org) throw new CliError("No org targeted, use 'devbox target -o ORG -s SPACE' to target an org and a space in it.");
      const found = await this.space(org, spaceName);
      space = { guid: found.guid, name: found.name };
    }
    this.session.setTarget(org, space);
    return { org, space };
  }

  /**
   * The target after `login`: the given org/space; else the previous target when it still exists;
   * else devbox/dev; else the only org (space); else what `choose` picks (a prompt at a terminal).
   */
  async targetAfterLogin(orgName?: string, spaceName?: string, choose?: (kind: 'org' | 'space', names: string[]) => Promise<string | undefined>): Promise<{ org?: Named; space?: Named }> {
    const exists = async <T extends Resource>(path: string, guid?: string) => !!guid && (await this.list<T>(path, { guids: guid })).length > 0;
    let org: Named | undefined;
    if (orgName !== undefined) {
      const found = await this.organization(orgName);
      org = { guid: found.guid, name: found.name };
    } else if (await exists<Organization>('/v3/organizations', this.session.org?.guid)) {
      org = this.session.org;
    } else {
      const orgs = await this.organizations();
      const pick = orgs.find((o) => o.name === DEFAULT_ORG) ?? (orgs.length === 1 ? orgs[0] : undefined);
      const name = pick?.name ?? (await choose?.('org', orgs.map((o) => o.name)));
      const found = orgs.find((o) => o.name === name);
      org = found && { guid: found.guid, name: found.name };
    }
    let space: Named | undefined;
    if (org && spaceName !== undefined) {
      const found = await this.space(org, spaceName);
      space = { guid: found.guid, name: found.name };
    } else if (org && org.guid === this.session.org?.guid && (await exists<Space>('/v3/spaces', this.session.space?.guid))) {
      space = this.session.space;
    } else if (org) {
      const spaces = await this.spaces(org.guid);
      const pick = spaces.find((s) => s.name === DEFAULT_SPACE && org.name === DEFAULT_ORG) ?? (spaces.length === 1 ? spaces[0] : undefined);
      const name = pick?.name ?? (await choose?.('space', spaces.map((s) => s.name)));
      const found = spaces.find((s) => s.name === name);
      space = found && { guid: found.guid, name: found.name };
    }
    this.session.setTarget(org, space);
    return { org, space };
  }

  /** devbox/dev when they exist (a new session after `up`); nothing targeted otherwise. */
  async targetDefault(): Promise<void> {
    const [org] = await this.list<Organization>('/v3/organizations', { names: DEFAULT_ORG });
    if (!org) return;
    const [space] = await this.list<Space>('/v3/spaces', { organization_guids: org.guid, names: DEFAULT_SPACE });
    this.session.setTarget({ guid: org.guid, name: org.name }, space ? { guid: space.guid, name: space.name } : undefined);
  }

  // --- apps ------------------------------------------------------------------------------------

  apps(spaceGuid = this.target().space.guid): Promise<App[]> {
    return this.list<App>('/v3/apps', { space_guids: spaceGuid, order_by: 'name' });
  }

  /** The app called `name` in the targeted space, or a CliError naming it. */
  async app(name: string): Promise<App> {
    const { org, space } = this.target();
    const [app] = await this.list<App>('/v3/apps', { space_guids: space.guid, names: name });
    if (!app) throw new CliError(`App '${name}' not found. 'devbox apps' lists the apps in org ${org.name} / space ${space.name}.`);
    return app;
  }

  async findApp(name: string): Promise<App | undefined> {
    const [app] = await this.list<App>('/v3/apps', { space_guids: this.target().space.guid, names: name });
    return app;
  }

  startApp(guid: string): Promise<App> {
    return this.call<App>('POST', `/v3/apps/${guid}/actions/start`);
  }

  stopApp(guid: string): Promise<App> {
    return this.call<App>('POST', `/v3/apps/${guid}/actions/stop`);
  }

  restartApp(guid: string): Promise<App> {
    return this.call<App>('POST', `/v3/apps/${guid}/actions/restart`);
  }

  /** Creates an app (stopped, with its web process) in the space. */
  createApp(spaceGuid: string, name: string, { buildpacks, env }: { buildpacks?: string[]; env?: Record<string, string> } = {}): Promise<App> {
    return this.call<App>('POST', '/v3/apps', {
      name,
      relationships: { space: { data: { guid: spaceGuid } } },
      ...(buildpacks ? { lifecycle: { type: 'buildpack', data: { buildpacks } } } : {}),
      ...(env && Object.keys(env).length > 0 ? { environment_variables: env } : {}),
    });
  }

  /** The buildpacks an app stages with ([] = detect). */
  setAppBuildpacks(appGuid: string, buildpacks: string[]): Promise<App> {
    return this.call<App>('PATCH', `/v3/apps/${appGuid}`, { lifecycle: { type: 'buildpack', data: { buildpacks } } });
  }

  appProcess(appGuid: string, type = 'web'): Promise<Process> {
    return this.call<Process>('GET', `/v3/apps/${appGuid}/processes/${encodeURIComponent(type)}`);
  }

  /** Sets a process's command and/or health check (`PATCH /v3/processes/:guid`). */
  updateProcess(processGuid: string, change: { command?: string | null; health_check?: { type: string; data?: Record<string, unknown> } }): Promise<Process> {
    return this.call<Process>('PATCH', `/v3/processes/${processGuid}`, change);
  }

  /** Which of these files the API has already (by sha1 and size), asked in batches. */
  async resourceMatches(resources: FileResource[]): Promise<FileResource[]> {
    const known: FileResource[] = [];
    for (let i = 0; i < resources.length; i += RESOURCE_MATCH_BATCH) {
      const batch = resources.slice(i, i + RESOURCE_MATCH_BATCH);
      const answer = await this.call<{ resources: { checksum: { value: string }; size_in_bytes: number }[] }>('POST', '/v3/resource_matches', { resources: batch });
      const have = new Set(answer.resources.map((r) => `${r.checksum.value}:${r.size_in_bytes}`));
      known.push(...batch.filter((r) => have.has(`${r.checksum.value}:${r.size_in_bytes}`)));
    }
    return known;
  }

  createPackage(appGuid: string): Promise<Package> {
    return this.call<Package>('POST', '/v3/packages', { type: 'bits', relationships: { app: { data: { guid: appGuid } } } });
  }

  /**
   * Uploads a package: the matched files (`resources`) and a gzipped tarball of the others (`bits`,
   * made anew by `bits()` for each attempt; none when everything matched), as multipart/form-data.
   */
  async uploadPackage(packageGuid: string, matched: FileResource[], bits?: () => AsyncIterable<Buffer>): Promise<Package> {
    const boundary = `devbox-${randomBytes(12).toString('hex')}`;
    const body = async function* (): AsyncIterable<Buffer> {
      yield Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="resources"\r\nContent-Type: application/json\r\n\r\n${JSON.stringify(matched)}\r\n`);
      if (bits) {
        yield Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="bits"; filename="application.tgz"\r\nContent-Type: application/gzip\r\n\r\n`);
        yield* bits();
        yield Buffer.from('\r\n');
      }
      yield Buffer.from(`--${boundary}--\r\n`);
    };
    const res = await this.sendStream('POST', `/v3/packages/${packageGuid}/upload`, body, { 'content-type': `multipart/form-data; boundary=${boundary}` });
    return JSON.parse(res.text) as Package;
  }

  /** The app's newest package that is ready to stage, if any. */
  async latestReadyPackage(appGuid: string): Promise<Package | undefined> {
    const query = new URLSearchParams({ app_guids: appGuid, states: 'READY', order_by: '-created_at', per_page: '1' });
    const page = await this.call<Page<Package>>('GET', `/v3/packages?${query.toString()}`);
    return page.resources.find((p) => p.state === 'READY');
  }

  createBuild(packageGuid: string): Promise<Build> {
    return this.call<Build>('POST', '/v3/builds', { package: { guid: packageGuid } });
  }

  build(guid: string): Promise<Build> {
    return this.call<Build>('GET', `/v3/builds/${guid}`);
  }

  async setCurrentDroplet(appGuid: string, dropletGuid: string): Promise<void> {
    await this.call('PATCH', `/v3/apps/${appGuid}/relationships/current_droplet`, { data: { guid: dropletGuid } });
  }

  /** The app's crash events (`audit.app.process.crash`) recorded at or after `since`, newest first. */
  async crashEvents(appGuid: string, since: Date): Promise<AuditEvent[]> {
    const query = new URLSearchParams({ target_guids: appGuid, types: 'audit.app.process.crash', order_by: '-created_at', per_page: '100' });
    const page = await this.call<Page<AuditEvent>>('GET', `/v3/audit_events?${query.toString()}`);
    return page.resources.filter((e) => new Date(e.created_at).getTime() >= since.getTime());
  }

  /** The domain apps get their default route on: the first shared (not internal) domain. */
  async defaultDomain(): Promise<Domain> {
    const domains = await this.list<Domain & { internal?: boolean }>('/v3/domains');
    const domain = domains.find((d) => !d.internal);
    if (!domain) throw new CliError("The API has no shared domain for the app's route. Push with --no-route, or map a route later with 'devbox map-route'.");
    return domain;
  }

  /** Deletes the app and waits for the API's job to finish. */
  async deleteApp(guid: string): Promise<void> {
    await this.deleteAndWait(`/v3/apps/${guid}`);
  }

  /**
   * Deletes the app called `name` in the targeted space (undefined when there is none: cf answers
   * that with OK); with `deleteRoutes` also the routes mapped to it, after checking that none of them
   * is mapped to another app (nothing is deleted then).
   */
  async deleteAppByName(name: string, { deleteRoutes = false } = {}): Promise<{ deletedRoutes: string[] } | undefined> {
    const app = await this.findApp(name);
    if (!app) return undefined;
    const routes = deleteRoutes ? await this.appRoutes(app.guid) : [];
    const shared = routes.filter((r) => r.destinations.some((d) => d.app.guid !== app.guid));
    if (shared.length > 0) {
      const urls = shared.map((r) => r.url).join(', ');
      throw new CliError(`Route ${urls} is also mapped to another app, so app ${name} and its routes were not deleted. Unmap it from the other app ('devbox unmap-route'), or delete without -r.`);
    }
    await this.deleteApp(app.guid);
    for (const route of routes) await this.deleteRoute(route);
    return { deletedRoutes: routes.map((r) => r.url) };
  }

  processes(appGuids: string[]): Promise<Process[]> {
    if (appGuids.length === 0) return Promise.resolve([]);
    return this.list<Process>('/v3/processes', { app_guids: appGuids });
  }

  appProcesses(appGuid: string): Promise<Process[]> {
    return this.list<Process>(`/v3/apps/${appGuid}/processes`);
  }

  /**
   * The instances of a process as the API's stats report them; an empty list while the API has no
   * stats endpoint (before the DEA arrives) or for a stopped app.
   */
  async processStats(process: Process, app: App): Promise<ProcessInstanceStats[]> {
    if (app.state !== 'STARTED' || process.instances === 0) return [];
    return this.instanceStats(process.guid);
  }

  /** Every instance of the process, by index (an empty list while the API serves no stats). */
  async instanceStats(processGuid: string): Promise<ProcessInstanceStats[]> {
    const res = await this.send('GET', `/v3/processes/${processGuid}/stats`);
    if (res.status === 404) return [];
    if (res.status >= 400) throw this.error(res);
    const stats = parseJson<{ resources: ProcessInstanceStats[] }>(res.text)?.resources ?? [];
    return stats.sort((a, b) => a.index - b.index);
  }

  async scale(appGuid: string, type: string, change: { instances?: number; memory_in_mb?: number; disk_in_mb?: number }): Promise<Process> {
    return this.call<Process>('POST', `/v3/apps/${appGuid}/processes/${encodeURIComponent(type)}/actions/scale`, change);
  }

  /** The app's current droplet, when it has one. */
  async currentDroplet(appGuid: string): Promise<Droplet | undefined> {
    const res = await this.send('GET', `/v3/apps/${appGuid}/droplets/current`);
    if (res.status === 404) return undefined;
    if (res.status >= 400) throw this.error(res);
    return parseJson<Droplet>(res.text);
  }

  private async summarize(app: App, processes: Process[], routes: Route[]): Promise<Omit<AppSummary, 'droplet'>> {
    const own = processes.filter((p) => p.relationships.app.data.guid === app.guid).sort((a, b) => (a.type === 'web' ? -1 : b.type === 'web' ? 1 : a.type.localeCompare(b.type)));
    const summaries = await Promise.all(
      own.map(async (p) => {
        const stats = await this.processStats(p, app);
        return { type: p.type, instances: p.instances, running: stats.filter((s) => s.state === 'RUNNING').length, memory_in_mb: p.memory_in_mb, disk_in_mb: p.disk_in_mb, command: p.command, stats };
      }),
    );
    const urls = routes.filter((r) => r.destinations.some((d) => d.app.guid === app.guid)).map((r) => r.url);
    return { app, processes: summaries, routes: urls };
  }

  /** Every app of the targeted space with its processes (desired and running instances) and routes. */
  async appSummaries(): Promise<Omit<AppSummary, 'droplet'>[]> {
    const space = this.target().space;
    const apps = await this.apps(space.guid);
    if (apps.length === 0) return [];
    const [processes, routes] = await Promise.all([this.processes(apps.map((a) => a.guid)), this.list<Route>('/v3/routes', { space_guids: space.guid })]);
    return Promise.all(apps.map((app) => this.summarize(app, processes, routes)));
  }

  async appSummary(name: string): Promise<AppSummary> {
    const app = await this.app(name);
    const [processes, routes, droplet] = await Promise.all([this.appProcesses(app.guid), this.appRoutes(app.guid), this.currentDroplet(app.guid)]);
    return { ...(await this.summarize(app, processes, routes)), droplet };
  }

  // --- environment --------------------------------------------------------------------------

  appEnvironment(appGuid: string): Promise<AppEnvironment> {
    return this.call<AppEnvironment>('GET', `/v3/apps/${appGuid}/env`);
  }

  async environmentVariables(appGuid: string): Promise<Record<string, string>> {
    return (await this.call<{ var: Record<string, string> }>('GET', `/v3/apps/${appGuid}/environment_variables`)).var;
  }

  /** Sets (a string) or removes (null) user-provided variables. */
  async updateEnvironmentVariables(appGuid: string, vars: Record<string, string | null>): Promise<Record<string, string>> {
    return (await this.call<{ var: Record<string, string> }>('PATCH', `/v3/apps/${appGuid}/environment_variables`, { var: vars })).var;
  }

  // --- events ------------------------------------------------------------------------------

  /** The app's most recent audit events, newest first (one page of `limit`, as cf shows). */
  async appEvents(appGuid: string, limit = 50): Promise<AuditEvent[]> {
    const page = await this.call<Page<AuditEvent>>('GET', `/v3/audit_events?${new URLSearchParams({ target_guids: appGuid, order_by: '-created_at', per_page: String(limit) }).toString()}`);
    return page.resources;
  }

  // --- routes -------------------------------------------------------------------------------

  domains(): Promise<Domain[]> {
    return this.list<Domain>('/v3/domains');
  }

  async domain(name: string): Promise<Domain> {
    const [domain] = await this.list<Domain>('/v3/domains', { names: name });
    if (!domain) throw new CliError(`Domain '${name}' not found. The domains are: ${(await this.domains()).map((d) => d.name).join(', ') || 'none'}.`);
    return domain;
  }

  routes(spaceGuid = this.target().space.guid): Promise<Route[]> {
    return this.list<Route>('/v3/routes', { space_guids: spaceGuid });
  }

  /** The targeted space's routes with their domain's name and the names of the apps they are mapped to. */
  async routeSummaries(): Promise<RouteSummary[]> {
    const space = this.target().space;
    const [routes, domains, apps] = await Promise.all([this.routes(space.guid), this.domains(), this.apps(space.guid)]);
    const domainNames = new Map(domains.map((d) => [d.guid, d.name]));
    const appNames = new Map(apps.map((a) => [a.guid, a.name]));
    return routes.map((route) => ({
      route,
      space: space.name,
      domain: domainNames.get(route.relationships.domain.data.guid) ?? '',
      apps: [...new Set(route.destinations.map((d) => appNames.get(d.app.guid) ?? d.app.guid))],
    }));
  }

  /**
   * Maps host.domain/path to the app, creating the route first when it does not exist. Says what it
   * did: created the route, mapped it, or found it mapped already.
   */
  async mapRouteByName(appName: string, given: RouteSpec): Promise<{ url: string; created: boolean; alreadyMapped: boolean }> {
    const spec = normalizeRouteSpec(given);
    const space = this.target().space;
    const app = await this.app(appName);
    const domain = await this.domain(spec.domain);
    let route = await this.findRoute(domain, spec.host, spec.path);
    const created = !route;
    route ??= await this.createRoute(space, domain, spec.host, spec.path);
    const alreadyMapped = route.destinations.some((d) => d.app.guid === app.guid);
    if (!alreadyMapped) await this.mapRoute(route, app);
    return { url: route.url, created, alreadyMapped };
  }

  /** Removes the app from host.domain/path's destinations; `mapped: false` when it was not mapped there. */
  async unmapRouteByName(appName: string, given: RouteSpec): Promise<{ url: string; mapped: boolean }> {
    const spec = normalizeRouteSpec(given);
    const app = await this.app(appName);
    const domain = await this.domain(spec.domain);
    const route = await this.findRoute(domain, spec.host, spec.path);
    if (!route) {
      const what = `host '${spec.host ?? ''}'${spec.path ? `, path '${spec.path}'` : ''}`;
      throw new CliError(`Route with ${what} and domain '${spec.domain}' not found. 'devbox routes' lists the routes.`);
    }
    const mine = route.destinations.filter((d) => d.app.guid === app.guid);
    for (const destination of mine) await this.unmapRoute(route, destination);
    return { url: route.url, mapped: mine.length > 0 };
  }

  appRoutes(appGuid: string): Promise<Route[]> {
    return this.list<Route>(`/v3/apps/${appGuid}/routes`);
  }

  /** The route with exactly this host, domain and path, if it exists. */
  async findRoute(domain: Domain, host = '', path = ''): Promise<Route | undefined> {
    const routes = await this.list<Route>('/v3/routes', { domain_guids: domain.guid, hosts: host || undefined });
    return routes.find((r) => r.host === host.toLowerCase() && r.path === path);
  }

  createRoute(space: Named, domain: Domain, host = '', path = ''): Promise<Route> {
    return this.call<Route>('POST', '/v3/routes', {
      ...(host ? { host } : {}),
      ...(path ? { path } : {}),
      relationships: { space: { data: { guid: space.guid } }, domain: { data: { guid: domain.guid } } },
    });
  }

  async mapRoute(route: Route, app: App, processType = 'web'): Promise<void> {
    await this.call('POST', `/v3/routes/${route.guid}/destinations`, { destinations: [{ app: { guid: app.guid, process: { type: processType } } }] });
  }

  async unmapRoute(route: Route, destination: Destination): Promise<void> {
    await this.call('DELETE', `/v3/routes/${route.guid}/destinations/${destination.guid}`);
  }

  async deleteRoute(route: Route): Promise<void> {
    await this.deleteAndWait(`/v3/routes/${route.guid}`);
  }

  // --- services -------------------------------------------------------------------------------

  serviceBrokers(): Promise<ServiceBroker[]> {
    return this.list<ServiceBroker>('/v3/service_brokers', { order_by: 'name' });
  }

  async createServiceBroker(name: string, username: string, password: string, url: string): Promise<void> {
    await this.call('POST', '/v3/service_brokers', { name, url, authentication: { type: 'basic', credentials: { username, password } } });
  }

  serviceOfferings(names?: string[]): Promise<ServiceOffering[]> {
    return this.list<ServiceOffering>('/v3/service_offerings', { order_by: 'name', names });
  }

  servicePlans(offeringGuids?: string[]): Promise<ServicePlan[]> {
    return this.list<ServicePlan>('/v3/service_plans', { service_offering_guids: offeringGuids });
  }

  serviceInstances(spaceGuid = this.target().space.guid): Promise<ServiceInstance[]> {
    return this.list<ServiceInstance>('/v3/service_instances', { space_guids: spaceGuid, order_by: 'name' });
  }

  async findServiceInstance(name: string): Promise<ServiceInstance | undefined> {
    const [instance] = await this.list<ServiceInstance>('/v3/service_instances', { space_guids: this.target().space.guid, names: name });
    return instance;
  }

  /** The instance called `name` in the targeted space, or a CliError naming it. */
  async serviceInstance(name: string): Promise<ServiceInstance> {
    const instance = await this.findServiceInstance(name);
    if (!instance) throw new CliError(`Service instance '${name}' not found. 'devbox services' lists the service instances in the targeted space.`);
    return instance;
  }

  /** The app and the service instance, looked up together; when both are missing, the app is named (as cf does). */
  async appAndServiceInstance(appName: string, instanceName: string): Promise<[App, ServiceInstance]> {
    const [app, instance] = await Promise.allSettled([this.app(appName), this.serviceInstance(instanceName)]);
    if (app.status === 'rejected') throw app.reason;
    if (instance.status === 'rejected') throw instance.reason;
    return [app.value, instance.value];
  }

  /** The offering's plan called `planName`, or a CliError listing the plans there are. */
  async resolvePlan(offeringName: string, planName?: string): Promise<{ offering: ServiceOffering; plans: ServicePlan[]; plan?: ServicePlan }> {
    const offerings = await this.serviceOfferings([offeringName]);
    if (offerings.length === 0) throw new CliError(`Service offering '${offeringName}' not found. 'devbox marketplace' lists the offerings.`);
    if (offerings.length > 1) throw new CliError(`Service offering '${offeringName}' is offered by several brokers; this CLI cannot choose between them yet.`);
    const offering = offerings[0];
    const plans = await this.servicePlans([offering.guid]);
    if (planName === undefined) return { offering, plans };
    const plan = plans.find((p) => p.name === planName);
    if (!plan) throw new CliError(`The plan ${planName} could not be found for service ${offeringName}. Its plans: ${plans.map((p) => p.name).join(', ')}.`);
    return { offering, plans, plan };
  }

  createManagedServiceInstance(name: string, planGuid: string, parameters?: Record<string, unknown>): Promise<ServiceInstance> {
    return this.call('POST', '/v3/service_instances', {
      type: 'managed',
      name,
      relationships: { space: { data: { guid: this.target().space.guid } }, service_plan: { data: { guid: planGuid } } },
      ...(parameters ? { parameters } : {}),
    });
  }

  createUserProvidedServiceInstance(name: string, credentials: Record<string, unknown>): Promise<ServiceInstance> {
    return this.call('POST', '/v3/service_instances', { type: 'user-provided', name, credentials, relationships: { space: { data: { guid: this.target().space.guid } } } });
  }

  async deleteServiceInstance(instance: ServiceInstance): Promise<void> {
    await this.deleteAndWait(`/v3/service_instances/${instance.guid}`);
  }

  serviceBindings(query: { service_instance_guids?: string; app_guids?: string; type?: string; names?: string }): Promise<ServiceCredentialBinding[]> {
    return this.list<ServiceCredentialBinding>('/v3/service_credential_bindings', query);
  }

  createServiceBinding(instance: ServiceInstance, target: { app: App } | { key: string }, parameters?: Record<string, unknown>): Promise<ServiceCredentialBinding> {
    const relationships = { service_instance: { data: { guid: instance.guid } }, ...('app' in target ? { app: { data: { guid: target.app.guid } } } : {}) };
    return this.call('POST', '/v3/service_credential_bindings', { type: 'app' in target ? 'app' : 'key', ...('key' in target ? { name: target.key } : {}), relationships, ...(parameters ? { parameters } : {}) });
  }

  async deleteServiceBinding(binding: ServiceCredentialBinding): Promise<void> {
    await this.deleteAndWait(`/v3/service_credential_bindings/${binding.guid}`);
  }

  async serviceBindingDetails(binding: ServiceCredentialBinding): Promise<{ credentials: Record<string, unknown> }> {
    return this.call('GET', `/v3/service_credential_bindings/${binding.guid}/details`);
  }

  /** Every instance in the targeted space with its offering, plan, broker and bound apps. */
  async serviceInstanceSummaries(only?: ServiceInstance): Promise<ServiceInstanceSummary[]> {
    const instances = only ? [only] : await this.serviceInstances();
    if (instances.length === 0) return [];
    const [plans, offerings, brokers, bindings, apps] = await Promise.all([
      this.list<ServicePlan>('/v3/service_plans'),
      this.list<ServiceOffering>('/v3/service_offerings'),
      this.list<ServiceBroker>('/v3/service_brokers'),
      this.serviceBindings({ service_instance_guids: instances.map((i) => i.guid).join(','), type: 'app' }),
      this.apps(),
    ]);
    return instances.map((instance) => {
      const plan = plans.find((p) => p.guid === instance.relationships.service_plan?.data.guid);
      const offering = plan && offerings.find((o) => o.guid === plan.relationships.service_offering.data.guid);
      const broker = offering && brokers.find((b) => b.guid === offering.relationships.service_broker.data.guid);
      const bound = bindings.filter((b) => b.relationships.service_instance.data.guid === instance.guid).map((b) => apps.find((a) => a.guid === b.relationships.app?.data.guid)?.name ?? '');
      return { instance, offering: instance.type === 'user-provided' ? 'user-provided' : offering?.name, plan: plan?.name, broker: broker?.name, apps: bound.filter((n) => n !== '') };
    });
  }

  // --- jobs ------------------------------------------------------------------------------------

  /** DELETE, then poll the job in `Location` until it is COMPLETE (bounded), as cf does. */
  private async deleteAndWait(path: string, timeoutMs = 60_000): Promise<void> {
    const res = await this.send('DELETE', path);
    if (res.status >= 400) throw this.error(res);
    const location = res.headers.location;
    if (res.status !== 202 || typeof location !== 'string') return;
    const deadline = Date.now() + timeoutMs;
    for (let delay = 50; ; delay = Math.min(delay * 2, 1_000)) {
      const job = await this.call<{ state: string; errors: { detail: string }[] }>('GET', location);
      if (job.state === 'COMPLETE') return;
      if (job.state === 'FAILED') throw new CliError(job.errors.map((e) => e.detail).join('; ') || `the API's job for DELETE ${path} failed`);
      if (Date.now() > deadline) throw new CliError(`the API's job for DELETE ${path} did not finish within ${timeoutMs / 1000} s; see ${location}`);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

function parseJson<T>(text: string): T | undefined {
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}

function errorTitle(res: HttpResponse): string | undefined {
  return parseJson<CfErrorBody>(res.text)?.errors?.[0]?.title;
}

/** A JSON object given inline or as the path of a file holding one (cf's `-c` and `-p`). */
export async function jsonObjectArg(value: string, flag: string): Promise<Record<string, unknown>> {
  let text = value;
  if (!value.trim().startsWith('{')) {
    const { readFile } = await import('node:fs/promises');
    text = await readFile(value, 'utf8').catch(() => {
      throw new CliError(`Invalid configuration provided for ${flag} flag. Please provide a valid JSON object or path to a file containing a valid JSON object.`, 1);
    });
  }
  const parsed = parseJson<unknown>(text);
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new CliError(`Invalid configuration provided for ${flag} flag. Please provide a valid JSON object or path to a file containing a valid JSON object.`, 1);
  }
  return parsed as Record<string, unknown>;
}
