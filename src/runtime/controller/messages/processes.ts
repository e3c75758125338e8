// Process requests: scale (instances, memory, disk, log rate) and update (command, health check).
import { PROCESS_HEALTH_CHECK_TYPES } from '../../common/health-checks.js';
import { unprocessable } from '../errors.js';
import { allowOnly, asObject, optionalInteger, optionalObject, optionalString, type Body } from './validate.js';

export const MAX_MEMORY_MB = 32 * 1024;
export const MAX_DISK_MB = 64 * 1024;

export interface ProcessScaleMessage {
  instances?: number;
  memoryInMb?: number;
  diskInMb?: number;
  logRateLimit?: number;
  /** As given, for the audit event and the app's log. */
  body: Body;
}

export interface HealthCheckMessage {
  type?: string;
  timeout?: number;
  invocationTimeout?: number;
  endpoint?: string;
}

export interface ProcessUpdateMessage {
  /** null clears it (the droplet's command is used); undefined leaves it. */
  command?: string | null;
  healthCheck?: HealthCheckMessage;
  body: Body;
}

export function processScaleMessage(raw: unknown): ProcessScaleMessage {
  const body = asObject(raw);
  allowOnly(body, ['instances', 'memory_in_mb', 'disk_in_mb', 'log_rate_limit_in_bytes_per_second']);
  return {
    instances: optionalInteger(body, 'instances', { min: 0, max: 1000 }),
    memoryInMb: optionalInteger(body, 'memory_in_mb', { min: 1, max: MAX_MEMORY_MB }),
    diskInMb: optionalInteger(body, 'disk_in_mb', { min: 1, max: MAX_DISK_MB }),
    logRateLimit: optionalInteger(body, 'log_rate_limit_in_bytes_per_second', { min: -1 }),
    body,
  };
}

export function processUpdateMessage(raw: unknown): ProcessUpdateMessage {
  const body = asObject(raw);
  allowOnly(body, ['command', 'health_check', 'metadata']);
  const message: ProcessUpdateMessage = { body, command: body.command === null ? null : optionalString(body, 'command', { max: 4096 }) };
  const check = optionalObject(body, 'health_check');
  if (check) {
    allowOnly(check, ['type', 'data']);
    const type = optionalString(check, 'type');
    if (type !== undefined && !(PROCESS_HEALTH_CHECK_TYPES as readonly string[]).includes(type)) throw unprocessable(`Health check type must be one of: ${PROCESS_HEALTH_CHECK_TYPES.join(', ')}`);
    const data = optionalObject(check, 'data') ?? {};
    allowOnly(data, ['timeout', 'invocation_timeout', 'endpoint']);
    message.healthCheck = {
      type,
      timeout: optionalInteger(data, 'timeout', { min: 1, max: 600 }),
      invocationTimeout: optionalInteger(data, 'invocation_timeout', { min: 1, max: 600 }),
      endpoint: optionalString(data, 'endpoint', { max: 1024 }),
    };
  }
  return message;
}
