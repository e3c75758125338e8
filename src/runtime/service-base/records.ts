// A gateway's own record (instance → node and name, binding → credentials), kept in a JSON file of
// its state directory (0600, written atomically) so that a restart loses nothing.
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
  /** The node that holds the instance: where bind, update and deprovision go. */
  node_id: string;
  /** What the node knows the instance by, made once at provision and never recomputed. */
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
  /** What the platform was given (older records may hold more: the service's filter applies). */
  credentials: Record<string, unknown>;
  created_at: string;
}

interface RecordsFile<B extends BindingRecord> {
  version: 1;
  instances: Record<string, ServiceInstanceRecord>;
  bindings: Record<string, B>;
}

export class RecordStore<B extends BindingRecord = BindingRecord> {
  readonly instances = new Map<string, ServiceInstanceRecord>();
  readonly bindings = new Map<string, B>();

  constructor(readonly file: string) {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    if (fs.existsSync(file)) {
      const data = readJson<Partial<RecordsFile<B>>>(file);
      for (const [id, r] of Object.entries(data.instances ?? {})) this.instances.set(id, r);
      for (const [id, r] of Object.entries(data.bindings ?? {})) this.bindings.set(id, r);
    }
  }

  bindingsOf(instanceId: string): B[] {
    return [...this.bindings.values()].filter((b) => b.instance_id === instanceId);
  }

  putInstance(record: ServiceInstanceRecord): void {
    this.instances.set(record.id, record);
    this.save();
  }

  putBinding(record: B): void {
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
    const data: RecordsFile<B> = { version: 1, instances: Object.fromEntries(this.instances), bindings: Object.fromEntries(this.bindings) };
    writeSecretJson(this.file, data);
  }
}
