// The DEA's access token for the controller: uaa's client_credentials grant with the components
// client, cached until shortly before it expires, renewed at once when the controller refuses it.
import http from 'node:http';
import { connectTarget } from '../common/http.js';

export interface TokenSource {
  /** A bearer token (without the "bearer " prefix), or undefined when the DEA runs without auth. */
  token(): Promise<string | undefined>;
  /** Forgets the cached token (the controller answered 401). */
  invalidate(): void;
}

export const noAuth: TokenSource = { token: async () => undefined, invalidate: () => undefined };

export function uaaTokenSource({ uaaUrl, clientId, clientSecret, timeoutMs = 10_000 }: { uaaUrl: string; clientId: string; clientSecret: string; timeoutMs?: number }): TokenSource {
  let cached: { token: string; expiresAt: number } | undefined;
  let pending: Promise<string> | undefined;

  const fetchToken = async (): Promise<string> => {
    const url = new URL('/oauth/token', uaaUrl);
    const body = new URLSearchParams({ grant_type: 'client_credentials' }).toString();
    const target = connectTarget(url);
    const text = await new Promise<string>((resolve, reject) => {
      const req = http.request(
        {
          ...target,
          method: 'POST',
          path: url.pathname,
          timeout: timeoutMs,
          headers: {
            host: url.host,
            accept: 'application/json',
            'content-type': 'application/x-www-form-urlencoded',
            'content-length': String(Buffer.byteLength(body)),
            authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`,
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const out = Buffer.concat(chunks).toString('utf8');
            if (res.statusCode === 200) resolve(out);
            else reject(new Error(`uaa answered ${res.statusCode} to the components client's token request: ${out.slice(0, 200)}`));
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`uaa did not answer within ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end(body);
    });
    const parsed = JSON.parse(text) as { access_token?: string; expires_in?: number };
    if (!parsed.access_token) throw new Error('uaa answered no access_token');
    const validity = Number(parsed.expires_in) > 0 ? Number(parsed.expires_in) : 600;
    cached = { token: parsed.access_token, expiresAt: Date.now() + Math.max(validity * 1000 - 60_000, (validity * 1000) / 2) };
    return parsed.access_token;
  };

  return {
    async token() {
      if (cached && Date.now() < cached.expiresAt) return cached.token;
      pending ??= fetchToken().finally(() => (pending = undefined));
      return pending;
    },
    invalidate() {
      cached = undefined;
    },
  };
}
