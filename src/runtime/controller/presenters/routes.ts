// Rendering routes and their destinations as v3 resources.
import type { Metadata, Urls } from '../context.js';
import { jsonColumn } from '../repositories/query.js';
import { DEFAULT_APP_PORT, type DestinationRow, type RouteRow, type RouteWithDestinations } from '../repositories/routes.js';

type Ctx = { urls: Urls };

export function presentDestination(row: DestinationRow) {
  return { guid: row.guid, app: { guid: row.app_guid, process: { type: row.process_type } }, weight: null, port: row.port ?? DEFAULT_APP_PORT, protocol: 'http1' };
}

export function presentRoute({ route, domain, destinations }: RouteWithDestinations, ctx: Ctx) {
  const self = `${ctx.urls.api}/v3/routes/${route.guid}`;
  return {
    guid: route.guid,
    protocol: 'http',
    port: null,
    host: route.host,
    path: route.path,
    url: `${route.host ? `${route.host}.` : ''}${domain.name}${route.path}`,
    created_at: route.created_at,
    updated_at: route.updated_at,
    destinations: destinations.map(presentDestination),
    options: {},
    metadata: jsonColumn<Metadata, RouteRow, 'metadata'>('routes', route, 'metadata', { labels: {}, annotations: {} }),
    relationships: { space: { data: { guid: route.space_guid } }, domain: { data: { guid: route.domain_guid } } },
    links: {
      self: { href: self },
      space: { href: `${ctx.urls.api}/v3/spaces/${route.space_guid}` },
      domain: { href: `${ctx.urls.api}/v3/domains/${route.domain_guid}` },
      destinations: { href: `${self}/destinations` },
    },
  };
}

/** `GET /v3/routes/:guid/destinations` (and what mapping answers). */
export function presentRouteDestinations(route: RouteRow, destinations: DestinationRow[], ctx: Ctx) {
  return {
    destinations: destinations.map(presentDestination),
    links: { self: { href: `${ctx.urls.api}/v3/routes/${route.guid}/destinations` }, route: { href: `${ctx.urls.api}/v3/routes/${route.guid}` } },
  };
}
