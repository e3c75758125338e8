// The apps whose bindings carry a syslog drain URL (a user-provided instance's `-l`, or what a broker
// answered to a bind), a page at a time in app guid order, with the names Loggregator makes the
// drain's hostname of: the SQL behind Cloud Controller's /internal/v4/syslog_drain_urls.
import type { Db } from './query.js';

export interface AppSyslogDrains {
  app_guid: string;
  app_name: string;
  space_name: string;
  organization_name: string;
  /** The drain URLs of the app's bindings, oldest binding first, each once. */
  drains: string[];
}

/**
 * Apps `offset` to `offset + limit` (by guid) among those with at least one app binding (not a
 * service key) whose syslog_drain_url is set and not blank, with their drains. Two queries rather
 * than a GROUP_CONCAT: the same on SQLite and MySQL, and a URL with a comma stays one URL.
 */
export async function appSyslogDrains(db: Db, { offset, limit }: { offset: number; limit: number }): Promise<AppSyslogDrains[]> {
  const apps = await db
    .selectFrom('apps as a')
    .innerJoin('spaces as s', 's.guid', 'a.space_guid')
    .innerJoin('organizations as o', 'o.guid', 's.organization_guid')
    .select(['a.guid as app_guid', 'a.name as app_name', 's.name as space_name', 'o.name as organization_name'])
    .where(({ exists, selectFrom }) =>
      exists(
        selectFrom('service_bindings as b')
          .select('b.guid')
          .whereRef('b.app_guid', '=', 'a.guid')
          .where('b.type', '=', 'app')
          .where('b.syslog_drain_url', 'is not', null)
          .where('b.syslog_drain_url', '!=', ''),
      ),
    )
    .orderBy('a.guid')
    .limit(limit)
    .offset(offset)
    .execute();
  if (apps.length === 0) return [];
  const bindings = await db
    .selectFrom('service_bindings')
    .select(['app_guid', 'syslog_drain_url'])
    .where(
      'app_guid',
      'in',
      apps.map((a) => a.app_guid),
    )
    .where('type', '=', 'app')
    .where('syslog_drain_url', 'is not', null)
    .where('syslog_drain_url', '!=', '')
    .orderBy('created_at')
    .orderBy('guid')
    .execute();
  const drains = new Map<string, string[]>();
  for (const b of bindings) {
    if (!b.app_guid || !b.syslog_drain_url) continue;
    const list = drains.get(b.app_guid) ?? [];
    if (!list.includes(b.syslog_drain_url)) list.push(b.syslog_drain_url);
    drains.set(b.app_guid, list);
  }
  return apps.map((a) => ({ ...a, drains: drains.get(a.app_guid) ?? [] }));
}
