// The state directory ($DEVBOX_HOME) and config.json: settings chosen at the first `devbox up`.
// config.json holds secrets, so it is written with mode 0600 and never logged.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface DevboxConfig {
  version: 1;
  /** Shared and system domain: apps get `<name>.<domain>`, the API is `api.<domain>`. */
  domain: string;
  /** The router's user-facing port. */
  router_port: number;
  /**
   * The router's HTTPS port, when the user chose one (absent: DEFAULT_TLS_PORT at `up`, used only
   * when it is free; 0: no HTTPS). docs/router.md, "TLS".
   */
  router_tls_port?: number;
  bus: { token: string };
  /** Basic-auth credentials of every component's /healthz and /varz. */
  status: { user: string; password: string };
  uaa: UaaConfig;
  mysql: {
    /** Root password of the private MySQL server(s) the mysql-node runs. */
    root_password: string;
    /** Basic-auth credentials of the built-in service broker (the mysql-gateway). */
    broker: { username: string; password: string };
  };
  /** The ssh proxy (docs/ssh.md). */
  ssh: {
    /**
     * Its host key (ECDSA P-256, PEM), made once per state directory: `cf ssh` checks it against
     * the fingerprint in `GET /`, so it must not change while the box lives.
     */
    host_key_pem: string;
  };
}

export interface UaaConfig {
  /** The user the CLI logs in as after `devbox up`. */
  admin: { username: string; password: string };
  /** The CLI's OAuth client: public (empty secret) like Cloud Foundry's `cf` client. */
  cli_client: { id: string; secret: string };
  /** The components' own client (client_credentials), e.g. for the health manager to call the API. */
  components_client: { id: string; secret: string };
  /**
   * The ssh proxy's client, as CF's `ssh-proxy`: users get one-time codes for it
   * (`/oauth/authorize?response_type=code&client_id=ssh-proxy`), and the proxy redeems them
   * (authorization_code grant) with this secret.
   */
  ssh_proxy_client: { id: string; secret: string };
  access_token_validity_seconds: number;
  refresh_token_validity_seconds: number;
  /** RS256 key pair that signs tokens (PEM), generated at the first `up`. */
  signing_key: { kid: string; private_pem: string; public_pem: string };
}

export interface StatePaths {
  home: string;
  config: string;
  run: string;
  pidFile: string;
  portsFile: string;
  lockFile: string;
  db: string;
  blobs: string;
  dea: string;
  mysql: string;
  logs: string;
  /** The box's CA and the router's certificate (tlsFiles). */
  tls: string;
}

/**
 * uaa's public URL: `http://uaa.<domain>:<router port>` (the port left out when it is 80). Here, not
 * with the token code, so that the CLI loads no JWT library for it.
 */
export function uaaBaseUrl(domain: string, routerPort: number): string {
  return new URL(`http://uaa.${domain}:${routerPort}`).origin;
}

/** The `iss` claim of uaa's tokens: its token endpoint, as UAA writes it. */
export function uaaIssuer(baseUrl: string): string {
  return `${baseUrl.replace(/\/+$/, '')}/oauth/token`;
}

/**
 * The address cf can use where `*.localhost` does not resolve (Linux cf resolves with Go's own
 * resolver: /etc/hosts, then DNS): the router answers for these hosts on its port and serves the
 * API at `/`, uaa under UAA_PATH_PREFIX and log-cache at LOG_CACHE_PATH (docs/router.md, "The cf
 * address").
 */
export const ADDRESS_HOSTS = ['127.0.0.1', 'localhost'] as const;
/** uaa's routes on the cf address: cf joins its paths to the `uaa`/`login` link (`/uaa/oauth/token`). */
export const UAA_PATH_PREFIX = '/uaa';
/**
 * log-cache's routes on the cf address. cf's log-cache client (go-log-cache) sets the path of its
 * requests outright (`/api/v1/info`, `/api/v1/read/…`), dropping any path of the link: so the
 * `log_cache` link is the address itself and the router sends `/api/v1` there to the logs component.
 */
export const LOG_CACHE_PATH = '/api/v1';

/** `http://127.0.0.1:<router port>`: what `cf api` is given (status --json's `cf_api`). */
export function cfApiUrl(routerPort: number): string {
  return new URL(`http://127.0.0.1:${routerPort}`).origin;
}

/** `https://127.0.0.1:<TLS port>`: the cf address over HTTPS (status --json's `cf_api_tls`). */
export function cfApiTlsUrl(tlsPort: number): string {
  return new URL(`https://127.0.0.1:${tlsPort}`).origin;
}

const ADDRESS_HOST = /^(127\.0\.0\.1|localhost)(:\d{1,5})?$/i;

/**
 * When a request came in on the cf address (its Host is 127.0.0.1 or localhost, with a port), the
 * public URLs as seen from there; undefined for any other Host (the name-based URLs apply).
 */
export function addressUrls(host: string | undefined, forwardedProto: string | string[] | undefined): { api: string; uaa: string; logs: string } | undefined {
  if (!host || !ADDRESS_HOST.test(host)) return undefined;
  const proto = typeof forwardedProto === 'string' ? forwardedProto.split(',')[0].trim().toLowerCase() : '';
  const api = `${proto === 'https' ? 'https' : 'http'}://${host.toLowerCase()}`;
  return { api, uaa: `${api}${UAA_PATH_PREFIX}`, logs: api };
}

/**
 * The public URLs to answer a request with: on the cf address, that address (addressUrls); a request
 * that came over HTTPS (`X-Forwarded-Proto: https`, set by the router on its TLS port) to a name-based
 * host gets `urls` with https and the port it came in on (its Host's, none for 443), so that clients
 * go on talking HTTPS; any other request gets `urls` as they are.
 */
export function requestUrls<T extends Record<'api' | 'uaa' | 'logs', string>>(host: string | undefined, forwardedProto: string | string[] | undefined, urls: T): T {
  const onAddress = addressUrls(host, forwardedProto);
  if (onAddress) return { ...urls, ...onAddress };
  const proto = typeof forwardedProto === 'string' ? forwardedProto.split(',')[0].trim().toLowerCase() : '';
  if (proto !== 'https' || !host) return urls;
  const port = /:(\d{1,5})$/.exec(host)?.[1] ?? '';
  const secure = (url: string) => {
    const u = new URL(url);
    u.protocol = 'https:';
    u.port = port;
    return u.origin;
  };
  return { ...urls, api: secure(urls.api), uaa: secure(urls.uaa), logs: secure(urls.logs) };
}

/**
 * Host names under the box's domain that belong to the platform: the components' own
 * (api, uaa, logs, mysql-broker) and those Cloud Foundry uses for its system components (login,
 * log-cache, doppler, ssh…), so that an app can take none of them: neither as a route in the shared
 * domain (the controller refuses it) nor by registering it on the bus (the router refuses it).
 */
export const RESERVED_HOSTNAMES = ['api', 'uaa', 'login', 'logs', 'log-cache', 'log-stream', 'doppler', 'ssh', 'loggregator', 'mysql-broker', 'redis-broker', 'credhub', 'routing-api'] as const;

/**
 * Whether an app may not have this route host (a route's host, lower-case, without port or path):
 * a reserved name under the domain, the bare domain, or the cf address (127.0.0.1, localhost).
 */
export function isReservedRouteHost(host: string, domain: string): boolean {
  const h = host.toLowerCase();
  const d = domain.toLowerCase();
  if (h === d || (ADDRESS_HOSTS as readonly string[]).includes(h)) return true;
  if (!h.endsWith(`.${d}`)) return false;
  return (RESERVED_HOSTNAMES as readonly string[]).includes(h.slice(0, -d.length - 1));
}

export function resolveHome(env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(env.DEVBOX_HOME || path.join(os.homedir(), '.devbox'));
}

export function statePaths(home: string): StatePaths {
  const run = path.join(home, 'run');
  return {
    home,
    config: path.join(home, 'config.json'),
    run,
    pidFile: path.join(run, 'supervisor.pid'),
    portsFile: path.join(run, 'ports.json'),
    lockFile: path.join(run, 'lock'),
    db: path.join(home, 'db'),
    blobs: path.join(home, 'blobs'),
    dea: path.join(home, 'dea'),
    mysql: path.join(home, 'mysql'),
    logs: path.join(home, 'logs'),
    tls: path.join(home, 'tls'),
  };
}

/** The router's HTTPS port when the user chose none: served when free (docs/router.md, "TLS"). */
export const DEFAULT_TLS_PORT = 8443;

/** The ssh proxy's port when the user chose none (Cloud Foundry's), used when it is free (docs/ssh.md). */
export const DEFAULT_SSH_PORT = 2222;

/**
 * The certificate files of a state directory (made by the router, src/runtime/router/tls.ts): the
 * box's CA, made once (its certificate is what a user trusts), and the router's server certificate
 * signed by it. Keys are mode 0600.
 */
export function tlsFiles(paths: Pick<StatePaths, 'tls'>): { dir: string; caCert: string; caKey: string; cert: string; key: string } {
  return {
    dir: paths.tls,
    caCert: path.join(paths.tls, 'ca.pem'),
    caKey: path.join(paths.tls, 'ca-key.pem'),
    cert: path.join(paths.tls, 'server.pem'),
    key: path.join(paths.tls, 'server-key.pem'),
  };
}

/**
 * Creates the state directory layout of DESIGN.md §2 (owner-only: it holds secrets and app files).
 * A home directory made beforehand (`mkdir`, mode 0755 under the usual umask) is made owner-only too:
 * mkdir leaves an existing directory's mode alone.
 */
export function ensureStateDirs(paths: StatePaths): void {
  for (const dir of [paths.home, paths.run, paths.db, paths.blobs, paths.dea, paths.mysql, paths.logs]) {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  }
  if ((fs.statSync(paths.home).mode & 0o777) !== 0o700) fs.chmodSync(paths.home, 0o700);
}

/**
 * A random secret, base64url. Never one that starts with `-`: people pass the admin password to
 * `cf auth admin PASSWORD` and `cf login -p`, where a leading dash reads as a flag.
 */
export function secret(bytes = 24): string {
  for (;;) {
    const value = randomBytes(bytes).toString('base64url');
    if (!value.startsWith('-')) return value;
  }
}

function defaults(): DevboxConfig {
  return {
    version: 1,
    domain: 'localhost',
    router_port: 8080,
    bus: { token: secret() },
    status: { user: 'devbox', password: secret() },
    uaa: {
      admin: { username: 'admin', password: secret(12) },
      cli_client: { id: 'cf', secret: '' },
      components_client: { id: 'devbox_components', secret: secret() },
      ssh_proxy_client: { id: 'ssh-proxy', secret: secret() },
      access_token_validity_seconds: 1200,
      refresh_token_validity_seconds: 7 * 24 * 3600,
      // Filled by ensureConfig only when missing: generating a key takes a while.
      signing_key: undefined as unknown as UaaConfig['signing_key'],
    },
    mysql: {
      root_password: secret(),
      broker: { username: 'broker', password: secret() },
    },
    // Filled by ensureConfig only when missing.
    ssh: { host_key_pem: undefined as unknown as string },
  };
}

function sshHostKey(): string {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return privateKey.export({ type: 'sec1', format: 'pem' }).toString();
}

function signingKey(): UaaConfig['signing_key'] {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    kid: `key-${secret(6)}`,
    private_pem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    public_pem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

/** Writes a JSON file only the owner can read, atomically (write then rename). */
export function writeSecretJson(file: string, value: unknown): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
  fs.renameSync(tmp, file);
}

export function readJson<T>(file: string): T {
  const text = fs.readFileSync(file, 'utf8');
  try {
    return JSON.parse(text) as T;
  } catch (error) {
    throw new Error(`${file} is not valid JSON (${(error as Error).message}); fix or remove it`, { cause: error });
  }
}

/** run/ports.json: where the supervisor put the box's bus, router and status servers (the CLI reads it too). */
export interface PortsFile {
  /** The bus URL without credentials (the embedded bus's token is in config.json). */
  nats_url: string;
  /** True when `--nats-url` pointed devbox at a NATS server it does not run. */
  external_bus: boolean;
  bus_port?: number;
  router_port: number;
  /** The router's HTTPS port; absent when the box serves no HTTPS. */
  router_tls_port?: number;
  /** The ssh proxy's port (`cf ssh` dials it directly, not through the router). */
  ssh_port?: number;
  components: Record<string, { status_port: number }>;
}

export function readPorts(paths: StatePaths): PortsFile | undefined {
  return fs.existsSync(paths.portsFile) ? readJson<PortsFile>(paths.portsFile) : undefined;
}

/**
 * Loads config.json, generating it on first use. Settings added by later devbox versions are filled
 * in (and saved) without touching the ones already chosen, so existing boxes keep their secrets.
 */
export function ensureConfig(paths: StatePaths): DevboxConfig {
  const exists = fs.existsSync(paths.config);
  const current = exists ? readJson<Partial<DevboxConfig>>(paths.config) : {};
  const merged = mergeMissing(defaults(), current) as DevboxConfig;
  merged.uaa.signing_key ??= signingKey();
  merged.ssh.host_key_pem ??= sshHostKey();
  if (!exists || JSON.stringify(merged) !== JSON.stringify(current)) writeSecretJson(paths.config, merged);
  fs.chmodSync(paths.config, 0o600);
  return merged;
}

export function loadConfig(paths: StatePaths): DevboxConfig {
  if (!fs.existsSync(paths.config)) {
    throw new Error(`no devbox configuration in ${paths.home}; run 'devbox up' first (or set DEVBOX_HOME)`);
  }
  return readJson<DevboxConfig>(paths.config);
}

function mergeMissing(base: unknown, over: unknown): unknown {
  if (isPlainObject(base) && isPlainObject(over)) {
    const out: Record<string, unknown> = { ...over };
    for (const [key, value] of Object.entries(base)) out[key] = key in over ? mergeMissing(value, over[key]) : value;
    return out;
  }
  return over === undefined ? base : over;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
