// Making sure the controller knows the built-in broker (docs/services-protocol.md): with a
// components token from uaa, `GET /v3/service_brokers?names=p-mysql`, then `POST` it when absent or
// `PATCH` it when its URL or credentials changed. Runs in the background with backoff: the
// controller may be starting, or (older controllers) have no broker endpoints; health never waits.
import { request } from '../common/http.js';
import type { Logger } from '../common/log.js';
import { backoffDelay } from '../common/poll.js';

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
    if (!existing) {
      const res = await request({ url: `${this.o.apiUrl}/v3/service_brokers`, method: 'POST', headers, body: JSON.stringify(payload), timeoutMs: 15_000 });
      if (res.status < 200 || res.status >= 300) throw new Error(`the controller answered ${res.status} to POST /v3/service_brokers: ${res.text.slice(0, 200)}`);
      this.o.log.info('registered the service broker with the controller', { name: this.o.brokerName, url: this.o.brokerUrl });
      return;
    }
    // The password is not readable back from the controller: PATCH whenever the URL differs, and
    // always send the credentials with it (they come from config.json, which may have been reset).
    if (existing.url !== this.o.brokerUrl) {
      const res = await request({ url: `${this.o.apiUrl}/v3/service_brokers/${existing.guid}`, method: 'PATCH', headers, body: JSON.stringify({ url: payload.url, authentication: payload.authentication }), timeoutMs: 15_000 });
      if (res.status < 200 || res.status >= 300) throw new Error(`the controller answered ${res.status} to PATCH /v3/service_brokers/${existing.guid}`);
      this.o.log.info('updated the service broker registration', { name: this.o.brokerName, url: this.o.brokerUrl });
    }
  }
}
