// Requests to the Cloud Controller v3 API through the router, as every part of the client sends
// them: the session's bearer token (refreshed once on CF-InvalidAuthToken, then the request is
// repeated), reads retried while the router says the API is away, every page of a list, async jobs
// waited for, and API errors turned into messages that say what went wrong and what to do next.
import { CliError } from '../base-command.js';
import { request, streamRequest, type HttpResponse } from '../../runtime/common/http.js';
import { waitFor } from '../../runtime/common/poll.js';
import { NOT_LOGGED_IN, type Session } from '../session.js';
import type { Job, Page } from './resources.js';

/** How long a request waits for the router to learn the API's route (just after `devbox up`). */
export const ROUTE_WAIT_MS = 5_000;

/** Gateway answers of the router: the API endpoint failed or is being replaced. */
const RETRIED_STATUSES = new Set([502, 503, 504]);
/** How long a read is retried through them: a crashed controller is back within a few seconds. */
const READ_RETRY_MS = 15_000;
const READ_RETRY_BACKOFF = { initialMs: 100, maxMs: 1_000 };
/** How long a DELETE's job may take, and how often it is looked at (as cf does). */
const JOB_TIMEOUT_MS = 60_000;
const JOB_POLL_BACKOFF = { initialMs: 50, maxMs: 1_000 };

interface CfErrorBody {
  errors?: { code: number; title: string; detail: string }[];
}

/** An API call that failed: the Cloud Controller error's detail and title, and the HTTP status. */
export class ApiRequestError extends CliError {
  constructor(
    message: string,
    readonly status: number,
    readonly title?: string,
    readonly detail?: string,
  ) {
    super(message);
  }
}

/**
 * DEVBOX_TRACE=true (as cf's CF_TRACE): one line per API request on stderr, with its status and
 * time, for seeing what a command does and where its time goes. Never the token.
 */
const TRACING = /^(1|true|yes)$/i.test(process.env.DEVBOX_TRACE ?? '');

function trace(method: string, url: string, status: number, started: number): void {
  if (TRACING) process.stderr.write(`TRACE ${new Date().toISOString()} ${method} ${url} -> ${status} (${(performance.now() - started).toFixed(1)} ms)\n`);
}

export class ApiTransport {
  constructor(readonly session: Session) {}

  get user(): string {
    return this.session.user;
  }

  /** One authenticated request; a refused token is refreshed once and the request repeated. */
  async send(method: string, pathOrUrl: string, { body, headers = {} }: { body?: string; headers?: Record<string, string> } = {}): Promise<HttpResponse> {
    const url = /^https?:\/\//.test(pathOrUrl) ? pathOrUrl : `${this.session.api}${pathOrUrl.startsWith('/') ? '' : '/'}${pathOrUrl}`;
    if (url.startsWith('https:')) throw new CliError(`devbox's CLI speaks plain HTTP only; ${url} needs HTTPS`);
    const attempt = async (token: string) =>
      request({
        url,
        method,
        headers: { accept: 'application/json', ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers, authorization: `bearer ${token}` },
        body,
        routeWaitMs: ROUTE_WAIT_MS,
      });
    const started = performance.now();
    let res = await attempt(await this.session.accessToken());
    if (res.status === 401 && errorTitle(res) === 'CF-InvalidAuthToken') res = await attempt(await this.session.refresh());
    trace(method, url, res.status, started);
    // The router answered for an API that is not there for a moment (a controller restarting after
    // a crash): a read is asked again for a while; a write is not (it may have been done).
    if (method === 'GET' && RETRIED_STATUSES.has(res.status)) {
      let last = res;
      res = await waitFor(
        `the API to answer GET ${url}`,
        async () => {
          last = await attempt(await this.session.accessToken());
          trace(method, url, last.status, started);
          return RETRIED_STATUSES.has(last.status) ? undefined : last;
        },
        { timeoutMs: READ_RETRY_MS, backoff: READ_RETRY_BACKOFF, delayFirst: true, retryIf: () => false, onTimeout: () => last },
      );
    }
    return res;
  }

  /**
   * A streamed request body (uploads): `body` makes the body anew, so that a refused token can be
   * refreshed and the request sent again.
   */
  async sendStream(method: string, path: string, body: () => AsyncIterable<Buffer>, headers: Record<string, string>): Promise<HttpResponse> {
    const url = `${this.session.api}${path}`;
    const attempt = async (token: string) => streamRequest({ url, method, headers: { accept: 'application/json', ...headers, authorization: `bearer ${token}` }, body: body() });
    const started = performance.now();
    let res = await attempt(await this.session.accessToken());
    if (res.status === 401 && errorTitle(res) === 'CF-InvalidAuthToken') res = await attempt(await this.session.refresh());
    trace(method, url, res.status, started);
    if (res.status >= 400) throw this.error(res);
    return res;
  }

  /** A JSON request that must succeed; anything else becomes an ApiRequestError with a readable message. */
  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.send(method, path, { body: body === undefined ? undefined : JSON.stringify(body) });
    if (res.status >= 400) throw this.error(res);
    if (res.text === '') return undefined as T;
    try {
      return JSON.parse(res.text) as T;
    } catch {
      throw new ApiRequestError(`The API answered ${method} ${path} with something that is not JSON: ${res.text.slice(0, 200)}`, res.status);
    }
  }

  /**
   * A write the API may answer with a job (202, `Location`: a service broker's work) or at once (201
   * with the resource, 204): the job's URL, or the resource. Errors as `call`'s.
   */
  async start<T>(method: string, path: string, body?: unknown): Promise<{ location?: string; resource?: T }> {
    const res = await this.send(method, path, { body: body === undefined ? undefined : JSON.stringify(body) });
    if (res.status >= 400) throw this.error(res);
    const location = res.headers.location;
    if (res.status === 202 && typeof location === 'string') return { location };
    return res.text === '' ? {} : { resource: parseJson<T>(res.text) };
  }

  /** A resource that may not be there: undefined when the API answers 404. */
  async getOptional<T>(path: string): Promise<T | undefined> {
    const res = await this.send('GET', path);
    if (res.status === 404) return undefined;
    if (res.status >= 400) throw this.error(res);
    return parseJson<T>(res.text);
  }

  /** Every resource of a list, following `pagination.next`. */
  async list<T>(path: string, query: Record<string, string | string[] | undefined> = {}): Promise<T[]> {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, Array.isArray(value) ? value.join(',') : value);
    if (!params.has('per_page')) params.set('per_page', '500');
    const out: T[] = [];
    let next: string | undefined = `${path}?${params.toString()}`;
    for (let pages = 0; next; pages++) {
      if (pages >= 1000) throw new CliError(`${path} has more than 1000 pages; stopped reading`);
      const page: Page<T> = await this.call<Page<T>>('GET', next);
      out.push(...page.resources);
      next = page.pagination.next?.href;
    }
    return out;
  }

  /** The first page of a list only: for the newest few of a long list (events, the latest package). */
  async firstPage<T>(path: string, query: Record<string, string>): Promise<T[]> {
    return (await this.call<Page<T>>('GET', `${path}?${new URLSearchParams(query).toString()}`)).resources;
  }

  /** DELETE, then poll the job in `Location` until it is COMPLETE (bounded), as cf does. */
  async deleteAndWait(path: string, timeoutMs = JOB_TIMEOUT_MS): Promise<void> {
    const res = await this.send('DELETE', path);
    if (res.status >= 400) throw this.error(res);
    const location = res.headers.location;
    if (res.status !== 202 || typeof location !== 'string') return;
    await waitFor(
      `the API's job for DELETE ${path}`,
      async () => {
        const job = await this.call<Job>('GET', location);
        if (job.state === 'FAILED') throw new CliError(job.errors.map((e) => e.detail).join('; ') || `the API's job for DELETE ${path} failed`);
        return job.state === 'COMPLETE';
      },
      {
        timeoutMs,
        backoff: JOB_POLL_BACKOFF,
        retryIf: () => false,
        onTimeout: () => {
          throw new CliError(`the API's job for DELETE ${path} did not finish within ${timeoutMs / 1000} s; see ${location}`);
        },
      },
    );
  }

  /** The API's root document: its links (log_stream, uaa, ...) and the v3 version. */
  info(): Promise<{ links: Record<string, { href: string; meta?: { version?: string } } | null> }> {
    return this.call('GET', '/');
  }

  async apiVersion(): Promise<string> {
    return (await this.info()).links.cloud_controller_v3?.meta?.version ?? '';
  }

  private error(res: HttpResponse): ApiRequestError {
    const title = errorTitle(res);
    const cf = parseJson<CfErrorBody>(res.text)?.errors?.[0];
    if (!cf) {
      const routerError = res.headers['x-cf-routererror'];
      if (routerError === 'unknown_route') {
        return new ApiRequestError(`The router has no route to the API (${this.session.api}): the controller is not registered. Check it with 'devbox status'.`, res.status);
      }
      return new ApiRequestError(`The API answered HTTP ${res.status}: ${res.text.slice(0, 200) || '(no body)'}`, res.status);
    }
    let hint = '';
    if (title === 'CF-InvalidAuthToken' || title === 'CF-NotAuthenticated') return new ApiRequestError(NOT_LOGGED_IN, res.status, title, cf.detail);
    if (title === 'CF-NotAuthorized') hint = ` Log in as a user who may do this with 'devbox login'.`;
    else if (res.status >= 500) hint = this.session.isLocal ? ` The controller's log says more: devbox's logs/controller.log in ${this.session.home}.` : '';
    return new ApiRequestError(`${cf.detail}${hint}`, res.status, title, cf.detail);
  }
}

function parseJson<T>(text: string): T | undefined {
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}

function errorTitle(res: HttpResponse): string | undefined {
  return parseJson<CfErrorBody>(res.text)?.errors?.[0]?.title;
}
