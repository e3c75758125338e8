// The controller's side of the Open Service Broker API v2.17: catalog, provision/update/deprovision,
// bind/unbind and their last operations, with the platform's headers. One method, one request: what
// the broker answered comes back as an outcome (done, async with its operation, failed with a
// message that names the broker and says whether the spec's orphan mitigation applies); the caller
// (actions/service-instances.ts, service-bindings.ts, run as jobs) decides what to do next. The
// broker's password goes only into the Authorization header: never into errors or logs.
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { connectTarget } from '../../common/http.js';
import type { Logger } from '../../common/log.js';
import { ApiError } from '../errors.js';

export const BROKER_API_VERSION = '2.17';

export interface BrokerEndpoint {
  name: string;
  url: string;
  username: string;
  password: string;
}

export interface CatalogPlan {
  id: string;
  name: string;
  description: string;
  [key: string]: unknown;
}

export interface CatalogService {
  id: string;
  name: string;
  description: string;
  bindable: boolean;
  tags?: string[];
  plans: CatalogPlan[];
  [key: string]: unknown;
}

/** The catalog ids of the instance's offering and plan, as every request after provision carries them. */
export interface BrokerIds {
  service_id: string;
  plan_id: string;
}

/**
 * What one broker request came to. `failed.orphan`: the broker may hold something devbox will not
 * keep (the OSBAPI table: a timeout, a 5xx, a 408, another 2xx, an unreadable 200/201/202), so the
 * caller sends the matching DELETE. `busy`: 422 ConcurrencyError, the broker is still at another
 * operation on the same resource (a request sent again after a controller's restart): ask later.
 */
export type BrokerAnswer<T> =
  | { outcome: 'done'; body: T }
  | { outcome: 'async'; operation?: string }
  | { outcome: 'failed'; message: string; orphan: boolean }
  | { outcome: 'busy'; message: string };

/** A last_operation poll: the broker's state, 410 Gone, or no usable answer (polled again later). */
export type LastOperationPoll =
  | { state: 'in progress' | 'succeeded' | 'failed'; description?: string; retryAfterMs?: number }
  | { state: 'gone' }
  | { state: 'unknown'; message: string };

export interface BindingCredentials {
  credentials: Record<string, unknown>;
  syslog_drain_url?: string;
}

/** How long a broker has to answer (CF's broker_client_timeout_seconds is 60). */
export function brokerTimeoutMs(): number {
  const n = Number(process.env.DEVBOX_BROKER_TIMEOUT_MS);
  return Number.isFinite(n) && n > 0 ? n : 60_000;
}

/** 502 CF-ServiceBrokerBadResponse: the broker failed or answered what the platform cannot use. */
export const brokerError = (detail: string): ApiError => new ApiError('ServiceBrokerBadResponse', detail);

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

const agents = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) };

/** A request that took longer than the broker timeout, body included. */
class TimedOut extends Error {}

/**
 * One HTTP(S) exchange with a broker, the whole response read. Names under `.localhost` (the
 * built-in broker's route through the router) are reached at 127.0.0.1, as every devbox client
 * reaches them; the Host header keeps the name.
 */
function exchange(url: URL, method: string, headers: Record<string, string>, body: string | undefined, timeoutMs: number): Promise<Reply> {
  const secure = url.protocol === 'https:';
  const { hostname } = connectTarget(url);
  return new Promise((resolve, reject) => {
    const req = (secure ? https : http).request(
      {
        agent: secure ? agents.https : agents.http,
        hostname,
        port: Number(url.port) || (secure ? 443 : 80),
        method,
        path: `${url.pathname}${url.search}`,
        headers: { host: url.host, ...headers, ...(body !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {}) },
        ...(secure ? { servername: url.hostname.replace(/^\[|\]$/g, '') } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          clearTimeout(deadline);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') });
        });
        res.on('error', reject);
      },
    );
    const deadline = setTimeout(() => req.destroy(new TimedOut()), timeoutMs);
    req.on('error', (error) => {
      clearTimeout(deadline);
      reject(error);
    });
    req.end(body);
  });
}

/** A request that got no answer: why, in words that name the broker, and whether it may have been done. */
class NoAnswer extends Error {
  constructor(
    message: string,
    readonly orphan: boolean,
  ) {
    super(message);
  }
}

/** Failures of the connection, in words. */
const CONNECTION_FAILURES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ECONNRESET: 'connection reset',
};

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

function parse(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** A body the platform could not use, shortened for an error. */
const excerpt = (text: string) => (text === '' ? '(an empty body)' : text.length > 200 ? `${text.slice(0, 200)}…` : text);

export class BrokerClient {
  constructor(
    private readonly broker: BrokerEndpoint,
    private readonly userGuid: string,
    private readonly log?: Logger,
  ) {}

  private get base(): string {
    return this.broker.url.replace(/\/+$/, '');
  }

  private async call(method: string, pathAndQuery: string, body?: unknown): Promise<Reply> {
    const identity = Buffer.from(JSON.stringify({ user_id: this.userGuid })).toString('base64');
    const timeoutMs = brokerTimeoutMs();
    const path = pathAndQuery.split('?')[0];
    const headers = {
      'x-broker-api-version': BROKER_API_VERSION,
      'x-broker-api-originating-identity': `cloudfoundry ${identity}`,
      'x-broker-api-request-identity': randomUUID(),
      authorization: `Basic ${Buffer.from(`${this.broker.username}:${this.broker.password}`).toString('base64')}`,
      accept: 'application/json',
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    };
    try {
      return await exchange(new URL(`${this.base}${pathAndQuery}`), method, headers, body === undefined ? undefined : JSON.stringify(body), timeoutMs);
    } catch (error) {
      if (error instanceof TimedOut) {
        throw new NoAnswer(`The service broker '${this.broker.name}' at ${this.broker.url} did not answer ${method} ${path} within ${timeoutMs / 1000} s`, true);
      }
      const err = error as NodeJS.ErrnoException;
      const code = err.code ?? '';
      const why = CONNECTION_FAILURES[code] ? `${CONNECTION_FAILURES[code]} (${code})` : err.message;
      // A refused or unresolvable connection never carried the request; anything else may have.
      const sent = !['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH'].includes(code);
      throw new NoAnswer(`The service broker '${this.broker.name}' could not be reached at ${this.broker.url}: ${why}`, sent);
    }
  }

  /** The broker's refusal or failure in words: its status, its error code and description, its name. */
  private refusal(method: string, path: string, res: Reply): { message: string; orphan: boolean } {
    const parsed = parse(res.text);
    const description = isObject(parsed) && typeof parsed.description === 'string' ? parsed.description : undefined;
    const code = isObject(parsed) && typeof parsed.error === 'string' ? ` (${parsed.error})` : '';
    const what = description ?? (isObject(parsed) ? 'no description' : excerpt(res.text));
    if (res.status >= 500) return { message: `Service broker '${this.broker.name}' failed ${method} ${path} with status ${res.status}${code}: ${what}`, orphan: true };
    if (res.status >= 400) return { message: `Service broker '${this.broker.name}' refused ${method} ${path} with status ${res.status}${code}: ${what}`, orphan: res.status === 408 };
    if (res.status >= 300) return { message: `Service broker '${this.broker.name}' answered ${method} ${path} with a redirect (status ${res.status}), which the platform does not follow`, orphan: false };
    return { message: `Service broker '${this.broker.name}' answered ${method} ${path} with status ${res.status}, which the Open Service Broker API does not allow there`, orphan: true };
  }

  private malformed(method: string, path: string, res: Reply): string {
    return `Service broker '${this.broker.name}' answered ${method} ${path} with status ${res.status} and a body that is not what the Open Service Broker API says: ${excerpt(res.text)}`;
  }

  async catalog(): Promise<CatalogService[]> {
    let res: Reply;
    try {
      res = await this.call('GET', '/v2/catalog');
    } catch (error) {
      throw brokerError((error as Error).message);
    }
    if (res.status === 401) throw brokerError(`Authentication failed for the service broker API. Double-check that the username and password are correct: ${this.broker.url}/v2/catalog`);
    if (res.status !== 200) throw brokerError(`The service broker rejected the request to ${this.broker.url}/v2/catalog. Status Code: ${res.status}, Body: ${excerpt(res.text)}`);
    const body = parse(res.text);
    if (!isObject(body) || !Array.isArray(body.services)) throw brokerError(`Service broker catalog is invalid: it has no services array (${this.broker.url}/v2/catalog)`);
    const problems: string[] = [];
    for (const raw of body.services as Record<string, unknown>[]) {
      const where = `Service ${String(raw?.name ?? '(unnamed)')}`;
      for (const field of ['id', 'name', 'description']) if (typeof raw?.[field] !== 'string' || raw[field] === '') problems.push(`${where}: ${field} must be a non-empty string`);
      if (typeof raw?.bindable !== 'boolean') problems.push(`${where}: bindable must be a boolean`);
      if (!Array.isArray(raw?.plans) || raw.plans.length === 0) problems.push(`${where}: at least one plan is required`);
      else for (const plan of raw.plans as Record<string, unknown>[]) for (const field of ['id', 'name', 'description']) if (typeof plan?.[field] !== 'string' || plan[field] === '') problems.push(`${where}, plan ${String(plan?.name ?? '(unnamed)')}: ${field} must be a non-empty string`);
    }
    if (problems.length) throw brokerError(`Service broker catalog is invalid: ${problems.join('; ')}`);
    return body.services as CatalogService[];
  }

  /**
   * One request whose answer is read by the OSBAPI rules every operation shares: `ok` statuses with
   * a JSON object are done, 202 with one (or nothing) is asynchronous, anything else failed.
   */
  private async operation<T>(method: string, path: string, query: Record<string, string>, body: unknown, ok: number[], read: (parsed: Record<string, unknown>) => T | undefined, unreadableIsOrphan: boolean): Promise<BrokerAnswer<T>> {
    let res: Reply;
    try {
      res = await this.call(method, `${path}?${new URLSearchParams(query).toString()}`, body);
    } catch (error) {
      const failure = error as NoAnswer;
      return { outcome: 'failed', message: failure.message, orphan: failure.orphan };
    }
    // OSBAPI asks for a JSON object even where it is empty (`{}`): no body is a malformed one too.
    const parsed = parse(res.text);
    if (ok.includes(res.status)) {
      // A deprovision or unbind answered 410 Gone: already done; its body does not matter.
      if (res.status === 410) return { outcome: 'done', body: read({}) as T };
      const value = isObject(parsed) ? read(parsed) : undefined;
      if (value === undefined) return { outcome: 'failed', message: this.malformed(method, path, res), orphan: unreadableIsOrphan };
      return { outcome: 'done', body: value };
    }
    if (res.status === 202) {
      if (!isObject(parsed) || (parsed.operation !== undefined && typeof parsed.operation !== 'string')) return { outcome: 'failed', message: this.malformed(method, path, res), orphan: unreadableIsOrphan };
      return { outcome: 'async', ...(typeof parsed.operation === 'string' ? { operation: parsed.operation } : {}) };
    }
    const { message, orphan } = this.refusal(method, path, res);
    if (res.status === 422 && isObject(parsed) && parsed.error === 'ConcurrencyError') return { outcome: 'busy', message };
    return { outcome: 'failed', message, orphan: unreadableIsOrphan && orphan };
  }

  instancePath = (instanceId: string) => `/v2/service_instances/${instanceId}`;

  bindingPath = (instanceId: string, bindingId: string) => `/v2/service_instances/${instanceId}/service_bindings/${bindingId}`;

  /** PUT /v2/service_instances/:id?accepts_incomplete=true. */
  provision(instanceId: string, body: Record<string, unknown>): Promise<BrokerAnswer<{ dashboard_url?: string }>> {
    return this.operation('PUT', this.instancePath(instanceId), { accepts_incomplete: 'true' }, body, [200, 201], dashboard, true);
  }

  /** PATCH /v2/service_instances/:id?accepts_incomplete=true: a refused update leaves the instance as it was (no orphan mitigation in OSBAPI). */
  async update(instanceId: string, body: Record<string, unknown>): Promise<BrokerAnswer<{ dashboard_url?: string }>> {
    const answer = await this.operation('PATCH', this.instancePath(instanceId), { accepts_incomplete: 'true' }, body, [200], dashboard, false);
    return answer.outcome === 'failed' ? { ...answer, orphan: false } : answer;
  }

  /** DELETE /v2/service_instances/:id?accepts_incomplete=true: 200 or 410 Gone is done. */
  async deprovision(instanceId: string, ids: BrokerIds): Promise<BrokerAnswer<Record<string, never>>> {
    const answer = await this.operation('DELETE', this.instancePath(instanceId), { ...ids, accepts_incomplete: 'true' }, undefined, [200, 410], () => ({}), false);
    return answer.outcome === 'failed' ? { ...answer, orphan: false } : answer;
  }

  /** PUT a binding (accepts_incomplete=true): its credentials, or the broker's operation. */
  bind(instanceId: string, bindingId: string, body: Record<string, unknown>): Promise<BrokerAnswer<BindingCredentials>> {
    return this.operation('PUT', this.bindingPath(instanceId, bindingId), { accepts_incomplete: 'true' }, body, [200, 201], credentials, true);
  }

  /** DELETE a binding (accepts_incomplete=true): 200 or 410 Gone is done. */
  async unbind(instanceId: string, bindingId: string, ids: BrokerIds): Promise<BrokerAnswer<Record<string, never>>> {
    const answer = await this.operation('DELETE', this.bindingPath(instanceId, bindingId), { ...ids, accepts_incomplete: 'true' }, undefined, [200, 410], () => ({}), false);
    return answer.outcome === 'failed' ? { ...answer, orphan: false } : answer;
  }

  /** GET <path>/last_operation: where an asynchronous operation stands. Anything unusable is `unknown` (polled again), as Cloud Controller does. */
  async lastOperation(path: string, query: Record<string, string>): Promise<LastOperationPoll> {
    let res: Reply;
    try {
      res = await this.call('GET', `${path}/last_operation?${new URLSearchParams(query).toString()}`);
    } catch (error) {
      return { state: 'unknown', message: (error as Error).message };
    }
    if (res.status === 410) return { state: 'gone' };
    const parsed = parse(res.text);
    if (res.status !== 200) return { state: 'unknown', message: this.refusal('GET', `${path}/last_operation`, res).message };
    if (!isObject(parsed) || !['in progress', 'succeeded', 'failed'].includes(String(parsed.state))) return { state: 'unknown', message: this.malformed('GET', `${path}/last_operation`, res) };
    const retryAfter = Number(res.headers['retry-after']);
    return {
      state: parsed.state as 'in progress' | 'succeeded' | 'failed',
      ...(typeof parsed.description === 'string' ? { description: parsed.description } : {}),
      ...(Number.isFinite(retryAfter) && retryAfter > 0 ? { retryAfterMs: retryAfter * 1000 } : {}),
    };
  }

  /** GET a binding (after an asynchronous bind succeeded): its credentials, or why not. */
  async fetchBinding(instanceId: string, bindingId: string): Promise<{ ok: true; body: BindingCredentials } | { ok: false; message: string }> {
    const path = this.bindingPath(instanceId, bindingId);
    let res: Reply;
    try {
      res = await this.call('GET', path);
    } catch (error) {
      return { ok: false, message: (error as Error).message };
    }
    if (res.status !== 200) return { ok: false, message: this.refusal('GET', path, res).message };
    const parsed = parse(res.text);
    const body = isObject(parsed) ? credentials(parsed) : undefined;
    return body ? { ok: true, body } : { ok: false, message: this.malformed('GET', path, res) };
  }

  /** Orphan mitigation: the matching DELETE, once, best effort, with its outcome logged. */
  async mitigate(path: string, ids: BrokerIds): Promise<void> {
    try {
      const res = await this.call('DELETE', `${path}?${new URLSearchParams({ ...ids, accepts_incomplete: 'true' }).toString()}`);
      this.log?.info('orphan mitigation', { broker: this.broker.name, path, status: res.status });
    } catch (error) {
      this.log?.warn('orphan mitigation failed', { broker: this.broker.name, path, error: (error as Error).message });
    }
  }
}

function dashboard(parsed: Record<string, unknown>): { dashboard_url?: string } | undefined {
  if (parsed.dashboard_url !== undefined && parsed.dashboard_url !== null && typeof parsed.dashboard_url !== 'string') return undefined;
  return typeof parsed.dashboard_url === 'string' ? { dashboard_url: parsed.dashboard_url } : {};
}

function credentials(parsed: Record<string, unknown>): BindingCredentials | undefined {
  if (parsed.credentials !== undefined && !isObject(parsed.credentials)) return undefined;
  if (parsed.syslog_drain_url !== undefined && parsed.syslog_drain_url !== null && typeof parsed.syslog_drain_url !== 'string') return undefined;
  return { credentials: (parsed.credentials as Record<string, unknown> | undefined) ?? {}, ...(typeof parsed.syslog_drain_url === 'string' ? { syslog_drain_url: parsed.syslog_drain_url } : {}) };
}
