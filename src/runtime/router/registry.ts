// The route table (gorouter's registry). Routes are `host[/path]`; a route holds a pool of endpoints
// (backend host:port with the app and instance behind it). Lookup hashes the host (so its cost does
// not grow with the number of routes), then walks the host's few path routes longest first.
import type { RouterRegisterMessage } from '../common/bus-messages.js';

export interface Endpoint {
  /** `host:port`: an endpoint's identity within a pool. */
  readonly key: string;
  readonly host: string;
  readonly port: number;
  app: string;
  privateInstanceId: string;
  index: string;
  tags: Record<string, string>;
  /** Dropped when not refreshed for this long. */
  staleThresholdMs: number;
  updatedAt: number;
  /** When a request to it last failed (0: never); round-robin skips it for a while. */
  failedAt: number;
}

/** Lower-cases a host and strips its port and a trailing dot (`App.Localhost:8080.` → `app.localhost`). */
export function normalizeHost(raw: string): string {
  let host = raw;
  if (host.charCodeAt(0) === 91 /* [ */) {
    const close = host.indexOf(']');
    host = close === -1 ? host : host.slice(0, close + 1);
  } else {
    const colon = host.indexOf(':');
    if (colon !== -1) host = host.slice(0, colon);
  }
  if (host.charCodeAt(host.length - 1) === 46 /* . */) host = host.slice(0, -1);
  return host.toLowerCase();
}

/** Normalises a route path: lower-case, no query, no trailing slash; '' for the host itself. */
export function normalizePath(raw: string): string {
  let path = raw;
  const q = path.search(/[?#]/);
  if (q !== -1) path = path.slice(0, q);
  while (path.length > 0 && path.charCodeAt(path.length - 1) === 47 /* / */) path = path.slice(0, -1);
  if (path !== '' && path.charCodeAt(0) !== 47) path = `/${path}`;
  return path.toLowerCase();
}

/** `app.localhost/api/` → { host: 'app.localhost', path: '/api' }. */
export function parseRouteUri(uri: string): { host: string; path: string } {
  let rest = uri.trim();
  const scheme = rest.indexOf('://');
  if (scheme !== -1) rest = rest.slice(scheme + 3);
  const slash = rest.indexOf('/');
  const host = normalizeHost(slash === -1 ? rest : rest.slice(0, slash));
  const path = slash === -1 ? '' : normalizePath(rest.slice(slash));
  return { host, path };
}

/** The endpoints behind one route, handed out round-robin from a random start. */
export class Pool {
  readonly endpoints: Endpoint[] = [];
  private readonly byKey = new Map<string, Endpoint>();
  private next = Math.floor(Math.random() * 0x7fffffff);

  constructor(readonly host: string, readonly path: string) {}

  get size(): number {
    return this.endpoints.length;
  }

  get(key: string): Endpoint | undefined {
    return this.byKey.get(key);
  }

  /** Adds an endpoint or refreshes the one at the same host:port. Returns true when it is new. */
  put(fields: Omit<Endpoint, 'key' | 'failedAt'>): boolean {
    const key = `${fields.host}:${fields.port}`;
    const existing = this.byKey.get(key);
    if (existing) {
      existing.app = fields.app;
      existing.privateInstanceId = fields.privateInstanceId;
      existing.index = fields.index;
      existing.tags = fields.tags;
      existing.staleThresholdMs = fields.staleThresholdMs;
      existing.updatedAt = Math.max(existing.updatedAt, fields.updatedAt);
      return false;
    }
    const endpoint: Endpoint = { key, failedAt: 0, ...fields };
    this.byKey.set(key, endpoint);
    this.endpoints.push(endpoint);
    return true;
  }

  remove(key: string): boolean {
    const endpoint = this.byKey.get(key);
    if (!endpoint) return false;
    this.byKey.delete(key);
    this.endpoints.splice(this.endpoints.indexOf(endpoint), 1);
    return true;
  }

  /** The endpoint serving `privateInstanceId` (sticky sessions), if it is still registered. */
  findInstance(privateInstanceId: string): Endpoint | undefined {
    for (const e of this.endpoints) if (e.privateInstanceId === privateInstanceId) return e;
    return undefined;
  }

  /**
   * The next endpoint round-robin, skipping endpoints that failed within `failedTtlMs` and those in
   * `exclude` (already tried for this request). When every candidate is marked failed, the marks are
   * reset and round-robin goes on as if none had failed (gorouter's behaviour).
   */
  choose(now: number, failedTtlMs: number, exclude?: ReadonlySet<Endpoint>): Endpoint | undefined {
    const list = this.endpoints;
    const n = list.length;
    if (n === 0) return undefined;
    if (n === 1 && !exclude) {
      const only = list[0];
      if (only.failedAt !== 0 && now - only.failedAt >= failedTtlMs) only.failedAt = 0;
      return only;
    }
    const start = this.next % n;
    let fallback: Endpoint | undefined;
    for (let i = 0; i < n; i++) {
      const e = list[(start + i) % n];
      if (exclude?.has(e)) continue;
      if (e.failedAt !== 0 && now - e.failedAt < failedTtlMs) {
        fallback ??= e;
        continue;
      }
      e.failedAt = 0;
      this.next = (start + i + 1) % 0x7fffffff;
      return e;
    }
    if (!fallback) return undefined;
    // Every remaining endpoint failed recently: forget the marks and start over.
    for (const e of list) if (!exclude?.has(e)) e.failedAt = 0;
    this.next = (list.indexOf(fallback) + 1) % 0x7fffffff;
    return fallback;
  }
}

/** The routes of one host: the host itself and its path routes, longest path first. */
class HostRoutes {
  root?: Pool;
  paths: Pool[] = [];

  match(path: string): Pool | undefined {
    const paths = this.paths;
    if (paths.length > 0) {
      const lower = path.toLowerCase();
      for (const pool of paths) {
        const p = pool.path;
        if (lower.startsWith(p)) {
          const after = lower.charCodeAt(p.length);
          // The route `/api` matches `/api`, `/api/x`, `/api?q`, not `/apix`.
          if (Number.isNaN(after) || after === 47 /* / */ || after === 63 /* ? */ || after === 35 /* # */) return pool;
        }
      }
    }
    return this.root;
  }

  get(path: string): Pool | undefined {
    return path === '' ? this.root : this.paths.find((p) => p.path === path);
  }

  add(pool: Pool): void {
    if (pool.path === '') this.root = pool;
    else {
      this.paths.push(pool);
      this.paths.sort((a, b) => b.path.length - a.path.length);
    }
  }

  delete(pool: Pool): void {
    if (pool.path === '') this.root = undefined;
    else this.paths = this.paths.filter((p) => p !== pool);
  }

  get empty(): boolean {
    return !this.root && this.paths.length === 0;
  }
}

export interface RegistryOptions {
  /** Default stale threshold for registrations that do not carry one. */
  pruneThresholdMs: number;
}

/** One route of the table, as /varz or a snapshot lists it. */
export interface RouteEntry {
  uri: string;
  endpoints: Endpoint[];
}

export class RouteRegistry {
  private readonly hosts = new Map<string, HostRoutes>();
  private wildcards = 0;
  private routes = 0;
  private endpoints = 0;
  private pruningSuspendedAt = 0;

  constructor(private readonly options: RegistryOptions) {}

  get routeCount(): number {
    return this.routes;
  }

  get endpointCount(): number {
    return this.endpoints;
  }

  register(msg: RouterRegisterMessage, now = Date.now()): void {
    const threshold = msg.stale_threshold_in_seconds && msg.stale_threshold_in_seconds > 0 ? msg.stale_threshold_in_seconds * 1000 : this.options.pruneThresholdMs;
    const index = msg.index ?? msg.private_instance_index;
    const fields = {
      host: msg.host,
      port: msg.port,
      app: msg.app ?? '',
      privateInstanceId: msg.private_instance_id ?? '',
      index: index === undefined || index === null ? '' : String(index),
      tags: msg.tags ?? {},
      staleThresholdMs: threshold,
      updatedAt: now,
    };
    for (const uri of msg.uris) {
      const { host, path } = parseRouteUri(uri);
      if (host === '') continue;
      let routes = this.hosts.get(host);
      if (!routes) {
        routes = new HostRoutes();
        this.hosts.set(host, routes);
        if (host.startsWith('*.')) this.wildcards++;
      }
      let pool = routes.get(path);
      if (!pool) {
        pool = new Pool(host, path);
        routes.add(pool);
        this.routes++;
      }
      // Each route has its own endpoint record (own failure mark and refresh time), as in gorouter.
      if (pool.put({ ...fields })) this.endpoints++;
    }
  }

  unregister(msg: Pick<RouterRegisterMessage, 'host' | 'port' | 'uris'>): void {
    const key = `${msg.host}:${msg.port}`;
    for (const uri of msg.uris) {
      const { host, path } = parseRouteUri(uri);
      const routes = this.hosts.get(host);
      const pool = routes?.get(path);
      if (!routes || !pool) continue;
      if (pool.remove(key)) this.endpoints--;
      if (pool.size === 0) this.dropPool(host, routes, pool);
    }
  }

  private dropPool(host: string, routes: HostRoutes, pool: Pool): void {
    routes.delete(pool);
    this.routes--;
    if (routes.empty) {
      this.hosts.delete(host);
      if (host.startsWith('*.')) this.wildcards--;
    }
  }

  /**
   * The pool for a request: exact host (already normalised by normalizeHost), longest matching
   * path; then wildcard routes (`*.example.com`) from the most specific parent domain up.
   */
  lookup(host: string, path: string): Pool | undefined {
    const routes = this.hosts.get(host);
    if (routes) {
      const pool = routes.match(path);
      if (pool) return pool;
    }
    if (this.wildcards === 0) return undefined;
    let dot = host.indexOf('.');
    while (dot !== -1) {
      const wildcard = this.hosts.get(`*${host.slice(dot)}`);
      const pool = wildcard?.match(path);
      if (pool) return pool;
      dot = host.indexOf('.', dot + 1);
    }
    return undefined;
  }

  /** Whether any route (on any path, or a wildcard) covers `host` (normalised). */
  knows(host: string): boolean {
    return this.hosts.has(host) || (this.wildcards > 0 && this.lookup(host, '/') !== undefined);
  }

  /** Drops endpoints not refreshed within their threshold. Returns how many went. */
  prune(now = Date.now()): number {
    if (this.pruningSuspendedAt !== 0) return 0;
    let removed = 0;
    for (const [host, routes] of this.hosts) {
      for (const pool of [...(routes.root ? [routes.root] : []), ...routes.paths]) {
        for (const e of [...pool.endpoints]) {
          if (now - e.updatedAt > e.staleThresholdMs) {
            pool.remove(e.key);
            this.endpoints--;
            removed++;
          }
        }
        if (pool.size === 0) this.dropPool(host, routes, pool);
      }
    }
    return removed;
  }

  /**
   * While the bus is down nobody can refresh a route, so nothing is pruned; on resume, every
   * endpoint's age is moved forward by the time pruning was suspended.
   */
  suspendPruning(now = Date.now()): void {
    if (this.pruningSuspendedAt === 0) this.pruningSuspendedAt = now;
  }

  resumePruning(now = Date.now()): void {
    if (this.pruningSuspendedAt === 0) return;
    const paused = now - this.pruningSuspendedAt;
    this.pruningSuspendedAt = 0;
    for (const routes of this.hosts.values()) {
      for (const pool of [...(routes.root ? [routes.root] : []), ...routes.paths]) for (const e of pool.endpoints) e.updatedAt += paused;
    }
  }

  get pruningSuspended(): boolean {
    return this.pruningSuspendedAt !== 0;
  }

  /** Every route with its endpoints (for tests, /varz and handing the table to a new worker). */
  entries(): RouteEntry[] {
    const out: RouteEntry[] = [];
    for (const [host, routes] of this.hosts) {
      for (const pool of [...(routes.root ? [routes.root] : []), ...routes.paths]) out.push({ uri: host + pool.path, endpoints: [...pool.endpoints] });
    }
    return out;
  }

  /** The table as register messages with their refresh times, to rebuild it elsewhere. */
  snapshot(): { msg: RouterRegisterMessage; at: number }[] {
    const out: { msg: RouterRegisterMessage; at: number }[] = [];
    for (const { uri, endpoints } of this.entries()) {
      for (const e of endpoints) {
        out.push({
          at: e.updatedAt,
          msg: {
            host: e.host,
            port: e.port,
            uris: [uri],
            app: e.app || undefined,
            private_instance_id: e.privateInstanceId || undefined,
            index: e.index || undefined,
            tags: e.tags,
            stale_threshold_in_seconds: e.staleThresholdMs / 1000,
          },
        });
      }
    }
    return out;
  }
}
