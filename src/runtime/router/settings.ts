// The router's settings: the port from the component context, everything else from DEVBOX_ROUTER_*
// environment variables (so tests and operators can shorten timers without flags). docs/router.md
// lists them.
import os from 'node:os';
import { DEFAULT_REQUEST_DEADLINES, requestDeadlines } from '../common/http.js';

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
  /**
   * A request body must keep coming: no byte of it for this long, or less than requestBodyMinRate
   * bytes/s on average after this long, and the router answers 408 (or cuts the client off once the
   * response has begun). Time the router itself holds the client back does not count.
   */
  requestBodyTimeoutMs: number;
  /** Bytes per second a request body must average once requestBodyTimeoutMs has passed. */
  requestBodyMinRate: number;
  /**
   * After a start (gorouter's start_response_delay_interval): a request for a host the table does not
   * have yet waits for its registration up to this long (at most until a register interval after
   * router.start) before it is answered 404. 0: no waiting.
   */
  startResponseDelayMs: number;
  /** After router.start, the table counts as loaded once no registration has come for this long. */
  startSettleMs: number;
  /** A request head (request line + headers) larger than this gets 431. */
  maxHeaderBytes: number;
  /** Publish one RTR access-log line per request to the app's logs. */
  accessLog: boolean;
  /** HTTPS on a second port (docs/router.md, "TLS"); none: plain HTTP only. */
  tls?: RouterTlsSettings;
  /**
   * Listening sockets inherited from the supervisor, which keeps them open across restarts of the
   * router (DEVBOX_ROUTER_LISTEN_FDS `http[,tls]`): listened on instead of binding the ports.
   */
  listenFds?: { http: number; tls?: number };
  /** Send the sockets it bound itself to the supervisor (DEVBOX_ROUTER_HAND_OVER_SOCKETS, set by it). */
  handOverSockets: boolean;
}

/** The TLS listener: its port (0: any free one) and where the certificates are (tls.ts). */
export interface RouterTlsSettings {
  port: number;
  /** The state directory's `tls/` (tlsFiles in config.ts). */
  dir: string;
  /** The box's domain: names under it get a certificate at the handshake when the server one cannot cover them. */
  domain: string;
}

export const DEFAULTS: Omit<RouterSettings, 'port' | 'workers' | 'tls' | 'listenFds'> = {
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
  requestHeadTimeoutMs: DEFAULT_REQUEST_DEADLINES.headMs,
  requestBodyTimeoutMs: DEFAULT_REQUEST_DEADLINES.bodyIdleMs,
  requestBodyMinRate: DEFAULT_REQUEST_DEADLINES.bodyMinRate,
  startResponseDelayMs: 5_000,
  startSettleMs: 250,
  maxHeaderBytes: 64 * 1024,
  accessLog: true,
  handOverSockets: false,
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

/**
 * The IPC message (with the socket's handle) a router sends its supervisor for each listening socket
 * it bound itself, when DEVBOX_ROUTER_HAND_OVER_SOCKETS asks for them: `{ type, which: 'http' | 'tls' }`.
 */
export const ROUTER_SOCKET_MESSAGE = 'devbox:router-socket';

/** DEVBOX_ROUTER_LISTEN_FDS: `3` or `3,4` (the HTTP socket's fd, then the TLS socket's). */
export function listenFds(raw: string | undefined): RouterSettings['listenFds'] {
  if (raw === undefined || raw === '') return undefined;
  const fds = raw.split(',').map((part) => Number(part.trim()));
  if (fds.length > 2 || fds.some((fd) => !Number.isInteger(fd) || fd < 3)) throw new Error(`DEVBOX_ROUTER_LISTEN_FDS=${raw}: expected the HTTP socket's fd, then optionally the TLS socket's (3 or more)`);
  return fds.length === 2 ? { http: fds[0], tls: fds[1] } : { http: fds[0] };
}

/** Reads DEVBOX_ROUTER_* over the defaults. Throws on a malformed value rather than guessing. */
export function routerSettings(port: number, env: NodeJS.ProcessEnv = process.env, overrides: Partial<RouterSettings> = {}): RouterSettings {
  const scheduling = env.DEVBOX_ROUTER_SCHEDULING ?? DEFAULTS.scheduling;
  if (scheduling !== 'rr' && scheduling !== 'none') throw new Error(`DEVBOX_ROUTER_SCHEDULING=${scheduling}: expected rr or none`);
  const accessLog = env.DEVBOX_ROUTER_ACCESS_LOG;
  // The deadlines every server of the box has (DEVBOX_HTTP_*, common/http.ts), unless the router's own are given.
  const deadlines = requestDeadlines(env);
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
    requestHeadTimeoutMs: int(env, 'DEVBOX_ROUTER_REQUEST_HEAD_TIMEOUT_MS', deadlines.headMs, 1),
    requestBodyTimeoutMs: int(env, 'DEVBOX_ROUTER_REQUEST_BODY_TIMEOUT_MS', deadlines.bodyIdleMs, 1),
    requestBodyMinRate: int(env, 'DEVBOX_ROUTER_REQUEST_BODY_MIN_RATE', deadlines.bodyMinRate, 0),
    startResponseDelayMs: int(env, 'DEVBOX_ROUTER_START_RESPONSE_DELAY_MS', DEFAULTS.startResponseDelayMs, 0),
    startSettleMs: int(env, 'DEVBOX_ROUTER_START_SETTLE_MS', DEFAULTS.startSettleMs, 0),
    maxHeaderBytes: int(env, 'DEVBOX_ROUTER_MAX_HEADER_BYTES', DEFAULTS.maxHeaderBytes, 1024),
    accessLog: accessLog === undefined ? DEFAULTS.accessLog : !/^(0|false|no|off)$/i.test(accessLog),
    listenFds: listenFds(env.DEVBOX_ROUTER_LISTEN_FDS),
    handOverSockets: env.DEVBOX_ROUTER_HAND_OVER_SOCKETS === '1',
    ...overrides,
  };
}
