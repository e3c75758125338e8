// uaa's HTTP server: the OAuth2 token endpoint, the one-time codes of `cf ssh` (/oauth/authorize),
// and the endpoints resource servers and the CLI use, with Cloud Foundry UAA's paths, fields and
// error bodies (docs/uaa.md).
import http from 'node:http';
import { exportJWK } from 'jose';
import { addressUrls, UAA_PATH_PREFIX } from '../common/config.js';
import { createHttpServer, requestCutOff, requestDeadlines, type RefusedRequests, type RequestDeadlines } from '../common/http.js';
import type { Logger } from '../common/log.js';
import { AuthorizationCodes, type AuthorizationCodeStats } from './authorization-codes.js';
import { badClient, badRequest, insufficientScope, invalidCode, lockedOut, noClientAuthentication, OAuthError, userTokenRequired } from './errors.js';
import { LOCKED_DESCRIPTION, LoginLockout, type LockoutStats } from './lockout.js';
import type { GrantType, UaaSettings } from './settings.js';
import { parseScope, TokenService, type TokenResponse } from './token-service.js';
import type { UaaUser } from './settings.js';

/** Largest accepted request body (a token request is a few hundred bytes; a refresh token ~1 KiB). */
export const MAX_BODY_BYTES = 64 * 1024;

const GRANTS: GrantType[] = ['password', 'client_credentials', 'refresh_token', 'authorization_code'];
/** Parameters that must never travel in a URL (they would end up in access logs). */
const BODY_ONLY = ['username', 'password', 'client_secret', 'refresh_token', 'code'];

export interface UaaStats {
  requests: number;
  tokens_issued: Record<GrantType, number>;
  /** Refused token requests by OAuth error code. */
  token_failures: Record<string, number>;
  userinfo: { ok: number; refused: number };
  token_key_requests: number;
  /** Password logins refused because the user name was locked out, lockouts begun, names locked now. */
  lockout: LockoutStats;
  /** One-time codes (/oauth/authorize): issued, redeemed, refused, evicted, live. */
  authorization_codes: AuthorizationCodeStats;
  /** Requests refused before uaa looked at them (common/http.ts): two Host headers, a body too slow. */
  refused: RefusedRequests;
}

export interface UaaServerOptions {
  settings: UaaSettings;
  log: Logger;
  /** The clock of what uaa keeps in memory (lockouts, one-time codes); tests move it. */
  now?: () => number;
  /** How long a request may take to come in (default: requestDeadlines(), from DEVBOX_HTTP_*). */
  deadlines?: RequestDeadlines;
}

type EndpointHandler = (req: http.IncomingMessage, url: URL) => Promise<Reply>;
interface Reply {
  status?: number;
  body: unknown;
  headers?: Record<string, string>;
}

const JSON_TYPE = 'application/json;charset=UTF-8';

export class UaaServer {
  readonly tokens: TokenService;
  readonly lockout: LoginLockout;
  readonly codes: AuthorizationCodes;
  private readonly server: http.Server;
  private readonly log: Logger;
  private readonly settings: UaaSettings;
  private jwk?: Promise<Record<string, unknown>>;
  private boundPort = 0;
  private isListening = false;
  private readonly counters: Omit<UaaStats, 'lockout' | 'authorization_codes'> = {
    requests: 0,
    refused: { duplicate_host: 0, body_timeout: 0 },
    tokens_issued: { password: 0, client_credentials: 0, refresh_token: 0, authorization_code: 0 },
    token_failures: {},
    userinfo: { ok: 0, refused: 0 },
    token_key_requests: 0,
  };
  private readonly routes: Record<string, { methods: string[]; handler: EndpointHandler }>;

  constructor({ settings, log, now, deadlines = requestDeadlines() }: UaaServerOptions) {
    this.settings = settings;
    this.log = log;
    this.tokens = new TokenService(settings);
    this.lockout = new LoginLockout(settings.lockout, { users: settings.users.map((u) => u.username), now });
    this.codes = new AuthorizationCodes(settings.authorizationCodes, now);
    this.routes = {
      '/oauth/token': { methods: ['POST'], handler: (req, url) => this.token(req, url) },
      '/oauth/authorize': { methods: ['GET'], handler: (req, url) => this.authorize(req, url) },
      '/token_keys': { methods: ['GET', 'HEAD'], handler: async () => ({ body: { keys: [await this.publicJwk()] } }) },
      '/token_key': { methods: ['GET', 'HEAD'], handler: async () => ({ body: await this.publicJwk() }) },
      '/userinfo': { methods: ['GET', 'POST'], handler: (req) => this.userinfo(req) },
      '/info': { methods: ['GET', 'HEAD'], handler: async (req, url) => ({ body: this.info(req, url) }) },
      '/login': { methods: ['GET', 'HEAD'], handler: async (req, url) => ({ body: this.info(req, url) }) },
      '/healthz': { methods: ['GET', 'HEAD'], handler: async () => ({ body: 'ok', headers: { 'content-type': 'text/plain' } }) },
    };
    // Two Host headers (400) and request deadlines (408) are common/http.ts's, in uaa's error shape.
    this.server = createHttpServer((req, res) => void this.handle(req, res), {
      deadlines,
      refused: this.counters.refused,
      errorBody: (status, message) => ({ contentType: JSON_TYPE, body: JSON.stringify(badRequest(message).body()) }),
      onRefused: (reason, req) => this.log.info('request refused', { reason, method: req.method, path: (req.url ?? '').split('?')[0] }),
    });
  }

  get port(): number {
    return this.boundPort;
  }

  get listening(): boolean {
    return this.isListening;
  }

  async listen(port = this.settings.port, host = '127.0.0.1'): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ host, port }, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const address = this.server.address();
    this.boundPort = typeof address === 'object' && address ? address.port : port;
    this.isListening = true;
    return this.boundPort;
  }

  async close(): Promise<void> {
    if (!this.isListening) return;
    this.isListening = false;
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeIdleConnections();
      // Requests in flight are short (no streaming); whatever is left after a moment is cut.
      setTimeout(() => this.server.closeAllConnections(), 1_000).unref();
    });
  }

  stats(): UaaStats {
    return { ...structuredClone(this.counters), lockout: this.lockout.stats(), authorization_codes: this.codes.stats() };
  }

  // --- dispatch ----------------------------------------------------------------------------

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    this.counters.requests++;
    let reply: Reply;
    try {
      const url = new URL(req.url ?? '/', 'http://uaa.invalid');
      const path = routePath(url.pathname);
      const route = this.routes[path];
      if (!route) throw new OAuthError(404, 'not_found', `No resource at ${path}`);
      const method = req.method ?? 'GET';
      if (!route.methods.includes(method)) {
        const error = new OAuthError(405, 'method_not_allowed', `Request method '${method}' not supported`);
        reply = { status: 405, body: error.body(), headers: { allow: route.methods.join(', ') } };
      } else {
        reply = await route.handler(req, url);
      }
    } catch (error) {
      // The body did not come in time: answered 408 already (common/http.ts).
      if (requestCutOff(req)) return;
      reply = this.errorReply(error);
    }
    this.send(req, res, reply);
  }

  private errorReply(error: unknown): Reply {
    if (error instanceof OAuthError) {
      const headers: Record<string, string> = {};
      const challenge = error.wwwAuthenticate();
      if (challenge) headers['www-authenticate'] = challenge;
      if (error.status === 413) headers.connection = 'close';
      return { status: error.status, body: error.body(), headers };
    }
    this.log.error('uaa request failed', { error: (error as Error).stack ?? String(error) });
    return { status: 500, body: { error: 'server_error', error_description: 'Internal Server Error' } };
  }

  private send(req: http.IncomingMessage, res: http.ServerResponse, reply: Reply): void {
    const text = typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body);
    const headers: Record<string, string | number> = {
      'content-type': JSON_TYPE,
      'cache-control': 'no-store',
      pragma: 'no-cache',
      'x-content-type-options': 'nosniff',
      'content-length': Buffer.byteLength(text),
      ...reply.headers,
    };
    res.writeHead(reply.status ?? 200, headers);
    res.end(req.method === 'HEAD' ? undefined : text);
  }

  // --- /oauth/token ------------------------------------------------------------------------

  private async token(req: http.IncomingMessage, url: URL): Promise<Reply> {
    let grant: string | undefined;
    let clientId: string | undefined;
    try {
      const params = await readForm(req);
      if (BODY_ONLY.some((name) => url.searchParams.has(name))) throw badRequest('Parameters must be passed in the body of the request');
      for (const [name, value] of url.searchParams) if (!params.has(name)) params.set(name, value);
      for (const name of new Set(params.keys())) {
        if (params.getAll(name).length > 1) throw badRequest(`Duplicate parameter: ${name}`);
      }
      grant = params.get('grant_type') ?? undefined;

      const credentials = clientCredentials(req.headers.authorization, params);
      if (!credentials) throw noClientAuthentication();
      clientId = credentials.id;
      const client = this.tokens.authenticateClient(credentials.id, credentials.secret);

      if (!grant) throw badRequest('Missing grant type');
      if (!GRANTS.includes(grant as GrantType)) throw new OAuthError(400, 'unsupported_grant_type', `Unsupported grant type: ${grant}`);
      const grantType = grant as GrantType;
      this.tokens.requireGrant(client, grantType);
      const scope = parseScope(params.get('scope') ?? undefined);

      let response: TokenResponse;
      let userName: string | undefined;
      if (grantType === 'password') {
        const username = params.get('username');
        const password = params.get('password');
        if (!username) throw badRequest('Missing parameter: username');
        if (password === null) throw badRequest('Missing parameter: password');
        const user = this.login(username, password);
        userName = user.username;
        response = await this.tokens.passwordGrant(client, user, scope);
      } else if (grantType === 'client_credentials') {
        response = await this.tokens.clientCredentialsGrant(client, scope);
      } else if (grantType === 'authorization_code') {
        const code = params.get('code');
        if (!code) throw badRequest('Missing parameter: code');
        const granted = this.codes.redeem(code, client.id);
        // The code's user must still be a user of the box (config.json may have changed since).
        const user = granted && this.tokens.userById(granted.userId);
        if (!granted || !user) throw invalidCode(code);
        userName = user.username;
        response = await this.tokens.authorizationCodeGrant(client, user, granted.scopes, granted.authTime, scope);
      } else {
        const refreshToken = params.get('refresh_token');
        if (!refreshToken) throw badRequest('Missing parameter: refresh_token');
        response = await this.tokens.refreshGrant(client, refreshToken, scope);
      }
      this.counters.tokens_issued[grantType]++;
      this.log.info('token issued', { grant_type: grantType, client_id: client.id, user_name: userName, scope: response.scope });
      return { body: response };
    } catch (error) {
      if (error instanceof OAuthError) {
        this.counters.token_failures[error.error] = (this.counters.token_failures[error.error] ?? 0) + 1;
        // A refused code is not logged: the log is no place for codes, even spent ones.
        const description = grant === 'authorization_code' && error.error === 'invalid_grant' ? 'Invalid authorization code' : error.description;
        this.log.info('token request refused', { grant_type: grant, client_id: clientId, status: error.status, error: error.error, description });
      }
      throw error;
    }
  }

  // --- /oauth/authorize: one-time codes ----------------------------------------------------------

  /**
   * A one-time code for the user of the bearer token, for a client that may redeem codes (the ssh
   * proxy), as UAA answers `cf ssh-code`: 302 to `<uaa>/login?code=CODE`, which cf does not follow
   * but reads the code from. The code gives the scopes the password grant would have given through
   * that client, never more than the bearer token has.
   */
  private async authorize(req: http.IncomingMessage, url: URL): Promise<Reply> {
    const params = url.searchParams;
    let clientId: string | undefined;
    try {
      // Who asks comes first: without a valid token nothing about clients is said.
      const claims = await this.tokens.verifyAccessToken(req.headers.authorization);
      const user = this.tokens.userById(claims.user_id);
      if (!user) throw userTokenRequired();
      for (const name of new Set(params.keys())) {
        if (params.getAll(name).length > 1) throw badRequest(`Duplicate parameter: ${name}`);
      }
      const responseType = params.get('response_type') ?? '';
      if (responseType !== 'code') {
        const types = responseType.split(/\s+/).filter(Boolean);
        throw new OAuthError(400, 'unsupported_response_type', `Unsupported response types: [${types.join(', ')}]`);
      }
      clientId = params.get('client_id') ?? undefined;
      if (!clientId) throw new OAuthError(400, 'invalid_client', 'A client id must be provided in the authorization request.');
      const client = this.settings.clients.find((c) => c.id === clientId);
      if (!client) throw new OAuthError(400, 'invalid_client', `No client with requested id: ${clientId}`);
      if (!client.grantTypes.includes('authorization_code')) throw new OAuthError(400, 'invalid_client', 'Unauthorized grant type: authorization_code');

      const scopes = user.groups.filter((g) => client.scopes.includes(g) && claims.scope.includes(g));
      const code = this.codes.issue({ userId: user.id, clientId: client.id, scopes, authTime: claims.auth_time });
      this.log.info('authorization code issued', { client_id: client.id, user_name: user.username });
      const location = new URL(`${this.publicUrl(req, url)}/login`);
      location.searchParams.set('code', code);
      // RFC 6749 §4.1.2: a `state` given comes back (cf sends none). There is no other redirect_uri:
      // the code goes to uaa's own /login whatever one was asked for, as the ssh proxy's client has.
      const state = params.get('state');
      if (state !== null) location.searchParams.set('state', state);
      return { status: 302, body: '', headers: { location: location.href, 'content-type': 'text/plain;charset=UTF-8' } };
    } catch (error) {
      if (error instanceof OAuthError) this.log.info('authorization code refused', { client_id: clientId, status: error.status, error: error.error, description: error.description });
      throw error;
    }
  }

  /**
   * uaa's public URL as the request sees it: on the cf address (under the /uaa prefix), that
   * address; otherwise the name-based URL (which is also the issuer's).
   */
  private publicUrl(req: http.IncomingMessage, url: URL): string {
    const onAddress = url.pathname.startsWith(`${UAA_PATH_PREFIX}/`) ? addressUrls(req.headers.host, req.headers['x-forwarded-proto']) : undefined;
    return onAddress?.uaa ?? this.settings.baseUrl;
  }

  /**
   * The user for a password login, unless the user name is locked out after failed logins (then the
   * password is not looked at, and the answer is the same whether the user exists or not).
   */
  private login(username: string, password: string): UaaUser {
    if (this.lockout.isLocked(username)) throw lockedOut(LOCKED_DESCRIPTION);
    try {
      const user = this.tokens.authenticateUser(username, password);
      this.lockout.succeeded(username);
      return user;
    } catch (error) {
      if (error instanceof OAuthError && this.lockout.failed(username)) this.logLockout(username);
      throw error;
    }
  }

  private lastUnknownLockoutLog = 0;

  /**
   * Says that a user name was locked out: a user of the box by name, every time; names nobody has
   * (guessing) at most once a minute, counted, so that a spray of names does not flood the log.
   */
  private logLockout(username: string): void {
    const { lockoutAfterFailures, countFailuresWithinSeconds, lockoutPeriodSeconds } = this.lockout.policy;
    const policy = { failures: lockoutAfterFailures, within_s: countFailuresWithinSeconds, locked_for_s: lockoutPeriodSeconds };
    if (this.settings.users.some((u) => u.username === username)) {
      this.log.warn('user locked out after failed logins', { user_name: username, ...policy });
      return;
    }
    const now = Date.now();
    if (now - this.lastUnknownLockoutLog < 60_000) return;
    this.lastUnknownLockoutLog = now;
    this.log.warn('unknown user names locked out after failed logins', { lockouts_so_far: this.lockout.stats().lockouts, ...policy });
  }

  // --- /userinfo, /token_key(s), /info -------------------------------------------------------

  private async userinfo(req: http.IncomingMessage): Promise<Reply> {
    try {
      const claims = await this.tokens.verifyAccessToken(req.headers.authorization);
      const user = this.tokens.userById(claims.user_id);
      // The resource /userinfo serves is `openid` (UAA's resource id): in the token's scope and its audience.
      if (!user || !claims.scope.includes('openid') || !claims.aud.includes('openid')) throw insufficientScope('openid');
      this.counters.userinfo.ok++;
      return {
        body: {
          user_id: user.id,
          user_name: user.username,
          given_name: user.givenName,
          family_name: user.familyName,
          email: user.email,
          phone_number: null,
          previous_logon_time: null,
          sub: user.id,
          name: `${user.givenName} ${user.familyName}`.trim(),
          email_verified: true,
        },
      };
    } catch (error) {
      this.counters.userinfo.refused++;
      throw error;
    }
  }

  private publicJwk(): Promise<Record<string, unknown>> {
    this.counters.token_key_requests++;
    this.jwk ??= exportJWK(this.tokens.publicKeyObject).then((jwk) => ({
      kty: 'RSA',
      e: jwk.e,
      use: 'sig',
      kid: this.settings.signingKey.kid,
      alg: 'RS256',
      value: this.settings.signingKey.publicPem.trim(),
      n: jwk.n,
    }));
    return this.jwk;
  }

  private info(req: http.IncomingMessage, url: URL) {
    // On the cf address (under the /uaa prefix) the links point there; the issuer stays the same.
    const base = this.publicUrl(req, url);
    return {
      app: { version: this.settings.version },
      links: { uaa: base, login: base },
      zone_name: 'uaa',
      entityID: `uaa.${this.settings.domain}`,
      commit_id: 'devbox',
      idpDefinitions: {},
      prompts: { username: ['text', 'Username'], password: ['password', 'Password'] },
      timestamp: new Date().toISOString(),
    };
  }
}

/**
 * The route a request path names: without a trailing slash and without the UAA_PATH_PREFIX under
 * which the router sends uaa's requests on the cf address (`/uaa/oauth/token` is `/oauth/token`;
 * the router forwards the path as it came, as gorouter does).
 */
export function routePath(pathname: string): string {
  let path = pathname.length > 1 ? pathname.replace(/\/+$/, '') : pathname;
  if (path === UAA_PATH_PREFIX) path = '/';
  else if (path.startsWith(`${UAA_PATH_PREFIX}/`)) path = path.slice(UAA_PATH_PREFIX.length);
  return path;
}

/**
 * The client's credentials: HTTP basic (`Authorization: Basic base64(id:secret)`, the secret may be
 * empty as for `cf`), else the `client_id` / `client_secret` form fields. Undefined when neither.
 */
export function clientCredentials(authorization: string | undefined, params: URLSearchParams): { id: string; secret: string } | undefined {
  const match = /^basic\s+(\S*)\s*$/i.exec(authorization ?? '');
  if (match) {
    const decoded = Buffer.from(match[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0) throw badClient();
    // RFC 6749 §2.3.1 form-encodes both before base64; clients that do not (most) send them raw.
    return { id: formDecode(decoded.slice(0, colon)), secret: formDecode(decoded.slice(colon + 1)) };
  }
  const id = params.get('client_id');
  if (id) return { id, secret: params.get('client_secret') ?? '' };
  return undefined;
}

/** Form-decodes a value only when it is clearly encoded, so raw secrets with '+' stay as they are. */
function formDecode(value: string): string {
  if (!/%[0-9a-f]{2}/i.test(value)) return value;
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch {
    return value;
  }
}

/** Reads an application/x-www-form-urlencoded body of at most MAX_BODY_BYTES. */
export async function readForm(req: http.IncomingMessage, limit = MAX_BODY_BYTES): Promise<URLSearchParams> {
  const tooLarge = () => new OAuthError(413, 'invalid_request', `Request body larger than ${limit} bytes`);
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw tooLarge();
  const body = await new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        // Stop reading; the 413 goes out with `Connection: close`, which ends the connection.
        cleanup();
        req.pause();
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks));
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
  if (body.length === 0) return new URLSearchParams();
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') {
    throw new OAuthError(415, 'invalid_request', `Content type '${type || 'none'}' not supported; send application/x-www-form-urlencoded`);
  }
  return new URLSearchParams(body.toString('utf8'));
}
