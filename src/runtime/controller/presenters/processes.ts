// Rendering processes and their instance stats as v3 resources.
import type { Urls } from '../context.js';
import { FDS_LIMIT } from '../environment/vcap-application.js';
import type { IndexState } from '../actions/processes.js';
import type { ProcessRow } from '../repositories/apps.js';
import { jsonColumn } from '../repositories/query.js';

type Ctx = { urls: Urls };

export function presentProcess(row: ProcessRow, ctx: Ctx, spaceGuid?: string) {
  const self = `${ctx.urls.api}/v3/processes/${row.guid}`;
  return {
    guid: row.guid,
    type: row.type,
    command: row.command,
    instances: row.instances,
    memory_in_mb: row.memory_in_mb,
    disk_in_mb: row.disk_in_mb,
    log_rate_limit_in_bytes_per_second: row.log_rate_limit_in_bytes_per_second,
    health_check: {
      type: row.health_check_type,
      data: {
        timeout: row.health_check_timeout,
        invocation_timeout: row.health_check_invocation_timeout,
        ...(row.health_check_type === 'http' ? { endpoint: row.health_check_endpoint ?? '/' } : {}),
      },
    },
    readiness_health_check: { type: 'process', data: { invocation_timeout: null } },
    relationships: { app: { data: { guid: row.app_guid } }, revision: null },
    metadata: jsonColumn('processes', row, 'metadata', { labels: {}, annotations: {} }),
    created_at: row.created_at,
    updated_at: row.updated_at,
    version: row.version,
    links: {
      self: { href: self },
      scale: { href: `${self}/actions/scale`, method: 'POST' },
      app: { href: `${ctx.urls.api}/v3/apps/${row.app_guid}` },
      ...(spaceGuid ? { space: { href: `${ctx.urls.api}/v3/spaces/${spaceGuid}` } } : {}),
      stats: { href: `${self}/stats` },
    },
  };
}

/**
 * `GET /v3/processes/:guid/stats`: one entry per index; an index nobody runs is DOWN. Every field
 * cf decodes is there, integers where Cloud Controller has integers (bytes, seconds): `routable`
 * (a RUNNING instance is in the router), `log_rate_limit` (the process's, -1 unlimited) and
 * `usage.log_rate` (devbox does not measure it: 0).
 */
export function presentProcessStats(process: ProcessRow, indices: IndexState[]) {
  const int = (n: number | undefined, fallback: number) => (typeof n === 'number' && Number.isFinite(n) ? Math.round(n) : fallback);
  const resources = indices.map(({ index, instance }) => {
    const stats = instance?.stats;
    const state = instance ? (instance.state === 'STOPPING' ? 'DOWN' : instance.state) : 'DOWN';
    return {
      type: process.type,
      index,
      state,
      routable: state === 'RUNNING',
      usage: stats?.usage
        ? {
            time: stats.usage.time ?? new Date().toISOString(),
            cpu: typeof stats.usage.cpu === 'number' && Number.isFinite(stats.usage.cpu) ? stats.usage.cpu : 0,
            mem: int(stats.usage.mem, 0),
            disk: int(stats.usage.disk, 0),
            log_rate: 0,
          }
        : {},
      host: stats?.host ?? '',
      instance_guid: instance?.instance ?? null,
      instance_ports: stats?.port ? [{ external: stats.port, internal: stats.port }] : [],
      uptime: int(stats?.uptime, 0),
      mem_quota: int(stats?.mem_quota, process.memory_in_mb * 1024 * 1024),
      disk_quota: int(stats?.disk_quota, process.disk_in_mb * 1024 * 1024),
      log_rate_limit: process.log_rate_limit_in_bytes_per_second,
      fds_quota: int(stats?.fds_quota, FDS_LIMIT),
      isolation_segment: null,
      details: instance?.state === 'CRASHED' ? 'crashed' : null,
      since: instance ? Math.floor(instance.state_timestamp) : null,
    };
  });
  return { resources };
}
