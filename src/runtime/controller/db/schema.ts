// The controller's tables. Portable across SQLite and MySQL: guids are varchar(36), timestamps are
// ISO-8601 strings (sortable as text), JSON documents are text.
import type { Generated } from 'kysely';

export interface Timestamps {
  created_at: string;
  updated_at: string;
}

export interface OrganizationTable extends Timestamps {
  guid: string;
  name: string;
  suspended: number;
  metadata: string;
}

export interface SpaceTable extends Timestamps {
  guid: string;
  name: string;
  organization_guid: string;
  metadata: string;
  /** 1: users may ssh into the space's apps (the space feature `ssh`, CC's allow_ssh). */
  allow_ssh: number;
}

export interface DomainTable extends Timestamps {
  guid: string;
  name: string;
  internal: number;
  /** null: a shared domain. */
  organization_guid: string | null;
  metadata: string;
}

export interface AppTable extends Timestamps {
  guid: string;
  name: string;
  space_guid: string;
  /** STARTED or STOPPED: the desired state. */
  state: string;
  lifecycle_type: string;
  /** JSON array of buildpack names or paths. */
  buildpacks: string;
  stack: string;
  /** JSON object: the user's environment variables. */
  environment_variables: string;
  droplet_guid: string | null;
  metadata: string;
  /** 1: users may ssh into its instances (the app feature `ssh`). */
  enable_ssh: number;
  /** The app feature `revisions`: recorded and shown; devbox keeps no revisions. */
  revisions_enabled: number;
}

export interface ProcessTable extends Timestamps {
  guid: string;
  app_guid: string;
  type: string;
  command: string | null;
  instances: number;
  memory_in_mb: number;
  disk_in_mb: number;
  log_rate_limit_in_bytes_per_second: number;
  health_check_type: string;
  health_check_endpoint: string | null;
  health_check_timeout: number | null;
  health_check_invocation_timeout: number | null;
  /** Changes whenever instances must be restarted with new settings (CF's process version). */
  version: string;
  metadata: string;
}

export interface RouteTable extends Timestamps {
  guid: string;
  host: string;
  path: string;
  domain_guid: string;
  space_guid: string;
  metadata: string;
}

export interface RouteDestinationTable extends Timestamps {
  guid: string;
  route_guid: string;
  app_guid: string;
  process_type: string;
  port: number | null;
}

export interface AuditEventTable {
  guid: string;
  created_at: string;
  updated_at: string;
  type: string;
  actor_guid: string;
  actor_type: string;
  actor_name: string;
  target_guid: string;
  target_type: string;
  target_name: string;
  space_guid: string | null;
  organization_guid: string | null;
  /** JSON object: what changed. */
  data: string;
  /** Insertion order, for stable ordering of events created in the same millisecond. */
  seq: Generated<number>;
}

export interface JobTable extends Timestamps {
  guid: string;
  operation: string;
  /** PROCESSING, POLLING (a broker works on asynchronously), COMPLETE, FAILED (as v3). */
  state: string;
  resource_guid: string | null;
  resource_type: string | null;
  errors: string;
  /** JSON: what a job still to be done needs (actions/service-jobs.ts); null once it has ended, and for jobs done at once. */
  payload: string | null;
  /** When its next step is due (a last_operation poll); null: now. */
  run_at: string | null;
  /** The controller running a step of it, until when: another takes it over only after. */
  lease_owner: string | null;
  lease_until: string | null;
}

export interface PackageTable extends Timestamps {
  guid: string;
  app_guid: string;
  /** `bits`: app files uploaded by the CLI. */
  type: string;
  /** AWAITING_UPLOAD, PROCESSING_UPLOAD, READY, FAILED (as v3). */
  state: string;
  /** sha256 of the package's file list: equal lists, equal packages. */
  checksum: string | null;
  /** JSON array of PackageEntry (see blobstore.ts). */
  files: string | null;
  bytes: number;
  error: string | null;
}

export interface DropletTable extends Timestamps {
  guid: string;
  app_guid: string;
  package_guid: string | null;
  /** AWAITING_UPLOAD, PROCESSING_UPLOAD, STAGED, FAILED, EXPIRED (as v3). */
  state: string;
  error: string | null;
  /** JSON object: process type → command. */
  process_types: string;
  /** JSON array: the buildpacks that staged it ({name, detect_output, buildpack_name}). */
  buildpacks: string;
  stack: string;
  sha1: string | null;
  bytes: number;
  /** sha256 of what it was staged from (runner/staging-key.ts); null for droplets staged before 0006. */
  staging_key: string | null;
}

/** A blob kept in a shared (MySQL) database, so every controller on it can serve it (blobstore.ts). */
export interface BlobTable {
  sha1: string;
  size: number;
  chunks: number;
  created_at: string;
}

export interface BlobChunkTable {
  sha1: string;
  seq: number;
  data: Buffer;
}

export interface BuildTable extends Timestamps {
  guid: string;
  app_guid: string;
  package_guid: string;
  droplet_guid: string | null;
  /** STAGING, STAGED, FAILED (as v3). */
  state: string;
  error: string | null;
  /** JSON array of the requested buildpacks. */
  buildpacks: string;
  staging_memory_in_mb: number;
  staging_disk_in_mb: number;
  /** JSON {guid, name, email}. */
  created_by: string;
}

export interface ServiceBrokerTable extends Timestamps {
  guid: string;
  name: string;
  url: string;
  username: string;
  /** Basic auth password for the broker: never returned by the API, never logged. */
  password: string;
  metadata: string;
  /** Cloud Controller's broker states: SYNCHRONIZING while a job fetches its catalog, then AVAILABLE or SYNCHRONIZATION_FAILED. */
  state: BrokerState;
}

export type BrokerState = 'SYNCHRONIZING' | 'AVAILABLE' | 'SYNCHRONIZATION_FAILED';

export interface ServiceOfferingTable extends Timestamps {
  guid: string;
  broker_guid: string;
  /** The offering's id in the broker's catalog (stable). */
  broker_id: string;
  name: string;
  description: string;
  /** JSON: the catalog entry without its plans (tags, requires, bindable, metadata, ...). */
  catalog: string;
}

export interface ServicePlanTable extends Timestamps {
  guid: string;
  offering_guid: string;
  broker_id: string;
  name: string;
  description: string;
  /** JSON: the plan's catalog entry (free, bindable, metadata, schemas, ...). */
  catalog: string;
}

export interface ServiceInstanceTable extends Timestamps {
  guid: string;
  name: string;
  /** managed or user-provided. */
  type: string;
  space_guid: string;
  /** null for user-provided instances. */
  plan_guid: string | null;
  /** JSON object: a user-provided instance's credentials (null for managed). */
  credentials: string | null;
  /** JSON array of the instance's own tags. */
  tags: string;
  syslog_drain_url: string | null;
  route_service_url: string | null;
  dashboard_url: string | null;
  /** JSON {type, state, description, created_at, updated_at}. */
  last_operation: string;
  metadata: string;
}

export interface ServiceBindingTable extends Timestamps {
  guid: string;
  /** app or key. */
  type: string;
  name: string | null;
  instance_guid: string;
  app_guid: string | null;
  /** JSON object: the credentials the broker returned (or the user-provided instance's). */
  credentials: string;
  syslog_drain_url: string | null;
  last_operation: string;
  metadata: string;
  /**
   * What the binding holds of its instance, unique per instance: `app:<app guid>` (one binding per
   * app) or `key:<name>` (one key of a name), so that two requests cannot both bind.
   */
  claim: string;
}

/**
 * A user of the API, as Cloud Controller keeps one: uaa's user id as its guid, with the username
 * and origin uaa knows it by (null for a client's identity, or a user known by guid only).
 */
export interface UserTable extends Timestamps {
  guid: string;
  username: string | null;
  origin: string | null;
  metadata: string;
}

/** A user's role in an organization (organization_*) or a space (space_*). */
export interface RoleTable extends Timestamps {
  guid: string;
  /** organization_user, organization_manager, organization_auditor, organization_billing_manager, space_manager, space_developer, space_auditor, space_supporter. */
  type: string;
  user_guid: string;
  /** The organization of an organization role; null for a space role. */
  organization_guid: string | null;
  /** The space of a space role; null for an organization role. */
  space_guid: string | null;
  /** The organization's or the space's guid: the unique key (user, type, scope) holds for both kinds. */
  scope_guid: string;
}

/** A task (CC v3): a one-off command run once with the app's droplet. */
export interface TaskTable extends Timestamps {
  guid: string;
  app_guid: string;
  /** 1, 2, 3... per app: what `cf tasks` shows as the id and `cf terminate-task` takes. */
  sequence_id: number;
  name: string;
  command: string;
  /** PENDING, RUNNING, CANCELING, SUCCEEDED, FAILED (as v3). */
  state: string;
  memory_in_mb: number;
  disk_in_mb: number;
  log_rate_limit_in_bytes_per_second: number;
  /** The droplet it runs (the app's current one when it was created). */
  droplet_guid: string;
  failure_reason: string | null;
  /** The DEA it was placed on, while it runs there. */
  dea_id: string | null;
  metadata: string;
}

/** A deployment (CC v3, strategy rolling): the web process's instances replaced one index at a time. */
export interface DeploymentTable extends Timestamps {
  guid: string;
  app_guid: string;
  /** The web process it deploys (the same process: its new instances are of `version`). */
  process_guid: string;
  /** DEPLOYING, DEPLOYED, CANCELING, CANCELED (CC's older field). */
  state: string;
  /** ACTIVE or FINALIZED. */
  status_value: string;
  /** DEPLOYING, DEPLOYED, CANCELING, CANCELED, SUPERSEDED. */
  status_reason: string;
  strategy: string;
  /** How many new instances may be starting at once. */
  max_in_flight: number;
  droplet_guid: string;
  previous_droplet_guid: string | null;
  /** The process version its new instances run, and the one before (restored by a cancel). */
  version: string;
  previous_version: string;
  /** New instances that crashed or never became healthy: past a few, the deployment cancels itself. */
  failures: number;
  /** JSON {index: ISO time}: the new instances asked for and not yet seen running. */
  starts: string;
  /** Why it was canceled, when it cancelled itself. */
  cancel_reason: string | null;
  last_successful_healthcheck: string;
  last_status_change: string;
  metadata: string;
}

/** A sidecar (CC v3): a command run beside every instance of the app's processes of its types, in the same container. */
export interface SidecarTable extends Timestamps {
  guid: string;
  app_guid: string;
  /** Unique in its app. */
  name: string;
  command: string;
  /** What it reserves of its process's memory; null: none of its own. */
  memory_in_mb: number | null;
  /** `user` (the API, a manifest); Cloud Controller also has `buildpack`, which devbox's buildpacks never declare. */
  origin: string;
}

/** The process types a sidecar runs with (CC's sidecar_process_types): one row per sidecar and type. */
export interface SidecarProcessTypeTable {
  sidecar_guid: string;
  app_guid: string;
  type: string;
}

export interface Database {
  organizations: OrganizationTable;
  spaces: SpaceTable;
  domains: DomainTable;
  apps: AppTable;
  processes: ProcessTable;
  routes: RouteTable;
  route_destinations: RouteDestinationTable;
  audit_events: AuditEventTable;
  jobs: JobTable;
  packages: PackageTable;
  droplets: DropletTable;
  builds: BuildTable;
  service_brokers: ServiceBrokerTable;
  service_offerings: ServiceOfferingTable;
  service_plans: ServicePlanTable;
  service_instances: ServiceInstanceTable;
  service_bindings: ServiceBindingTable;
  blobs: BlobTable;
  blob_chunks: BlobChunkTable;
  users: UserTable;
  roles: RoleTable;
  tasks: TaskTable;
  deployments: DeploymentTable;
  sidecars: SidecarTable;
  sidecar_process_types: SidecarProcessTypeTable;
}
