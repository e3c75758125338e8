// The DEAs the controller knows, from their `dea.advertise` messages, and placement (DESIGN.md §5):
// an instance goes to the DEA with the fewest instances of that app, then the most free memory; a
// DEA silent for three advertise intervals is dropped.
import type { Advertisement } from '../../common/bus-messages.js';

interface Known {
  ad: Advertisement;
  seenAt: number;
  /** Instances placed here since the last advertisement, so a burst of starts spreads out. */
  placed: Record<string, number>;
  reservedMemory: number;
}

export class DeaPool {
  private readonly deas = new Map<string, Known>();

  constructor(private readonly advertiseIntervalMs = Number(process.env.DEVBOX_DEA_ADVERTISE_MS) || 5_000) {}

  advertise(ad: Advertisement, now = Date.now()): void {
    if (typeof ad.id !== 'string' || ad.id === '') return;
    this.deas.set(ad.id, { ad, seenAt: now, placed: {}, reservedMemory: 0 });
  }

  /** A DEA said `dea.shutdown`: nothing more is placed there. */
  remove(id: string): void {
    this.deas.delete(id);
  }

  /** DEAs heard from recently. */
  live(now = Date.now()): Known[] {
    for (const [id, dea] of this.deas) if (now - dea.seenAt > 3 * this.advertiseIntervalMs) this.deas.delete(id);
    return [...this.deas.values()];
  }

  size(): number {
    return this.live().length;
  }

  /** The DEA for a new instance of `appGuid` needing `memoryMb`, or undefined when none fits. */
  place(appGuid: string, memoryMb: number, stack = 'host'): string | undefined {
    const candidates = this.live().filter((d) => (d.ad.stacks ?? []).includes(stack) && d.ad.available_memory - d.reservedMemory >= memoryMb);
    if (candidates.length === 0) return undefined;
    const count = (d: Known) => (d.ad.app_id_to_count?.[appGuid] ?? 0) + (d.placed[appGuid] ?? 0);
    candidates.sort((a, b) => count(a) - count(b) || b.ad.available_memory - b.reservedMemory - (a.ad.available_memory - a.reservedMemory) || a.ad.id.localeCompare(b.ad.id));
    const chosen = candidates[0];
    chosen.placed[appGuid] = (chosen.placed[appGuid] ?? 0) + 1;
    chosen.reservedMemory += memoryMb;
    return chosen.ad.id;
  }

  /** The DEA to stage on: the one with the most free memory. */
  stager(memoryMb: number, stack = 'host'): string | undefined {
    const candidates = this.live().filter((d) => (d.ad.stacks ?? []).includes(stack) && d.ad.available_memory - d.reservedMemory >= memoryMb);
    candidates.sort((a, b) => b.ad.available_memory - b.reservedMemory - (a.ad.available_memory - a.reservedMemory));
    return candidates[0]?.ad.id;
  }
}
