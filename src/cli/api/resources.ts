// The Cloud Controller v3 resources as the CLI reads them: only the fields it uses, declared once.
// The workflows (apps.ts, routes.ts, ...) and the commands import them from here.

export interface Resource {
  guid: string;
  created_at: string;
  updated_at: string;
}

export interface Organization extends Resource {
  name: string;
}

export interface Space extends Resource {
  name: string;
  relationships: { organization: { data: { guid: string } } };
}

export interface App extends Resource {
  name: string;
  state: 'STARTED' | 'STOPPED';
  lifecycle: { type: string; data: { buildpacks: string[]; stack: string } };
  relationships: { space: { data: { guid: string } } };
}

/** A rolling deployment (`POST /v3/deployments`): ACTIVE while it replaces the web instances, then FINALIZED. */
export interface Deployment extends Resource {
  state: string;
  status: { value: 'ACTIVE' | 'FINALIZED'; reason: string; details?: { error?: string | null } };
  strategy: string;
  droplet: { guid: string };
  new_processes: { guid: string; type: string }[];
}

export interface Process extends Resource {
  type: string;
  command: string | null;
  instances: number;
  memory_in_mb: number;
  disk_in_mb: number;
  health_check: { type: string; data: Record<string, unknown> };
  relationships: { app: { data: { guid: string } } };
}

/** One instance of a process as `GET /v3/processes/:guid/stats` reports it. */
export interface ProcessInstanceStats {
  type: string;
  index: number;
  /** RUNNING, STARTING, CRASHED or DOWN. */
  state: string;
  /** cpu is a fraction of one core (0.003 = 0.3%); mem and disk are bytes. Empty for an instance that is down. */
  usage?: { cpu?: number; mem?: number; disk?: number; time?: string };
  mem_quota?: number | null;
  disk_quota?: number | null;
  /** Seconds since the instance started. */
  uptime?: number;
  /** When the instance entered its state (seconds since the epoch), when known. */
  since?: number | null;
  details?: string | null;
  instance_guid?: string | null;
}

export interface Package extends Resource {
  type: string;
  /** AWAITING_UPLOAD, PROCESSING_UPLOAD, READY, FAILED, ... */
  state: string;
}

export interface Build extends Resource {
  state: 'STAGING' | 'STAGED' | 'FAILED';
  /** `NoAppDetectedError - An app was not successfully detected by any available buildpack` when FAILED. */
  error: string | null;
  package: { guid: string };
  droplet: { guid: string } | null;
}

/** A file of the app as resource_matches and the upload name it. */
export interface FileResource {
  path: string;
  checksum: { value: string };
  size_in_bytes: number;
  mode: string;
}

export interface Domain extends Resource {
  name: string;
  /** Internal domains (container-to-container) get no default route. */
  internal?: boolean;
}

export interface Destination {
  guid: string;
  app: { guid: string; process: { type: string } };
}

export interface Route extends Resource {
  host: string;
  path: string;
  url: string;
  destinations: Destination[];
  relationships: { space: { data: { guid: string } }; domain: { data: { guid: string } } };
}

export interface AuditEvent extends Resource {
  type: string;
  actor: { guid: string; type: string; name: string };
  target: { guid: string; type: string; name: string };
  data: Record<string, unknown>;
}

export interface AppEnvironment {
  staging_env_json: Record<string, unknown>;
  running_env_json: Record<string, unknown>;
  environment_variables: Record<string, string>;
  system_env_json: Record<string, unknown>;
  application_env_json: Record<string, unknown>;
}

export interface Droplet extends Resource {
  buildpacks?: { name: string; detect_output?: string | null; buildpack_name?: string | null }[];
  process_types?: Record<string, string>;
}

/** PENDING → RUNNING → SUCCEEDED or FAILED; CANCELING after a cancel, until it is FAILED. */
export type TaskState = 'PENDING' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'CANCELING';

/** A one-off task of an app (`POST /v3/apps/:guid/tasks`): a command run once on the app's droplet. */
export interface Task extends Resource {
  /** The task's id within its app (1, 2, ...): what `tasks` shows and `terminate-task` takes. */
  sequence_id: number;
  name: string;
  /** Empty or absent for a user who may not see it (cf prints `[hidden]`). */
  command?: string | null;
  state: TaskState;
  memory_in_mb: number;
  disk_in_mb: number;
  /** Why a FAILED task failed (`Exited with status 1`, `task was cancelled`); null otherwise. */
  result: { failure_reason: string | null };
  droplet_guid: string;
  relationships: { app: { data: { guid: string } } };
}

export interface ServiceBroker extends Resource {
  name: string;
  url: string;
}

export interface ServiceOffering extends Resource {
  name: string;
  description: string;
  tags: string[];
  relationships: { service_broker: { data: { guid: string } } };
}

export interface ServicePlan extends Resource {
  name: string;
  description: string;
  free: boolean;
  relationships: { service_offering: { data: { guid: string } } };
}

/** What was last done to a service instance or binding: `create in progress`, `delete failed`… with the broker's words. */
export interface LastOperation {
  type: string;
  state: string;
  description?: string;
  created_at?: string;
  updated_at?: string;
}

export interface ServiceInstance extends Resource {
  name: string;
  type: 'managed' | 'user-provided';
  tags: string[];
  dashboard_url?: string | null;
  last_operation: LastOperation;
  relationships: { space: { data: { guid: string } }; service_plan?: { data: { guid: string } } };
}

export interface ServiceCredentialBinding extends Resource {
  name: string | null;
  type: 'app' | 'key';
  last_operation?: LastOperation;
  relationships: { app?: { data: { guid: string } }; service_instance: { data: { guid: string } } };
}

/** One page of a list (`GET /v3/apps?...`): its resources and the link to the next page. */
export interface Page<T> {
  pagination: { next: { href: string } | null };
  resources: T[];
}

/**
 * An asynchronous job (the `Location` of a 202, e.g. after a DELETE): PROCESSING, then COMPLETE or
 * FAILED; a service broker's work is POLLING while the broker works on asynchronously.
 */
export interface Job {
  guid?: string;
  operation?: string;
  state: string;
  errors: { detail: string }[];
}
