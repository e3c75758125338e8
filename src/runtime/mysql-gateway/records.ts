// The gateway's own record (instance → node and database, binding → user and credentials), kept in
// $DEVBOX_HOME/mysql-gateway/records.json (0600, written atomically) so a restart loses nothing.
import fs from 'node:fs';
import path from 'node:path';
import { readJson, writeSecretJson } from '../common/config.js';

export interface ServiceInstanceRecord {
  id: string;
  service_id: string;
  plan_id: string;
  plan: string;
  organization_guid?: string;
  space_guid?: string;
  parameters?: unknown;
  /** The node that holds the database: where unbind, update and deprovision go. */
  node_id: string;
  /**
   * The database name, made once at provision and never recomputed: `cf_<instance GUID, dashes as
   * underscores>`, or `cf_<32 hex digits>` for instances made before that naming.
   */
  name: string;
  created_at: string;
}

export interface BindingRecord {
  id: string;
  instance_id: string;
  service_id: string;
  plan_id: string;
  app_guid?: string;
  parameters?: unknown;
  node_id: string;
  /** The database (absent in records made before it was kept: the instance's, or the credentials' `name`). */
  name?: string;
  username: string;
  /** What the platform was given (records made before may hold more: only cf-mysql's fields go out). */
  credentials: Record<string, unknown>;
  created_at: string;
}

interface RecordsFile {
  version: 1;
  instances: Record<string, ServiceInstanceRecord>;
  bindings: Record<string, BindingRecord>;
}

export class RecordStore {
  readonly instances = new Map<string, ServiceInstanceRecord>();
  readonly bindings = new Map<string, BindingRecord>();

  constructor(readonly file: string) {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    if (fs.existsSync(file)) {
      const data = readJson<Partial<RecordsFile>>(file);
      for (const [id, r] of Object.entries(data.instances ?? {})) this.instances.set(id, r);
      for (const [id, r] of Object.entries(data.bindings ?? {})) this.bindings.set(id, r);
    }
  }

  bindingsOf(instanceId: string): BindingRecord[] {
    return [...this.bindings.values()].filter((b) => b.instance_id === instanceId);
  }

  putInstance(record: ServiceInstanceRecord): void {
    this.instances.set(record.id, record);
    this.save();
  }

  putBinding(record: BindingRecord): void {
    this.bindings.set(record.id, record);
    this.save();
  }

  deleteBinding(id: string): void {
    this.bindings.delete(id);
    this.save();
  }

  /** Removes an instance and every binding of it. */
  deleteInstance(id: string): void {
    this.instances.delete(id);
    for (const b of this.bindingsOf(id)) this.bindings.delete(b.id);
    this.save();
  }

  private save(): void {
    const data: RecordsFile = { version: 1, instances: Object.fromEntries(this.instances), bindings: Object.fromEntries(this.bindings) };
    writeSecretJson(this.file, data);
  }
}
