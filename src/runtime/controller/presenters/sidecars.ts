// Rendering sidecars: the v3 resource (Cloud Controller's SidecarPresenter: no links, no metadata)
// and an app manifest's `sidecars:` (its SidecarPropertiesPresenter).
import type { Sidecar } from '../repositories/sidecars.js';

export function presentSidecar(row: Sidecar) {
  return {
    guid: row.guid,
    name: row.name,
    command: row.command,
    process_types: row.process_types,
    memory_in_mb: row.memory_in_mb,
    origin: row.origin,
    relationships: { app: { data: { guid: row.app_guid } } },
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

/** The app's sidecars as a manifest lists them (by name; `memory` only when reserved); undefined when it has none. */
export function sidecarsManifest(sidecars: Sidecar[]): Record<string, unknown>[] | undefined {
  if (sidecars.length === 0) return undefined;
  return [...sidecars]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((s) => ({ name: s.name, process_types: s.process_types, command: s.command, ...(s.memory_in_mb !== null ? { memory: `${s.memory_in_mb}M` } : {}) }));
}
