// Verifying uaa's tokens where they are used (the controller, the logs component): RS256 JWTs signed
// with the key in config.json (or fetched from uaa's /token_key on another machine). Access tokens
// and refresh tokens are told apart as Cloud Foundry's UAA does it: a refresh token's `jti` ends in
// "-r" and it carries `granted_scopes` instead of `scope`, so neither can stand in for the other.
import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { decodeProtectedHeader, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';

/** The resource (`aud`) the controller's tokens must name (Cloud Foundry's cc `resource_id`). */
export const CONTROLLER_AUDIENCE = 'cloud_controller';
/**
 * The logs component (log-cache) takes what the controller takes, or a firehose token (`doppler`):
 * whether the caller may read an app's logs is the controller's answer anyway (logs/access.ts).
 */
export const LOGS_AUDIENCE: readonly string[] = [CONTROLLER_AUDIENCE, 'doppler'];

/** UAA's suffix for the `jti` of refresh tokens. */
export const REFRESH_TOKEN_SUFFIX = '-r';

/** The claims of a verified access token (UAA's names). */
export interface TokenClaims {
  jti: string;
  /** The user's id for user tokens, the client's id for client_credentials tokens. */
  sub: string;
  client_id: string;
  cid: string;
  azp?: string;
  scope: string[];
  /** client_credentials tokens: the client's authorities (the same list as `scope`). */
  authorities?: string[];
  grant_type: string;
  /** Present on user tokens (password and refresh_token grants) only. */
  user_id?: string;
  user_name?: string;
  email?: string;
  origin?: string;
  iss: string;
  zid?: string;
  aud: string[];
  iat: number;
  exp: number;
  auth_time?: number;
  rev_sig?: string;
}

export type TokenErrorReason = 'missing' | 'invalid' | 'expired' | 'audience';

/**
 * Why a token was refused. `missing` maps to Cloud Foundry's CF-NotAuthenticated, `invalid`,
 * `expired` and `audience` (a genuine token whose `aud` does not name this resource) to
 * CF-InvalidAuthToken. The message never contains the token itself.
 */
export class TokenError extends Error {
  override readonly name = 'TokenError';
  constructor(
    readonly reason: TokenErrorReason,
    message: string,
  ) {
    super(message);
  }
}

export interface TokenVerifierOptions {
  /** uaa's public key (SPKI PEM), `config.uaa.signing_key.public_pem` or fetchTokenKey()'s. */
  publicPem: string;
  /** When given, a token whose header names another key is refused. */
  kid?: string;
  /** When given, the `iss` claim must equal it (see uaaIssuer()). */
  issuer?: string;
  /**
   * When given, the token's `aud` must name this resource (one of these, for a list), as Cloud
   * Foundry's resource servers check it: the controller `cloud_controller`. uaa puts in `aud` the
   * resource of each scope (the part before its last dot) and the client id.
   */
  audience?: string | readonly string[];
  /** Leeway for `exp`, in seconds (default 0, as UAA). */
  clockToleranceSeconds?: number;
}

export interface TokenVerifier {
  /**
   * Verifies an access token given as an Authorization header value (`bearer TOKEN`, any case) or
   * as the bare token. Resolves to its claims; rejects with a TokenError.
   */
  verify(bearerHeaderOrToken: string | undefined | null): Promise<TokenClaims>;
}

/** The token in an Authorization header value or a bare token; throws TokenError. */
export function extractBearerToken(input: string | undefined | null): string {
  const value = (input ?? '').trim();
  if (value === '') throw new TokenError('missing', 'Full authentication is required to access this resource');
  const parts = value.split(/\s+/);
  if (parts.length === 1) {
    if (parts[0].toLowerCase() === 'bearer') throw new TokenError('missing', 'Full authentication is required to access this resource');
    return parts[0];
  }
  if (parts.length === 2 && parts[0].toLowerCase() === 'bearer') return parts[1];
  throw new TokenError('invalid', 'Invalid token: expected "bearer TOKEN"');
}

const isStringArray = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === 'string');
const isString = (v: unknown): v is string => typeof v === 'string' && v !== '';
const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** Checks the shape of an access token's claims (signature and expiry already checked). */
function accessClaims(payload: JWTPayload): TokenClaims {
  const bad = (what: string) => new TokenError('invalid', `Invalid access token: ${what}`);
  if (!isString(payload.jti)) throw bad('no jti claim');
  if (payload.jti.endsWith(REFRESH_TOKEN_SUFFIX) || 'granted_scopes' in payload) throw new TokenError('invalid', 'Invalid access token.');
  if (!isStringArray(payload.scope)) throw bad('no scope claim');
  const cid = payload.cid ?? payload.client_id;
  if (!isString(cid)) throw bad('no client id');
  if (payload.client_id !== undefined && payload.client_id !== cid) throw bad('conflicting client ID claims');
  if (!isString(payload.sub)) throw bad('no sub claim');
  if (!isNumber(payload.exp) || !isNumber(payload.iat)) throw bad('no exp or iat claim');
  if (!isString(payload.iss)) throw bad('no iss claim');
  if (payload.user_id !== undefined && !isString(payload.user_id)) throw bad('invalid user_id claim');
  const aud = typeof payload.aud === 'string' ? [payload.aud] : isStringArray(payload.aud) ? payload.aud : [];
  const claims = { ...(payload as Record<string, unknown>) } as unknown as TokenClaims;
  claims.cid = cid;
  claims.client_id = cid;
  claims.aud = aud;
  claims.grant_type = typeof payload.grant_type === 'string' ? payload.grant_type : '';
  return claims;
}

/** A verifier for uaa's access tokens, signed RS256 with the key given. */
export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  let key: KeyObject;
  try {
    key = createPublicKey(options.publicPem);
  } catch (error) {
    throw new Error(`uaa's public key is not a valid PEM public key (${(error as Error).message})`, { cause: error });
  }
  if (key.asymmetricKeyType !== 'rsa') throw new Error(`uaa's public key must be an RSA key, got ${key.asymmetricKeyType}`);
  const tolerance = options.clockToleranceSeconds ?? 0;
  const audiences = options.audience === undefined ? undefined : typeof options.audience === 'string' ? [options.audience] : [...options.audience];
  if (audiences !== undefined && audiences.length === 0) throw new Error('a token verifier audience must name at least one resource');

  return {
    async verify(input) {
      const token = extractBearerToken(input);
      let header;
      try {
        header = decodeProtectedHeader(token);
      } catch {
        throw new TokenError('invalid', 'Invalid token (could not decode)');
      }
      if (header.alg !== 'RS256') throw new TokenError('invalid', `Invalid token: algorithm ${String(header.alg)} is not accepted`);
      if (options.kid !== undefined && header.kid !== options.kid) {
        throw new TokenError('invalid', `Token header claim [kid] references unknown signing key : [${String(header.kid ?? '')}]`);
      }
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, key, { algorithms: ['RS256'], clockTolerance: tolerance }));
      } catch (error) {
        // jose checks the signature before the claims: an expired token here is a genuine one.
        if (error instanceof joseErrors.JWTExpired) throw new TokenError('expired', `Token expired at ${String(error.payload.exp)}`);
        if (error instanceof joseErrors.JWSSignatureVerificationFailed) throw new TokenError('invalid', 'Could not verify token signature.');
        throw new TokenError('invalid', 'Invalid token (could not decode)');
      }
      if (payload.exp === undefined) throw new TokenError('invalid', 'Token does not bear an EXP claim.');
      if (options.issuer !== undefined && payload.iss !== options.issuer) {
        throw new TokenError('invalid', `Invalid issuer (${String(payload.iss)}) for token did not match expected: ${options.issuer}`);
      }
      const claims = accessClaims(payload);
      // As the UAA client library the controller uses (TokenCoder, audience_ids): the token must
      // carry an `aud` naming the resource.
      if (audiences !== undefined && !claims.aud.some((a) => audiences.includes(a))) {
        const resources = audiences.join(' or ');
        const scopes = audiences.map((a) => `${a}.*`).join(' or ');
        throw new TokenError('audience', `Invalid audience: the token's aud (${claims.aud.join(' ') || 'none'}) does not include ${resources}. Use a token with a ${scopes} scope (log in again without narrowing the scopes).`);
      }
      return claims;
    },
  };
}

/** True when the claims carry one of the scopes. */
export const hasScope = (claims: Pick<TokenClaims, 'scope'>, ...scopes: string[]) => scopes.some((s) => claims.scope.includes(s));

export interface TokenKey {
  kid?: string;
  alg: string;
  /** SPKI PEM, ready for createTokenVerifier({ publicPem }). */
  publicPem: string;
}

export interface FetchTokenKeyOptions {
  timeoutMs?: number;
}

const MAX_KEY_RESPONSE = 64 * 1024;

/**
 * Fetches uaa's signing key from `<uaaBaseUrl>/token_key` (UAA's JWK with its PEM in `value`).
 * `hostHeader` sets the Host header, to go through the router at 127.0.0.1 (`uaa.localhost`).
 * One bounded attempt: callers retry while uaa is not up yet.
 */
export async function fetchTokenKey(uaaBaseUrl: string, hostHeader?: string, { timeoutMs = 5_000 }: FetchTokenKeyOptions = {}): Promise<TokenKey> {
  const base = new URL(uaaBaseUrl.endsWith('/') ? uaaBaseUrl : `${uaaBaseUrl}/`);
  if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new Error(`uaa URL must be http(s): ${base.protocol}`);
  const url = new URL('token_key', base);
  const body = await new Promise<string>((resolve, reject) => {
    const client = url.protocol === 'https:' ? https : http;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (hostHeader) headers.host = hostHeader;
    const req = client.request(url, { method: 'GET', headers, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_KEY_RESPONSE) {
          req.destroy(new Error(`the response of ${url.href} is too large`));
          return;
        }
        chunks.push(chunk);
      });
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode !== 200) reject(new Error(`GET ${url.href} answered ${res.statusCode}: ${text.slice(0, 200)}`));
        else resolve(text);
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url.href} timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
  let jwk: Record<string, unknown>;
  try {
    jwk = JSON.parse(body) as Record<string, unknown>;
  } catch {
    throw new Error(`GET ${url.href} did not answer JSON`);
  }
  let key: KeyObject;
  try {
    // UAA puts the PEM in `value`; a JWK without it still has n and e.
    key = typeof jwk.value === 'string' && jwk.value.includes('BEGIN') ? createPublicKey(jwk.value) : createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
  } catch (error) {
    throw new Error(`GET ${url.href} did not answer a usable public key (${(error as Error).message})`, { cause: error });
  }
  if (key.asymmetricKeyType !== 'rsa') throw new Error(`GET ${url.href} answered a ${key.asymmetricKeyType} key; uaa signs with RSA`);
  return {
    kid: typeof jwk.kid === 'string' ? jwk.kid : undefined,
    alg: typeof jwk.alg === 'string' ? jwk.alg : 'RS256',
    publicPem: key.export({ type: 'spki', format: 'pem' }).toString(),
  };
}
