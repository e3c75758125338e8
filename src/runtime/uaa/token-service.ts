// Issuing and checking tokens, as Cloud Foundry's UAA does: RS256 JWTs with UAA's claims. Access
// tokens carry `scope`; refresh tokens (also JWTs, not stored: UAA's non-revocable default) carry
// `granted_scopes` and a `jti` ending in "-r", so one is never accepted as the other. Both carry
// `rev_sig`, a hash of the user's and client's credentials: changing the admin password or the
// client secret in config.json invalidates every refresh token issued before.
import { createHash, createPrivateKey, createPublicKey, randomUUID, timingSafeEqual, type KeyObject } from 'node:crypto';
import { decodeProtectedHeader, errors as joseErrors, jwtVerify, SignJWT, type JWTPayload } from 'jose';
import { createTokenVerifier, REFRESH_TOKEN_SUFFIX, TokenError, type TokenClaims, type TokenVerifier } from '../common/tokens.js';
import { badClient, badCredentials, invalidToken, OAuthError } from './errors.js';
import type { GrantType, UaaClient, UaaSettings, UaaUser } from './settings.js';

/** The body of a successful /oauth/token answer (UAA's fields). */
export interface TokenResponse {
  access_token: string;
  token_type: 'bearer';
  refresh_token?: string;
  expires_in: number;
  scope: string;
  jti: string;
}

const now = () => Math.floor(Date.now() / 1000);
const tokenId = () => randomUUID().replace(/-/g, '');
const unique = (items: string[]) => [...new Set(items)];

/** Constant-time comparison of two secrets of any length. */
export function secretsEqual(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** UAA's audience: the resource of every scope (the part before its last dot) and the client. */
export function audience(scopes: string[], clientId: string): string[] {
  return unique([...scopes.map((s) => (s.includes('.') ? s.slice(0, s.lastIndexOf('.')) : s)), clientId]);
}

/** Parses a `scope` parameter: space-separated, order kept, duplicates dropped. */
export function parseScope(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const scopes = unique(value.split(/\s+/).filter(Boolean));
  return scopes.length ? scopes : undefined;
}

export class TokenService {
  private readonly privateKey: KeyObject;
  private readonly publicKey: KeyObject;
  private readonly accessVerifier: TokenVerifier;
  private readonly dummyPassword = randomUUID();

  constructor(private readonly settings: UaaSettings) {
    this.privateKey = createPrivateKey(settings.signingKey.privatePem);
    this.publicKey = createPublicKey(settings.signingKey.publicPem);
    this.accessVerifier = createTokenVerifier({ publicPem: settings.signingKey.publicPem, kid: settings.signingKey.kid, issuer: settings.issuer });
  }

  get publicKeyObject(): KeyObject {
    return this.publicKey;
  }

  // --- clients and users -------------------------------------------------------------------

  /** The client with these credentials; OAuthError invalid_client otherwise. */
  authenticateClient(id: string, secret: string): UaaClient {
    const client = this.settings.clients.find((c) => c.id === id);
    const ok = secretsEqual(secret, client?.secret ?? this.dummyPassword);
    if (!client || !ok) throw badClient();
    return client;
  }

  /** The client may use this grant; UAA answers 401 invalid_client otherwise. */
  requireGrant(client: UaaClient, grant: GrantType): void {
    if (!client.grantTypes.includes(grant)) throw badClient(`Unauthorized grant type: ${grant}`);
  }

  userById(id: string | undefined): UaaUser | undefined {
    return id === undefined ? undefined : this.settings.users.find((u) => u.id === id);
  }

  /** The user with these credentials; 401 "Bad credentials" otherwise (never says which was wrong). */
  authenticateUser(username: string, password: string): UaaUser {
    const user = this.settings.users.find((u) => u.username === username);
    const ok = secretsEqual(password, user?.password ?? this.dummyPassword);
    if (!user || !ok) throw badCredentials();
    return user;
  }

  /** UAA's revocation signature: changes when the user's or the client's credentials change. */
  revocationSignature(user: UaaUser | undefined, client: UaaClient): string {
    const parts = [client.id, client.secret, user?.id ?? '', user?.username ?? '', user?.email ?? '', user?.password ?? ''];
    return createHash('sha256').update(parts.join('\0')).digest('hex').slice(0, 8);
  }

  // --- grants ------------------------------------------------------------------------------

  async passwordGrant(client: UaaClient, user: UaaUser, requested?: string[]): Promise<TokenResponse> {
    const allowed = user.groups.filter((g) => client.scopes.includes(g));
    const scopes = this.chooseScopes(requested, allowed);
    const authTime = now();
    const access = await this.accessToken({ client, user, scopes, grantType: 'password', authTime });
    const refresh = await this.refreshToken({ client, user, scopes, grantType: 'password', authTime });
    return { ...access, refresh_token: refresh };
  }

  async clientCredentialsGrant(client: UaaClient, requested?: string[]): Promise<TokenResponse> {
    const scopes = this.chooseScopes(requested, client.authorities);
    return this.accessToken({ client, scopes, grantType: 'client_credentials' });
  }

  /**
   * The user's access token for a redeemed one-time code: the token the password grant gives, with
   * the code's scopes (narrowed by `requested`), its client and `grant_type: authorization_code`.
   * No refresh token: a code is for one session (`cf ssh`), not for staying logged in.
   */
  async authorizationCodeGrant(client: UaaClient, user: UaaUser, granted: string[], authTime: number | undefined, requested?: string[]): Promise<TokenResponse> {
    const scopes = this.chooseScopes(requested, granted);
    return this.accessToken({ client, user, scopes, grantType: 'authorization_code', authTime });
  }

  /** A new access token for a refresh token (which stays valid: UAA does not rotate by default). */
  async refreshGrant(client: UaaClient, refreshToken: string, requested?: string[]): Promise<TokenResponse> {
    const claims = await this.verifyRefreshToken(refreshToken, client);
    const granted = claims.granted_scopes;
    if (requested && !requested.every((s) => granted.includes(s))) {
      throw new OAuthError(400, 'invalid_scope', `Unable to narrow the scope of the client authentication to [${requested.join(', ')}].`);
    }
    const user = claims.user;
    const stillAllowed = user.groups.filter((g) => client.scopes.includes(g));
    const scopes = (requested ?? granted).filter((s) => stillAllowed.includes(s));
    if (scopes.length === 0) throw invalidToken('Invalid token (all scopes have been revoked)');
    const access = await this.accessToken({ client, user, scopes, grantType: 'refresh_token', authTime: claims.auth_time });
    return { ...access, refresh_token: refreshToken };
  }

  /** Verifies an access token for uaa's own endpoints (/userinfo): signature, expiry, issuer, rev_sig. */
  async verifyAccessToken(header: string | undefined): Promise<TokenClaims> {
    let claims: TokenClaims;
    try {
      claims = await this.accessVerifier.verify(header);
    } catch (error) {
      if (error instanceof TokenError) throw error.reason === 'missing' ? new OAuthError(401, 'unauthorized', error.message, {}, 'Bearer realm="UAA/oauth"') : invalidToken(error.message);
      throw error;
    }
    const client = this.settings.clients.find((c) => c.id === claims.cid);
    if (!client) throw invalidToken(`Invalid client ID ${claims.cid}`);
    const user = this.userById(claims.user_id);
    if (claims.user_id !== undefined && !user) throw invalidToken(`Token bears a non-existent user ID: ${claims.user_id}`);
    if (claims.rev_sig !== undefined && claims.rev_sig !== this.revocationSignature(user, client)) throw invalidToken('revocable signature mismatch');
    return claims;
  }

  // --- internals ---------------------------------------------------------------------------

  private chooseScopes(requested: string[] | undefined, allowed: string[]): string[] {
    if (!requested) return allowed;
    const invalid = requested.filter((s) => !allowed.includes(s));
    if (invalid.length) {
      throw new OAuthError(400, 'invalid_scope', `Invalid scope: ${invalid.join(', ')}. Did you know that you can get default scopes by simply sending no value?`, {
        scope: allowed.join(' '),
      });
    }
    return requested;
  }

  private sign(claims: JWTPayload): Promise<string> {
    return new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', jku: `${this.settings.baseUrl}/token_keys`, kid: this.settings.signingKey.kid, typ: 'JWT' })
      .sign(this.privateKey);
  }

  private async accessToken(p: { client: UaaClient; user?: UaaUser; scopes: string[]; grantType: GrantType; authTime?: number }): Promise<TokenResponse> {
    const iat = now();
    const validity = this.settings.accessTokenValiditySeconds;
    const jti = tokenId();
    const { client, user, scopes } = p;
    const claims: JWTPayload = {
      jti,
      sub: user ? user.id : client.id,
      ...(user ? {} : { authorities: scopes }),
      scope: scopes,
      client_id: client.id,
      cid: client.id,
      azp: client.id,
      grant_type: p.grantType,
      ...(user
        ? { user_id: user.id, origin: user.origin, user_name: user.username, email: user.email, auth_time: p.authTime ?? iat }
        : {}),
      rev_sig: this.revocationSignature(user, client),
      iat,
      exp: iat + validity,
      iss: this.settings.issuer,
      zid: 'uaa',
      aud: audience(scopes, client.id),
    };
    return { access_token: await this.sign(claims), token_type: 'bearer', expires_in: validity, scope: scopes.join(' '), jti };
  }

  private refreshToken(p: { client: UaaClient; user: UaaUser; scopes: string[]; grantType: GrantType; authTime: number }): Promise<string> {
    const iat = now();
    const { client, user, scopes } = p;
    return this.sign({
      jti: `${tokenId()}${REFRESH_TOKEN_SUFFIX}`,
      sub: user.id,
      iat,
      exp: iat + this.settings.refreshTokenValiditySeconds,
      cid: client.id,
      client_id: client.id,
      iss: this.settings.issuer,
      zid: 'uaa',
      aud: audience(scopes, client.id),
      granted_scopes: scopes,
      amr: ['pwd'],
      auth_time: p.authTime,
      grant_type: p.grantType,
      user_name: user.username,
      origin: user.origin,
      user_id: user.id,
      rev_sig: this.revocationSignature(user, client),
      revocable: false,
    });
  }

  /** UAA's checks of a refresh token, with its error texts (401 invalid_token unless noted). */
  private async verifyRefreshToken(token: string, client: UaaClient): Promise<{ granted_scopes: string[]; user: UaaUser; auth_time?: number }> {
    const notFound = () => invalidToken('The token expired, was revoked, or the token ID is incorrect.');
    if (token.split('.').length !== 3) throw notFound();
    let header;
    try {
      header = decodeProtectedHeader(token);
    } catch {
      throw notFound();
    }
    if (header.kid !== this.settings.signingKey.kid) {
      throw invalidToken(`Token header claim [kid] references unknown signing key : [${String(header.kid ?? '')}]`);
    }
    let payload: JWTPayload;
    let expired = false;
    try {
      ({ payload } = await jwtVerify(token, this.publicKey, { algorithms: ['RS256'] }));
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired) {
        payload = error.payload;
        expired = true;
      } else if (error instanceof joseErrors.JWSSignatureVerificationFailed) {
        throw invalidToken('Could not verify token signature.');
      } else {
        throw invalidToken('Invalid token (could not decode)');
      }
    }
    if (typeof payload.jti !== 'string') throw invalidToken('The token must contain a jti claim.');
    if (!payload.jti.endsWith(REFRESH_TOKEN_SUFFIX)) throw invalidToken('Invalid refresh token.');
    if (payload.iss !== this.settings.issuer) throw invalidToken(`Invalid issuer (${String(payload.iss)}) for token did not match expected: ${this.settings.issuer}`);
    const granted = payload.granted_scopes;
    if (!Array.isArray(granted) || !granted.every((s) => typeof s === 'string')) throw invalidToken('The token\'s "granted_scopes" claim is invalid or unparseable.');
    if (payload.cid !== client.id) throw new OAuthError(400, 'invalid_grant', `Wrong client for this refresh token: ${String(payload.cid)}`);
    const user = this.userById(typeof payload.user_id === 'string' ? payload.user_id : undefined);
    if (!user) throw invalidToken(`Token bears a non-existent user ID: ${String(payload.user_id)}`);
    if (typeof payload.exp !== 'number') throw invalidToken('Token does not bear an EXP claim.');
    if (expired) throw invalidToken(`Invalid refresh token expired at ${new Date(payload.exp * 1000).toUTCString()}`);
    if (payload.rev_sig !== this.revocationSignature(user, client)) throw invalidToken('revocable signature mismatch');
    return { granted_scopes: granted as string[], user, auth_time: typeof payload.auth_time === 'number' ? payload.auth_time : undefined };
  }
}
