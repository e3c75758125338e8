// A small HTTP layer for the API: routes by method and path pattern, JSON bodies with a size limit,
// and every failure answered as a Cloud Controller error. Handlers return what to send.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { ApiError } from '../errors.js';

export interface ApiRequest {
  method: string;
  path: string;
  params: Record<string, string>;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  raw: IncomingMessage;
  /** The parsed JSON body (only for handlers declared with a body). */
  body: unknown;
}

export interface ApiResponse {
  status?: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** A body streamed as it is produced (package and droplet downloads). */
  stream?: Readable;
}

export type RouteHandler<C> = (req: ApiRequest, ctx: C) => Promise<ApiResponse> | ApiResponse;

interface Route<C> {
  method: string;
  /** The path as declared (`/v3/apps/:guid`). */
  path: string;
  pattern: RegExp;
  keys: string[];
  handler: RouteHandler<C>;
  /** Handlers that stream the raw request themselves (uploads) do not get a parsed body. */
  rawBody: boolean;
}

export const MAX_JSON_BODY = 1024 * 1024;

export class Routes<C> {
  private readonly routes: Route<C>[] = [];

  add(method: string, path: string, handler: RouteHandler<C>, { rawBody = false } = {}): this {
    const keys: string[] = [];
    const source = path.replace(/:([a-z_]+)/g, (_m, key: string) => {
      keys.push(key);
      return '([^/]+)';
    });
    this.routes.push({ method, path, pattern: new RegExp(`^${source}/?$`), keys, handler, rawBody });
    return this;
  }

  /** Every route as declared, in order: method, path and whether the handler reads the raw body. */
  list(): { method: string; path: string; rawBody: boolean }[] {
    return this.routes.map(({ method, path, rawBody }) => ({ method, path, rawBody }));
  }

  get = (path: string, handler: RouteHandler<C>) => this.add('GET', path, handler);
  post = (path: string, handler: RouteHandler<C>) => this.add('POST', path, handler);
  patch = (path: string, handler: RouteHandler<C>) => this.add('PATCH', path, handler);
  put = (path: string, handler: RouteHandler<C>) => this.add('PUT', path, handler);
  delete = (path: string, handler: RouteHandler<C>) => this.add('DELETE', path, handler);

  match(method: string, path: string): { route: Route<C>; params: Record<string, string> } | 'method' | undefined {
    let pathMatched = false;
    for (const route of this.routes) {
      const m = route.pattern.exec(path);
      if (!m) continue;
      pathMatched = true;
      if (route.method !== method && !(method === 'HEAD' && route.method === 'GET')) continue;
      const params: Record<string, string> = {};
      route.keys.forEach((key, i) => (params[key] = decodePathSegment(m[i + 1])));
      return { route, params };
    }
    return pathMatched ? 'method' : undefined;
  }
}

function decodePathSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new ApiError('InvalidRequest', `The request path has a malformed percent-encoding ('${segment.slice(0, 64)}'): write a literal % as %25`);
  }
}

export async function readJsonBody(req: IncomingMessage, limit = MAX_JSON_BODY): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new ApiError('RequestEntityTooLarge', `The request body is larger than ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return {};
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new ApiError('MessageParseError', `Request invalid due to parse error: invalid request body: ${(error as Error).message}`);
  }
}

export function send(res: ServerResponse, response: ApiResponse): void {
  const status = response.status ?? 200;
  const headers: Record<string, string> = { ...response.headers };
  if (response.stream) {
    res.writeHead(status, headers);
    response.stream.on('error', () => res.destroy());
    response.stream.pipe(res);
    return;
  }
  if (response.body === undefined || status === 204) {
    res.writeHead(status, headers);
    res.end();
    return;
  }
  const payload = JSON.stringify(response.body);
  headers['Content-Type'] ??= 'application/json; charset=utf-8';
  headers['Content-Length'] = String(Buffer.byteLength(payload));
  res.writeHead(status, headers);
  res.end(payload);
}

export function sendError(res: ServerResponse, error: ApiError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  send(res, { status: error.status, body: error.toJSON() });
}
