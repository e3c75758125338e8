// What the DEA tells everyone about itself (docs/dea-protocol.md): `dea.advertise` (room for more
// instances: memory, disk, instances per app) and `dea.heartbeat` (every instance and its state).
import type { Advertisement, Heartbeat } from '../common/bus-messages.js';
import type { Instance } from './instances/instance.js';

/** MB reserved by the instances that hold resources (every state but CRASHED). */
export function reserved(instances: Iterable<Instance>): { memory: number; disk: number } {
  let memory = 0;
  let disk = 0;
  for (const i of instances) {
    if (!i.active) continue;
    memory += i.start.limits?.mem ?? 0;
    disk += i.start.limits?.disk ?? 0;
  }
  return { memory, disk };
}

export function advertisement(id: string, totals: { memoryMb: number; diskMb: number }, instances: Instance[]): Advertisement {
  const used = reserved(instances);
  const counts: Record<string, number> = {};
  for (const i of instances) {
    if (!i.task && (i.state === 'STARTING' || i.state === 'RUNNING')) counts[i.droplet] = (counts[i.droplet] ?? 0) + 1;
  }
  return {
    id,
    stacks: ['host'],
    available_memory: Math.max(0, totals.memoryMb - used.memory),
    available_disk: Math.max(0, totals.diskMb - used.disk),
    app_id_to_count: counts,
    placement_properties: { zone: 'default' },
  };
}

export function heartbeat(id: string, instances: Instance[]): Heartbeat {
  return {
    dea: id,
    // Tasks are not the health manager's to judge: they run once, and the controller follows them.
    droplets: instances.filter((i) => !i.task).map((i) => ({
      droplet: i.droplet,
      version: i.version,
      instance: i.guid,
      index: i.index,
      state: i.state,
      state_timestamp: i.stateTimestamp,
    })),
  };
}
