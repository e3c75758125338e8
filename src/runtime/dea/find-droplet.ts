// `dea.find.droplet`: one reply per matching instance, with stats when asked (the controller's
// GET /v3/processes/:guid/stats). usage.cpu is a fraction of one core (0.003 = 0.3%), as Cloud
// Foundry's v3 stats; usage.mem and usage.disk are bytes.
import type { Instance } from './instances/instance.js';
import type { FindDropletReply, FindDropletRequest, StopMessage } from './protocol.js';

export function matchesFind(i: Instance, req: FindDropletRequest): boolean {
  if (i.appGuid !== req.droplet) return false;
  if (req.version !== undefined && req.version !== null && i.version !== req.version) return false;
  if (Array.isArray(req.instances) && req.instances.length > 0 && !req.instances.includes(i.guid)) return false;
  if (Array.isArray(req.indices) && req.indices.length > 0 && !req.indices.map(Number).includes(i.index)) return false;
  if (Array.isArray(req.states) && req.states.length > 0 && !req.states.includes(i.state)) return false;
  return true;
}

export function matchesStop(i: Instance, req: StopMessage): boolean {
  if (i.appGuid !== req.droplet) return false;
  if (req.version !== undefined && req.version !== null && i.version !== req.version) return false;
  const ids = [...(Array.isArray(req.instances) ? req.instances : []), ...(Array.isArray(req.instance_ids) ? req.instance_ids : [])];
  if (ids.length > 0 && !ids.includes(i.guid)) return false;
  if (Array.isArray(req.indices) && req.indices.length > 0 && !req.indices.map(Number).includes(i.index)) return false;
  return true;
}

export function findReply(deaId: string, i: Instance, includeStats: boolean): FindDropletReply {
  return {
    dea: deaId,
    droplet: i.appGuid,
    version: i.version,
    instance: i.guid,
    index: i.index,
    state: i.state,
    state_timestamp: i.stateTimestamp,
    ...(includeStats && i.pid && i.state !== 'CRASHED' ? { stats: i.stats() } : {}),
  };
}
