// What an app sees of its service bindings: one VCAP_SERVICES entry per app binding (the DEA start
// message's `services`), and the same grouped by label for `GET /v3/apps/:guid/env`.
import { jsonColumn, type Db } from '../repositories/query.js';
import { appBindingsWithServices } from '../repositories/services.js';

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

export async function serviceEntries(db: Db, appGuid: string): Promise<VcapServiceEntry[]> {
  // A binding whose broker has not made it (create in progress, or failed) has no credentials yet;
  // one being deleted still has them until its broker is done.
  const made = (r: { binding_guid: string; last_operation: string }) => {
    const op = jsonColumn('service_bindings', { guid: r.binding_guid, last_operation: r.last_operation }, 'last_operation', {} as { type?: string; state?: string });
    return op.type !== 'create' || op.state === 'succeeded';
  };
  const rows = (await appBindingsWithServices(db, appGuid)).filter(made);
  return rows.map((r) => {
    const userProvided = r.instance_type === 'user-provided';
    // The offering's tags, then the instance's own, each once.
    const offeringTags = jsonColumn('service_offerings', { guid: r.offering_guid ?? undefined, catalog: r.offering_catalog }, 'catalog', {} as { tags?: string[] }).tags ?? [];
    const instanceTags = jsonColumn('service_instances', { guid: r.instance_guid, tags: r.instance_tags }, 'tags', [] as string[]);
    return {
      name: r.binding_name ?? r.instance_name,
      label: userProvided ? 'user-provided' : (r.offering ?? 'unknown'),
      ...(userProvided ? {} : { plan: r.plan ?? undefined }),
      tags: [...new Set([...offeringTags, ...instanceTags])],
      instance_guid: r.instance_guid,
      instance_name: r.instance_name,
      binding_guid: r.binding_guid,
      binding_name: r.binding_name,
      credentials: jsonColumn('service_bindings', { guid: r.binding_guid, credentials: r.credentials }, 'credentials', {} as Record<string, unknown>),
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
