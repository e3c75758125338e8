// The logs component's HTTP side, reached through the router at logs.<domain>:
//   GET /apps/:guid/recent[?limit=N]  the app's recent lines, a JSON array of envelopes, oldest first
//   GET /apps/:guid/stream            WebSocket: each new envelope as one JSON text frame
//   GET /api/v1/info                  log-cache's version (no token needed, as log-cache)
//   GET /api/v1/read/:guid            log-cache's read, as the cf CLI's `cf logs` uses it (log-cache.ts)
// Both need a token the controller accepts for the app: `Authorization: bearer TOKEN`, or (for
// browsers, which cannot set headers on a WebSocket) `?access_token=TOKEN`. Errors are Cloud
// Controller's shape: {"errors":[{"code","title","detail"}]}.
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { createHttpServer, requestDeadlines, type RefusedRequests, type RequestDeadlines } from '../common/http.js';
import type { AppAccess } from './access.js';
import { isAppGuid } from './envelope.js';
import { infoBody, parseReadQuery, readBody, readErrorBody, ReadQueryError, selectRecords } from './log-cache.js';
import type { LogStore } from './store.js';
import type { StreamHub } from './stream.js';

export interface LogsHttpCounters {
  requests: number;
  recent_requests: number;
  stream_requests: number;
  /** log-cache's `/api/v1/read/:source_id` */
  read_requests: number;
  responses: Record<string, number>;
  /** Requests refused before routing (common/http.ts): two Host headers, a body that did not come in time. */
  refused?: RefusedRequests;
}

const CODES: Record<string, number> = {
  'CF-NotAuthenticated': 10002,
  'CF-InvalidAuthToken': 1000,
  'CF-NotAuthorized': 10003,
  'CF-ResourceNotFound': 10010,
  'CF-NotFound': 10000,
  'CF-InvalidRequest': 10004,
  'CF-BadQueryParameter': 10005,
  'CF-ServiceUnavailable': 10015,
};

const ROUTE = /^\/apps\/([^/]+)\/(recent|stream)\/?$/;
const LOG_CACHE_INFO = /^\/api\/v1\/info\/?$/;
const LOG_CACHE_READ = /^\/api\/v1\/read\/(.+)$/;

/** Now in nanoseconds since the epoch (log-cache's default end_time). */
const nowNs = (): bigint => BigInt(Date.now()) * 1_000_000n;

function errorBody(title: string, detail: string): string {
  return JSON.stringify({ errors: [{ code: CODES[title] ?? 10001, title, detail }] });
}

/** The bearer token of a request: its Authorization header, else `?access_token=`. */
function authorizationOf(req: IncomingMessage, url: URL): string | undefined {
  const header = req.headers.authorization;
  if (header !== undefined && header.trim() !== '') return header;
  const token = url.searchParams.get('access_token');
  return token ? `bearer ${token}` : undefined;
}

export interface LogsServerOptions {
  store: LogStore;
  hub: StreamHub;
  access: AppAccess;
  counters: LogsHttpCounters;
  /** How long a request may take to come in (default: requestDeadlines(), from DEVBOX_HTTP_*). */
  deadlines?: RequestDeadlines;
}

export function createLogsServer({ store, hub, access, counters, deadlines = requestDeadlines() }: LogsServerOptions): http.Server {
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 64 * 1024, clientTracking: false });

  const count = (status: number) => (counters.responses[status] = (counters.responses[status] ?? 0) + 1);

  const reply = (res: ServerResponse, status: number, body: string) => {
    count(status);
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
    res.end(body);
  };

  /** An upgrade refused: a plain HTTP response on the raw socket, then the socket closed. */
  const refuseUpgrade = (socket: Duplex, status: number, title: string, detail: string) => {
    count(status);
    const body = errorBody(title, detail);
    const head = [
      `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}`,
      'Content-Type: application/json; charset=utf-8',
      `Content-Length: ${Buffer.byteLength(body)}`,
      'Connection: close',
    ];
    if (status === 401) head.push('WWW-Authenticate: Bearer realm="devbox logs"');
    socket.end(`${head.join('\r\n')}\r\n\r\n${body}`);
  };

  const parse = (req: IncomingMessage): { url: URL; guid?: string; action?: string } => {
    const url = new URL(req.url ?? '/', 'http://logs');
    if (LOG_CACHE_INFO.test(url.pathname)) return { url, action: 'info' };
    const match = ROUTE.exec(url.pathname) ?? LOG_CACHE_READ.exec(url.pathname);
    if (!match) return { url };
    let guid: string;
    try {
      guid = decodeURIComponent(match[1]);
    } catch {
      return { url };
    }
    return { url, guid, action: match[2] ?? 'read' };
  };

  /** Whether the request's token may read app `guid`; when not, the refusal is sent and false returned. */
  const allowed = async (req: IncomingMessage, res: ServerResponse, url: URL, guid: string): Promise<boolean> => {
    if (!isAppGuid(guid)) {
      reply(res, 404, errorBody('CF-ResourceNotFound', 'App not found'));
      return false;
    }
    const decision = await access.check(authorizationOf(req, url), guid);
    if (decision.ok) return true;
    if (decision.status === 401) res.setHeader('www-authenticate', 'Bearer realm="devbox logs"');
    reply(res, decision.status, errorBody(decision.title, decision.detail));
    return false;
  };

  /** log-cache's read: the token first (as log-cache's auth proxy comes before its reader), then the query. */
  const read = async (req: IncomingMessage, res: ServerResponse, url: URL, guid: string) => {
    counters.read_requests++;
    if (!(await allowed(req, res, url, guid))) return;
    let query;
    try {
      query = parseReadQuery(url.searchParams, nowNs());
    } catch (error) {
      if (error instanceof ReadQueryError) return reply(res, 400, readErrorBody(error.message));
      throw error;
    }
    reply(res, 200, readBody(selectRecords(store.recent(guid), query)));
  };

  /** The upgrade to the log stream (WebSocket). */
  const upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    counters.requests++;
    socket.on('error', () => socket.destroy());
    void (async () => {
      const { url, guid, action } = parse(req);
      if (!guid || action !== 'stream') return refuseUpgrade(socket, 404, 'CF-NotFound', 'Unknown request: the log stream is at /apps/:guid/stream');
      counters.stream_requests++;
      if (req.headers.upgrade?.toLowerCase() !== 'websocket') return refuseUpgrade(socket, 400, 'CF-BadQueryParameter', 'only WebSocket upgrades are served');
      if (!isAppGuid(guid)) return refuseUpgrade(socket, 404, 'CF-ResourceNotFound', 'App not found');
      const decision = await access.check(authorizationOf(req, url), guid);
      if (!decision.ok) return refuseUpgrade(socket, decision.status, decision.title, decision.detail);
      if (socket.destroyed) return;
      wss.handleUpgrade(req, socket, head, (ws) => {
        count(101);
        hub.add(guid, ws);
      });
    })().catch(() => socket.destroy());
  };

  counters.refused ??= { duplicate_host: 0, body_timeout: 0 };
  // Two Host headers (400) and request deadlines (408) are common/http.ts's, in this server's error
  // shape; the upgrade to the stream is checked for two Host headers too.
  const guards = {
    deadlines,
    upgrade,
    refused: counters.refused,
    errorBody: (_status: number, message: string) => ({ contentType: 'application/json; charset=utf-8', body: errorBody('CF-InvalidRequest', message) }),
    onRefused: (reason: keyof RefusedRequests) => count(reason === 'duplicate_host' ? 400 : 408),
  };
  const server = createHttpServer((req, res) => {
    counters.requests++;
    void (async () => {
      const { url, guid, action } = parse(req);
      const unknown = () => reply(res, 404, errorBody('CF-NotFound', 'Unknown request: the logs component serves /apps/:guid/recent, /apps/:guid/stream, /api/v1/info and /api/v1/read/:guid'));
      if (!action) return unknown();
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.setHeader('allow', 'GET');
        return reply(res, 405, errorBody('CF-NotFound', `${req.method} is not allowed here; use GET`));
      }
      if (action === 'info') return reply(res, 200, infoBody());
      if (!guid) return unknown();
      if (action === 'read') return read(req, res, url, guid);
      if (action === 'stream') return reply(res, 400, errorBody('CF-BadQueryParameter', 'the stream is a WebSocket: connect with Upgrade: websocket'));
      counters.recent_requests++;
      const limitText = url.searchParams.get('limit');
      const limit = limitText === null ? undefined : Number(limitText);
      if (limit !== undefined && (!Number.isInteger(limit) || limit < 0)) {
        return reply(res, 400, errorBody('CF-BadQueryParameter', `limit must be a whole number of lines (0 or more), got '${limitText}'`));
      }
      if (!(await allowed(req, res, url, guid))) return;
      const records = store.recent(guid, limit);
      reply(res, 200, `[${records.map((r) => r.json).join(',')}]`);
    })().catch((error: unknown) => {
      if (!res.headersSent) reply(res, 500, errorBody('CF-ServerError', (error as Error).message));
      else res.destroy();
    });
  }, guards);

  return server;
}
