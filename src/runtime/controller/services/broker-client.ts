// The controller's side of the Open Service Broker API v2.17: catalog, provision/update/deprovision,
// bind/unbind, with the platform's headers and orphan mitigation (a DELETE after a provision or bind
// that timed out, failed with 5xx or answered an unreadable 201). The broker's password goes only
// into the Authorization header: never into errors or logs.
import { randomUUID } from 'node:crypto';
import { request, type HttpResponse } from '../../common/http.js';
import type { Logger } from '../../common/log.js';
import { waitFor } from '../../common/poll.js';
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

/** How long a broker has to answer (CF's broker_client_timeout_seconds is 60). */
export function brokerTimeoutMs(): number {
  const n = Number(process.env.DEVBOX_BROKER_TIMEOUT_MS);
  return Number.isFinite(n) && n > 0 ? n : 60_000;
}

/** 502 CF-ServiceBrokerBadResponse: the broker failed or answered what the platform cannot use. */
export const brokerError = (detail: string): ApiError => new ApiError('ServiceBrokerBadResponse', detail);

/** Why a broker call failed, and whether the platform must clean up after it. */
class BrokerFailure extends Error {
  constructor(
    message: string,
    readonly orphan: boolean,
  ) {
    super(message);
  }
}

export class BrokerClient {
  constructor(
    private readonly broker: BrokerEndpoint,
    private readonly userGuid: string,
    private readonly log?: Logger,
  ) {}

  private async call(method: string, path: string, body?: unknown): Promise<HttpResponse> {
    const identity = Buffer.from(JSON.stringify({ user_id: this.userGuid })).toString('base64');
    return request({
      url: `${this.broker.url.replace(/\/+$/, '')}${path}`,
      method,
      headers: {
        'x-broker-api-version': BROKER_API_VERSION,
        'x-broker-api-originating-identity': `cloudfoundry ${identity}`,
        'x-broker-api-request-identity': randomUUID(),
        authorization: `Basic ${Buffer.from(`${this.broker.username}:${this.broker.password}`).toString('base64')}`,
        accept: 'application/json',
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      timeoutMs: brokerTimeoutMs(),
    });
  }

  /** A call whose transport failure becomes a BrokerFailure (a timeout asks for orphan mitigation). */
  private async attempt(method: string, path: string, body?: unknown): Promise<HttpResponse> {
    try {
      return await this.call(method, path, body);
    } catch (error) {
      throw new BrokerFailure(`The service broker ${this.broker.name} could not be reached: ${(error as Error).message}`, true);
    }
  }

  async catalog(): Promise<CatalogService[]> {
    let res: HttpResponse;
    try {
      res = await this.call('GET', '/v2/catalog');
    } catch (error) {
      throw brokerError(`The service broker could not be reached: ${(error as Error).message}`);
    }
    if (res.status === 401) throw brokerError(`Authentication failed for the service broker API. Double-check that the username and password are correct: ${this.broker.url}/v2/catalog`);
    if (res.status !== 200) throw brokerError(`The service broker rejected the request to ${this.broker.url}/v2/catalog. Status Code: ${res.status}, Body: ${res.text.slice(0, 200)}`);
    const body = parse(res.text) as { services?: unknown } | undefined;
    if (!body || !Array.isArray(body.services)) throw brokerError(`Service broker catalog is invalid: it has no services array (${this.broker.url}/v2/catalog)`);
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

  /** PUT /v2/service_instances/:id; a 202 is polled to its end. Orphan mitigation on failure. */
  async provision(instanceId: string, body: Record<string, unknown>, ids: { service_id: string; plan_id: string }): Promise<{ dashboard_url?: string }> {
    const path = `/v2/service_instances/${instanceId}`;
    try {
      const res = await this.attempt('PUT', `${path}?accepts_incomplete=true`, body);
      const parsed = parse(res.text) as { dashboard_url?: string; operation?: string } | undefined;
      if (res.status === 200 || res.status === 201) {
        if (!parsed || typeof parsed !== 'object') throw new BrokerFailure(`The service broker returned an invalid response: status code: ${res.status}, body: ${res.text.slice(0, 200)}`, res.status === 201);
        return parsed;
      }
      if (res.status === 202) {
        if (!parsed || typeof parsed !== 'object') throw new BrokerFailure(`The service broker returned an invalid response: status code: 202, body: ${res.text.slice(0, 200)}`, true);
        await this.waitForLastOperation(path, { ...ids, ...(parsed.operation ? { operation: parsed.operation } : {}) });
        return parsed;
      }
      throw this.failure(res);
    } catch (error) {
      if (error instanceof BrokerFailure) {
        if (error.orphan) await this.mitigate(`${path}?${new URLSearchParams({ ...ids, accepts_incomplete: 'true' }).toString()}`);
        throw brokerError(error.message);
      }
      throw error;
    }
  }

  /**
   * PATCH /v2/service_instances/:id (a plan, parameters or maintenance_info change); a 202 is
   * polled to its end. A refused or failed update leaves the instance as it was, so there is
   * nothing to clean up (no orphan mitigation for updates in OSBAPI).
   */
  async update(instanceId: string, body: Record<string, unknown>, ids: { service_id: string; plan_id: string }): Promise<{ dashboard_url?: string }> {
    const path = `/v2/service_instances/${instanceId}`;
    try {
      const res = await this.attempt('PATCH', `${path}?accepts_incomplete=true`, body);
      const parsed = parse(res.text) as { dashboard_url?: string; operation?: string } | undefined;
      if (res.status === 200 || res.status === 202) {
        if (!parsed || typeof parsed !== 'object') throw new BrokerFailure(`The service broker returned an invalid response: status code: ${res.status}, body: ${res.text.slice(0, 200)}`, false);
        if (res.status === 202) await this.waitForLastOperation(path, { ...ids, ...(parsed.operation ? { operation: parsed.operation } : {}) });
        return parsed;
      }
      throw this.failure(res);
    } catch (error) {
      if (error instanceof BrokerFailure) throw brokerError(error.message);
      throw error;
    }
  }

  async deprovision(instanceId: string, ids: { service_id: string; plan_id: string }): Promise<void> {
    const path = `/v2/service_instances/${instanceId}`;
    await this.remove(path, ids, true);
  }

  /** PUT a binding; returns its credentials. Orphan mitigation on failure. */
  async bind(instanceId: string, bindingId: string, body: Record<string, unknown>, ids: { service_id: string; plan_id: string }): Promise<{ credentials: Record<string, unknown>; syslog_drain_url?: string }> {
    const path = `/v2/service_instances/${instanceId}/service_bindings/${bindingId}`;
    try {
      const res = await this.attempt('PUT', path, body);
      if (res.status === 200 || res.status === 201) {
        const parsed = parse(res.text) as { credentials?: unknown; syslog_drain_url?: string } | undefined;
        if (!parsed || typeof parsed !== 'object' || (parsed.credentials !== undefined && (typeof parsed.credentials !== 'object' || parsed.credentials === null))) {
          throw new BrokerFailure(`The service broker returned an invalid response: status code: ${res.status}, body: ${res.text.slice(0, 200)}`, res.status === 201);
        }
        return { credentials: (parsed.credentials ?? {}) as Record<string, unknown>, syslog_drain_url: parsed.syslog_drain_url };
      }
      throw this.failure(res);
    } catch (error) {
      if (error instanceof BrokerFailure) {
        if (error.orphan) await this.mitigate(`${path}?${new URLSearchParams(ids).toString()}`);
        throw brokerError(error.message);
      }
      throw error;
    }
  }

  async unbind(instanceId: string, bindingId: string, ids: { service_id: string; plan_id: string }): Promise<void> {
    await this.remove(`/v2/service_instances/${instanceId}/service_bindings/${bindingId}`, ids, false);
  }

  private async remove(path: string, ids: { service_id: string; plan_id: string }, async: boolean): Promise<void> {
    const query = new URLSearchParams({ ...ids, ...(async ? { accepts_incomplete: 'true' } : {}) });
    let res: HttpResponse;
    try {
      res = await this.call('DELETE', `${path}?${query.toString()}`);
    } catch (error) {
      throw brokerError(`The service broker ${this.broker.name} could not be reached: ${(error as Error).message}`);
    }
    if (res.status === 200 || res.status === 410) return;
    if (res.status === 202 && async) {
      const parsed = parse(res.text) as { operation?: string } | undefined;
      try {
        await this.waitForLastOperation(path, { ...ids, ...(parsed?.operation ? { operation: parsed.operation } : {}) }, true);
      } catch (error) {
        if (error instanceof BrokerFailure) throw brokerError(error.message);
        throw error;
      }
      return;
    }
    throw brokerError(this.failure(res).message);
  }

  /** Polls last_operation until the broker says succeeded (or, for a delete, gone) or failed. */
  private async waitForLastOperation(path: string, query: Record<string, string>, gone = false): Promise<void> {
    const url = `${path}/last_operation?${new URLSearchParams(query).toString()}`;
    await waitFor(
      `the broker's last operation at ${path}`,
      async () => {
        const res = await this.attempt('GET', url);
        if (gone && res.status === 410) return true;
        const parsed = parse(res.text) as { state?: string; description?: string } | undefined;
        if (res.status === 200 && parsed?.state === 'succeeded') return true;
        if (res.status === 200 && parsed?.state === 'failed') throw new BrokerFailure(`Service broker error: ${parsed.description ?? 'the operation failed'}`, false);
        if (res.status !== 200) throw this.failure(res);
        return false;
      },
      {
        timeoutMs: Number(process.env.DEVBOX_BROKER_POLL_MS ?? 10 * 60_000),
        backoff: { initialMs: 100, maxMs: 2_000 },
        delayFirst: true,
        retryIf: () => false,
        onTimeout: () => {
          throw new BrokerFailure('Service broker error: the operation did not finish in time', true);
        },
      },
    );
  }

  private failure(res: HttpResponse): BrokerFailure {
    const parsed = parse(res.text) as { description?: string; error?: string } | undefined;
    if (res.status >= 500 || res.status < 200) {
      return new BrokerFailure(`The service broker returned an invalid response: status code: ${res.status}, body: ${res.text.slice(0, 200)}`, true);
    }
    const description = typeof parsed?.description === 'string' ? parsed.description : res.text.slice(0, 200) || `status code ${res.status}`;
    return new BrokerFailure(`Service broker error: ${description}`, false);
  }

  /** Orphan mitigation: the matching DELETE, once, best effort, with its outcome logged. */
  private async mitigate(pathAndQuery: string): Promise<void> {
    try {
      const res = await this.call('DELETE', pathAndQuery);
      this.log?.info('orphan mitigation', { broker: this.broker.name, path: pathAndQuery.split('?')[0], status: res.status });
    } catch (error) {
      this.log?.warn('orphan mitigation failed', { broker: this.broker.name, path: pathAndQuery.split('?')[0], error: (error as Error).message });
    }
  }
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
