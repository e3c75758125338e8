// What an instance sees in its environment (DESIGN.md §6, REFERENCE "What apps see"): Cloud
// Foundry's variables with their shapes, so that libraries such as cfenv work unchanged.
import os from 'node:os';
import type { ServiceBinding, StartMessage } from '../../common/bus-messages.js';
import { withNodeOnPath } from '../host.js';

export interface InstancePlacement {
  instanceGuid: string;
  port: number;
  /** The instance's app directory (HOME and working directory, as /home/vcap/app on CF). */
  appDir: string;
  depsDir: string;
  tmpDir: string;
  /** The DEA's advertised address, where routers and other machines reach the instance (default 127.0.0.1). */
  host?: string;
  /** PATH as the instance's container has it (default: the DEA's, with its node). */
  path?: string;
  /** USER (default: the DEA's user; `vcap` in a container). */
  user?: string;
}

/** VCAP_SERVICES: bindings grouped by label (user-provided ones under `user-provided`). */
export function vcapServices(services: StartMessage['services'] | Record<string, ServiceBinding[]>): Record<string, ServiceBinding[]> {
  if (!services) return {};
  if (!Array.isArray(services)) return services;
  const out: Record<string, ServiceBinding[]> = {};
  for (const binding of services) {
    if (!binding || typeof binding !== 'object') continue;
    const label = binding.label || 'user-provided';
    (out[label] ??= []).push({
      ...binding,
      label,
      tags: binding.tags ?? [],
      credentials: binding.credentials ?? {},
      syslog_drain_url: binding.syslog_drain_url ?? null,
      volume_mounts: binding.volume_mounts ?? [],
    });
  }
  return out;
}

/** DATABASE_URL as Cloud Foundry sets it: the first bound credentials `uri` of a database, mysql:// as mysql2://. */
export function databaseUrl(services: Record<string, ServiceBinding[]>): string | undefined {
  for (const bindings of Object.values(services)) {
    for (const binding of bindings) {
      const uri = binding.credentials?.uri;
      if (typeof uri !== 'string') continue;
      if (/^mysql2?:\/\//i.test(uri)) return uri.replace(/^mysql2?:/i, 'mysql2:');
      if (/^postgres(ql)?:\/\//i.test(uri)) return uri;
    }
  }
  return undefined;
}

export function vcapApplication(start: StartMessage, placement: InstancePlacement): Record<string, unknown> {
  const given = start.vcap_application ?? {};
  const uris = start.uris ?? [];
  const limits = { mem: start.limits?.mem ?? 256, disk: start.limits?.disk ?? 1024, fds: start.limits?.fds ?? 16384 };
  return {
    application_id: start.app_guid ?? start.droplet,
    application_name: start.name,
    application_uris: uris,
    application_version: start.version,
    cf_api: null,
    limits,
    name: start.name,
    organization_id: null,
    organization_name: null,
    process_id: start.process_guid ?? start.droplet,
    process_type: start.process_type ?? 'web',
    space_id: start.space_guid ?? null,
    space_name: null,
    uris,
    users: null,
    version: start.version,
    ...given,
    host: appHost(placement.host),
    instance_id: placement.instanceGuid,
    instance_index: start.index,
    port: placement.port,
  };
}

/**
 * Where an app should listen (VCAP_APP_HOST, VCAP_APPLICATION.host). Cloud Foundry says 0.0.0.0, the
 * container's own network; here apps share the machine's. When the routers reach the DEA on loopback
 * (one machine, the default), 127.0.0.1 keeps apps that honour it (cfenv's `bind`) off the network
 * (docs/security.md); a DEA advertised elsewhere needs 0.0.0.0 (routers there, health checks here).
 */
export const appHost = (advertised = '127.0.0.1'): string => (/^(127\.|::1$|localhost$)/.test(advertised) ? '127.0.0.1' : '0.0.0.0');

/**
 * Host settings every instance and staging gets, as Cloud Foundry's running and staging environment
 * variable groups would carry them: the time zone, proxies and extra CA certificates of the machine.
 */
export const HOST_PASSTHROUGH = ['TZ', 'HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'http_proxy', 'https_proxy', 'no_proxy', 'SSL_CERT_FILE', 'SSL_CERT_DIR', 'NODE_EXTRA_CA_CERTS'];

/**
 * Where every environment the DEA gives (an instance's, a staging's) starts, from scratch: PATH
 * (the container's), LANG, USER (`vcap` in a container, else the DEA's user) and the host
 * passthrough. Nothing else of the DEA's own environment.
 */
export function baseEnv({ path, user }: { path?: string; user?: string }): Record<string, string> {
  const env: Record<string, string> = {
    PATH: path ?? withNodeOnPath(process.env.PATH),
    LANG: process.env.LANG || 'en_US.UTF-8',
    USER: user ?? safeUser(),
  };
  for (const key of HOST_PASSTHROUGH) {
    const value = process.env[key];
    if (value) env[key] = value;
  }
  return env;
}

/**
 * The environment of an instance: the base (baseEnv), the user's env, then the
 * platform's variables, which the user's cannot replace (DATABASE_URL excepted, as on Cloud Foundry).
 */
export function instanceEnv(start: StartMessage, placement: InstancePlacement): Record<string, string> {
  const services = vcapServices(start.services);
  const env = baseEnv(placement);
  for (const [key, value] of Object.entries(start.env ?? {})) {
    if (value !== undefined && value !== null) env[key] = typeof value === 'string' ? value : JSON.stringify(value);
  }
  const db = databaseUrl(services);
  if (db && env.DATABASE_URL === undefined) env.DATABASE_URL = db;
  const index = String(start.index);
  const port = String(placement.port);
  const ip = placement.host ?? '127.0.0.1';
  Object.assign(env, {
    HOME: placement.appDir,
    TMPDIR: placement.tmpDir,
    DEPS_DIR: placement.depsDir,
    PORT: port,
    VCAP_APP_PORT: port,
    VCAP_APP_HOST: appHost(placement.host),
    VCAP_APPLICATION: JSON.stringify(vcapApplication(start, placement)),
    VCAP_SERVICES: JSON.stringify(services),
    CF_INSTANCE_INDEX: index,
    CF_INSTANCE_GUID: placement.instanceGuid,
    CF_INSTANCE_IP: ip,
    CF_INSTANCE_INTERNAL_IP: ip,
    CF_INSTANCE_PORT: port,
    CF_INSTANCE_ADDR: `${ip}:${port}`,
    CF_INSTANCE_PORTS: JSON.stringify([{ external: placement.port, internal: placement.port }]),
    INSTANCE_INDEX: index,
    INSTANCE_GUID: placement.instanceGuid,
    MEMORY_LIMIT: `${start.limits?.mem ?? 256}m`,
    CF_STACK: 'host',
  });
  return env;
}

function safeUser(): string {
  try {
    return os.userInfo().username;
  } catch {
    return 'vcap';
  }
}
