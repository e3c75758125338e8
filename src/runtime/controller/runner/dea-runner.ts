// The runner over the bus (docs/dea-protocol.md): knows the DEAs from their advertisements, places
// instances and stagings on them, and sends staging, start, stop and update messages; gathers
// instance stats with dea.find.droplet. It holds no desired state: actions/ decide what runs.
import { publish, request, requestMany, subscribe, type NatsConnection } from '../../common/bus.js';
import {
  deaAdvertise,
  deaFindDroplet,
  deaFindTask,
  deaLocate,
  deaShutdown,
  deaStart,
  deaStop,
  deaTaskCancel,
  deaTaskStart,
  deaUpdate,
  stagingStart,
  type FindDropletReply,
  type FindTaskReply,
  type StagingReply,
  type StagingRequest,
  type StartMessage,
  type TaskStartMessage,
} from '../../common/bus-messages.js';
import type { Logger } from '../../common/log.js';
import type { ControllerCounters } from '../context.js';
import { DeaPool } from './dea-pool.js';
import { StagingFailure, type Runner, type StagingResult, type StopFilter } from './runner.js';

export const STAGING_TIMEOUT_MS = 15 * 60 * 1000;

export class DeaRunner implements Runner {
  readonly pool = new DeaPool();

  constructor(
    private readonly bus: NatsConnection,
    private readonly counters: ControllerCounters,
    private readonly log: Logger,
  ) {}

  /** Follows the DEAs' advertisements and asks those already running to advertise now. */
  listen(): void {
    subscribe(this.bus, deaAdvertise, (ad) => this.pool.advertise(ad), { log: this.log });
    subscribe(this.bus, deaShutdown, (msg) => this.pool.remove(msg.id), { log: this.log });
    // DEAs that started before us advertise again within an interval; ask now to be ready sooner.
    publish(this.bus, deaLocate, {});
  }

  async stage(stagingRequest: StagingRequest, memoryMb: number, stack: string): Promise<StagingResult> {
    const dea = this.pool.stager(memoryMb, stack);
    if (!dea) throw new StagingFailure('InsufficientResources', 'no DEA is available to stage the app; is the dea component running? (devbox status)');
    this.log.info('staging', { app: stagingRequest.app_id, build: stagingRequest.task_id, dea });
    let reply: StagingReply;
    try {
      reply = await request(this.bus, stagingStart(dea), stagingRequest, { timeout: STAGING_TIMEOUT_MS });
    } catch (error) {
      throw new StagingFailure('StagingError', `the DEA ${dea} did not answer: ${(error as Error).message}`);
    }
    if ('error' in reply) throw new StagingFailure(reply.error.id, reply.error.message);
    return reply;
  }

  start(message: StartMessage, memoryMb: number, stack: string): string | undefined {
    const dea = this.pool.place(message.droplet, memoryMb, stack);
    if (!dea) return undefined;
    publish(this.bus, deaStart(dea), message);
    this.counters.starts_sent++;
    return dea;
  }

  stop(appGuid: string, filter: StopFilter = {}): void {
    publish(this.bus, deaStop, { droplet: appGuid, ...filter });
    this.counters.stops_sent++;
  }

  routesChanged(appGuid: string, uris: string[]): void {
    publish(this.bus, deaUpdate, { droplet: appGuid, uris });
  }

  async instances(appGuid: string, waitMs = 500, running?: { version: string; instances: number }): Promise<FindDropletReply[]> {
    const found: FindDropletReply[] = [];
    if (this.pool.size() === 0) return found;
    const runningIndices = new Set<number>();
    try {
      // Stop 50 ms after the last reply: the DEAs answer together, so waiting out waitMs is only
      // needed when nobody has an instance.
      for await (const stats of requestMany(this.bus, deaFindDroplet, { droplet: appGuid, include_stats: true }, { log: this.log, maxWait: waitMs, jitter: 50 })) {
        if (stats.droplet !== appGuid) continue;
        found.push(stats);
        if (running && stats.state === 'RUNNING' && stats.version === running.version && stats.index < running.instances) {
          runningIndices.add(stats.index);
          if (runningIndices.size === running.instances) break;
        }
      }
    } catch (error) {
      // The bus went away mid-gathering: what was heard is the answer.
      this.log.warn('gathering instance stats failed', { app: appGuid, error: (error as Error).message });
    }
    return found;
  }

  startTask(message: TaskStartMessage, memoryMb: number, stack: string): string | undefined {
    const dea = this.pool.place(message.app_guid ?? message.droplet, memoryMb, stack);
    if (!dea) return undefined;
    publish(this.bus, deaTaskStart(dea), message);
    this.counters.starts_sent++;
    return dea;
  }

  cancelTask(taskGuid: string): void {
    publish(this.bus, deaTaskCancel, { task_guid: taskGuid });
  }

  async findTasks(taskGuids: string[], waitMs = 500): Promise<FindTaskReply[]> {
    const found: FindTaskReply[] = [];
    if (taskGuids.length === 0 || this.pool.size() === 0) return found;
    try {
      for await (const reply of requestMany(this.bus, deaFindTask, { task_guids: taskGuids }, { log: this.log, maxWait: waitMs, jitter: 50 })) found.push(reply);
    } catch (error) {
      this.log.warn('asking the DEAs for tasks failed', { error: (error as Error).message });
    }
    return found;
  }

  deaCount(): number {
    return this.pool.size();
  }
}
