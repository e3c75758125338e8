// The messages the health manager reads and writes (docs/dea-protocol.md, "Health manager ↔
// controller"): DEA heartbeats and exits in, health.start / health.stop out, and the controller's
// desired state over HTTP.

export type InstanceState = 'STARTING' | 'RUNNING' | 'CRASHED' | 'STOPPING' | 'EVACUATING';

/** One instance in a `dea.heartbeat`. */
export interface HeartbeatDroplet {
  droplet: string;
  version: string;
  instance: string;
  index: number;
  state: InstanceState;
  state_timestamp?: number;
}

/** `dea.heartbeat`: every instance a DEA has, every few seconds and at once on a state change. */
export interface Heartbeat {
  dea: string;
  droplets: HeartbeatDroplet[];
}

export type ExitReason = 'CRASHED' | 'STOPPED' | 'DEA_SHUTDOWN' | 'DEA_EVACUATION';

/** `droplet.exited`: an instance's process ended. */
export interface DropletExited {
  droplet: string;
  version?: string;
  instance: string;
  index: number;
  reason: ExitReason;
  exit_status?: number;
  exit_description?: string;
  crash_timestamp?: number;
}

/** One entry of `GET /internal/v3/desired_processes`. */
export interface DesiredProcess {
  app_guid: string;
  process_guid: string;
  version: string;
  instances: number;
  /** STARTED or STOPPED (anything but STARTED counts as stopped). */
  state: string;
  droplet_guid: string | null;
  updated_at: string;
}

export type StartReason = 'MISSING' | 'CRASHED';
export type StopReason = 'EXTRA' | 'DUPLICATE';

/** `health.start`: the controller places and starts these indices. */
export interface HealthStart {
  droplet: string;
  version: string;
  indices: number[];
  reason: StartReason;
  crash_count?: number;
}

/** `health.stop`: the controller stops these instances. */
export interface HealthStop {
  droplet: string;
  version: string;
  instances: string[];
  reason: StopReason;
}

export const isActiveState = (state: string): boolean => state === 'RUNNING' || state === 'STARTING';
