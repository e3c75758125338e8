// The DEA's messages on the bus, as docs/dea-protocol.md defines them (classic Cloud Foundry names).

export type InstanceState = 'STARTING' | 'RUNNING' | 'CRASHED' | 'STOPPING';
export type ExitReason = 'CRASHED' | 'STOPPED' | 'DEA_SHUTDOWN';
export type HealthCheckType = 'port' | 'http' | 'process' | 'none';

/** `staging.<dea id>.start` (request). */
export interface StagingRequest {
  app_id: string;
  task_id: string;
  package_guid?: string;
  droplet_guid?: string;
  package_download_uri: string;
  droplet_upload_uri: string;
  /** Names of built-in buildpacks or absolute directory paths; empty = detect. */
  buildpacks?: string[] | null;
  environment?: Record<string, string> | null;
  start_command?: string | null;
  memory_limit?: number;
  disk_limit?: number;
  stack?: string;
}

export interface StagingErrorReply {
  task_id: string;
  error: { id: string; message: string };
}

export interface StagingSuccessReply {
  task_id: string;
  detected_buildpack: string;
  buildpack_name: string;
  start_command: string;
  process_types: Record<string, string>;
  droplet_sha1: string;
  /** devbox: the droplet's size in bytes. */
  droplet_size?: number;
}

export type StagingReply = StagingSuccessReply | StagingErrorReply;

/** One entry of VCAP_SERVICES (Cloud Foundry's shape). */
export interface ServiceBinding {
  name: string;
  label: string;
  plan?: string;
  tags?: string[];
  instance_guid?: string;
  instance_name?: string;
  binding_guid?: string;
  binding_name?: string | null;
  credentials: Record<string, unknown>;
  syslog_drain_url?: string | null;
  volume_mounts?: unknown[];
}

/** `dea.<dea id>.start`. */
export interface StartMessage {
  droplet: string;
  version: string;
  name: string;
  index: number;
  process_guid?: string;
  process_type?: string;
  space_guid?: string;
  uris?: string[];
  limits?: { mem?: number; disk?: number; fds?: number };
  env?: Record<string, string> | null;
  services?: ServiceBinding[] | null;
  start_command?: string | null;
  health_check_type?: HealthCheckType | null;
  health_check_http_endpoint?: string | null;
  health_check_timeout?: number | null;
  vcap_application?: Record<string, unknown> | null;
  executableUri: string;
  sha1?: string | null;
  droplet_guid?: string;
}

/** `dea.stop`. */
export interface StopMessage {
  droplet: string;
  version?: string;
  instances?: string[];
  /** Cloud Foundry's older name for `instances`. */
  instance_ids?: string[];
  indices?: number[];
}

/** `dea.update`: the app's routes changed. */
export interface UpdateMessage {
  droplet: string;
  uris: string[];
}

export interface HeartbeatEntry {
  droplet: string;
  version: string;
  instance: string;
  index: number;
  state: InstanceState;
  state_timestamp: number;
}

export interface DropletExited {
  droplet: string;
  version: string;
  instance: string;
  index: number;
  reason: ExitReason;
  exit_status: number;
  exit_description: string;
  crash_timestamp?: number;
}

/** `dea.find.droplet` (request). */
export interface FindDropletRequest {
  droplet: string;
  version?: string;
  instances?: string[];
  indices?: number[];
  states?: InstanceState[];
  include_stats?: boolean;
}

export interface InstanceStats {
  name: string;
  uris: string[];
  host: string;
  port: number;
  uptime: number;
  mem_quota: number;
  disk_quota: number;
  fds_quota: number;
  usage: { cpu: number; mem: number; disk: number; time: string };
}

export interface FindDropletReply {
  dea: string;
  droplet: string;
  version: string;
  instance: string;
  index: number;
  state: InstanceState;
  state_timestamp: number;
  stats?: InstanceStats;
}
