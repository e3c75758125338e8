// `GET /v3/domains/:guid/route_reservations?host=&path=&port=`: the route to look for. devbox's
// routes are HTTP only, so a port matches nothing; unknown parameters are 400 as Cloud Controller's.
import { ApiError } from '../errors.js';

export interface RouteReservationMessage {
  host: string;
  path: string;
  /** A TCP route's port: devbox has none, so it never matches. */
  port?: number;
}

const ALLOWED = ['host', 'path', 'port'];

export function routeReservationMessage(query: URLSearchParams): RouteReservationMessage {
  const unknown = [...query.keys()].filter((k) => !ALLOWED.includes(k));
  if (unknown.length) throw new ApiError('BadQueryParameter', `The query parameter is invalid: Unknown query parameter(s): '${unknown.join("', '")}'`);
  const port = query.get('port');
  if (port !== null && !/^\d+$/.test(port)) throw new ApiError('BadQueryParameter', 'The query parameter is invalid: Port is not a number');
  return { host: query.get('host') ?? '', path: query.get('path') ?? '', ...(port !== null ? { port: Number(port) } : {}) };
}
