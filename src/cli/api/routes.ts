// Domains and routes: found, created, mapped to an app's process and unmapped, deleted, and the
// summaries `routes` shows.
import { CliError } from '../base-command.js';
import type { Named } from '../session.js';
import type { ApiClient } from './client.js';
import type { App, Destination, Domain, Route } from './resources.js';

/** A route as the commands name it: host.domain/path. */
export interface RouteSpec {
  domain: string;
  host?: string;
  path?: string;
}

/** A route with the names `routes` shows: its space, domain and the apps mapped to it. */
export interface RouteSummary {
  route: Route;
  space: string;
  domain: string;
  apps: string[];
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

export class Routes {
  constructor(private readonly client: ApiClient) {}

  domains(): Promise<Domain[]> {
    return this.client.list<Domain>('/v3/domains');
  }

  /** The domain called `name`, or a CliError listing the domains there are. */
  async domain(name: string): Promise<Domain> {
    const [domain] = await this.client.list<Domain>('/v3/domains', { names: name });
    if (!domain) throw new CliError(`Domain '${name}' not found. The domains are: ${(await this.domains()).map((d) => d.name).join(', ') || 'none'}.`);
    return domain;
  }

  /** The domain apps get their default route on: the first shared (not internal) domain. */
  async defaultDomain(): Promise<Domain> {
    const domain = (await this.domains()).find((d) => !d.internal);
    if (!domain) throw new CliError("The API has no shared domain for the app's route. Push with --no-route, or map a route later with 'devbox map-route'.");
    return domain;
  }

  list(spaceGuid = this.client.target.current().space.guid): Promise<Route[]> {
    return this.client.list<Route>('/v3/routes', { space_guids: spaceGuid });
  }

  /** The routes mapped to the app. */
  ofApp(appGuid: string): Promise<Route[]> {
    return this.client.list<Route>(`/v3/apps/${appGuid}/routes`);
  }

  /** The route with exactly this host, domain and path, if it exists. */
  async find(domain: Domain, host = '', path = ''): Promise<Route | undefined> {
    const routes = await this.client.list<Route>('/v3/routes', { domain_guids: domain.guid, hosts: host || undefined });
    return routes.find((r) => r.host === host.toLowerCase() && r.path === path);
  }

  create(space: Named, domain: Domain, host = '', path = ''): Promise<Route> {
    return this.client.call<Route>('POST', '/v3/routes', {
      ...(host ? { host } : {}),
      ...(path ? { path } : {}),
      relationships: { space: { data: { guid: space.guid } }, domain: { data: { guid: domain.guid } } },
    });
  }

  async map(route: Route, app: App, processType = 'web'): Promise<void> {
    await this.client.call('POST', `/v3/routes/${route.guid}/destinations`, { destinations: [{ app: { guid: app.guid, process: { type: processType } } }] });
  }

  async unmap(route: Route, destination: Destination): Promise<void> {
    await this.client.call('DELETE', `/v3/routes/${route.guid}/destinations/${destination.guid}`);
  }

  async delete(route: Route): Promise<void> {
    await this.client.deleteAndWait(`/v3/routes/${route.guid}`);
  }

  /**
   * Maps host.domain/path to the app, creating the route first when it does not exist. Says what it
   * did: created the route, mapped it, or found it mapped already.
   */
  async mapByName(appName: string, given: RouteSpec): Promise<{ url: string; created: boolean; alreadyMapped: boolean }> {
    const spec = normalizeRouteSpec(given);
    const space = this.client.target.current().space;
    const app = await this.client.apps.get(appName);
    const domain = await this.domain(spec.domain);
    let route = await this.find(domain, spec.host, spec.path);
    const created = !route;
    route ??= await this.create(space, domain, spec.host, spec.path);
    const alreadyMapped = route.destinations.some((d) => d.app.guid === app.guid);
    if (!alreadyMapped) await this.map(route, app);
    return { url: route.url, created, alreadyMapped };
  }

  /** Removes the app from host.domain/path's destinations; `mapped: false` when it was not mapped there. */
  async unmapByName(appName: string, given: RouteSpec): Promise<{ url: string; mapped: boolean }> {
    const spec = normalizeRouteSpec(given);
    const app = await this.client.apps.get(appName);
    const domain = await this.domain(spec.domain);
    const route = await this.find(domain, spec.host, spec.path);
    if (!route) {
      const what = `host '${spec.host ?? ''}'${spec.path ? `, path '${spec.path}'` : ''}`;
      throw new CliError(`Route with ${what} and domain '${spec.domain}' not found. 'devbox routes' lists the routes.`);
    }
    const mine = route.destinations.filter((d) => d.app.guid === app.guid);
    for (const destination of mine) await this.unmap(route, destination);
    return { url: route.url, mapped: mine.length > 0 };
  }

  /** The targeted space's routes with their domain's name and the names of the apps they are mapped to. */
  async summaries(): Promise<RouteSummary[]> {
    const space = this.client.target.current().space;
    const [routes, domains, apps] = await Promise.all([this.list(space.guid), this.domains(), this.client.apps.list(space.guid)]);
    const domainNames = new Map(domains.map((d) => [d.guid, d.name]));
    const appNames = new Map(apps.map((a) => [a.guid, a.name]));
    return routes.map((route) => ({
      route,
      space: space.name,
      domain: domainNames.get(route.relationships.domain.data.guid) ?? '',
      apps: [...new Set(route.destinations.map((d) => appNames.get(d.app.guid) ?? d.app.guid))],
    }));
  }
}
