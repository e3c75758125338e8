// Failed logins lock a user name out for a while, as Cloud Foundry's UAA does (its
// CommonLoginPolicy): after `lockoutAfterFailures` failed password logins in a row within
// `countFailuresWithinSeconds`, logins are refused until `lockoutPeriodSeconds` after the last of
// them. A successful login clears the count; attempts made while locked are not counted, so a
// lockout always ends, and the password is not even looked at meanwhile.
//
// Unlike UAA, unknown user names are counted and locked the same way, with the same answer: a
// lockout must not tell who exists. Their entries are bounded (the oldest go first); the box's own
// users are always kept.

export interface LockoutPolicy {
  /** Failed logins in a row that lock the user name; 0: no lockout. */
  lockoutAfterFailures: number;
  /** Only failures this recent count. */
  countFailuresWithinSeconds: number;
  /** How long after the last counted failure the lockout lasts. */
  lockoutPeriodSeconds: number;
}

/** UAA's defaults as uaa-release deploys them (uaa.authentication.policy.*). */
export const DEFAULT_LOCKOUT_POLICY: LockoutPolicy = { lockoutAfterFailures: 5, countFailuresWithinSeconds: 1200, lockoutPeriodSeconds: 300 };

/** UAA's error_description for a locked account (401, `unauthorized`). */
export const LOCKED_DESCRIPTION = 'Your account has been locked because of too many failed attempts to login.';

/** User names other than the box's own users whose failures are remembered at most. */
export const MAX_UNKNOWN_TRACKED = 10_000;

export interface LoginLockoutOptions {
  /** The user names of the box's users: never forgotten to make room. */
  users: readonly string[];
  maxUnknown?: number;
  now?: () => number;
}

export interface LockoutStats {
  /** User names locked right now. */
  locked: number;
  /** Logins refused because the user name was locked. */
  refused: number;
  /** Lockouts begun. */
  lockouts: number;
}

export class LoginLockout {
  /** User name → times of its failed logins in a row (the most recent last, at most lockoutAfterFailures). */
  private readonly failures = new Map<string, number[]>();
  private readonly users: Set<string>;
  private unknown = 0;
  private refused = 0;
  private lockouts = 0;
  private readonly now: () => number;
  private readonly maxUnknown: number;

  constructor(
    readonly policy: LockoutPolicy,
    options: LoginLockoutOptions,
  ) {
    this.users = new Set(options.users);
    this.now = options.now ?? Date.now;
    this.maxUnknown = options.maxUnknown ?? MAX_UNKNOWN_TRACKED;
  }

  get enabled(): boolean {
    return this.policy.lockoutAfterFailures > 0;
  }

  /**
   * Whether logins for `username` are refused now; counts the refusal. Checked before the password,
   * which is then not looked at (as UAA does).
   */
  isLocked(username: string): boolean {
    if (!this.enabled) return false;
    const times = this.recent(username);
    if (!times || times.length < this.policy.lockoutAfterFailures) return false;
    if (this.now() - times[times.length - 1] >= this.policy.lockoutPeriodSeconds * 1000) return false;
    this.refused++;
    return true;
  }

  /** A wrong password (or an unknown user name). Returns true when this failure locked the name. */
  failed(username: string): boolean {
    if (!this.enabled) return false;
    const now = this.now();
    let times = this.recent(username);
    if (!times) {
      if (!this.users.has(username)) {
        if (this.unknown >= this.maxUnknown) this.forgetOldestUnknown();
        this.unknown++;
      }
      times = [];
      this.failures.set(username, times);
    }
    times.push(now);
    if (times.length > this.policy.lockoutAfterFailures) times.shift();
    const locked = times.length === this.policy.lockoutAfterFailures;
    if (locked) this.lockouts++;
    return locked;
  }

  /** A successful login: its failures no longer count. */
  succeeded(username: string): void {
    this.forget(username);
  }

  stats(): LockoutStats {
    let locked = 0;
    const now = this.now();
    const since = now - this.policy.countFailuresWithinSeconds * 1000;
    for (const times of this.failures.values()) {
      const n = this.policy.lockoutAfterFailures;
      if (times.length >= n && times[times.length - n] > since && now - times[times.length - 1] < this.policy.lockoutPeriodSeconds * 1000) locked++;
    }
    return { locked, refused: this.refused, lockouts: this.lockouts };
  }

  /** The failures of `username` that still count (older ones are dropped), or undefined. */
  private recent(username: string): number[] | undefined {
    const times = this.failures.get(username);
    if (!times) return undefined;
    const since = this.now() - this.policy.countFailuresWithinSeconds * 1000;
    // As UAA counts them: a lockout also ends once its failures are older than the window.
    while (times.length > 0 && times[0] <= since) times.shift();
    if (times.length === 0) {
      this.forget(username);
      return undefined;
    }
    return times;
  }

  private forget(username: string): void {
    if (this.failures.delete(username) && !this.users.has(username)) this.unknown--;
  }

  /** Makes room: the unknown name tracked longest goes (a Map keeps insertion order). */
  private forgetOldestUnknown(): void {
    for (const name of this.failures.keys()) {
      if (this.users.has(name)) continue;
      this.forget(name);
      return;
    }
  }
}
