// Apps: found by name in the targeted space, created, started and stopped, deleted (with their
// routes), their environment, droplet and events, manifests applied to them (as cf push does), and
// the summaries `apps` and `app` show.
import type { HttpResponse } from '../../runtime/common/http.js';
import { waitFor } from '../../runtime/common/poll.js';
import { CliError } from '../base-command.js';
import { NOT_LOGGED_IN } from '../session.js';
import type { ApiClient } from './client.js';
import type { App, AppEnvironment, AuditEvent, Deployment, Droplet, Job, Process, ProcessInstanceStats, Route } from './resources.js';
import { ApiRequestError } from './transport.js';

/** How long an apply_manifest job may take, and how often it is looked at (as cf polls jobs). */
const MANIFEST_JOB_TIMEOUT_MS = 60_000;
const MANIFEST_JOB_BACKOFF = { initialMs: 50, maxMs: 1_000 };

/**
 * A manifest the API refused (a 422, or a FAILED job): every Cloud Controller error of the answer,
 * one per line (a compound 422 has one for each problem: `For application 'a': Process "worker":
 * Instances must be greater than or equal to 0`).
 */
export class ManifestRefused extends ApiRequestError {
  constructor(
    readonly problems: string[],
    status: number,
    title?: string,
  ) {
    super(problems.join('\n'), status, title, problems[0]);
  }
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

export class Apps {
  constructor(private readonly client: ApiClient) {}

  list(spaceGuid = this.client.target.current().space.guid): Promise<App[]> {
    return this.client.list<App>('/v3/apps', { space_guids: spaceGuid, order_by: 'name' });
  }

  /** The app called `name` in the targeted space, or a CliError naming it. */
  async get(name: string): Promise<App> {
    const { org, space } = this.client.target.current();
    const [app] = await this.client.list<App>('/v3/apps', { space_guids: space.guid, names: name });
    if (!app) throw new CliError(`App '${name}' not found. 'devbox apps' lists the apps in org ${org.name} / space ${space.name}.`);
    return app;
  }

  /** The app called `name` in the targeted space, if there is one. */
  async find(name: string): Promise<App | undefined> {
    const [app] = await this.client.list<App>('/v3/apps', { space_guids: this.client.target.current().space.guid, names: name });
    return app;
  }

  /** Creates an app (stopped, with its web process) in the space. */
  create(spaceGuid: string, name: string, { buildpacks, env }: { buildpacks?: string[]; env?: Record<string, string> } = {}): Promise<App> {
    return this.client.call<App>('POST', '/v3/apps', {
      name,
      relationships: { space: { data: { guid: spaceGuid } } },
      ...(buildpacks ? { lifecycle: { type: 'buildpack', data: { buildpacks } } } : {}),
      ...(env && Object.keys(env).length > 0 ? { environment_variables: env } : {}),
    });
  }

  /** The buildpacks an app stages with ([] = detect). */
  setBuildpacks(appGuid: string, buildpacks: string[]): Promise<App> {
    return this.client.call<App>('PATCH', `/v3/apps/${appGuid}`, { lifecycle: { type: 'buildpack', data: { buildpacks } } });
  }

  start(guid: string): Promise<App> {
    return this.client.call<App>('POST', `/v3/apps/${guid}/actions/start`);
  }

  stop(guid: string): Promise<App> {
    return this.client.call<App>('POST', `/v3/apps/${guid}/actions/stop`);
  }

  restart(guid: string): Promise<App> {
    return this.client.call<App>('POST', `/v3/apps/${guid}/actions/restart`);
  }

  /** Deletes the app and waits for the API's job to finish. */
  async delete(guid: string): Promise<void> {
    await this.client.deleteAndWait(`/v3/apps/${guid}`);
  }

  /**
   * Deletes the app called `name` in the targeted space (undefined when there is none: cf answers
   * that with OK); with `deleteRoutes` also the routes mapped to it, after checking that none of them
   * is mapped to another app (nothing is deleted then).
   */
  async deleteByName(name: string, { deleteRoutes = false } = {}): Promise<{ deletedRoutes: string[] } | undefined> {
    const app = await this.find(name);
    if (!app) return undefined;
    const routes = deleteRoutes ? await this.client.routes.ofApp(app.guid) : [];
    const shared = routes.filter((r) => r.destinations.some((d) => d.app.guid !== app.guid));
    if (shared.length > 0) {
      const urls = shared.map((r) => r.url).join(', ');
      throw new CliError(`Route ${urls} is also mapped to another app, so app ${name} and its routes were not deleted. Unmap it from the other app ('devbox unmap-route'), or delete without -r.`);
    }
    await this.delete(app.guid);
    for (const route of routes) await this.client.routes.delete(route);
    return { deletedRoutes: routes.map((r) => r.url) };
  }

  /** The app's current droplet, when it has one. */
  currentDroplet(appGuid: string): Promise<Droplet | undefined> {
    return this.client.getOptional<Droplet>(`/v3/apps/${appGuid}/droplets/current`);
  }

  async setCurrentDroplet(appGuid: string, dropletGuid: string): Promise<void> {
    await this.client.call('PATCH', `/v3/apps/${appGuid}/relationships/current_droplet`, { data: { guid: dropletGuid } });
  }

  /** A rolling deployment of the droplet (the current one when none is given: a rolling restart). */
  deploy(appGuid: string, dropletGuid?: string): Promise<Deployment> {
    return this.client.call<Deployment>('POST', '/v3/deployments', { relationships: { app: { data: { guid: appGuid } } }, strategy: 'rolling', ...(dropletGuid ? { droplet: { guid: dropletGuid } } : {}) });
  }

  deployment(guid: string): Promise<Deployment> {
    return this.client.call<Deployment>('GET', `/v3/deployments/${guid}`);
  }

  async cancelDeployment(guid: string): Promise<void> {
    await this.client.call('POST', `/v3/deployments/${guid}/actions/cancel`);
  }

  // --- manifests ----------------------------------------------------------------------------

  /**
   * Has the API check a manifest (YAML) without applying it, `POST /v3/spaces/:guid/manifest_diff`
   * (what cf push asks before it applies one): a ManifestRefused with every problem when the
   * manifest would be refused. Nothing is created or changed.
   */
  async checkManifest(spaceGuid: string, yaml: string): Promise<void> {
    await this.sendManifest(`/v3/spaces/${spaceGuid}/manifest_diff`, yaml);
  }

  /**
   * Applies a manifest (YAML) to the space as cf push does, `POST /v3/spaces/:guid/actions/apply_manifest`,
   * then polls the job in `Location` (`GET /v3/jobs/:guid`) until COMPLETE (bounded). A 422 or a
   * FAILED job is a ManifestRefused with the API's errors.
   */
  async applyManifest(spaceGuid: string, yaml: string, timeoutMs = MANIFEST_JOB_TIMEOUT_MS): Promise<void> {
    const path = `/v3/spaces/${spaceGuid}/actions/apply_manifest`;
    const res = await this.sendManifest(path, yaml);
    const location = res.headers.location;
    if (res.status !== 202 || typeof location !== 'string') return;
    await waitFor(
      `the API's job for POST ${path}`,
      async () => {
        const job = await this.client.call<Job & { errors: { detail: string; title?: string }[] }>('GET', location);
        if (job.state === 'FAILED') {
          const problems = job.errors.map((e) => e.detail).filter(Boolean);
          throw new ManifestRefused(problems.length > 0 ? problems : [`the API's job for POST ${path} failed without saying why (${location})`], 422, job.errors[0]?.title);
        }
        return job.state === 'COMPLETE';
      },
      {
        timeoutMs,
        backoff: MANIFEST_JOB_BACKOFF,
        retryIf: () => false,
        onTimeout: () => {
          throw new CliError(`the API's job for POST ${path} did not finish within ${timeoutMs / 1000} s; see ${location}`);
        },
      },
    );
  }

  /** A YAML body to one of the manifest endpoints; every CF error of a refusal in a ManifestRefused. */
  private async sendManifest(path: string, yaml: string): Promise<HttpResponse> {
    const res = await this.client.send('POST', path, { body: yaml, headers: { 'content-type': 'application/x-yaml' } });
    if (res.status < 400) return res;
    let errors: { detail?: string; title?: string }[] = [];
    try {
      errors = (JSON.parse(res.text) as { errors?: { detail?: string; title?: string }[] }).errors ?? [];
    } catch {
      // not a Cloud Controller error: said below
    }
    const title = errors[0]?.title;
    if (title === 'CF-InvalidAuthToken' || title === 'CF-NotAuthenticated') throw new ApiRequestError(NOT_LOGGED_IN, res.status, title);
    const problems = errors.map((e) => e.detail ?? '').filter((d) => d !== '');
    if (problems.length === 0) throw new ApiRequestError(`The API answered POST ${path} with HTTP ${res.status}: ${res.text.slice(0, 200) || '(no body)'}`, res.status);
    throw new ManifestRefused(problems, res.status, title);
  }

  // --- environment --------------------------------------------------------------------------

  environment(appGuid: string): Promise<AppEnvironment> {
    return this.client.call<AppEnvironment>('GET', `/v3/apps/${appGuid}/env`);
  }

  async environmentVariables(appGuid: string): Promise<Record<string, string>> {
    return (await this.client.call<{ var: Record<string, string> }>('GET', `/v3/apps/${appGuid}/environment_variables`)).var;
  }

  /** Sets (a string) or removes (null) user-provided variables. */
  async updateEnvironmentVariables(appGuid: string, vars: Record<string, string | null>): Promise<Record<string, string>> {
    return (await this.client.call<{ var: Record<string, string> }>('PATCH', `/v3/apps/${appGuid}/environment_variables`, { var: vars })).var;
  }

  // --- events -------------------------------------------------------------------------------

  /** The app's most recent audit events, newest first (one page of `limit`, as cf shows). */
  events(appGuid: string, limit = 50): Promise<AuditEvent[]> {
    return this.client.firstPage<AuditEvent>('/v3/audit_events', { target_guids: appGuid, order_by: '-created_at', per_page: String(limit) });
  }

  /** The app's crash events (`audit.app.process.crash`) recorded at or after `since`, newest first. */
  async crashEvents(appGuid: string, since: Date): Promise<AuditEvent[]> {
    const events = await this.client.firstPage<AuditEvent>('/v3/audit_events', { target_guids: appGuid, types: 'audit.app.process.crash', order_by: '-created_at', per_page: '100' });
    return events.filter((e) => new Date(e.created_at).getTime() >= since.getTime());
  }

  // --- summaries ----------------------------------------------------------------------------

  /** Every app of the targeted space with its processes (desired and running instances) and routes. */
  async summaries(): Promise<Omit<AppSummary, 'droplet'>[]> {
    const space = this.client.target.current().space;
    const apps = await this.list(space.guid);
    if (apps.length === 0) return [];
    const [processes, routes] = await Promise.all([this.client.processes.ofApps(apps.map((a) => a.guid)), this.client.routes.list(space.guid)]);
    return Promise.all(apps.map((app) => this.summarize(app, processes, routes)));
  }

  /** The app called `name` with its processes, each instance's stats, its routes and its droplet. */
  async summary(name: string): Promise<AppSummary> {
    const app = await this.get(name);
    const [processes, routes, droplet] = await Promise.all([this.client.processes.ofApp(app.guid), this.client.routes.ofApp(app.guid), this.currentDroplet(app.guid)]);
    return { ...(await this.summarize(app, processes, routes)), droplet };
  }

  private async summarize(app: App, processes: Process[], routes: Route[]): Promise<Omit<AppSummary, 'droplet'>> {
    const own = processes.filter((p) => p.relationships.app.data.guid === app.guid).sort((a, b) => (a.type === 'web' ? -1 : b.type === 'web' ? 1 : a.type.localeCompare(b.type)));
    const summaries = await Promise.all(
      own.map(async (p) => {
        // A stopped app (or a process scaled to 0) has no instances to ask about.
        const stats = app.state !== 'STARTED' || p.instances === 0 ? [] : await this.client.processes.instanceStats(p.guid);
        return { type: p.type, instances: p.instances, running: stats.filter((s) => s.state === 'RUNNING').length, memory_in_mb: p.memory_in_mb, disk_in_mb: p.disk_in_mb, command: p.command, stats };
      }),
    );
    const urls = routes.filter((r) => r.destinations.some((d) => d.app.guid === app.guid)).map((r) => r.url);
    return { app, processes: summaries, routes: urls };
  }
}
