// The CLI's login state: which API it talks to, its tokens, the user and the targeted org/space, in
// $DEVBOX_HOME/cli.json (mode 0600: it holds tokens).
//
// After `devbox up` nobody has to log in: when there is no cli.json yet, or it was made for another
// box (config.json's signing key changed: the box was destroyed and made anew), the first API command
// logs in as the admin from config.json and targets devbox/dev. `logout` drops the tokens and leaves
// cli.json in place, so nothing logs in silently again until `devbox login`.
import fs from 'node:fs';
import path from 'node:path';
import { uaaBaseUrl, writeSecretJson } from '../runtime/common/config.js';
import { CliError } from './base-command.js';
import { request } from '../runtime/common/http.js';
import { LocalBox } from './box.js';
import { AuthRefused, passwordGrant, refreshGrant, type TokenSet, type UaaClientId } from './uaa-client.js';

export const NOT_LOGGED_IN = "Not logged in. Use 'devbox login' to log in.";

export interface Named {
  guid: string;
  name: string;
}

export interface SessionState {
  version: 1;
  /** The local box this session belongs to (its token signing key id); absent for an API given with `login -a`. */
  box?: string;
  api: string;
  uaa: string;
  client: UaaClientId;
  user?: string;
  access_token?: string;
  refresh_token?: string;
  /** When the access token expires (ms since the epoch) and how long it was issued for (ms). */
  expires_at?: number;
  lifetime_ms?: number;
  /** Set by `logout` and by a refused refresh: no silent login until `devbox login`. */
  logged_out?: boolean;
  org?: Named;
  space?: Named;
}

/** The running local box as the CLI reaches it: through the router, with the admin from config.json. */
export interface LocalEndpoints {
  box: string;
  api: string;
  uaa: string;
  client: UaaClientId;
  admin: { username: string; password: string };
}

export function apiBaseUrl(domain: string, routerPort: number): string {
  return new URL(`http://api.${domain}:${routerPort}`).origin;
}

/** The local box's endpoints; a CliError saying how to start it when it does not run. */
export function localEndpoints(home: string): LocalEndpoints {
  const { ports, config } = new LocalBox(home).requireRunning();
  return {
    box: config.uaa.signing_key.kid,
    api: apiBaseUrl(config.domain, ports.router_port),
    uaa: uaaBaseUrl(config.domain, ports.router_port),
    client: { id: config.uaa.cli_client.id, secret: config.uaa.cli_client.secret ?? '' },
    admin: { ...config.uaa.admin },
  };
}

/** `api.example.com:8080` → `http://api.example.com:8080` (the CLI speaks plain HTTP, as devbox serves it). */
export function normalizeApiUrl(text: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new CliError(`Incorrect Usage: '${text}' is not an API URL (e.g. http://api.localhost:8080).`, 2);
  }
  if (url.protocol !== 'http:') throw new CliError(`devbox's CLI speaks plain HTTP only; ${text} is ${url.protocol.replace(':', '')}.`, 2);
  return url.origin;
}

/**
 * Where `login` logs in: the local box (no -a, or -a naming its API), or another devbox's API given
 * with -a, whose uaa is read from the API's root document as the cf CLI does.
 */
export async function loginEndpoint(home: string, apiFlag?: string): Promise<Omit<LoginOptions, 'username' | 'password'>> {
  let local: LocalEndpoints | undefined;
  let notRunning: unknown;
  try {
    local = localEndpoints(home);
  } catch (error) {
    notRunning = error;
  }
  const saved = readSession(home);
  const api = apiFlag !== undefined ? normalizeApiUrl(apiFlag) : local?.api ?? (saved && !saved.box ? saved.api : undefined);
  if (!api) throw notRunning;
  if (local && api === local.api) return { api, uaa: local.uaa, client: local.client, box: local.box };
  const res = await request({ url: `${api}/`, headers: { accept: 'application/json' } });
  let uaa: string | undefined;
  try {
    const links = (JSON.parse(res.text) as { links?: Record<string, { href?: string } | null> }).links;
    uaa = links?.uaa?.href ?? links?.login?.href;
  } catch {
    // not a Cloud Foundry API: said below
  }
  if (res.status !== 200 || !uaa) throw new CliError(`${api} does not look like a Cloud Foundry API (GET / answered HTTP ${res.status} without a uaa link). Check the URL given with -a.`);
  return { api, uaa, client: { id: 'cf', secret: '' } };
}

export function sessionFile(home: string): string {
  return path.join(home, 'cli.json');
}

export function readSession(home: string): SessionState | undefined {
  const file = sessionFile(home);
  if (!fs.existsSync(file)) return undefined;
  try {
    const state = JSON.parse(fs.readFileSync(file, 'utf8')) as SessionState;
    return state.version === 1 && typeof state.api === 'string' ? state : undefined;
  } catch {
    return undefined; // unreadable: treated as absent (the next login rewrites it)
  }
}

export interface LoginOptions {
  api: string;
  uaa: string;
  client: UaaClientId;
  box?: string;
  username: string;
  password: string;
}

export class Session {
  private constructor(
    readonly home: string,
    private state: SessionState,
  ) {}

  /**
   * The session API commands run in: logged in (lazily as the admin of the local box on first use),
   * or a CliError saying how to log in. `fresh` says a new session was made (the caller targets
   * devbox/dev then).
   */
  static async resume(home: string): Promise<{ session: Session; fresh: boolean }> {
    const saved = readSession(home);
    if (saved && !saved.box) return { session: new Session(home, saved).requireTokens(), fresh: false };
    const local = localEndpoints(home);
    if (!saved || saved.box !== local.box) return { session: await Session.loginAsAdmin(home, local), fresh: true };
    const session = new Session(home, saved);
    if (saved.api !== local.api || saved.uaa !== local.uaa) {
      // The same box on another router port: tokens carry the old address as their issuer.
      if (!saved.logged_out && saved.user === local.admin.username) {
        const again = await Session.loginAsAdmin(home, local);
        again.setTarget(saved.org, saved.space);
        return { session: again, fresh: false };
      }
      session.state = { ...session.withoutTokens(), api: local.api, uaa: local.uaa };
      session.save();
    }
    return { session: session.requireTokens(), fresh: false };
  }

  /** The lazy login: the local box's admin, with the credentials from config.json. */
  private static async loginAsAdmin(home: string, local: LocalEndpoints): Promise<Session> {
    try {
      return await Session.login(home, { ...local, username: local.admin.username, password: local.admin.password });
    } catch (error) {
      if (!(error instanceof AuthRefused)) throw error;
      throw new CliError(`Could not log in as the box's admin '${local.admin.username}' (uaa said: ${error.message}); config.json's uaa.admin may have changed since the box started. Restart it ('devbox down', 'devbox up') or use 'devbox login'.`);
    }
  }

  /** Password grant; keeps the previous target when it was for the same API. Throws AuthRefused on bad credentials. */
  static async login(home: string, options: LoginOptions): Promise<Session> {
    const tokens = await passwordGrant(options.uaa, options.username, options.password, options.client);
    const previous = readSession(home);
    const sameApi = previous && previous.api === options.api && previous.box === options.box;
    const session = new Session(home, {
      version: 1,
      ...(options.box ? { box: options.box } : {}),
      api: options.api,
      uaa: options.uaa,
      client: options.client,
      user: options.username,
      ...(sameApi ? { org: previous.org, space: previous.space } : {}),
    });
    session.useTokens(tokens);
    return session;
  }

  /** Forgets the tokens (and remembers that: no silent login until `devbox login`). Returns who was logged in. */
  static logout(home: string): string | undefined {
    const saved = readSession(home);
    let local: LocalEndpoints | undefined;
    try {
      local = localEndpoints(home);
    } catch {
      // not running: only the saved session can be logged out
    }
    if (!saved || (saved.box && local && saved.box !== local.box)) {
      // Nobody logged in to this box yet, but `logout` must still stop the lazy admin login.
      if (local) new Session(home, { version: 1, box: local.box, api: local.api, uaa: local.uaa, client: local.client, logged_out: true }).save();
      return undefined;
    }
    const session = new Session(home, saved);
    session.state = session.withoutTokens();
    session.save();
    return saved.access_token ? saved.user : undefined;
  }

  get api(): string {
    return this.state.api;
  }

  get uaa(): string {
    return this.state.uaa;
  }

  get user(): string {
    return this.state.user ?? '';
  }

  get org(): Named | undefined {
    return this.state.org;
  }

  get space(): Named | undefined {
    return this.state.space;
  }

  get isLocal(): boolean {
    return !!this.state.box;
  }

  /** A valid access token, refreshed first when it has expired or is about to. */
  async accessToken(): Promise<string> {
    const { access_token, expires_at = 0, lifetime_ms = 0 } = this.state;
    if (!access_token) throw new CliError(NOT_LOGGED_IN);
    // Refresh ahead by a tenth of the token's life (at most 30 s), so a request does not race the expiry.
    const margin = Math.min(30_000, lifetime_ms / 10);
    if (Date.now() + margin >= expires_at) return this.refresh();
    return access_token;
  }

  /** Uses the refresh token once; when uaa refuses it, the session is logged out (NOT_LOGGED_IN). */
  async refresh(): Promise<string> {
    const refreshToken = this.state.refresh_token;
    if (!refreshToken) throw new CliError(NOT_LOGGED_IN);
    let tokens: TokenSet;
    try {
      tokens = await refreshGrant(this.state.uaa, refreshToken, this.state.client);
    } catch (error) {
      // Only uaa's refusal logs out; an unreachable or failing uaa is reported as it is.
      if (!(error instanceof AuthRefused) || error.status >= 500) throw error;
      this.state = this.withoutTokens();
      this.save();
      throw new CliError(`${NOT_LOGGED_IN} (uaa refused the saved session: ${error.message})`);
    }
    this.useTokens(tokens);
    return tokens.access_token;
  }

  setTarget(org: Named | undefined, space: Named | undefined): void {
    this.state = { ...this.state, org, space };
    this.save();
  }

  private useTokens(tokens: TokenSet): void {
    const lifetime = Math.max(0, tokens.expires_in) * 1000;
    this.state = {
      ...this.state,
      access_token: tokens.access_token,
      refresh_token: tokens.refresh_token || this.state.refresh_token,
      expires_at: Date.now() + lifetime,
      lifetime_ms: lifetime,
      logged_out: undefined,
    };
    this.save();
  }

  private withoutTokens(): SessionState {
    const { access_token: _a, refresh_token: _r, expires_at: _e, lifetime_ms: _l, ...rest } = this.state;
    return { ...rest, logged_out: true };
  }

  private requireTokens(): this {
    if (!this.state.access_token) throw new CliError(NOT_LOGGED_IN);
    return this;
  }

  private save(): void {
    fs.mkdirSync(this.home, { recursive: true, mode: 0o700 });
    writeSecretJson(sessionFile(this.home), this.state);
  }
}
