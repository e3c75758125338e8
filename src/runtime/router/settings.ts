// The router's settings: the port from the component context, everything else from DEVBOX_ROUTER_*
// environment variables (so tests and operators can shorten timers without flags). docs/router.md
// lists them.
import os from 'node:os';

export interface RouterSettings {
  /** Address to listen on: loopback unless asked otherwise (DESIGN.md §3). */
  host: string;
  port: number;
  /** Router processes sharing the listening socket (1: everything in the component process). */
  workers: number;
  /** 'rr': the primary accepts and hands connections out; 'none': the kernel distributes. */
  scheduling: 'rr' | 'none';
  /** How often stale endpoints are looked for. */
  pruneIntervalMs: number;
  /** Endpoints not refreshed for this long are dropped (unless their registration says less). */
  pruneThresholdMs: number;
  /** Announced in router.start: how often registrants must refresh. */
  registerIntervalSeconds: number;
  /** No byte from a backend for this long: 504 before the response started, abort after. */
  backendTimeoutMs: number;
  /** Connecting to a backend that takes longer than this counts as a connection failure. */
  connectTimeoutMs: number;
  /** An endpoint that failed is skipped by round-robin for this long. */
  failedEndpointTtlMs: number;
  /** Idle keep-alive connections to backends are closed after this (or the backend's hint). */
  backendIdleTimeoutMs: number;
  /** Idle keep-alive connections kept per backend endpoint. */
  maxIdlePerBackend: number;
  /** Idle client connections are closed after this. */
  clientIdleTimeoutMs: number;
  /** A request head that has begun arriving must be complete within this, else 408 and close. */
  requestHeadTimeoutMs: number;
  /** A request head (request line + headers) larger than this gets 431. */
  maxHeaderBytes: number;
  /** Publish one RTR access-log line per request to the app's logs. */
  accessLog: boolean;
  /** HTTPS on a second port (docs/router.md, "TLS"); none: plain HTTP only. */
  tls?: RouterTlsSettings;
}

/** The TLS listener: its port (0: any free one) and where the certificates are (tls.ts). */
export interface RouterTlsSettings {
  port: number;
  /** The state directory's `tls/` (tlsFiles in config.ts). */
  dir: string;
  /** The box's domain: names under it get a certificate at the handshake when the server one cannot cover them. */
  domain: string;
}

export const DEFAULTS: Omit<RouterSettings, 'port' | 'workers' | 'tls'> = {
  host: '127.0.0.1',
  // Measured (bench/router-workers.ts, docs/router.md): a little ahead of 'rr' in every run.
  scheduling: 'none',
  pruneIntervalMs: 30_000,
  pruneThresholdMs: 120_000,
  registerIntervalSeconds: 20,
  backendTimeoutMs: 900_000,
  connectTimeoutMs: 5_000,
  failedEndpointTtlMs: 30_000,
  backendIdleTimeoutMs: 30_000,
  maxIdlePerBackend: 256,
  clientIdleTimeoutMs: 900_000,
  requestHeadTimeoutMs: 30_000,
  maxHeaderBytes: 64 * 1024,
  accessLog: true,
};

/** Two router processes when the machine has at least two cores (see docs/router.md for why). */
export function defaultWorkers(): number {
  return Math.min(2, Math.max(1, os.availableParallelism()));
}

function int(env: NodeJS.ProcessEnv, name: string, fallback: number, min = 0): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min) throw new Error(`${name}=${raw} is not a number ≥ ${min}`);
  return Math.floor(value);
}

/** The address the router listens on: DEVBOX_ROUTER_HOST, else DEVBOX_HOST (`devbox component router --host`), else loopback. */
export function routerHost(env: NodeJS.ProcessEnv = process.env): string {
  return env.DEVBOX_ROUTER_HOST || env.DEVBOX_HOST || DEFAULTS.host;
}

/** Reads DEVBOX_ROUTER_* over the defaults. Throws on a malformed value rather than guessing. */
export function routerSettings(port: number, env: NodeJS.ProcessEnv = process.env, overrides: Partial<RouterSettings> = {}): RouterSettings {
  const scheduling = env.DEVBOX_ROUTER_SCHEDULING ?? DEFAULTS.scheduling;
  if (scheduling !== 'rr' && scheduling !== 'none') throw new Error(`DEVBOX_ROUTER_SCHEDULING=${scheduling}: expected rr or none`);
  const accessLog = env.DEVBOX_ROUTER_ACCESS_LOG;
  return {
    host: routerHost(env),
    port,
    workers: int(env, 'DEVBOX_ROUTER_WORKERS', defaultWorkers(), 1),
    scheduling,
    pruneIntervalMs: int(env, 'DEVBOX_ROUTER_PRUNE_INTERVAL_MS', DEFAULTS.pruneIntervalMs, 1),
    pruneThresholdMs: int(env, 'DEVBOX_ROUTER_PRUNE_THRESHOLD_MS', DEFAULTS.pruneThresholdMs, 1),
    registerIntervalSeconds: int(env, 'DEVBOX_ROUTER_REGISTER_INTERVAL_S', DEFAULTS.registerIntervalSeconds, 1),
    backendTimeoutMs: int(env, 'DEVBOX_ROUTER_BACKEND_TIMEOUT_MS', DEFAULTS.backendTimeoutMs, 1),
    connectTimeoutMs: int(env, 'DEVBOX_ROUTER_CONNECT_TIMEOUT_MS', DEFAULTS.connectTimeoutMs, 1),
    failedEndpointTtlMs: int(env, 'DEVBOX_ROUTER_FAILED_ENDPOINT_TTL_MS', DEFAULTS.failedEndpointTtlMs, 0),
    backendIdleTimeoutMs: int(env, 'DEVBOX_ROUTER_BACKEND_IDLE_TIMEOUT_MS', DEFAULTS.backendIdleTimeoutMs, 1),
    maxIdlePerBackend: int(env, 'DEVBOX_ROUTER_MAX_IDLE_PER_BACKEND', DEFAULTS.maxIdlePerBackend, 0),
    clientIdleTimeoutMs: int(env, 'DEVBOX_ROUTER_CLIENT_IDLE_TIMEOUT_MS', DEFAULTS.clientIdleTimeoutMs, 1),
    requestHeadTimeoutMs: int(env, 'DEVBOX_ROUTER_REQUEST_HEAD_TIMEOUT_MS', DEFAULTS.requestHeadTimeoutMs, 1),
    maxHeaderBytes: int(env, 'DEVBOX_ROUTER_MAX_HEADER_BYTES', DEFAULTS.maxHeaderBytes, 1024),
    accessLog: accessLog === undefined ? DEFAULTS.accessLog : !/^(0|false|no|off)$/i.test(accessLog),
    ...overrides,
  };
}
