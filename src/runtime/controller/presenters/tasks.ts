// Rendering tasks as v3 resources.
import type { Urls } from '../context.js';
import { jsonColumn } from '../repositories/query.js';
import type { TaskRow } from '../repositories/tasks.js';

export function presentTask(row: TaskRow, ctx: { urls: Urls }) {
  const self = `${ctx.urls.api}/v3/tasks/${row.guid}`;
  return {
    guid: row.guid,
    sequence_id: row.sequence_id,
    name: row.name,
    command: row.command,
    state: row.state,
    memory_in_mb: row.memory_in_mb,
    disk_in_mb: row.disk_in_mb,
    log_rate_limit_in_bytes_per_second: row.log_rate_limit_in_bytes_per_second,
    result: { failure_reason: row.failure_reason },
    droplet_guid: row.droplet_guid,
    relationships: { app: { data: { guid: row.app_guid } } },
    metadata: jsonColumn('tasks', row, 'metadata', { labels: {}, annotations: {} }),
    created_at: row.created_at,
    updated_at: row.updated_at,
    links: {
      self: { href: self },
      app: { href: `${ctx.urls.api}/v3/apps/${row.app_guid}` },
      cancel: { href: `${self}/actions/cancel`, method: 'POST' },
      droplet: { href: `${ctx.urls.api}/v3/droplets/${row.droplet_guid}` },
    },
  };
}
