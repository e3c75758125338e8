// Updating a service instance (`PATCH /v3/service_instances/:guid`): the instance's row, and the
// credentials its app bindings carry when a user-provided instance's credentials change.
import type { InstanceRow } from './services.js';
import type { Db } from './query.js';

export const updateInstance = (db: Db, guid: string, changes: Partial<Omit<InstanceRow, 'guid' | 'type' | 'space_guid' | 'created_at'>>) =>
  db.updateTable('service_instances').set(changes).where('guid', '=', guid).execute();

export const updateInstanceBindings = (db: Db, instanceGuid: string, changes: { credentials: string; syslog_drain_url: string | null; updated_at: string }) =>
  db.updateTable('service_bindings').set(changes).where('instance_guid', '=', instanceGuid).execute();
