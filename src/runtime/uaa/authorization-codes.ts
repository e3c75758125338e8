// One-time authorization codes, as Cloud Foundry's UAA issues them for `cf ssh` (docs/uaa.md,
// "One-time codes"): a user with a token asks `/oauth/authorize?response_type=code` for a code bound
// to the user and to a client (the ssh proxy); that client redeems it once, within a few minutes, at
// the token endpoint (authorization_code grant) for the user's access token.
//
// Codes live in uaa's memory only, keyed by their hash (the codes themselves are not kept). The store
// is bounded: expired codes are dropped as new ones come and go, and past `maxCodes` the oldest make
// room. Redeeming stores nothing, so a flood of wrong codes costs no memory.
import { createHash, randomBytes } from 'node:crypto';

export interface AuthorizationCodePolicy {
  /** How long a code may be redeemed after it was issued (UAA: 300 s). */
  validitySeconds: number;
  /** Codes kept at most; the oldest go first when more are issued. */
  maxCodes: number;
}

export const DEFAULT_AUTHORIZATION_CODE_POLICY: AuthorizationCodePolicy = { validitySeconds: 300, maxCodes: 10_000 };

/** What a code stands for: the user, the client it was issued for, and the scopes of the token it gives. */
export interface AuthorizationGrant {
  userId: string;
  clientId: string;
  scopes: string[];
  /** When the user authenticated (the `auth_time` of the token the code was asked with). */
  authTime?: number;
}

export interface AuthorizationCodeStats {
  issued: number;
  redeemed: number;
  /** Redemptions refused: unknown, expired, already used or another client's codes. */
  refused: number;
  /** Codes dropped unused to stay under maxCodes. */
  evicted: number;
  /** Codes issued and not yet redeemed nor expired (expired ones may linger until the next request). */
  live: number;
}

interface Entry extends AuthorizationGrant {
  expiresAt: number;
}

/** 16 random bytes, base64url: 22 characters that survive URLs and ssh password prompts. */
const CODE_BYTES = 16;

const keyOf = (code: string) => createHash('sha256').update(code).digest('base64url');

export class AuthorizationCodes {
  /** Hash of the code → its grant; in the order issued, which is the order they expire in. */
  private readonly codes = new Map<string, Entry>();
  private readonly counters = { issued: 0, redeemed: 0, refused: 0, evicted: 0 };

  constructor(
    readonly policy: AuthorizationCodePolicy = DEFAULT_AUTHORIZATION_CODE_POLICY,
    private readonly now: () => number = Date.now,
  ) {}

  /** A new code for this grant, valid once for policy.validitySeconds. */
  issue(grant: AuthorizationGrant): string {
    this.dropExpired();
    while (this.codes.size >= Math.max(1, this.policy.maxCodes)) {
      const oldest = this.codes.keys().next().value as string;
      this.codes.delete(oldest);
      this.counters.evicted++;
    }
    const code = randomBytes(CODE_BYTES).toString('base64url');
    this.codes.set(keyOf(code), { ...grant, scopes: [...grant.scopes], expiresAt: this.now() + this.policy.validitySeconds * 1000 });
    this.counters.issued++;
    return code;
  }

  /**
   * The grant of a code, if it is known, not expired and was issued for this client; undefined
   * otherwise. A code found is gone after this call whatever the outcome (UAA removes a code before
   * looking at it), so it can never be tried twice.
   */
  redeem(code: string, clientId: string): AuthorizationGrant | undefined {
    this.dropExpired();
    const key = keyOf(code);
    const entry = this.codes.get(key);
    if (entry) this.codes.delete(key);
    if (!entry || entry.expiresAt <= this.now() || entry.clientId !== clientId) {
      this.counters.refused++;
      return undefined;
    }
    this.counters.redeemed++;
    const { expiresAt: _expiresAt, ...grant } = entry;
    return grant;
  }

  stats(): AuthorizationCodeStats {
    return { ...this.counters, live: this.codes.size };
  }

  /** Drops expired codes from the oldest on (codes expire in the order they were issued). */
  private dropExpired(): void {
    const now = this.now();
    for (const [key, entry] of this.codes) {
      if (entry.expiresAt > now) break;
      this.codes.delete(key);
    }
  }
}
