// An app's one-off tasks (CC v3 `/v3/apps/:guid/tasks`, `/v3/tasks`): run (created), listed, found
// by their sequence id (the id `tasks` shows), cancelled, and waited for until they end.
import { CliError } from '../base-command.js';
import { waitFor, type Backoff } from '../../runtime/common/poll.js';
import type { ApiClient } from './client.js';
import type { Task, TaskState } from './resources.js';
import { ApiRequestError } from './transport.js';

/** What `POST /v3/apps/:guid/tasks` takes: command, memory and disk default to the template process's. */
export interface TaskRequest {
  command?: string;
  name?: string;
  memory_in_mb?: number;
  disk_in_mb?: number;
  template?: { process: { guid: string } };
}

/** The filters of `GET /v3/apps/:guid/tasks` (each a list, as the API's). */
export interface TaskFilter {
  names?: string[];
  states?: TaskState[];
  sequence_ids?: number[];
  guids?: string[];
}

/** The states a task ends in. */
export const FINAL_TASK_STATES: readonly TaskState[] = ['SUCCEEDED', 'FAILED'];

/** How long `run-task --wait` waits for a task to end when DEVBOX_TASK_TIMEOUT does not say. */
const DEFAULT_TASK_TIMEOUT_MS = 60 * 60_000;
/** Short tasks (a migration of a small app) end within a second: look often at first. */
const TASK_POLL_BACKOFF: Backoff = { initialMs: 100, maxMs: 2_000, factor: 1.5 };

/** How long `run-task --wait` waits: `DEVBOX_TASK_TIMEOUT` minutes, else an hour (cf waits for good). */
export function taskTimeoutMs(env = process.env): number {
  const minutes = Number(env.DEVBOX_TASK_TIMEOUT);
  return Number.isFinite(minutes) && minutes > 0 ? minutes * 60_000 : DEFAULT_TASK_TIMEOUT_MS;
}

/** `90 s`, `5 minutes`, `1 hour`: a timeout as the messages say it. */
function duration(ms: number): string {
  if (ms < 10_000) return `${(ms / 1000).toFixed(1).replace(/\.0$/, '')} s`;
  if (ms < 120_000) return `${Math.round(ms / 1000)} s`;
  if (ms % 3_600_000 === 0) return ms === 3_600_000 ? '1 hour' : `${ms / 3_600_000} hours`;
  return `${Math.round(ms / 60_000)} minutes`;
}

export class Tasks {
  constructor(private readonly client: ApiClient) {}

  /**
   * Runs a task on the app's current droplet. The API's refusals that cf rewords are reworded as
   * cf does (`Error running task: App is not staged.`); the others keep the API's detail.
   */
  async run(appGuid: string, request: TaskRequest): Promise<Task> {
    try {
      return await this.client.call<Task>('POST', `/v3/apps/${appGuid}/tasks`, request);
    } catch (error) {
      if (!(error instanceof ApiRequestError)) throw error;
      if (error.detail?.includes('Task must have a droplet')) {
        throw new CliError(`Error running task: App is not staged. Push the app (or 'devbox start' an app pushed with --no-start) so that it has a droplet to run the task on.`);
      }
      if (error.title === 'CF-TaskWorkersUnavailable') {
        throw new CliError(`Error running task: Task workers are unavailable. 'devbox status' shows whether a DEA runs.`);
      }
      throw error;
    }
  }

  get(taskGuid: string): Promise<Task> {
    return this.client.call<Task>('GET', `/v3/tasks/${taskGuid}`);
  }

  /** The app's tasks (every page), newest first: by sequence id, as cf sorts them. */
  async ofApp(appGuid: string, filter: TaskFilter = {}): Promise<Task[]> {
    const tasks = await this.client.list<Task>(`/v3/apps/${appGuid}/tasks`, {
      names: filter.names,
      states: filter.states,
      sequence_ids: filter.sequence_ids?.map(String),
      guids: filter.guids,
    });
    return tasks.sort((a, b) => b.sequence_id - a.sequence_id);
  }

  /** The app's task with this sequence id, if there is one. */
  async bySequenceId(appGuid: string, sequenceId: number): Promise<Task | undefined> {
    // The filter asks the API for the one task; the check below keeps a filter the API ignored from
    // answering with some other task.
    return (await this.ofApp(appGuid, { sequence_ids: [sequenceId] })).find((t) => t.sequence_id === sequenceId);
  }

  /**
   * The app's task with this sequence id, or cf's `Task sequence ID N not found.` with where to
   * look (`app` names the app in the message).
   */
  async getBySequenceId(appGuid: string, sequenceId: number, app: string): Promise<Task> {
    const task = await this.bySequenceId(appGuid, sequenceId);
    if (!task) throw new CliError(`Task sequence ID ${sequenceId} not found. 'devbox tasks ${app}' lists the app's tasks.`);
    return task;
  }

  /** Asks the API to stop the task (`POST /v3/tasks/:guid/actions/cancel`): it is CANCELING, then FAILED. */
  cancel(taskGuid: string): Promise<Task> {
    return this.client.call<Task>('POST', `/v3/tasks/${taskGuid}/actions/cancel`);
  }

  /**
   * Polls the task until it is SUCCEEDED or FAILED and returns it as it ended (a FAILED task too:
   * the caller says why). Bounded by `timeoutMs`; when time runs out, a CliError that says where the
   * task stands and how to look at or stop it (`app` names the app in the message).
   */
  async waitUntilDone(task: Task, app: string, { timeoutMs = taskTimeoutMs(), backoff = TASK_POLL_BACKOFF }: { timeoutMs?: number; backoff?: Backoff } = {}): Promise<Task> {
    let last = task;
    if (FINAL_TASK_STATES.includes(last.state)) return last;
    return waitFor(
      `task ${task.sequence_id} of app ${app} to end`,
      async () => {
        last = await this.get(task.guid);
        return FINAL_TASK_STATES.includes(last.state) ? last : undefined;
      },
      {
        timeoutMs,
        backoff,
        delayFirst: true,
        retryIf: () => false,
        onTimeout: () => {
          throw new CliError(
            `Task ${last.sequence_id} (${last.name}) of app ${app} is still ${last.state} after ${duration(timeoutMs)} (DEVBOX_TASK_TIMEOUT sets the wait in minutes); it goes on running. ` +
              `'devbox tasks ${app}' shows its state, 'devbox terminate-task ${app} ${last.sequence_id}' stops it.`,
          );
        },
      },
    );
  }
}
