// A built-in broker's HTTP side: OSBAPI v2 routes. Every /v2 request is checked in this order,
// before its body is read: `X-Broker-API-Version` (412), then basic auth (401). `POST
// /orphans/purge` (basic auth) is devbox's own.
import type http from 'node:http';
import { createHttpServer, requestCutOff } from '../common/http.js';
import { basicAuthMatches } from '../common/status.js';
import type { Logger } from '../common/log.js';
import type { Broker, BrokerResult } from './broker.js';
import type { OrphanChecker } from './orphans.js';
import type { BindingRecord } from './records.js';

export const MIN_API_MINOR = 13;
export const MAX_API_MINOR = 17;
const MAX_BODY_BYTES = 1024 * 1024;

export interface BrokerServerOptions<B extends BindingRecord> {
  broker: Broker<B>;
  orphans: OrphanChecker<B>;
  /** `GET /v2/catalog`'s body. */
  catalog: () => Record<string, unknown>;
  /** The basic-auth realm of a 401 (`mysql-broker`). */
  realm: string;
  username: string;
  password: string;
  log: Logger;
  /** Responses by status code, for /varz. */
  stats: { requests: number; responses: Record<string, number> };
}

class BodyError extends Error {}

function readBody(req: http.IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        reject(new BodyError('the request body is larger than 1 MB'));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('error', reject);
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      if (text.trim() === '') return resolve(undefined);
      try {
        resolve(JSON.parse(text));
      } catch {
        reject(new BodyError('the request body is not valid JSON'));
      }
    });
  });
}

export function supportedVersion(header: string | string[] | undefined): boolean {
  const m = typeof header === 'string' ? /^2\.(\d+)$/.exec(header.trim()) : null;
  return !!m && Number(m[1]) >= MIN_API_MINOR && Number(m[1]) <= MAX_API_MINOR;
}

export function createBrokerServer<B extends BindingRecord>(o: BrokerServerOptions<B>): http.Server {
  const send = (res: http.ServerResponse, result: BrokerResult, extra: Record<string, string> = {}) => {
    o.stats.responses[result.status] = (o.stats.responses[result.status] ?? 0) + 1;
    const text = JSON.stringify(result.body);
    res.writeHead(result.status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), ...extra });
    res.end(text);
  };

  const route = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    o.stats.requests++;
    const url = new URL(req.url ?? '/', 'http://broker');
    const method = req.method ?? 'GET';
    const parts = url.pathname.split('/').filter(Boolean).map((p) => decodeURIComponent(p));
    const requestId = req.headers['x-broker-api-request-identity'];
    const extra: Record<string, string> = typeof requestId === 'string' ? { 'x-broker-api-request-identity': requestId } : {};
    const unauthorized = () => send(res, { status: 401, body: { description: 'the broker credentials are missing or wrong' } }, { ...extra, 'www-authenticate': `Basic realm="${o.realm}"` });

    if (parts[0] === 'orphans' && parts[1] === 'purge' && parts.length === 2) {
      if (!basicAuthMatches(req.headers.authorization, o.username, o.password)) return unauthorized();
      if (method !== 'POST') return send(res, { status: 405, body: { description: 'use POST' } }, { allow: 'POST' });
      return send(res, { status: 200, body: await o.orphans.purge() });
    }
    if (parts[0] !== 'v2') return send(res, { status: 404, body: { description: `no such endpoint: ${method} ${url.pathname}` } });

    // spec.md "API Version Header": 412 Precondition Failed for versions the broker does not support.
    if (!supportedVersion(req.headers['x-broker-api-version'])) {
      const given = req.headers['x-broker-api-version'];
      return send(res, { status: 412, body: { description: `X-Broker-API-Version ${given ? `'${String(given)}' is not supported` : 'is missing'}; this broker speaks 2.${MIN_API_MINOR} to 2.${MAX_API_MINOR}` } }, extra);
    }
    // spec.md "Platform to Service Broker Authentication": 401 when basic auth fails.
    if (!basicAuthMatches(req.headers.authorization, o.username, o.password)) return unauthorized();

    const b = o.broker;
    let result: BrokerResult | undefined;
    const [, kind, instanceId, sub, bindingId, last] = parts;
    if (kind === 'catalog' && parts.length === 2 && method === 'GET') result = { status: 200, body: o.catalog() };
    else if (kind === 'service_instances' && instanceId) {
      if (parts.length === 3) {
        if (method === 'PUT') result = await b.provision(instanceId, await readBody(req));
        else if (method === 'GET') result = b.getInstance(instanceId);
        else if (method === 'DELETE') result = await b.deprovision(instanceId, url.searchParams);
        else if (method === 'PATCH') result = await b.update(instanceId, await readBody(req));
      } else if (parts.length === 4 && sub === 'last_operation' && method === 'GET') result = b.lastOperation(instanceId);
      else if (sub === 'service_bindings' && bindingId) {
        if (parts.length === 5) {
          if (method === 'PUT') result = await b.bind(instanceId, bindingId, await readBody(req));
          else if (method === 'GET') result = b.getBinding(instanceId, bindingId);
          else if (method === 'DELETE') result = await b.unbind(instanceId, bindingId, url.searchParams);
        } else if (parts.length === 6 && last === 'last_operation' && method === 'GET') result = b.lastOperation(instanceId, bindingId);
      }
    }
    send(res, result ?? { status: 404, body: { description: `no such endpoint: ${method} ${url.pathname}` } }, extra);
  };

  // Two Host headers (400) and bodies that do not come in time (408) as every server of the box
  // (common/http.ts), answered in the OSBAPI's error shape.
  const errorBody = (_status: number, message: string) => ({ contentType: 'application/json', body: JSON.stringify({ description: message }) });
  const onRefused = (reason: string, req: http.IncomingMessage) => {
    const status = reason === 'duplicate_host' ? 400 : 408;
    o.stats.responses[status] = (o.stats.responses[status] ?? 0) + 1;
    o.log.info('request refused', { reason, method: req.method, path: (req.url ?? '').split('?')[0] });
  };
  return createHttpServer((req, res) => {
    route(req, res).catch((error: unknown) => {
      // The body did not come in time: answered (or cut off) and counted already.
      if (requestCutOff(req)) return;
      if (res.headersSent) return void res.destroy();
      if (error instanceof BodyError) return send(res, { status: 400, body: { description: error.message } });
      if (error instanceof URIError) return send(res, { status: 400, body: { description: `the path ${(req.url ?? '').slice(0, 200)} has a malformed percent-encoding: write a literal % as %25` } });
      o.log.error('broker request failed', { method: req.method, url: req.url, error: (error as Error).message });
      send(res, { status: 500, body: { description: `internal error: ${(error as Error).message}` } });
    });
  }, { errorBody, onRefused });
}
