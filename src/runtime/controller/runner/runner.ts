// The controller's view of where apps stage and run (docs/dea-protocol.md): what the actions ask
// of the DEAs, and nothing of the database. DeaRunner (dea-runner.ts) does it over the bus; tests
// of the API use a recorded runner.
import type { FindDropletReply, FindTaskReply, StagingRequest, StagingSuccessReply, StartMessage, StopMessage, TaskStartMessage } from '../../common/bus-messages.js';

// The bus messages the interface speaks in (declared in bus-messages.ts), for its implementations.
export type { FindDropletReply, FindTaskReply, StagingRequest, StartMessage, TaskStartMessage };

/** What staging made; a failure is thrown as a StagingFailure. */
export type StagingResult = Pick<StagingSuccessReply, 'detected_buildpack' | 'buildpack_name' | 'start_command' | 'process_types'> & Partial<StagingSuccessReply>;

/** Staging did not make a droplet: `id` is Cloud Foundry's error name (StagingError, NoAppDetectedError, …). */
export class StagingFailure extends Error {
  constructor(
    readonly id: string,
    message: string,
  ) {
    super(message);
  }
}

/** Which instances of a process a stop is for (none given: all of them; a version: only its). */
export type StopFilter = Pick<StopMessage, 'indices' | 'instances' | 'version'>;

export interface Runner {
  /** Stages on a DEA with room for it; resolves with what staging made, or throws a StagingFailure. */
  stage(request: StagingRequest, memoryMb: number, stack: string): Promise<StagingResult>;
  /** Places one instance and sends it its start message; the DEA's id, or undefined when none has `memoryMb` free. */
  start(message: StartMessage, memoryMb: number, stack: string): string | undefined;
  stop(processGuid: string, filter?: StopFilter): void;
  /** The app's routes changed: running instances register under `uris`. */
  routesChanged(processGuid: string, uris: string[]): void;
  /**
   * Every instance of the app the DEAs report, gathered for up to `waitMs`. With `running`, the
   * gathering ends as soon as each of its indices has a RUNNING instance of its version.
   */
  instances(processGuid: string, waitMs?: number, running?: { version: string; instances: number }): Promise<FindDropletReply[]>;
  /** Places a task and sends it its start message; the DEA's id, or undefined when none has `memoryMb` free. */
  startTask(message: TaskStartMessage, memoryMb: number, stack: string): string | undefined;
  /** Asks every DEA to end the task (it exits FAILED, `task was cancelled`). */
  cancelTask(taskGuid: string): void;
  /** What the DEAs know of these tasks (running, or how they ended lately), gathered for up to `waitMs`. */
  findTasks(taskGuids: string[], waitMs?: number): Promise<FindTaskReply[]>;
  /** DEAs heard from recently. */
  deaCount(): number;
}
