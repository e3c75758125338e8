// What the health manager reads over HTTP (docs/dea-protocol.md, "Health manager ↔ controller"):
// the controller's desired state. Its bus messages (dea.heartbeat, droplet.exited in; health.start,
// health.stop out) are declared in common/bus-messages.ts.
import type { InstanceState } from '../common/bus-messages.js';

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
  /** A rolling deployment replaces its instances: the health manager leaves it to the deployment. */
  deploying: boolean;
}

/** An instance that runs or is on its way: what counts against the desired instances. */
export const isActiveState = (state: InstanceState): boolean => state === 'RUNNING' || state === 'STARTING';
