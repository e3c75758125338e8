// Rendering deployments as v3 resources.
import type { Urls } from '../context.js';
import type { DeploymentRow } from '../repositories/deployments.js';
import { jsonColumn } from '../repositories/query.js';

export function presentDeployment(row: DeploymentRow, ctx: { urls: Urls }) {
  const self = `${ctx.urls.api}/v3/deployments/${row.guid}`;
  return {
    guid: row.guid,
    state: row.state,
    status: {
      value: row.status_value,
      reason: row.status_reason,
      details: { last_successful_healthcheck: row.last_successful_healthcheck, last_status_change: row.last_status_change, error: row.cancel_reason },
    },
    strategy: row.strategy,
    options: { max_in_flight: row.max_in_flight },
    droplet: { guid: row.droplet_guid },
    previous_droplet: { guid: row.previous_droplet_guid },
    new_processes: [{ guid: row.process_guid, type: 'web' }],
    revision: null,
    created_at: row.created_at,
    updated_at: row.updated_at,
    metadata: jsonColumn('deployments', row, 'metadata', { labels: {}, annotations: {} }),
    relationships: { app: { data: { guid: row.app_guid } } },
    links: {
      self: { href: self },
      app: { href: `${ctx.urls.api}/v3/apps/${row.app_guid}` },
      ...(row.status_value === 'ACTIVE' ? { cancel: { href: `${self}/actions/cancel`, method: 'POST' } } : {}),
    },
  };
}
