// What the platform itself offers rather than users create: the one stack (`host`: apps run on
// the machine), the DEA's built-in buildpacks, Cloud Controller's feature flags at their
// defaults, and the one organization quota (`default`, unlimited, applied to every organization). They are fixed, so they are rows of code, not of the database; their guids are derived
// from their names (the same on every box and every restart) and their timestamps are the box's
// (when the shared domain was seeded). Lists page and filter in memory, as the SQL lists do.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { BUILTIN_ORDER } from '../../dea/staging/buildpacks.js';
import type { ListMessage } from '../messages/list.js';
import type { Db } from './query.js';

export const STACK_NAME = 'host';

/**
 * The machine's distribution as os-release(5) names it (PRETTY_NAME, else NAME and VERSION), or
 * undefined when the file says nothing.
 */
export function distribution(osRelease: string): string | undefined {
  const fields: Record<string, string> = {};
  for (const line of osRelease.split('\n')) {
    const match = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (!match) continue;
    let value = match[2].trim();
    const quoted = /^"(.*)"$/.exec(value) ?? /^'(.*)'$/.exec(value);
    if (quoted) value = quoted[1].replace(/\\(["'`$\\])/g, '$1');
    // eslint-disable-next-line no-control-regex -- a description is one printable line
    fields[match[1]] = value.replace(/[\u0000-\u001f\u007f]/g, '').slice(0, 200);
  }
  return fields.PRETTY_NAME || [fields.NAME, fields.VERSION].filter(Boolean).join(' ') || undefined;
}

let description: string | undefined;

/**
 * What the one stack is: the machine the apps run on, by its distribution ("The host machine:
 * Debian GNU/Linux 12 (bookworm)"), read once from /etc/os-release (/usr/lib/os-release).
 */
export function stackDescription(): string {
  if (description === undefined) {
    let found: string | undefined;
    for (const file of ['/etc/os-release', '/usr/lib/os-release']) {
      try {
        found = distribution(fs.readFileSync(file, 'utf8'));
      } catch {
        // the next one
      }
      if (found) break;
    }
    description = `The host machine: ${found ?? 'Linux'}`;
  }
  return description;
}

/** A stable guid (UUID-shaped, version 5 style) for a fixed row. */
export function fixedGuid(kind: string, name: string): string {
  const h = createHash('sha1').update(`devbox:${kind}:${name}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h[16], 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** When the box was created: the shared domain's seeding (the epoch on a database not yet seeded). */
export async function platformCreatedAt(db: Db): Promise<string> {
  const row = await db.selectFrom('domains').select('created_at').where('organization_guid', 'is', null).orderBy('created_at').limit(1).executeTakeFirst();
  return row?.created_at ?? new Date(0).toISOString();
}

export interface StackRow {
  guid: string;
  name: string;
  description: string;
  created_at: string;
  updated_at: string;
}

export interface BuildpackRow {
  guid: string;
  name: string;
  position: number;
  stack: string;
  created_at: string;
  updated_at: string;
}

export interface FeatureFlagRow {
  name: string;
  enabled: boolean;
}

/** The organization quota every organization has: `default`, every limit unlimited (devbox enforces no quotas). */
export const DEFAULT_QUOTA_NAME = 'default';

export interface OrganizationQuotaRow {
  guid: string;
  name: string;
  created_at: string;
  updated_at: string;
}

export const DEFAULT_QUOTA_GUID = fixedGuid('organization_quota', DEFAULT_QUOTA_NAME);

export const organizationQuotaRows = (at: string): OrganizationQuotaRow[] => [{ guid: DEFAULT_QUOTA_GUID, name: DEFAULT_QUOTA_NAME, created_at: at, updated_at: at }];

/** Every organization's guid, oldest first: the organizations the default quota applies to. */
export const allOrganizationGuids = async (db: Db): Promise<string[]> => (await db.selectFrom('organizations').select('guid').orderBy('created_at').orderBy('guid').execute()).map((r) => r.guid);

export const stackRows = (at: string): StackRow[] => [{ guid: fixedGuid('stack', STACK_NAME), name: STACK_NAME, description: stackDescription(), created_at: at, updated_at: at }];

/** The DEA's built-in buildpacks in the order detection tries them (position 1 first). */
export const buildpackRows = (at: string): BuildpackRow[] =>
  BUILTIN_ORDER.map((name, i) => ({ guid: fixedGuid('buildpack', name), name, position: i + 1, stack: STACK_NAME, created_at: at, updated_at: at }));

/** Cloud Controller's feature flags (FeatureFlag::DEFAULT_FLAGS) at their defaults; none can be changed on devbox. */
export const FEATURE_FLAGS: readonly FeatureFlagRow[] = [
  { name: 'user_org_creation', enabled: false },
  { name: 'private_domain_creation', enabled: true },
  { name: 'app_bits_upload', enabled: true },
  { name: 'app_scaling', enabled: true },
  { name: 'route_creation', enabled: true },
  { name: 'service_instance_creation', enabled: true },
  { name: 'diego_docker', enabled: false },
  { name: 'diego_cnb', enabled: false },
  { name: 'set_roles_by_username', enabled: true },
  { name: 'unset_roles_by_username', enabled: true },
  { name: 'task_creation', enabled: true },
  { name: 'env_var_visibility', enabled: true },
  { name: 'space_scoped_private_broker_creation', enabled: true },
  { name: 'space_developer_env_var_visibility', enabled: true },
  { name: 'service_instance_sharing', enabled: false },
  { name: 'hide_marketplace_from_unauthenticated_users', enabled: false },
  { name: 'resource_matching', enabled: true },
  { name: 'route_sharing', enabled: false },
];

/**
 * One page of fixed rows: each given filter keeps the rows whose field is one of its values (an
 * empty filter keeps none, as `filtered` does), then ordering and paging as `page` does.
 */
export function pageOfRows<R extends object, F extends string>(rows: readonly R[], message: ListMessage<F>, fields: Record<F, keyof R>): { total: number; rows: R[] } {
  let kept = [...rows];
  for (const key of Object.keys(fields) as F[]) {
    const values = message.filters[key];
    if (!values) continue;
    kept = kept.filter((r) => values.includes(String(r[fields[key]])));
  }
  const order = message.orderBy as keyof R;
  kept.sort((a, b) => {
    const x = String(a[order] ?? '');
    const y = String(b[order] ?? '');
    const byOrder = typeof a[order] === 'number' ? Number(a[order]) - Number(b[order]) : x < y ? -1 : x > y ? 1 : 0;
    const cmp = byOrder !== 0 ? byOrder : String((a as { guid?: string; name?: string }).guid ?? (a as { name?: string }).name).localeCompare(String((b as { guid?: string; name?: string }).guid ?? (b as { name?: string }).name));
    return message.descending ? -cmp : cmp;
  });
  const start = (message.page - 1) * message.perPage;
  return { total: kept.length, rows: kept.slice(start, start + message.perPage) };
}
