// The logs component's settings: bounds and timers from DEVBOX_LOGS_* environment variables (so that
// tests and operators can change them without flags), where it finds the controller, and where it
// keeps the app logs on disk. docs/logs.md lists them.
import fs from 'node:fs';
import path from 'node:path';
import { uaaBaseUrl, type DevboxConfig, type StatePaths } from '../common/config.js';
import { parseIpRanges, type IpRange } from './drain-guard.js';

export interface LogsSettings {
  /** Its own HTTP port (DEVBOX_LOGS_PORT; 0: any free port), on 127.0.0.1; the router reaches it. */
  port: number;
  /** Lines kept per app (DEVBOX_LOGS_RING, default 1,000). */
  ringLines: number;
  /** Bytes of messages kept per app in memory (DEVBOX_LOGS_RING_BYTES, default 4 MiB): long lines cannot grow a ring without bound. */
  ringBytes: number;
  /** An app's log file is rotated when it would pass this size (DEVBOX_LOGS_FILE_BYTES, default 1 MiB); one old file is kept. */
  fileBytes: number;
  /** Lines wait at most this long before they are appended to disk (DEVBOX_LOGS_FLUSH_MS, default 50). */
  flushMs: number;
  /** Files of apps that logged nothing for this many days are removed at start (DEVBOX_LOGS_RETENTION_DAYS, default 30; 0: never). */
  retentionDays: number;
  /** WebSocket ping interval (DEVBOX_LOGS_PING_MS, default 30 s); a client silent for a whole interval is dropped. */
  pingMs: number;
  /** A stream client with more than this many bytes not yet sent is dropped (DEVBOX_LOGS_MAX_BUFFERED_BYTES, default 1 MiB). */
  maxBufferedBytes: number;
  /** How long "this token may see this app" is remembered (DEVBOX_LOGS_AUTH_CACHE_MS, default 10 s). */
  authCacheMs: number;
  /** The controller, asked whether a token may see an app (DEVBOX_LOGS_API_URL; default http://api.<domain>:<router port>). */
  apiUrl: string;
  /** Where app logs are kept: $DEVBOX_HOME/logs/apps. */
  dir: string;
  /** `logs.<domain>`: the route registered with the router. */
  host: string;
  drains: DrainSettings;
}

/** Syslog drains (docs/logs.md, "Syslog drains"). */
export interface DrainSettings {
  /** How often the controller is asked for the drains (DEVBOX_LOGS_DRAIN_POLL_MS, default 5 s; 0: no drains at all). */
  pollMs: number;
  /** Messages queued per drain at most (DEVBOX_LOGS_DRAIN_QUEUE, default 10,000: Loggregator's diode); the oldest go first. */
  queueLines: number;
  /** Bytes queued per drain at most (DEVBOX_LOGS_DRAIN_QUEUE_BYTES, default 4 MiB). */
  queueBytes: number;
  /** Drains used per app (DEVBOX_LOGS_DRAINS_PER_APP, default 5: Loggregator's BINDING_PER_APP_LIMIT). */
  perApp: number;
  /** Do not verify TLS drains' certificates (DEVBOX_LOGS_DRAIN_SKIP_CERT_VERIFY=true; Loggregator's DRAIN_SKIP_CERT_VERIFY). */
  skipCertVerify: boolean;
  /** More CAs trusted for TLS drains, besides Node's (DEVBOX_LOGS_DRAIN_CA_FILE, PEM; Loggregator's DRAIN_TRUSTED_CA_FILE). */
  caPems: string[];
  /** Addresses drains may not reach (DEVBOX_LOGS_DRAIN_BLOCKED_RANGES, `A-B,C-D`; Loggregator's BLACKLISTED_SYSLOG_RANGES). */
  blockedRanges: IpRange[];
  /** uaa, for the components token that reads the drains (DEVBOX_LOGS_UAA_URL; default http://uaa.<domain>:<router port>). */
  uaaUrl: string;
}

function int(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name} must be a whole number from ${min} to ${max}, got '${raw}'`);
  return n;
}

function readCaFile(env: NodeJS.ProcessEnv): string[] {
  const file = env.DEVBOX_LOGS_DRAIN_CA_FILE;
  if (!file) return [];
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new Error(`DEVBOX_LOGS_DRAIN_CA_FILE=${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); give a PEM file of CA certificates`);
  }
  const pems = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (pems.length === 0) throw new Error(`DEVBOX_LOGS_DRAIN_CA_FILE=${file} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  return pems;
}

function bool(env: NodeJS.ProcessEnv, name: string): boolean {
  const raw = (env[name] ?? '').trim().toLowerCase();
  if (raw === '' || raw === 'false' || raw === '0') return false;
  if (raw === 'true' || raw === '1') return true;
  throw new Error(`${name} must be true or false, got '${env[name]}'`);
}

export function drainSettings(config: Pick<DevboxConfig, 'domain'>, routerPort: number, env: NodeJS.ProcessEnv = process.env): DrainSettings {
  return {
    pollMs: int(env, 'DEVBOX_LOGS_DRAIN_POLL_MS', 5_000, 0, 3_600_000),
    queueLines: int(env, 'DEVBOX_LOGS_DRAIN_QUEUE', 10_000, 1, 1_000_000),
    queueBytes: int(env, 'DEVBOX_LOGS_DRAIN_QUEUE_BYTES', 4 * 1024 * 1024, 1024),
    perApp: int(env, 'DEVBOX_LOGS_DRAINS_PER_APP', 5, 1, 100),
    skipCertVerify: bool(env, 'DEVBOX_LOGS_DRAIN_SKIP_CERT_VERIFY'),
    caPems: readCaFile(env),
    blockedRanges: parseIpRanges(env.DEVBOX_LOGS_DRAIN_BLOCKED_RANGES ?? ''),
    uaaUrl: env.DEVBOX_LOGS_UAA_URL || uaaBaseUrl(config.domain, routerPort),
  };
}

export function logsSettings(config: Pick<DevboxConfig, 'domain' | 'router_port'>, paths: Pick<StatePaths, 'logs'>, routerPort?: number, env: NodeJS.ProcessEnv = process.env): LogsSettings {
  const port = routerPort ?? config.router_port;
  return {
    port: int(env, 'DEVBOX_LOGS_PORT', 0, 0, 65535),
    ringLines: int(env, 'DEVBOX_LOGS_RING', 1000, 1, 1_000_000),
    ringBytes: int(env, 'DEVBOX_LOGS_RING_BYTES', 4 * 1024 * 1024, 1024),
    fileBytes: int(env, 'DEVBOX_LOGS_FILE_BYTES', 1024 * 1024, 1024),
    flushMs: int(env, 'DEVBOX_LOGS_FLUSH_MS', 50, 0, 60_000),
    retentionDays: int(env, 'DEVBOX_LOGS_RETENTION_DAYS', 30, 0, 36_500),
    pingMs: int(env, 'DEVBOX_LOGS_PING_MS', 30_000, 10, 3_600_000),
    maxBufferedBytes: int(env, 'DEVBOX_LOGS_MAX_BUFFERED_BYTES', 1024 * 1024, 1024),
    authCacheMs: int(env, 'DEVBOX_LOGS_AUTH_CACHE_MS', 10_000, 0, 3_600_000),
    apiUrl: env.DEVBOX_LOGS_API_URL || new URL(`http://api.${config.domain}:${port}`).origin,
    dir: path.join(paths.logs, 'apps'),
    host: `logs.${config.domain}`,
    drains: drainSettings(config, port, env),
  };
}
