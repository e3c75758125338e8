// The CLI's side of uaa: OAuth2 password and refresh_token grants through the `cf`-like public
// client (HTTP basic `cf:`), as the cf CLI logs in, and one-time codes for ssh (`ssh-code`).
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

/** uaa refused a one-time code (a bad or expired token, a client that is not the ssh proxy's). */
export class SshCodeRefused extends AuthRefused {
  constructor(error: string, description: string, status: number) {
    super(error, description, status);
    this.message = `uaa refused to give an ssh code: ${description || error}`;
  }
}

/**
 * A one-time code for the ssh proxy's client, as `cf ssh-code` gets it: `GET /oauth/authorize?
 * response_type=code&client_id=CLIENT` with the user's token, which uaa answers with a redirect to
 * `<uaa>/login?code=CODE`. The redirect is read, never followed (the code is in its URL; node's
 * http does not follow redirects). SshCodeRefused when uaa refuses: `error` `invalid_token` means
 * the token expired or was refused, and a refreshed one may be tried.
 */
export async function sshCode(uaaUrl: string, accessToken: string, clientId = 'ssh-proxy'): Promise<string> {
  const url = new URL(`${uaaUrl.replace(/\/+$/, '')}/oauth/authorize`);
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('client_id', clientId);
  const res = await request({ url: url.href, headers: { authorization: `bearer ${accessToken}`, accept: 'application/json' }, routeWaitMs: 5_000 });
  const location = res.headers.location;
  if (res.status >= 300 && res.status < 400) {
    let code: string | null = null;
    try {
      code = new URL(location ?? '', url).searchParams.get('code');
    } catch {
      // not a URL: said below
    }
    if (code) return code;
    throw new Error(`uaa at ${uaaUrl} answered HTTP ${res.status} without a code (Location: ${location ?? 'none'})`);
  }
  let body: { error?: string; error_description?: string } = {};
  try {
    body = JSON.parse(res.text) as typeof body;
  } catch {
    // not JSON: reported below with the status
  }
  if (res.status >= 400 && body.error) throw new SshCodeRefused(body.error, body.error_description ?? '', res.status);
  if (res.headers['x-cf-routererror'] === 'unknown_route') throw new Error(`The router has no route to uaa (${uaaUrl}): uaa is not registered. Check it with 'devbox status'.`);
  throw new Error(`uaa at ${uaaUrl} answered HTTP ${res.status} instead of a code: ${res.text.slice(0, 200) || '(no body)'}`);
}
