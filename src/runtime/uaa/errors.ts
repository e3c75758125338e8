// OAuth2 errors as UAA answers them: `{"error": CODE, "error_description": TEXT}` with the status of
// RFC 6749 §5.2 / RFC 6750 §3.1, and a WWW-Authenticate header on 401s.
export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'invalid_scope'
  | 'invalid_token'
  | 'insufficient_scope'
  | 'unauthorized'
  | 'unsupported_grant_type'
  | 'unsupported_response_type'
  | 'method_not_allowed'
  | 'not_found';

export class OAuthError extends Error {
  override readonly name = 'OAuthError';
  constructor(
    readonly status: number,
    readonly error: OAuthErrorCode,
    readonly description: string,
    /** Extra body fields (e.g. `scope` on insufficient_scope). */
    readonly extra: Record<string, string> = {},
    /** The WWW-Authenticate scheme and realm on a 401/403 (`Basic realm="UAA/client"`). */
    readonly challenge?: string,
  ) {
    super(description);
  }

  body(): Record<string, string> {
    return { error: this.error, error_description: this.description, ...this.extra };
  }

  wwwAuthenticate(): string | undefined {
    if (!this.challenge) return undefined;
    const quote = (s: string) => s.replace(/[\\"]/g, '\\$&').replace(/[\r\n]/g, ' ');
    return `${this.challenge}, error="${this.error}", error_description="${quote(this.description)}"`;
  }
}

const BASIC_CHALLENGE = 'Basic realm="UAA/client"';
const BEARER_CHALLENGE = 'Bearer realm="UAA/oauth"';

export const badRequest = (description: string) => new OAuthError(400, 'invalid_request', description);
export const badClient = (description = 'Bad client credentials') => new OAuthError(401, 'invalid_client', description, {}, BASIC_CHALLENGE);
export const noClientAuthentication = () =>
  new OAuthError(401, 'unauthorized', 'Full authentication is required to access this resource', {}, BASIC_CHALLENGE);
export const badCredentials = () => new OAuthError(401, 'unauthorized', 'Bad credentials');
/** UAA's answer while a user name is locked out after failed logins (lockout.ts). */
export const lockedOut = (description: string) => new OAuthError(401, 'unauthorized', description);
export const invalidToken = (description: string) => new OAuthError(401, 'invalid_token', description, {}, BEARER_CHALLENGE);
export const noBearer = () => new OAuthError(401, 'unauthorized', 'Full authentication is required to access this resource', {}, BEARER_CHALLENGE);
/** A user token is needed (the endpoint acts for a user: /oauth/authorize). */
export const userTokenRequired = () => new OAuthError(401, 'unauthorized', 'A user token is required to get an authorization code', {}, BEARER_CHALLENGE);
/** A one-time code that is wrong, expired, used already or another client's: UAA's words. */
export const invalidCode = (code: string) =>
  // A code is a couple dozen characters; whatever is much longer is not echoed whole.
  new OAuthError(400, 'invalid_grant', `Invalid authorization code: ${code.length > 100 ? `${code.slice(0, 100)}...` : code}`);
export const insufficientScope = (scope: string) =>
  new OAuthError(403, 'insufficient_scope', 'Insufficient scope for this resource', { scope }, BEARER_CHALLENGE);
