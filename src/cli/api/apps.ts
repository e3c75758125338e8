// Apps: found by name in the targeted space, created, started and stopped, deleted (with their
// routes), their environment, droplet and events, and the summaries `apps` and `app` show.
import { CliError } from '../base-command.js';
import type { ApiClient } from './client.js';
import type { App, AppEnvironment, AuditEvent, Droplet, Process, ProcessInstanceStats, Route } from './resources.js';

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
