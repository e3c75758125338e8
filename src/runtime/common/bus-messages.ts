// Every subject devbox uses on the bus and the message it carries, declared once (issue 15). Subjects
// and fields follow classic Cloud Foundry (gorouter, dea_ng, hm9000, vcap-services-base); the prose
// is in docs/bus.md, docs/dea-protocol.md and docs/services-protocol.md.
//
// A contract is a subject (or a function building a per-id subject), its message type, and a check
// of the fields receivers rely on. publish / subscribe / request / requestMany / respond in bus.ts
// take a contract; a message that fails its check is logged and dropped on arrival, so handlers
// only ever see messages of their type. Unknown fields are ignored, as Cloud Foundry ignores them.
import { isSubjectToken } from './bus.js';
import { PROCESS_HEALTH_CHECK_TYPES } from './health-checks.js';

// ---- checks ------------------------------------------------------------------------------------

/** A runtime check of a decoded JSON value against the type T. */
export interface Check<T> {
  /**
   * Why `value` is not a T, naming the field (`droplets[2].index: expected an integer ≥ 0`), or
   * undefined when it is one. Never quotes the value: payloads carry credentials and environments.
   */
  problem(value: unknown, at?: string): string | undefined;
  /** The type guard. */
  is(value: unknown): value is T;
}

/** A check from a function saying what is wrong at `at` (a field path; '' for the message itself). */
export function check<T>(problem: (value: unknown, at: string) => string | undefined): Check<T> {
  return {
    problem: (value, at = '') => problem(value, at),
    is: (value): value is T => problem(value, '') === undefined,
  };
}

const expected = (at: string, what: string) => `${at || 'the message'}: expected ${what}`;
const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
/** A field name fit for a problem text (record keys come from the sender: no control characters). */
const fieldName = (key: string) => (/^[\w-]{1,64}$/.test(key) ? key : '[…]');
const field = (at: string, key: string) => (at ? `${at}.${fieldName(key)}` : fieldName(key));

/** Anything, absent included: for messages whose body receivers ignore, and opaque JSON values. */
export const anything: Check<unknown> = check(() => undefined);
export const string: Check<string> = check((v, at) => (typeof v === 'string' ? undefined : expected(at, 'a string')));
/** A guid or an id: a string that is not empty. */
export const nonEmpty: Check<string> = check((v, at) => (typeof v === 'string' && v !== '' ? undefined : expected(at, 'a non-empty string')));
/** A finite number. */
export const number: Check<number> = check((v, at) => (typeof v === 'number' && Number.isFinite(v) ? undefined : expected(at, 'a number')));
/** An instance index. */
export const index: Check<number> = check((v, at) => (typeof v === 'number' && Number.isInteger(v) && v >= 0 ? undefined : expected(at, 'an integer ≥ 0')));
export const boolean: Check<boolean> = check((v, at) => (typeof v === 'boolean' ? undefined : expected(at, 'true or false')));

/** One of the given strings. */
export function oneOf<const V extends string>(...values: V[]): Check<V> {
  return check((v, at) => (values.includes(v as V) ? undefined : expected(at, `one of ${values.join(', ')}`)));
}

/** A field that may be absent. */
export function optional<T>(inner: Check<T>): Check<T | undefined> {
  return check((v, at) => (v === undefined ? undefined : inner.problem(v, at)));
}

/** A field that may be null (JSON senders write null for "none"). */
export function nullable<T>(inner: Check<T>): Check<T | null> {
  return check((v, at) => (v === null ? undefined : inner.problem(v, at)));
}

export function array<T>(item: Check<T>): Check<T[]> {
  return check((v, at) => {
    if (!Array.isArray(v)) return expected(at, 'an array');
    for (let i = 0; i < v.length; i++) {
      const problem = item.problem(v[i], `${at}[${i}]`);
      if (problem !== undefined) return problem;
    }
    return undefined;
  });
}

/** An object used as a map (`app_id_to_count`, an environment). */
export function record<T>(value: Check<T>): Check<Record<string, T>> {
  return check((v, at) => {
    if (!isPlainObject(v)) return expected(at, 'an object');
    for (const [key, item] of Object.entries(v)) {
      const problem = value.problem(item, field(at, key));
      if (problem !== undefined) return problem;
    }
    return undefined;
  });
}

/**
 * An object with the given fields checked (others pass unchecked). T is the declared message type:
 * a field's check must be one of that field's type, so a guard cannot drift from its interface.
 */
export function object<T>(fields: { [K in keyof T]?: Check<T[K]> }): Check<T> {
  const entries = Object.entries(fields) as [string, Check<unknown>][];
  return check((v, at) => {
    if (!isPlainObject(v)) return expected(at, 'an object');
    for (const [key, inner] of entries) {
      const problem = inner.problem(v[key], field(at, key));
      if (problem !== undefined) return problem;
    }
    return undefined;
  });
}

/** Either of two checks. */
export function either<A, B>(first: Check<A>, second: Check<B>): Check<A | B> {
  return check((v, at) => {
    const a = first.problem(v, at);
    if (a === undefined) return undefined;
    const b = second.problem(v, at);
    if (b === undefined) return undefined;
    // Both refused the value itself: say both. Otherwise the one that got inside it says more.
    const prefix = expected(at, '');
    if (a.startsWith(prefix) && b.startsWith(prefix)) return `${a} or ${b.slice(prefix.length)}`;
    return a.startsWith(prefix) ? b : a;
  });
}

/** `base`, and a rule it must also hold to (`what` says the rule, as in "expected <what>"). */
export function where<T>(base: Check<T>, holds: (value: T) => boolean, what: string): Check<T> {
  return check((v, at) => base.problem(v, at) ?? (holds(v as T) ? undefined : expected(at, what)));
}

// ---- contracts ---------------------------------------------------------------------------------

/** A subject and the message on it. */
export interface Contract<T> {
  readonly subject: string;
  readonly check: Check<T>;
}

/** A subject sent with request/reply: the request, and the reply the requester gets. */
export interface RequestContract<T, R> extends Contract<T> {
  readonly reply: Check<R>;
}

const contract = <T>(subject: string, checked: Check<T>): Contract<T> => ({ subject, check: checked });
const requestContract = <T, R>(subject: string, checked: Check<T>, reply: Check<R>): RequestContract<T, R> => ({ subject, check: checked, reply });

// ---- router (gorouter) -------------------------------------------------------------------------

/**
 * Printable ASCII only: these strings are written into forwarded headers as latin1, where a wider
 * character would be truncated to a byte (U+010D → CR) and could inject a header.
 */
const printable = where(string, (s) => /^[\x21-\x7e]*$/.test(s), 'printable ASCII without spaces');

/** `router.register` / `router.unregister` (gorouter's JSON). */
export interface RouterRegisterMessage {
  host: string;
  port: number;
  uris: string[];
  app?: string | null;
  private_instance_id?: string | null;
  /** The instance index, as dea_ng sent it (gorouter shows it in its access log). */
  index?: number | string | null;
  /** The instance index as gorouter reads it (a string): its access-log lines show it as app_index. */
  private_instance_index?: number | string | null;
  tags?: Record<string, string> | null;
  stale_threshold_in_seconds?: number | null;
}

const routerRegistration = object<RouterRegisterMessage>({
  host: where(printable, (s) => s !== '', 'a non-empty host'),
  port: where(number, (n) => Number.isInteger(n) && n >= 1 && n <= 65535, 'an integer 1-65535'),
  uris: array(printable),
  // These end up in forwarded headers and access-log lines too.
  app: optional(nullable(printable)),
  private_instance_id: optional(nullable(printable)),
  index: optional(nullable(either(printable, index))),
  private_instance_index: optional(nullable(either(printable, index))),
  tags: optional(nullable(record(string))),
  stale_threshold_in_seconds: optional(nullable(number)),
});

/** dea (its instances), controller, uaa, logs, mysql-gateway (RouteRegistrar) → router: add or refresh routes to host:port. */
export const routerRegister = contract('router.register', routerRegistration);
/** The same registrants → router: take host:port off those uris. */
export const routerUnregister = contract('router.unregister', routerRegistration);

/** `router.start`, and the reply to `router.greet`. */
export interface RouterStartMessage {
  id: string;
  hosts: string[];
  minimumRegisterIntervalInSeconds: number;
  pruneThresholdInSeconds: number;
}

const routerStartMessage = object<RouterStartMessage>({
  id: string,
  hosts: array(string),
  minimumRegisterIntervalInSeconds: where(number, (n) => n > 0, 'a number > 0'),
  pruneThresholdInSeconds: number,
});

/** router → every registrant (RouteRegistrar), at start and after each reconnect: register everything now, then every interval. */
export const routerStart = contract('router.start', routerStartMessage);
/** A registrant → routers (request, no body): the routers answer with their router.start. */
export const routerGreet = requestContract('router.greet', anything, routerStartMessage);

// ---- DEA ---------------------------------------------------------------------------------------

export const INSTANCE_STATES = ['STARTING', 'RUNNING', 'CRASHED', 'STOPPING', 'EVACUATING'] as const;
/** An instance's state in heartbeats and find.droplet replies (devbox's DEAs never evacuate). */
export type InstanceState = (typeof INSTANCE_STATES)[number];
const instanceState = oneOf(...INSTANCE_STATES);

export const EXIT_REASONS = ['CRASHED', 'STOPPED', 'DEA_SHUTDOWN', 'DEA_EVACUATION'] as const;
/** Why an instance ended, in `droplet.exited`. */
export type ExitReason = (typeof EXIT_REASONS)[number];

export const HEALTH_CHECK_TYPES = [...PROCESS_HEALTH_CHECK_TYPES, 'none'] as const;
/** How a DEA tells an instance is up (docs/dea-protocol.md); port when not given. */
export type HealthCheckType = (typeof HEALTH_CHECK_TYPES)[number];

/** `dea.advertise`: room for more instances. Memory and disk in MB. */
export interface Advertisement {
  id: string;
  stacks: string[];
  available_memory: number;
  available_disk: number;
  app_id_to_count: Record<string, number>;
  placement_properties?: { zone: string };
}

/** dea → controllers, every 5 s, at start and when its instances change: where to place and stage. */
export const deaAdvertise = contract(
  'dea.advertise',
  object<Advertisement>({
    id: nonEmpty,
    stacks: array(string),
    available_memory: number,
    available_disk: number,
    app_id_to_count: record(number),
  }),
);

/** controller → DEAs (body ignored; the controller sends {}), when it starts: advertise now. */
export const deaLocate = contract<unknown>('dea.locate', anything);

/** `dea.shutdown` (dea_ng's): the DEA is stopping. */
export interface DeaShutdown {
  id: string;
  ip: string;
  app_id_to_count: Record<string, number>;
}

/** dea → controllers, when it stops, before it stops its instances: place nothing more there. */
export const deaShutdown = contract('dea.shutdown', object<DeaShutdown>({ id: nonEmpty }));

/** One entry of VCAP_SERVICES (Cloud Foundry's shape), as the start message carries bindings. */
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

/** An instance's limits: memory and disk in MB, file descriptors. */
export interface InstanceLimits {
  mem?: number;
  disk?: number;
  fds?: number;
}

/**
 * `dea.<dea id>.start`: start one instance (docs/dea-protocol.md). `droplet` names what the instance
 * is an instance of: the process's guid (the web process's guid is its app's), as Cloud Controller
 * told DEAs; heartbeats, stops, finds and exits say it too. `app_guid` is the app the logs and
 * routes are for (the droplet when absent).
 */
export interface StartMessage {
  droplet: string;
  app_guid?: string;
  version: string;
  name: string;
  index: number;
  process_guid?: string;
  process_type?: string;
  space_guid?: string;
  uris?: string[];
  limits?: InstanceLimits;
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
  /**
   * The sidecars of the instance's process type (CC v3), started in the instance's container
   * beside it and ended with it (a devbox addition to dea_ng's message; docs/dea.md, "Sidecars").
   * Tasks run none.
   */
  sidecars?: SidecarStart[];
}

/** A sidecar's name is a log source (`APP/PROC/WEB/SIDECAR/<NAME>`) and part of `SIDECAR_<NAME>_PORT`: letters, digits, `._-`. */
export const SIDECAR_NAME = /^[A-Za-z0-9_.-]{1,48}$/;

/** One sidecar of a start message: what it runs, and the memory it reserves of the instance's (none: it shares the app's). */
export interface SidecarStart {
  name: string;
  command: string;
  memory_in_mb?: number | null;
}

/** The variable an instance and its sidecars find a sidecar's port in: `SIDECAR_<NAME>_PORT`, upper-cased, anything but letters and digits as `_`. */
export const sidecarPortVariable = (name: string): string => `SIDECAR_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_PORT`;

const startFields = {
  droplet: nonEmpty,
  app_guid: optional(nonEmpty),
  version: string,
  name: string,
  index,
  executableUri: nonEmpty,
  uris: optional(array(string)),
  limits: optional(object<InstanceLimits>({ mem: optional(number), disk: optional(number), fds: optional(number) })),
  env: optional(nullable(record(string))),
  services: optional(nullable(array(object<ServiceBinding>({ name: string, label: string, credentials: record(anything), tags: optional(array(string)) })))),
  start_command: optional(nullable(string)),
  health_check_type: optional(nullable(oneOf(...HEALTH_CHECK_TYPES))),
  health_check_http_endpoint: optional(nullable(string)),
  health_check_timeout: optional(nullable(number)),
  vcap_application: optional(nullable(record(anything))),
  sha1: optional(nullable(string)),
  process_guid: optional(string),
  process_type: optional(string),
  space_guid: optional(string),
  sidecars: optional(
    array(
      object<SidecarStart>({
        name: where(string, (n) => SIDECAR_NAME.test(n), 'a sidecar name (letters, digits, ._-)'),
        command: where(string, (c) => c.trim() !== '', 'a command'),
        memory_in_mb: optional(nullable(where(number, (n) => Number.isInteger(n) && n > 0, 'an integer > 0'))),
      }),
    ),
  ),
};
const startMessage = object<StartMessage>(startFields);

/** controller → the DEA it placed the instance on. */
export const deaStart = (deaId: string): Contract<StartMessage> => contract(`dea.${deaId}.start`, startMessage);

// ---- tasks (Cloud Controller v3; the DEAs of Cloud Foundry had none: devbox's subjects) ---------

/** A task's name is a log source (`APP/TASK/<name>/0`) and a CLI argument: letters, digits, `._-`. */
export const TASK_NAME = /^[A-Za-z0-9_.-]{1,48}$/;

/**
 * `dea.<dea id>.task.start`: run a task once, in a container of its own, with the app's droplet,
 * environment and bindings. Shaped as a start message (its `droplet` is the task's guid, its index
 * 0, no uris, no health check), plus the task's guid and name.
 */
export interface TaskStartMessage extends StartMessage {
  task_guid: string;
  task_name: string;
}

/** controller → the DEA it placed the task on. */
export const deaTaskStart = (deaId: string): Contract<TaskStartMessage> =>
  contract(`dea.${deaId}.task.start`, object<TaskStartMessage>({ ...startFields, task_guid: nonEmpty, task_name: where(string, (n) => TASK_NAME.test(n), 'a task name (letters, digits, ._-)') }));

export const TASK_RESULTS = ['SUCCEEDED', 'FAILED'] as const;
export type TaskResult = (typeof TASK_RESULTS)[number];

/** `task.exited`: a task ended, whatever ended it. */
export interface TaskExited {
  task_guid: string;
  app_guid: string;
  dea: string;
  state: TaskResult;
  exit_status: number;
  /** Why it FAILED (null when it SUCCEEDED): `APP/TASK/migrate: Exited with status 1`, `task was cancelled`, ... */
  failure_reason: string | null;
}

const taskExitedMessage = object<TaskExited>({
  task_guid: nonEmpty,
  app_guid: nonEmpty,
  dea: nonEmpty,
  state: oneOf(...TASK_RESULTS),
  exit_status: number,
  failure_reason: nullable(string),
});

/** dea → controllers (a queue group: one controller records each). */
export const taskExited = contract('task.exited', taskExitedMessage);

/** `dea.task.cancel`: end a task (SIGTERM, SIGKILL after the grace); it exits FAILED, `task was cancelled`. */
export interface TaskCancel {
  task_guid: string;
}

/** controller → every DEA. */
export const deaTaskCancel = contract('dea.task.cancel', object<TaskCancel>({ task_guid: nonEmpty }));

/** `dea.find.task` (request): where these tasks are and how they are; a DEA answers for those it runs or ran lately. */
export interface FindTaskRequest {
  task_guids: string[];
}

/** One task a DEA knows: RUNNING, or how it ended (the `task.exited` it published, again). */
export interface FindTaskReply {
  task_guid: string;
  dea: string;
  state: 'RUNNING' | TaskResult;
  exited?: TaskExited;
}

/** controller → every DEA (replies gathered for up to 500 ms). */
export const deaFindTask = requestContract(
  'dea.find.task',
  object<FindTaskRequest>({ task_guids: array(nonEmpty) }),
  object<FindTaskReply>({ task_guid: nonEmpty, dea: nonEmpty, state: oneOf('RUNNING', ...TASK_RESULTS), exited: optional(taskExitedMessage) }),
);

/** `dea.stop`: stop the app's matching instances (all of them with only `droplet`). */
export interface StopMessage {
  droplet: string;
  version?: string;
  instances?: string[];
  /** Cloud Foundry's older name for `instances`. */
  instance_ids?: string[];
  indices?: number[];
}

/** controller → every DEA. */
export const deaStop = contract(
  'dea.stop',
  object<StopMessage>({
    droplet: nonEmpty,
    version: optional(string),
    instances: optional(array(string)),
    instance_ids: optional(array(string)),
    indices: optional(array(index)),
  }),
);

/** `dea.update`: the app's routes are now these. */
export interface UpdateMessage {
  droplet: string;
  uris: string[];
}

/** controller → every DEA, when routes are mapped to or unmapped from a started app. */
export const deaUpdate = contract('dea.update', object<UpdateMessage>({ droplet: nonEmpty, uris: array(string) }));

/** One instance in a `dea.heartbeat`. `state_timestamp` in seconds since the epoch. */
export interface HeartbeatDroplet {
  droplet: string;
  version: string;
  instance: string;
  index: number;
  state: InstanceState;
  state_timestamp: number;
}

/** `dea.heartbeat`: every instance a DEA has. */
export interface Heartbeat {
  dea: string;
  droplets: HeartbeatDroplet[];
}

/** dea → health, every 2 s and at once when an instance changes state. */
export const deaHeartbeat = contract(
  'dea.heartbeat',
  object<Heartbeat>({
    dea: nonEmpty,
    droplets: array(
      object<HeartbeatDroplet>({ droplet: nonEmpty, version: string, instance: nonEmpty, index, state: instanceState, state_timestamp: number }),
    ),
  }),
);

/** `droplet.exited`: an instance's process ended, whatever ended it. */
export interface DropletExited {
  droplet: string;
  version: string;
  instance: string;
  index: number;
  reason: ExitReason;
  exit_status: number;
  exit_description: string;
  /** Seconds since the epoch; CRASHED only. */
  crash_timestamp?: number;
}

/** dea → health and controllers (a queue group: one controller records each crash). */
export const dropletExited = contract(
  'droplet.exited',
  object<DropletExited>({
    droplet: nonEmpty,
    version: string,
    instance: nonEmpty,
    index,
    reason: oneOf(...EXIT_REASONS),
    exit_status: number,
    exit_description: string,
    crash_timestamp: optional(number),
  }),
);

/** `dea.find.droplet` (request): which instances of an app a DEA has. */
export interface FindDropletRequest {
  droplet: string;
  version?: string;
  instances?: string[];
  indices?: number[];
  states?: InstanceState[];
  include_stats?: boolean;
}

/** What an instance uses, in a find.droplet reply: cpu a fraction of one core, mem and disk bytes. */
export interface InstanceUsage {
  cpu: number;
  mem: number;
  disk: number;
  time: string;
}

/** An instance's stats in a find.droplet reply (the controller's GET /v3/processes/:guid/stats). */
export interface InstanceStats {
  name: string;
  uris: string[];
  host: string;
  port: number;
  uptime: number;
  mem_quota: number;
  disk_quota: number;
  fds_quota: number;
  usage: InstanceUsage;
}

/** A DEA's reply to `dea.find.droplet`, one per matching instance. */
export interface FindDropletReply {
  dea: string;
  droplet: string;
  version: string;
  instance: string;
  index: number;
  state: InstanceState;
  state_timestamp: number;
  /** When asked for and the instance has a process. */
  stats?: InstanceStats;
}

/** controller → every DEA (request, replies gathered for up to 500 ms). */
export const deaFindDroplet = requestContract(
  'dea.find.droplet',
  object<FindDropletRequest>({
    droplet: nonEmpty,
    version: optional(string),
    instances: optional(array(string)),
    indices: optional(array(index)),
    states: optional(array(instanceState)),
    include_stats: optional(boolean),
  }),
  object<FindDropletReply>({
    dea: string,
    droplet: nonEmpty,
    version: string,
    instance: nonEmpty,
    index,
    state: instanceState,
    state_timestamp: number,
    stats: optional(
      object<InstanceStats>({
        name: string,
        uris: array(string),
        host: string,
        port: number,
        uptime: number,
        mem_quota: number,
        disk_quota: number,
        fds_quota: number,
        usage: object<InstanceUsage>({ cpu: number, mem: number, disk: number, time: string }),
      }),
    ),
  }),
);

// ---- staging -----------------------------------------------------------------------------------

/** `staging.<dea id>.start` (request): stage a package into a droplet. */
export interface StagingRequest {
  app_id: string;
  /** The build's guid. */
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

/** The reply when the droplet is uploaded. */
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

/** The reply when staging failed: `id` is Cloud Foundry's error name (NoAppDetectedError, StagingError, …). */
export interface StagingErrorReply {
  task_id: string;
  error: { id: string; message: string };
}

export type StagingReply = StagingSuccessReply | StagingErrorReply;

const stagingErrorReply = object<StagingErrorReply>({ task_id: string, error: object<StagingErrorReply['error']>({ id: string, message: string }) });
const stagingSuccessReply = object<StagingSuccessReply>({
  task_id: string,
  detected_buildpack: string,
  buildpack_name: string,
  start_command: string,
  process_types: record(string),
  droplet_sha1: string,
  droplet_size: optional(number),
});

const stagingRequest = object<StagingRequest>({
  app_id: nonEmpty,
  task_id: nonEmpty,
  package_download_uri: nonEmpty,
  droplet_upload_uri: nonEmpty,
  package_guid: optional(string),
  droplet_guid: optional(string),
  buildpacks: optional(nullable(array(string))),
  environment: optional(nullable(record(string))),
  start_command: optional(nullable(string)),
  memory_limit: optional(number),
  disk_limit: optional(number),
  stack: optional(string),
});
const stagingReply = check<StagingReply>((v, at) => (isPlainObject(v) && 'error' in v ? stagingErrorReply : stagingSuccessReply).problem(v, at));

/** controller → the DEA it chose (request; the reply comes when staging has ended, up to 15 minutes later). */
export const stagingStart = (deaId: string): RequestContract<StagingRequest, StagingReply> =>
  requestContract(`staging.${deaId}.start`, stagingRequest, stagingReply);

// ---- health manager ----------------------------------------------------------------------------

export const START_REASONS = ['MISSING', 'CRASHED'] as const;
export type StartReason = (typeof START_REASONS)[number];
export const STOP_REASONS = ['EXTRA', 'DUPLICATE'] as const;
export type StopReason = (typeof STOP_REASONS)[number];

/** `health.start`: place and start these indices of the app. */
export interface HealthStart {
  droplet: string;
  version: string;
  indices: number[];
  reason: StartReason;
  /** CRASHED: how often this index crashed. */
  crash_count?: number;
}

/** `health.stop`: stop these instances. */
export interface HealthStop {
  droplet: string;
  version: string;
  instances: string[];
  reason: StopReason;
}

/** health → controllers (a queue group: one controller acts on each). */
export const healthStart = contract(
  'health.start',
  object<HealthStart>({ droplet: nonEmpty, version: string, indices: array(index), reason: oneOf(...START_REASONS), crash_count: optional(number) }),
);
/** health → controllers (a queue group). */
export const healthStop = contract(
  'health.stop',
  object<HealthStop>({ droplet: nonEmpty, version: string, instances: array(nonEmpty), reason: oneOf(...STOP_REASONS) }),
);

// ---- app logs ----------------------------------------------------------------------------------

/** Where devbox's own lines come from, as the cf CLI prints them: `[APP/PROC/WEB/0]`, `[RTR/0]`, `[STG/0]`... */
export type LogSourceType = `APP/PROC/${string}` | `APP/TASK/${string}` | 'STG' | 'RTR' | 'API' | 'CELL' | 'HEALTH';

/** `APP/PROC/WEB`, `APP/PROC/WORKER`: the source type of a process's output, its type upper-cased as Cloud Foundry's. */
export const processSourceType = (processType: string | undefined): LogSourceType => `APP/PROC/${(processType || 'web').toUpperCase()}`;

/** `APP/PROC/WEB/SIDECAR/CONFIG-SERVER`: the source type of a sidecar's output, as Cloud Foundry tags it (type and name upper-cased). */
export const sidecarSourceType = (processType: string | undefined, name: string): LogSourceType => `APP/PROC/${(processType || 'web').toUpperCase()}/SIDECAR/${name.toUpperCase()}`;

/** One app log line on `logs.<app guid>`. */
export interface LogEnvelope {
  /** Nanoseconds since the epoch (a JSON number: precise to well under a microsecond). */
  timestamp: number;
  app_guid: string;
  /** A LogSourceType from devbox; any upper-case source (`A/B_C`) is carried as it comes. */
  source_type: string;
  /** The instance index, or the component's index for platform sources. */
  source_instance: string;
  message_type: 'OUT' | 'ERR';
  message: string;
}

/** The DEA cuts lines at 64 KiB; a little more is accepted, anything larger is not a log line. */
export const MAX_LOG_MESSAGE_LENGTH = 128 * 1024;
/** Longest source type and source instance. */
export const MAX_LOG_SOURCE = 64;

const logEnvelope = object<LogEnvelope>({
  timestamp: where(number, (n) => n >= 0, 'a number ≥ 0'),
  // It becomes a subject token and a file name in the logs component.
  app_guid: where(string, isSubjectToken, 'an app guid (letters, digits, - and _, up to 64)'),
  // A process type or a task's name follows as given (`APP/PROC/MY-WORKER`, `APP/TASK/migrate`).
  source_type: where(string, (s) => s.length <= MAX_LOG_SOURCE && /^[A-Z][A-Z0-9_]*(?:\/[A-Za-z0-9_.-]+)*$/.test(s), 'a source type such as APP/PROC/WEB'),
  source_instance: where(string, (s) => s.length <= MAX_LOG_SOURCE, `a string of up to ${MAX_LOG_SOURCE} characters`),
  message_type: oneOf('OUT', 'ERR'),
  message: where(string, (s) => s.length <= MAX_LOG_MESSAGE_LENGTH, `a string of up to ${MAX_LOG_MESSAGE_LENGTH} characters`),
});

/**
 * dea (APP, STG, CELL), router (RTR: its access log, framed in batches by access-log.ts), controller
 * (API), health (HEALTH) → logs: one line of the app's logs.
 */
export const appLogs = (appGuid: string): Contract<LogEnvelope> => contract(`logs.${appGuid}`, logEnvelope);
/** What the logs component subscribes: every app's lines (no queue group: every logs instance keeps every line). */
export const allAppLogs = contract('logs.>', logEnvelope);

// ---- component discovery -----------------------------------------------------------------------

/** `vcap.component.announce`, and the reply to `vcap.component.discover`. */
export interface ComponentAnnouncement {
  type: string;
  index: number;
  uuid: string;
  /** `ip:port` of its status server (/healthz, /varz). */
  host: string;
  /** [user, password] of its status server. */
  credentials: string[];
  /** ISO time it started. */
  start: string;
  /** `1d:2h:3m:4s` */
  uptime: string;
  /** devbox: its process id. */
  pid?: number;
}

const componentAnnouncement = object<ComponentAnnouncement>({ type: string, index, uuid: string, host: nonEmpty, credentials: array(string) });

/** every component → anyone, once it has started. */
export const componentAnnounce = contract('vcap.component.announce', componentAnnouncement);
/** anyone (`devbox status`) → every component (request, no body): each answers with its announcement. */
export const componentDiscover = requestContract('vcap.component.discover', anything, componentAnnouncement);

// ---- ssh (docs/ssh.md) ---------------------------------------------------------------------------

/** Where users reach an ssh proxy, and how they know it is the box's. */
export interface SshAdvertisement {
  /** The proxy's component uuid. */
  id: string;
  /** The address it listens on, as reachable by users (its advertise address). */
  host: string;
  port: number;
  /** SHA-256 of its host key (the SSH wire encoding), unpadded base64: what `cf ssh` compares. */
  host_key_fingerprint: string;
}

const sshAdvertisement = object<SshAdvertisement>({ id: nonEmpty, host: nonEmpty, port: number, host_key_fingerprint: nonEmpty });

/** ssh-proxy → anyone (the controller's `GET /` link), at start and every 10 s. */
export const sshAdvertise = contract('ssh.advertise', sshAdvertisement);
/** anyone → every ssh proxy (request, no body): each answers with its advertisement. */
export const sshDiscover = requestContract('ssh.discover', anything, sshAdvertisement);

/** `dea.ssh.open` (request): a one-time login to the DEA's ssh server, into one running instance. */
export interface SshOpenRequest {
  /** The process guid. */
  droplet: string;
  /** The process version the controller authorized (a rolling deployment may run two). */
  version?: string;
  index: number;
}

/** Sent only by the DEA that has the instance RUNNING; no reply means there is none. */
export interface SshOpenReply {
  dea: string;
  /** The instance guid (also the user name on the DEA's ssh server). */
  instance: string;
  /** The DEA's ssh server, reachable from the proxy. */
  host: string;
  port: number;
  /** Valid once, for a few seconds. */
  password: string;
  /** SHA-256 of the DEA's (per DEA process) host key, unpadded base64: the proxy checks it. */
  host_key_fingerprint: string;
}

/** ssh-proxy → every DEA (request, first reply taken). */
export const deaSshOpen = requestContract(
  'dea.ssh.open',
  object<SshOpenRequest>({ droplet: nonEmpty, version: optional(string), index }),
  object<SshOpenReply>({ dea: nonEmpty, instance: nonEmpty, host: nonEmpty, port: number, password: nonEmpty, host_key_fingerprint: nonEmpty }),
);

// ---- MySQL service (vcap-services-base's MyaaS) ------------------------------------------------

/** `MyaaS.announce`: one per plan the node serves (one shared capacity). */
export interface MyaasAnnouncement {
  id: string;
  plan: string;
  supported_versions?: string[];
  /** Databases the node can still create. */
  available_capacity: number;
  capacity_unit?: number;
  /** devbox: the node's MySQL server. */
  host?: string;
  port?: number;
}

/** mysql-node → gateways, at start, every 30 s, after each provision/unprovision and in answer to MyaaS.discover. */
export const myaasAnnounce = contract(
  'MyaaS.announce',
  object<MyaasAnnouncement>({
    id: nonEmpty,
    plan: nonEmpty,
    supported_versions: optional(array(string)),
    available_capacity: number,
    capacity_unit: optional(where(number, (n) => n > 0, 'a number > 0')),
    host: optional(string),
    port: optional(number),
  }),
);
/** gateway → nodes (body ignored; the gateway sends {}), at start: announce now. */
export const myaasDiscover = contract<unknown>('MyaaS.discover', anything);

export interface ProvisionRequest {
  plan: string;
  version?: string;
  /** `cf_<instance GUID, dashes as underscores>` (cf-mysql's; databases made before: `cf_<32 hex>`) */
  name: string;
}

export interface BindRequest {
  /** The database. */
  name: string;
  binding_id: string;
  bind_opts?: Record<string, unknown>;
}

export interface UnbindRequest {
  credentials: { name?: string; username: string };
}

export interface UnprovisionRequest {
  name: string;
  /** Users to drop with the database (the gateway's record of its bindings). */
  bindings?: { username: string }[];
}

/** `update`: the database moves to another plan (a service instance's plan update). */
export interface UpdateRequest {
  name: string;
  plan: string;
}

/** `purge_orphan`: databases and users no instance or binding owns. */
export interface PurgeOrphanRequest {
  databases: string[];
  users: string[];
}

/**
 * A node's answer to provision, bind, unbind, unprovision, update and purge_orphan. provision and bind
 * carry the credentials (MysqlCredentials in mysql-node/node.ts); a failure carries the error.
 */
export interface NodeReply {
  success: boolean;
  credentials?: Record<string, unknown>;
  error?: { code: number; description: string };
}

const nodeReply = object<NodeReply>({
  success: boolean,
  credentials: optional(record(anything)),
  error: optional(object<NonNullable<NodeReply['error']>>({ code: number, description: string })),
});

/** What a node asks of its requests, by operation (the node checks names and plans itself). */
const myaasRequests = {
  provision: object<ProvisionRequest>({ plan: nonEmpty, version: optional(string), name: string }),
  bind: object<BindRequest>({ name: string, binding_id: nonEmpty, bind_opts: optional(record(anything)) }),
  unbind: object<UnbindRequest>({ credentials: object<UnbindRequest['credentials']>({ name: optional(string), username: string }) }),
  unprovision: object<UnprovisionRequest>({ name: string, bindings: optional(array(object<{ username: string }>({ username: string }))) }),
  update: object<UpdateRequest>({ name: string, plan: nonEmpty }),
  purge_orphan: object<PurgeOrphanRequest>({ databases: array(string), users: array(string) }),
};

export type MyaasOperation = keyof typeof myaasRequests;
/** The request of an operation: MyaasRequestBody<'provision'> is a ProvisionRequest. */
export type MyaasRequestBody<Op extends MyaasOperation> = (typeof myaasRequests)[Op] extends Check<infer T> ? T : never;

/** gateway → one node, `MyaaS.<op>.<node id>` (request, 5 s timeout). */
export const myaasRequest = <Op extends MyaasOperation>(op: Op, nodeId: string): RequestContract<MyaasRequestBody<Op>, NodeReply> =>
  requestContract(`MyaaS.${op}.${nodeId}`, myaasRequests[op] as Check<MyaasRequestBody<Op>>, nodeReply);

/** A node's databases and users, in answer to `MyaaS.check_orphan`. */
export interface OrphanCheckReply {
  node_id: string;
  databases: string[];
  users: string[];
}

/**
 * gateway → every node (request, no body; replies gathered for a short window): each answers with
 * its handles, or a failed NodeReply.
 */
export const myaasCheckOrphan = requestContract(
  'MyaaS.check_orphan',
  anything,
  either(object<OrphanCheckReply>({ node_id: nonEmpty, databases: array(string), users: array(string) }), nodeReply),
);
