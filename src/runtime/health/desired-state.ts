// The desired state: what the controller wants running, fetched over HTTP through the router every
// poll interval (`GET /internal/v3/desired_processes` with a components token from uaa). A failed or
// malformed fetch never replaces the last good snapshot: the health manager must not act on a
// controller it cannot read (see analyzer.ts for how stale and empty snapshots are treated).
import { ComponentsToken, describeBody } from '../common/components-token.js';
import { request, type HttpResponse } from '../common/http.js';
import type { Logger } from '../common/log.js';
import type { DesiredProcess } from './messages.js';

export interface DesiredSnapshot {
  /** Every process, STARTED or STOPPED, by process guid. */
  processes: ReadonlyMap<string, DesiredProcess>;
  /** When the request that produced it was sent (ms): instances first seen later are not judged by it. */
  fetchedAt: number;
}

export interface DesiredStateOptions {
  apiUrl: string;
  uaaUrl: string;
  clientId: string;
  clientSecret: string;
  pollMs: number;
  timeoutMs: number;
  log: Logger;
  /** Called after every successful fetch. */
  onSnapshot?: (snapshot: DesiredSnapshot) => void;
  now?: () => number;
}

export interface DesiredStats {
  desired_fetches: number;
  desired_fetch_failures: number;
  /** ISO time of the last attempt and whether it worked. */
  last_desired_fetch: string | null;
  last_desired_fetch_ok: boolean | null;
  last_desired_fetch_error: string | null;
  /** ISO time of the request behind the snapshot in use. */
  last_good_desired_fetch: string | null;
}

export const DESIRED_PATH = '/internal/v3/desired_processes';

/** Validates the endpoint's body. Any malformed entry fails the whole fetch: a process silently left out would look undesired. */
export function parseDesiredProcesses(text: string): DesiredProcess[] {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error('the desired state is not JSON');
  }
  const processes = (body as { processes?: unknown } | null)?.processes;
  if (!Array.isArray(processes)) throw new Error("the desired state has no 'processes' list");
  return processes.map((p: unknown, i) => {
    const o = (typeof p === 'object' && p !== null ? p : {}) as Record<string, unknown>;
    const bad = (field: string) => new Error(`desired process ${i} has no valid '${field}'`);
    if (typeof o.app_guid !== 'string' || o.app_guid === '') throw bad('app_guid');
    if (typeof o.process_guid !== 'string' || o.process_guid === '') throw bad('process_guid');
    if (typeof o.version !== 'string') throw bad('version');
    if (typeof o.instances !== 'number' || !Number.isInteger(o.instances) || o.instances < 0) throw bad('instances');
    if (typeof o.state !== 'string') throw bad('state');
    return {
      app_guid: o.app_guid,
      process_guid: o.process_guid,
      version: o.version,
      instances: o.instances,
      state: o.state,
      droplet_guid: typeof o.droplet_guid === 'string' ? o.droplet_guid : null,
      updated_at: typeof o.updated_at === 'string' ? o.updated_at : '',
      deploying: o.deploying === true,
    };
  });
}

/** Indexes processes by process guid: what the DEAs call an instance's `droplet`. */
export function indexByProcess(processes: DesiredProcess[]): Map<string, DesiredProcess> {
  return new Map(processes.map((p) => [p.process_guid, p]));
}

export class DesiredState {
  private last: DesiredSnapshot | undefined;
  private readonly tokens: ComponentsToken;
  private timer: NodeJS.Timeout | undefined;
  private stopped = true;
  /** Set by stop(): a request still in flight then changes nothing. */
  private closed = false;
  private inFlight: Promise<boolean> | undefined;
  private failing = false;
  private readonly counters: DesiredStats = {
    desired_fetches: 0,
    desired_fetch_failures: 0,
    last_desired_fetch: null,
    last_desired_fetch_ok: null,
    last_desired_fetch_error: null,
    last_good_desired_fetch: null,
  };
  private readonly now: () => number;

  constructor(private readonly options: DesiredStateOptions) {
    this.now = options.now ?? Date.now;
    this.tokens = new ComponentsToken({ ...options, now: this.now });
  }

  /** The last good snapshot (undefined until the first successful fetch). */
  get snapshot(): DesiredSnapshot | undefined {
    return this.last;
  }

  stats(): DesiredStats {
    return { ...this.counters };
  }

  /** Fetches now, then every poll interval (measured from the end of each fetch). */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.closed = false;
    const loop = () => {
      this.timer = undefined;
      if (this.stopped) return;
      void this.fetchOnce().finally(() => {
        if (!this.stopped) this.timer = setTimeout(loop, this.options.pollMs);
      });
    };
    loop();
  }

  /** Stops polling. A request in flight is abandoned (its result is ignored). */
  stop(): void {
    this.stopped = true;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** One fetch; resolves true when it produced a new snapshot. Concurrent calls share one request. */
  fetchOnce(): Promise<boolean> {
    this.inFlight ??= this.fetch().finally(() => (this.inFlight = undefined));
    return this.inFlight;
  }

  private async fetch(): Promise<boolean> {
    const startedAt = this.now();
    this.counters.desired_fetches++;
    this.counters.last_desired_fetch = new Date(startedAt).toISOString();
    try {
      let res = await this.getDesired();
      if (res.status === 401) {
        // The token expired or uaa restarted with another key: one new token, one more try.
        this.tokens.forget();
        res = await this.getDesired();
      }
      if (res.status !== 200) throw new Error(`GET ${DESIRED_PATH} answered ${res.status}${describeBody(res)}`);
      const processes = parseDesiredProcesses(res.text);
      if (this.closed) return false;
      const snapshot: DesiredSnapshot = { processes: indexByProcess(processes), fetchedAt: startedAt };
      this.last = snapshot;
      this.counters.last_desired_fetch_ok = true;
      this.counters.last_desired_fetch_error = null;
      this.counters.last_good_desired_fetch = new Date(startedAt).toISOString();
      if (this.failing) this.options.log.info('desired state readable again', { processes: processes.length });
      this.failing = false;
      this.options.onSnapshot?.(snapshot);
      return true;
    } catch (error) {
      if (this.closed) return false;
      const message = (error as Error).message;
      this.counters.desired_fetch_failures++;
      this.counters.last_desired_fetch_ok = false;
      if (!this.failing || this.counters.last_desired_fetch_error !== message) {
        this.options.log.warn('cannot read the desired state; keeping the last good one', {
          error: message,
          last_good: this.counters.last_good_desired_fetch,
        });
      }
      this.counters.last_desired_fetch_error = message;
      this.failing = true;
      return false;
    }
  }

  private async getDesired(): Promise<HttpResponse> {
    const token = await this.tokens.get();
    return request({
      url: `${this.options.apiUrl}${DESIRED_PATH}`,
      headers: { authorization: `bearer ${token}`, accept: 'application/json' },
      timeoutMs: this.options.timeoutMs,
    });
  }

}

