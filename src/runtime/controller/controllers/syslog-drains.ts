// Cloud Controller's /internal/v4/syslog_drain_urls: which apps have syslog drains, and the hostname
// their drained lines carry. Loggregator's syslog binding cache reads it (paged by `next_id`); so
// does devbox's logs component (src/runtime/logs/drains.ts). Like /internal/v3/desired_processes it
// is for the box's components: a token with cloud_controller.admin (the components' client has it).
//
//     GET /internal/v4/syslog_drain_urls?batch_size=50&next_id=0
//     200 {"results": {"<app guid>": {"drains": ["syslog://logs.example.com:514"],
//                                     "hostname": "org.space.app"}},
//          "next_id": 50}
//
// As Cloud Controller: apps in guid order, `next_id` = this page's offset + batch_size while the page
// has apps, null on the first empty page (so the last page with apps still points at one more).
import type { RequestContext } from '../context.js';
import { ApiError, notAuthorized } from '../errors.js';
import type { Routes } from '../http/routes.js';
import { appSyslogDrains } from '../repositories/syslog-drains.js';

export const SYSLOG_DRAIN_URLS_PATH = '/internal/v4/syslog_drain_urls';

/** Cloud Controller's default page (`batch_size`); Loggregator's binding cache asks for 1,000. */
const DEFAULT_BATCH_SIZE = 50;
const MAX_BATCH_SIZE = 5_000;

export interface SyslogDrainUrls {
  results: Record<string, { drains: string[]; hostname: string }>;
  next_id: number | null;
}

export function syslogDrainRoutes(routes: Routes<RequestContext>): void {
  routes.get(SYSLOG_DRAIN_URLS_PATH, async (req, ctx) => {
    if (!ctx.actor.admin) throw notAuthorized();
    const unknown = [...new Set(req.query.keys())].filter((k) => k !== 'next_id' && k !== 'batch_size');
    if (unknown.length) throw new ApiError('BadQueryParameter', `The query parameter is invalid: Unknown query parameter(s): '${unknown.join("', '")}'`);
    const nextId = wholeNumber(req.query.get('next_id'), 'next_id', 0, 0, Number.MAX_SAFE_INTEGER - MAX_BATCH_SIZE);
    const batchSize = wholeNumber(req.query.get('batch_size'), 'batch_size', DEFAULT_BATCH_SIZE, 1, MAX_BATCH_SIZE);
    const apps = await appSyslogDrains(ctx.db, { offset: nextId, limit: batchSize });
    const results: SyslogDrainUrls['results'] = {};
    for (const app of apps) results[app.app_guid] = { drains: app.drains, hostname: drainHostname(app.organization_name, app.space_name, app.app_name) };
    const body: SyslogDrainUrls = { results, next_id: apps.length ? nextId + batchSize : null };
    return { body };
  });
}

function wholeNumber(raw: string | null, name: string, fallback: number, min: number, max: number): number {
  if (raw === null) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new ApiError('BadQueryParameter', `The query parameter is invalid: ${name} must be a whole number from ${min} to ${max}`);
  }
  return Number(raw);
}

/**
 * `org.space.app`, each name as Cloud Controller writes it into the drain's hostname: runs of white
 * space become `-`, anything but letters, digits and `-` goes, trailing dashes go, then the first 63
 * characters (a DNS label's length).
 */
export function drainHostname(...names: string[]): string {
  return names
    .map((name) =>
      name
        .replace(/[ \t\r\n\f\v]+/g, '-')
        .replace(/[^-a-zA-Z0-9]+/g, '')
        .replace(/-+$/, '')
        .slice(0, 63),
    )
    .join('.');
}
