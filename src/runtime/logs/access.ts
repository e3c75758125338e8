// Who may read an app's logs: whoever holds "a token that the controller accepts for that app". The
// token is verified here first (uaa's signature, expiry, issuer: a forged or expired token never
// costs a request), then the controller is asked, with the caller's own token, for the app
// (`GET /v3/apps/:guid` through the router): 200 means the caller may see it. A yes is remembered
// briefly (never past the token's expiry); a no is not, so an app created a moment ago is found.
import { request } from '../common/http.js';
import { TokenError, type TokenVerifier } from '../common/tokens.js';

export type AccessDecision =
  | { ok: true }
  | { ok: false; status: 401 | 403 | 404 | 503; title: string; detail: string };

export interface AppAccessOptions {
  verifier: TokenVerifier;
  /** http://api.<domain>:<router port> */
  apiUrl: string;
  cacheMs: number;
  /** How long one question to the controller may take. */
  timeoutMs?: number;
  /** Cached decisions kept at most (the oldest dropped first). */
  maxEntries?: number;
}

export interface AccessCounters {
  checks: number;
  controller_requests: number;
  cache_hits: number;
  refused: number;
}

const NOT_AUTHENTICATED = { ok: false, status: 401, title: 'CF-NotAuthenticated', detail: 'Authentication error' } as const;
const INVALID_TOKEN = { ok: false, status: 401, title: 'CF-InvalidAuthToken', detail: 'Invalid Auth Token' } as const;
const APP_NOT_FOUND = { ok: false, status: 404, title: 'CF-ResourceNotFound', detail: 'App not found' } as const;

export class AppAccess {
  readonly counters: AccessCounters = { checks: 0, controller_requests: 0, cache_hits: 0, refused: 0 };
  private readonly allowed = new Map<string, number>();
  private readonly inFlight = new Map<string, Promise<AccessDecision>>();

  constructor(private readonly options: AppAccessOptions) {}

  /** May the bearer of `authorization` (a header value, or a bare token) read the logs of app `guid`? */
  async check(authorization: string | undefined, guid: string): Promise<AccessDecision> {
    this.counters.checks++;
    const decision = await this.decide(authorization, guid);
    if (!decision.ok) this.counters.refused++;
    return decision;
  }

  private async decide(authorization: string | undefined, guid: string): Promise<AccessDecision> {
    let exp: number;
    try {
      exp = (await this.options.verifier.verify(authorization)).exp;
    } catch (error) {
      return error instanceof TokenError && error.reason === 'missing' ? NOT_AUTHENTICATED : INVALID_TOKEN;
    }
    const token = (authorization ?? '').trim().split(/\s+/).pop() ?? '';
    const key = `${guid} ${token}`;
    const until = this.allowed.get(key);
    if (until !== undefined) {
      if (until > Date.now()) {
        this.counters.cache_hits++;
        return { ok: true };
      }
      this.allowed.delete(key);
    }
    let pending = this.inFlight.get(key);
    if (!pending) {
      pending = this.askController(token, guid).finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, pending);
    }
    const decision = await pending;
    if (decision.ok && this.options.cacheMs > 0) this.remember(key, Math.min(Date.now() + this.options.cacheMs, exp * 1000));
    return decision;
  }

  private async askController(token: string, guid: string): Promise<AccessDecision> {
    this.counters.controller_requests++;
    let res;
    try {
      res = await request({
        url: `${this.options.apiUrl}/v3/apps/${encodeURIComponent(guid)}`,
        headers: { accept: 'application/json', authorization: `bearer ${token}` },
        timeoutMs: this.options.timeoutMs ?? 5_000,
        // Just after a restart of the router or the controller their route may be missing a moment.
        routeWaitMs: 1_000,
      });
    } catch (error) {
      return { ok: false, status: 503, title: 'CF-ServiceUnavailable', detail: `cannot ask the controller whether this token may see the app: ${(error as Error).message}` };
    }
    if (res.status === 200) return { ok: true };
    if (res.headers['x-cf-routererror']) {
      return { ok: false, status: 503, title: 'CF-ServiceUnavailable', detail: `cannot ask the controller whether this token may see the app: the router answered ${res.status} (${String(res.headers['x-cf-routererror'])})` };
    }
    if (res.status === 404) return APP_NOT_FOUND;
    if (res.status === 401) {
      const title = cfErrorTitle(res.text);
      return title === 'CF-NotAuthenticated' ? NOT_AUTHENTICATED : INVALID_TOKEN;
    }
    if (res.status === 403) return { ok: false, status: 403, title: 'CF-NotAuthorized', detail: 'You are not authorized to perform the requested action' };
    return { ok: false, status: 503, title: 'CF-ServiceUnavailable', detail: `the controller answered HTTP ${res.status} when asked about the app` };
  }

  private remember(key: string, until: number): void {
    if (until <= Date.now()) return;
    this.allowed.delete(key);
    this.allowed.set(key, until);
    const max = this.options.maxEntries ?? 1000;
    // Insertion order is age order: drop the oldest.
    for (const old of this.allowed.keys()) {
      if (this.allowed.size <= max) break;
      this.allowed.delete(old);
    }
  }
}

function cfErrorTitle(text: string): string | undefined {
  try {
    return (JSON.parse(text) as { errors?: { title?: string }[] }).errors?.[0]?.title;
  } catch {
    return undefined;
  }
}
