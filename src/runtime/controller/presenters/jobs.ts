// Rendering jobs as v3 resources.
import type { Urls } from '../context.js';
import type { JobRow } from '../repositories/jobs.js';
import { jsonColumn } from '../repositories/query.js';

type Ctx = { urls: Urls };

export function presentJob(row: JobRow, ctx: Ctx) {
  return {
    guid: row.guid,
    created_at: row.created_at,
    updated_at: row.updated_at,
    operation: row.operation,
    state: row.state,
    errors: jsonColumn('jobs', row, 'errors', [] as unknown[]),
    warnings: [],
    links: { self: { href: `${ctx.urls.api}/v3/jobs/${row.guid}` } },
  };
}
