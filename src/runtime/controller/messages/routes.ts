// Route requests: create a route, map destinations to it, list routes. Each parse checks the body
// as Cloud Controller does (unknown fields, types, a host that is a DNS label, a URL path).
import { unprocessable } from '../errors.js';
import type { Metadata } from '../context.js';
import { ROUTE_FILTERS } from '../repositories/routes.js';
import { listMessage, ORDER_BY_TIME, type ListMessage } from './list.js';
import { allowOnly, asObject, metadataUpdate, optionalObject, optionalString, relationshipGuid } from './validate.js';

// A DNS label: letters, digits and hyphens, not starting or ending with a hyphen (or `*`).
const HOST = /^(\*|[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)$/i;
const PATH = /^(\/[A-Za-z0-9._~!$&'()*+,;=:@%-]+)+$/;

export interface RouteCreateMessage {
  /** Lowercased; '' for none. */
  host: string;
  /** '' for none. */
  path: string;
  domainGuid: string;
  spaceGuid: string;
  metadata: Metadata;
}

/** Where a route sends traffic: a process of an app. */
export interface DestinationMessage {
  appGuid: string;
  processType: string;
}

export function routeCreateMessage(raw: unknown): RouteCreateMessage {
  const body = asObject(raw);
  allowOnly(body, ['host', 'path', 'port', 'relationships', 'metadata', 'options']);
  const host = (optionalString(body, 'host', { max: 63 }) ?? '').toLowerCase();
  const path = optionalString(body, 'path', { max: 128 }) ?? '';
  if (host !== '' && !HOST.test(host)) throw unprocessable('Host must be either "*" or contain only alphanumeric characters, "_", or "-"');
  if (path !== '' && !PATH.test(path)) throw unprocessable("Path must begin with a '/' and contain only URL characters, without '?' or '#'");
  return {
    host,
    path,
    domainGuid: relationshipGuid(body, 'domain'),
    spaceGuid: relationshipGuid(body, 'space'),
    metadata: metadataUpdate(body, { labels: {}, annotations: {} }),
  };
}

/** `{destinations: [{app: {guid, process: {type}}}]}` of POST /v3/routes/:guid/destinations; the process defaults to web. */
export function destinationsMessage(raw: unknown): DestinationMessage[] {
  const body = asObject(raw);
  allowOnly(body, ['destinations']);
  if (!Array.isArray(body.destinations) || body.destinations.length === 0) throw unprocessable('Destinations must be a non-empty array');
  return body.destinations.map((item: unknown) => {
    const destination = asObject(item, 'a destination');
    allowOnly(destination, ['app', 'port', 'weight', 'protocol']);
    const app = optionalObject(destination, 'app');
    const appGuid = app?.guid;
    if (typeof appGuid !== 'string') throw unprocessable('Destinations must have an app guid');
    const process = app && optionalObject(app, 'process');
    return { appGuid, processType: (process && optionalString(process, 'type')) ?? 'web' };
  });
}

export function routeListMessage(query: URLSearchParams): ListMessage<(typeof ROUTE_FILTERS)[number]> {
  const message = listMessage(query, ROUTE_FILTERS, ORDER_BY_TIME);
  // A route without a path has the path '': `paths=` (or an empty item) asks for those, so paths
  // are taken as given, not trimmed and emptied as other filters' values are.
  const paths = query.get('paths');
  if (paths !== null) message.filters.paths = paths.split(',');
  return message;
}

/**
 * `DELETE /v3/spaces/:guid/routes?unmapped=true` (cf delete-orphaned-routes): the only mass delete
 * Cloud Controller allows. Anything else is its 422.
 */
export function spaceRoutesDeleteMessage(query: URLSearchParams): { unmapped: true } {
  const unknown = [...new Set(query.keys())].filter((k) => k !== 'unmapped');
  if (unknown.length) throw unprocessable(`Unknown query parameter(s): '${unknown.join("', '")}'. Valid parameters are: 'unmapped'`);
  const unmapped = query.get('unmapped');
  if (unmapped === null) throw unprocessable("Mass delete not supported for routes. Use 'unmapped=true' parameter to delete all unmapped routes.");
  if (unmapped !== 'true' && unmapped !== 'false') throw unprocessable('Unmapped must be a boolean');
  if (unmapped === 'false') throw unprocessable("Mass delete not supported for mapped routes. Use 'unmapped=true' parameter to delete all unmapped routes.");
  return { unmapped: true };
}
