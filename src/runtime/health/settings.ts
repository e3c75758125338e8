// The health manager's timings, from the environment (defaults are Cloud Foundry's policy with
// devbox's faster heartbeat), and where it finds the controller and uaa.
import { uaaBaseUrl, type DevboxConfig } from '../common/config.js';
import type { CrashPolicySettings } from './crash-policy.js';

export interface HealthSettings {
  /** How often the desired state is fetched (DEVBOX_HEALTH_POLL_MS, 2 s). */
  pollMs: number;
  /** How long an index may lack a RUNNING/STARTING instance before it is started (DEVBOX_HEALTH_GRACE_MS, 3 s). */
  graceMs: number;
  /** The DEAs' heartbeat interval (DEVBOX_DEA_HEARTBEAT_MS, 2 s): silent for 3 of them = gone. */
  heartbeatMs: number;
  /** A start sent and not seen (STARTING/RUNNING or a crash) within this long may be sent again (DEVBOX_HEALTH_PENDING_MS, 30 s). */
  pendingMs: number;
  crash: CrashPolicySettings;
  /** Timeout of one desired-state request. */
  fetchTimeoutMs: number;
  /** The desired state is acted on only while its last successful fetch is at most this old. */
  staleAfterMs: number;
  /** How often the analyzer runs (also right after each fetch and each crash). */
  tickMs: number;
  /** http://api.<domain>:<router port> */
  apiUrl: string;
  /** http://uaa.<domain>:<router port> */
  uaaUrl: string;
}

function millis(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a whole number of milliseconds (1 or more), got '${raw}'`);
  return n;
}

export function crashPolicySettings(env: NodeJS.ProcessEnv = process.env): CrashPolicySettings {
  const baseMs = millis(env, 'DEVBOX_HEALTH_CRASH_BASE_MS', 30_000);
  const capMs = millis(env, 'DEVBOX_HEALTH_CRASH_CAP_MS', 960_000);
  if (capMs < baseMs) throw new Error(`DEVBOX_HEALTH_CRASH_CAP_MS (${capMs}) must not be below DEVBOX_HEALTH_CRASH_BASE_MS (${baseMs})`);
  return { immediateRestarts: 3, baseMs, capMs };
}

export function healthSettings(config: Pick<DevboxConfig, 'domain' | 'router_port'>, routerPort?: number, env: NodeJS.ProcessEnv = process.env): HealthSettings {
  const pollMs = millis(env, 'DEVBOX_HEALTH_POLL_MS', 2_000);
  const graceMs = millis(env, 'DEVBOX_HEALTH_GRACE_MS', 3_000);
  const heartbeatMs = millis(env, 'DEVBOX_DEA_HEARTBEAT_MS', 2_000);
  const pendingMs = millis(env, 'DEVBOX_HEALTH_PENDING_MS', 30_000);
  const crash = crashPolicySettings(env);
  const fetchTimeoutMs = Math.min(10_000, Math.max(1_000, 2 * pollMs));
  const port = routerPort ?? config.router_port;
  return {
    pollMs,
    graceMs,
    heartbeatMs,
    pendingMs,
    crash,
    fetchTimeoutMs,
    staleAfterMs: 3 * pollMs + fetchTimeoutMs,
    tickMs: Math.min(1_000, Math.max(20, Math.floor(Math.min(pollMs, graceMs, heartbeatMs, crash.baseMs) / 4))),
    apiUrl: env.DEVBOX_HEALTH_API_URL || new URL(`http://api.${config.domain}:${port}`).origin,
    uaaUrl: env.DEVBOX_HEALTH_UAA_URL || uaaBaseUrl(config.domain, port),
  };
}
