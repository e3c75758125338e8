// What an app sees of its service bindings: one VCAP_SERVICES entry per app binding (the DEA start
// message's `services`), and the same grouped by label for `GET /v3/apps/:guid/env`.
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import { parseJson } from '../context.js';

export interface VcapServiceEntry {
  name: string;
  label: string;
  plan?: string;
  tags: string[];
  instance_guid: string;
  instance_name: string;
  binding_guid: string;
  binding_name: string | null;
  credentials: Record<string, unknown>;
  syslog_drain_url: string | null;
  volume_mounts: unknown[];
}

export async function serviceEntries(db: Kysely<Database>, appGuid: string): Promise<VcapServiceEntry[]> {
  const rows = await db
    .selectFrom('service_bindings as b')
    .innerJoin('service_instances as i', 'i.guid', 'b.instance_guid')
    .leftJoin('service_plans as p', 'p.guid', 'i.plan_guid')
    .leftJoin('service_offerings as o', 'o.guid', 'p.offering_guid')
    .select([
      'b.guid as binding_guid',
      'b.name as binding_name',
      'b.credentials',
      'b.syslog_drain_url',
      'i.guid as instance_guid',
      'i.name as instance_name',
      'i.type as instance_type',
      'i.tags as instance_tags',
      'p.name as plan',
      'o.name as offering',
      'o.catalog as offering_catalog',
    ])
    .where('b.app_guid', '=', appGuid)
    .where('b.type', '=', 'app')
    .orderBy('b.created_at')
    .orderBy('b.guid')
    .execute();
  return rows.map((r) => {
    const userProvided = r.instance_type === 'user-provided';
    const offeringTags = parseJson<{ tags?: string[] }>(r.offering_catalog, {}).tags ?? [];
    const tags = [...new Set([...offeringTags, ...parseJson<string[]>(r.instance_tags, [])])];
    return {
      name: r.binding_name ?? r.instance_name,
      label: userProvided ? 'user-provided' : (r.offering ?? 'unknown'),
      ...(userProvided ? {} : { plan: r.plan ?? undefined }),
      tags,
      instance_guid: r.instance_guid,
      instance_name: r.instance_name,
      binding_guid: r.binding_guid,
      binding_name: r.binding_name,
      credentials: parseJson<Record<string, unknown>>(r.credentials, {}),
      syslog_drain_url: r.syslog_drain_url ?? null,
      volume_mounts: [],
    };
  });
}

/** `{"<label>": [entry, ...]}`, as VCAP_SERVICES. */
export function groupByLabel(entries: VcapServiceEntry[]): Record<string, VcapServiceEntry[]> {
  const out: Record<string, VcapServiceEntry[]> = {};
  for (const entry of entries) (out[entry.label] ??= []).push(entry);
  return out;
}
