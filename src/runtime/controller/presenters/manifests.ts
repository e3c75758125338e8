// Rendering an app as a manifest (`GET /v3/apps/:guid/manifest`, what `cf create-app-manifest`
// writes) as Cloud Controller's AppManifestPresenter does: name, env, buildpacks, stack, services,
// routes and processes (sorted as CC sorts them); the diff compares a manifest against this.
import { stringify } from 'yaml';
import type { AppRow, ProcessRow } from '../repositories/apps.js';
import { jsonColumn } from '../repositories/query.js';
import type { Sidecar } from '../repositories/sidecars.js';
import { sidecarsManifest } from './sidecars.js';

export interface AppManifestParts {
  app: AppRow;
  processes: ProcessRow[];
  /** `host.domain[/path]` of each mapped route. */
  routes: string[];
  services: string[];
  sidecars: Sidecar[];
}

function processHash(p: ProcessRow): Record<string, unknown> {
  const hash: Record<string, unknown> = {
    type: p.type,
    instances: p.instances,
    memory: `${p.memory_in_mb}M`,
    disk_quota: `${p.disk_in_mb}M`,
    'log-rate-limit-per-second': p.log_rate_limit_in_bytes_per_second === -1 ? -1 : humanBytes(p.log_rate_limit_in_bytes_per_second),
    command: p.command ?? undefined,
    'health-check-type': p.health_check_type,
    'health-check-http-endpoint': p.health_check_endpoint ?? undefined,
    'health-check-invocation-timeout': p.health_check_invocation_timeout ?? undefined,
    timeout: p.health_check_timeout ?? undefined,
  };
  return Object.fromEntries(Object.entries(hash).filter(([, v]) => v !== undefined));
}

/** Bytes as CC's ByteConverter writes them: the largest unit that divides evenly (`1K`, `16M`). */
function humanBytes(bytes: number): string {
  for (const [unit, size] of [['T', 1024 ** 4], ['G', 1024 ** 3], ['M', 1024 ** 2], ['K', 1024]] as const) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return `${bytes}B`;
}

/** The app as one manifest application (keys as CC writes them; empty parts left out). */
export function appManifestHash({ app, processes, routes, services, sidecars }: AppManifestParts): Record<string, unknown> {
  const env = jsonColumn('apps', app, 'environment_variables', {} as Record<string, string>);
  const buildpacks = jsonColumn('apps', app, 'buildpacks', [] as string[]);
  const metadata = jsonColumn('apps', app, 'metadata', { labels: {}, annotations: {} } as { labels: Record<string, string>; annotations: Record<string, string> });
  const hash: Record<string, unknown> = { name: app.name };
  if (Object.keys(env).length > 0) hash.env = env;
  if (buildpacks.length > 0) hash.buildpacks = buildpacks;
  hash.stack = app.stack;
  if (services.length > 0) hash.services = [...services].sort((a, b) => a.toLowerCase().localeCompare(b.toLowerCase()));
  if (routes.length > 0) hash.routes = [...routes].sort((a, b) => a.toLowerCase().localeCompare(b.toLowerCase())).map((route) => ({ route, protocol: 'http1' }));
  const labels = metadata.labels ?? {};
  const annotations = metadata.annotations ?? {};
  if (Object.keys(labels).length > 0 || Object.keys(annotations).length > 0) {
    hash.metadata = { ...(Object.keys(labels).length > 0 ? { labels } : {}), ...(Object.keys(annotations).length > 0 ? { annotations } : {}) };
  }
  if (processes.length > 0) hash.processes = [...processes].sort((a, b) => a.type.localeCompare(b.type)).map(processHash);
  const sidecarEntries = sidecarsManifest(sidecars);
  if (sidecarEntries) hash.sidecars = sidecarEntries;
  return hash;
}

/** The manifest document (`applications: [...]`) as YAML, as CC answers it. */
export function manifestYaml(applications: Record<string, unknown>[]): string {
  return `---\n${stringify({ applications }, { lineWidth: 0, indentSeq: false })}`;
}
