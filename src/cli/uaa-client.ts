// The CLI's side of uaa: OAuth2 password and refresh_token grants through the `cf`-like public
// client (HTTP basic `cf:`), as the cf CLI logs in.
import { request } from '../runtime/common/http.js';

export interface TokenSet {
  access_token: string;
  refresh_token: string;
  /** Seconds the access token lives, as uaa said. */
  expires_in: number;
}

/** uaa refused the credentials or the refresh token (as opposed to uaa being unreachable). */
export class AuthRefused extends Error {
  constructor(
    readonly error: string,
    readonly description: string,
    readonly status: number,
  ) {
    super(description || error);
  }
}

export interface UaaClientId {
  id: string;
  secret: string;
}

const CF_CLIENT: UaaClientId = { id: 'cf', secret: '' };

async function tokenRequest(uaaUrl: string, form: Record<string, string>, client: UaaClientId): Promise<TokenSet> {
  const res = await request({
    url: `${uaaUrl.replace(/\/+$/, '')}/oauth/token`,
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
    },
    body: new URLSearchParams(form).toString(),
    routeWaitMs: 5_000,
  });
  let body: Partial<TokenSet> & { error?: string; error_description?: string } = {};
  try {
    body = JSON.parse(res.text) as typeof body;
  } catch {
    // not JSON: reported below with the status
  }
  if (res.status === 200 && body.access_token) {
    return { access_token: body.access_token, refresh_token: body.refresh_token ?? '', expires_in: Number(body.expires_in ?? 0) };
  }
  if (body.error) throw new AuthRefused(body.error, body.error_description ?? '', res.status);
  if (res.headers['x-cf-routererror'] === 'unknown_route') throw new Error(`The router has no route to uaa (${uaaUrl}): uaa is not registered. Check it with 'devbox status'.`);
  throw new Error(`uaa at ${uaaUrl} answered HTTP ${res.status} to a token request: ${res.text.slice(0, 200) || '(no body)'}`);
}

export function passwordGrant(uaaUrl: string, username: string, password: string, client = CF_CLIENT): Promise<TokenSet> {
  return tokenRequest(uaaUrl, { grant_type: 'password', username, password }, client);
}

export function refreshGrant(uaaUrl: string, refreshToken: string, client = CF_CLIENT): Promise<TokenSet> {
  return tokenRequest(uaaUrl, { grant_type: 'refresh_token', refresh_token: refreshToken }, client);
}
