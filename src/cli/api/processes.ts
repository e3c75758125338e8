// An app's processes (web, worker, ...): their command, health check and scale, and the state of
// each instance as the process stats report it.
import type { ApiClient } from './client.js';
import type { Process, ProcessInstanceStats } from './resources.js';

/** What `PATCH /v3/processes/:guid` changes: the start command (null: the buildpack's) and the health check. */
export interface ProcessChange {
  command?: string | null;
  health_check?: { type: string; data?: Record<string, unknown> };
}

/** What a scale changes: instances, and memory and disk per instance (MB). */
export interface ScaleChange {
  instances?: number;
  memory_in_mb?: number;
  disk_in_mb?: number;
}

export class Processes {
  constructor(private readonly client: ApiClient) {}

  /** The app's process of this type (`web` unless said). */
  get(appGuid: string, type = 'web'): Promise<Process> {
    return this.client.call<Process>('GET', `/v3/apps/${appGuid}/processes/${encodeURIComponent(type)}`);
  }

  /** Every process of one app. */
  ofApp(appGuid: string): Promise<Process[]> {
    return this.client.list<Process>(`/v3/apps/${appGuid}/processes`);
  }

  /** Every process of these apps, in one list. */
  ofApps(appGuids: string[]): Promise<Process[]> {
    if (appGuids.length === 0) return Promise.resolve([]);
    return this.client.list<Process>('/v3/processes', { app_guids: appGuids });
  }

  /** Sets a process's command and/or health check (`PATCH /v3/processes/:guid`). */
  update(processGuid: string, change: ProcessChange): Promise<Process> {
    return this.client.call<Process>('PATCH', `/v3/processes/${processGuid}`, change);
  }

  scale(appGuid: string, type: string, change: ScaleChange): Promise<Process> {
    return this.client.call<Process>('POST', `/v3/apps/${appGuid}/processes/${encodeURIComponent(type)}/actions/scale`, change);
  }

  /** Every instance of the process, by index (an empty list while the API serves no stats). */
  async instanceStats(processGuid: string): Promise<ProcessInstanceStats[]> {
    const stats = (await this.client.getOptional<{ resources: ProcessInstanceStats[] }>(`/v3/processes/${processGuid}/stats`))?.resources ?? [];
    return stats.sort((a, b) => a.index - b.index);
  }
}
