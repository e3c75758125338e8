// `dea.find.droplet`: one reply per matching instance, with stats when asked (the controller's
// GET /v3/processes/:guid/stats). usage.cpu is a fraction of one core (0.003 = 0.3%), as Cloud
// Foundry's v3 stats; usage.mem and usage.disk are bytes.
import type { FindDropletReply, FindDropletRequest, StopMessage } from '../common/bus-messages.js';
import type { Instance } from './instances/instance.js';

/** An empty or absent filter matches everything. */
const allows = <T>(filter: T[] | undefined, value: T) => !filter || filter.length === 0 || filter.includes(value);

export function matchesFind(i: Instance, req: FindDropletRequest): boolean {
  if (i.task || i.droplet !== req.droplet) return false;
  if (req.version !== undefined && i.version !== req.version) return false;
  return allows(req.instances, i.guid) && allows(req.indices, i.index) && allows(req.states, i.state);
}

export function matchesStop(i: Instance, req: StopMessage): boolean {
  if (i.task || i.droplet !== req.droplet) return false;
  if (req.version !== undefined && i.version !== req.version) return false;
  return allows([...(req.instances ?? []), ...(req.instance_ids ?? [])], i.guid) && allows(req.indices, i.index);
}

export function findReply(deaId: string, i: Instance, includeStats: boolean): FindDropletReply {
  return {
    dea: deaId,
    droplet: i.droplet,
    version: i.version,
    instance: i.guid,
    index: i.index,
    state: i.state,
    state_timestamp: i.stateTimestamp,
    ...(includeStats && i.pid && i.state !== 'CRASHED' ? { stats: i.stats() } : {}),
  };
}
