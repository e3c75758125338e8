// The components' token from uaa (client_credentials): what the health manager and the logs
// component present to the controller's internal endpoints. Reused until shortly before it expires.
import { request, type HttpResponse } from './http.js';

export interface ComponentsTokenOptions {
  uaaUrl: string;
  clientId: string;
  clientSecret: string;
  timeoutMs: number;
  /** The clock (tests move it). */
  now?: () => number;
}

export class ComponentsToken {
  private token: { value: string; renewAt: number } | undefined;

  constructor(private readonly options: ComponentsTokenOptions) {}

  /** The token, fetched when there is none or it is about to expire. */
  async get(): Promise<string> {
    const now = (this.options.now ?? Date.now)();
    if (this.token && now < this.token.renewAt) return this.token.value;
    const basic = Buffer.from(`${this.options.clientId}:${this.options.clientSecret}`).toString('base64');
    const res = await request({
      url: `${this.options.uaaUrl}/oauth/token`,
      method: 'POST',
      headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: 'grant_type=client_credentials',
      timeoutMs: this.options.timeoutMs,
    });
    if (res.status !== 200) throw new Error(`uaa refused a components token (${res.status}${describeBody(res)})`);
    let body: { access_token?: unknown; expires_in?: unknown };
    try {
      body = JSON.parse(res.text) as typeof body;
    } catch {
      throw new Error('uaa answered a token request with something that is not JSON');
    }
    if (typeof body.access_token !== 'string' || body.access_token === '') throw new Error('uaa answered without an access_token');
    const lifetimeMs = (typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : 60) * 1000;
    // Renewed with a margin: a minute before expiry, or half-way for short-lived tokens.
    this.token = { value: body.access_token, renewAt: now + Math.max(lifetimeMs / 2, lifetimeMs - 60_000) };
    return this.token.value;
  }

  /** A 401 from the controller (the token expired, or uaa restarted with another key): the next get() asks uaa. */
  forget(): void {
    this.token = undefined;
  }
}

/** An answer's body, shortened, for an error message (`: …`, or nothing when empty). */
export function describeBody(res: HttpResponse): string {
  const text = res.text.trim().replace(/\s+/g, ' ');
  return text ? `: ${text.slice(0, 200)}` : '';
}
