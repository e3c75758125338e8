// Making sure the controller knows a built-in broker (docs/services-protocol.md): with a
// components token from uaa, `GET /v3/service_brokers?names=<name>`, then `POST` it when absent or
// `PATCH` it when its URL or credentials changed. Runs in the background with backoff: the
// controller may be starting, or (older controllers) have no broker endpoints; health never waits.
import { request } from '../common/http.js';
import type { Logger } from '../common/log.js';
import { backoffDelay, waitFor } from '../common/poll.js';

/** How long a registration's catalog job is followed: the controller gives a broker 60 s to answer. */
const JOB_WAIT_MS = 90_000;

export interface RegistrationOptions {
  apiUrl: string;
  uaaUrl: string;
  clientId: string;
  clientSecret: string;
  brokerName: string;
  brokerUrl: string;
  username: string;
  password: string;
  log: Logger;
  minDelayMs?: number;
  maxDelayMs?: number;
}

export type RegistrationState = 'pending' | 'registered' | 'stopped';

export class BrokerRegistration {
  state: RegistrationState = 'pending';
  attempts = 0;
  lastError: string | null = null;
  private timer?: NodeJS.Timeout;
  private stopped = false;

  constructor(private readonly o: RegistrationOptions) {}

  start(): void {
    void this.attempt();
  }

  stop(): void {
    this.stopped = true;
    this.state = this.state === 'registered' ? 'registered' : 'stopped';
    clearTimeout(this.timer);
  }

  /**
   * One registration; on failure the next one is put on an unref'd timer (not a retry() loop): it
   * runs in the background for as long as it takes, and stop() must cancel it at once.
   */
  private async attempt(): Promise<void> {
    if (this.stopped) return;
    this.attempts++;
    try {
      await this.registerOnce();
      this.state = 'registered';
      this.lastError = null;
    } catch (error) {
      this.lastError = (error as Error).message;
      const delay = backoffDelay({ initialMs: this.o.minDelayMs ?? 500, maxMs: this.o.maxDelayMs ?? 30_000 }, this.attempts - 1);
      // The first failures are expected while the box starts; say it once at info, later at warn.
      (this.attempts <= 3 ? this.o.log.info : this.o.log.warn)('broker registration with the controller failed; retrying', { error: this.lastError, retry_in_ms: delay, attempts: this.attempts });
      if (this.stopped) return;
      this.timer = setTimeout(() => void this.attempt(), delay);
      this.timer.unref();
    }
  }

  private async token(): Promise<string> {
    const basic = Buffer.from(`${encodeURIComponent(this.o.clientId)}:${encodeURIComponent(this.o.clientSecret)}`).toString('base64');
    const res = await request({
      url: `${this.o.uaaUrl}/oauth/token`,
      method: 'POST',
      headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: 'grant_type=client_credentials',
      timeoutMs: 5_000,
      routeWaitMs: 1_000,
    });
    if (res.status !== 200) throw new Error(`uaa answered ${res.status} to the components token request`);
    const token = (JSON.parse(res.text) as { access_token?: unknown }).access_token;
    if (typeof token !== 'string') throw new Error('uaa sent no access_token');
    return token;
  }

  /** Follows the registration's job to its end; a FAILED one throws its error (the attempt is made again later). */
  private async jobCompletes(path: string, headers: Record<string, string>): Promise<void> {
    await waitFor(
      `the controller's job ${path}`,
      async () => {
        if (this.stopped) return true;
        const res = await request({ url: `${this.o.apiUrl}${path}`, headers, timeoutMs: 5_000 });
        if (res.status !== 200) throw new Error(`the controller answered ${res.status} to GET ${path}`);
        const job = JSON.parse(res.text) as { state?: string; errors?: { detail?: string }[] };
        if (job.state === 'FAILED') throw new Error(`the controller could not fetch the catalog: ${job.errors?.map((e) => e.detail).join('; ') || 'no reason given'}`);
        return job.state === 'COMPLETE' ? true : undefined;
      },
      { timeoutMs: JOB_WAIT_MS, backoff: { initialMs: 50, maxMs: 1_000 }, retryIf: () => false },
    );
  }

  private async registerOnce(): Promise<void> {
    const token = await this.token();
    const headers = { authorization: `bearer ${token}`, 'content-type': 'application/json', accept: 'application/json' };
    const list = await request({ url: `${this.o.apiUrl}/v3/service_brokers?names=${encodeURIComponent(this.o.brokerName)}`, headers, timeoutMs: 5_000, routeWaitMs: 1_000 });
    if (list.status !== 200) throw new Error(`the controller answered ${list.status} to GET /v3/service_brokers`);
    const resources = (JSON.parse(list.text) as { resources?: Array<{ guid?: string; name?: string; url?: string }> }).resources ?? [];
    const existing = resources.find((r) => r.name === this.o.brokerName);
    const payload = {
      name: this.o.brokerName,
      url: this.o.brokerUrl,
      authentication: { type: 'basic', credentials: { username: this.o.username, password: this.o.password } },
    };
    // The password is not readable back from the controller, and a registration whose catalog could
    // not be fetched stays (SYNCHRONIZATION_FAILED): an existing broker is PATCHed with the URL and
    // credentials at every start, which fetches its catalog again.
    const res = existing
      ? await request({ url: `${this.o.apiUrl}/v3/service_brokers/${existing.guid}`, method: 'PATCH', headers, body: JSON.stringify({ url: payload.url, authentication: payload.authentication }), timeoutMs: 15_000 })
      : await request({ url: `${this.o.apiUrl}/v3/service_brokers`, method: 'POST', headers, body: JSON.stringify(payload), timeoutMs: 15_000 });
    const what = existing ? `PATCH /v3/service_brokers/${existing.guid}` : 'POST /v3/service_brokers';
    if (res.status < 200 || res.status >= 300) throw new Error(`the controller answered ${res.status} to ${what}: ${res.text.slice(0, 200)}`);
    // Registering is a job (the controller fetches the catalog in the background): registered once it is COMPLETE.
    const location = res.headers.location;
    if (typeof location === 'string') await this.jobCompletes(new URL(location, this.o.apiUrl).pathname, headers);
    this.o.log.info(existing ? 'updated the service broker registration' : 'registered the service broker with the controller', { name: this.o.brokerName, url: this.o.brokerUrl });
  }
}
