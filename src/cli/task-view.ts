// What `run-task`, `tasks` and `terminate-task` read from their flags and print, worded as the cf
// CLI 8 words them (command/v7/run_task_command.go, tasks_command.go, terminate_task_command.go).
// Pure: the commands call the API and pass what it answered.
import type { TaskRequest } from './api/tasks.js';
import type { Process, Task } from './api/resources.js';
import { CliError } from './base-command.js';
import { moreInformationTip, type Ui } from './lifecycle.js';
import { keyValues, table } from './output.js';

/** The process run-task takes command, memory and disk from when given neither --command nor --process (as cf 8). */
export const DEFAULT_TASK_PROCESS = 'task';

/** A TASK_ID argument: the task's sequence id, a positive integer (cf's words when it is not). */
export function parseTaskId(text: string): number {
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(Number(text))) {
    throw new CliError(`Incorrect Usage: Value for TASK_ID must be integer, got '${text}'. 'devbox tasks APP_NAME' shows the ids.`, 2);
  }
  return Number(text);
}

export interface TaskOptions {
  command?: string;
  name?: string;
  memory_in_mb?: number;
  disk_in_mb?: number;
  /** --process: the process type whose command, memory and disk are the task's defaults. */
  process?: string;
}

/** The process type the task takes its defaults from: --process, else `task` when there is no --command (cf 8), else none. */
export function templateProcessType(options: Pick<TaskOptions, 'command' | 'process'>): string | undefined {
  return options.process ?? (options.command ? undefined : DEFAULT_TASK_PROCESS);
}

/**
 * The body of `POST /v3/apps/:guid/tasks` for run-task's flags. `processes` are the app's (needed
 * only when a template process is used). As cf 8: without --command and --process the app's `task`
 * process is the template; an app without one is told to give --command (a usage error, exit 2).
 */
export function taskRequest(app: string, options: TaskOptions, processes: Pick<Process, 'guid' | 'type'>[] = []): TaskRequest {
  const command = options.command === '' ? undefined : options.command;
  const request: TaskRequest = {
    ...(command !== undefined ? { command } : {}),
    ...(options.name ? { name: options.name } : {}),
    ...(options.memory_in_mb !== undefined ? { memory_in_mb: options.memory_in_mb } : {}),
    ...(options.disk_in_mb !== undefined ? { disk_in_mb: options.disk_in_mb } : {}),
  };
  const type = templateProcessType({ command, process: options.process });
  if (type === undefined) return request;
  const process = processes.find((p) => p.type === type);
  const types = processes.map((p) => p.type).join(', ') || 'none';
  if (!process && options.process === undefined) {
    throw new CliError(
      `Incorrect Usage: give the task's command with --command CMD (e.g. --command "npm run migrate"). ` +
        `Without it run-task takes the command of the app's '${DEFAULT_TASK_PROCESS}' process, and app ${app} has none; --process TYPE takes it from another process (app ${app} has: ${types}).`,
      2,
    );
  }
  if (!process) {
    throw new CliError(`App ${app} has no process of type '${type}': its processes are ${types}. Process types come from the app's Procfile (or its buildpack) and the manifest's processes:.`);
  }
  return { ...request, template: { process: { guid: process.guid } } };
}

/** `task name:` and `task id:` after `Task has been submitted successfully for execution.`, as cf prints them. */
export function submittedTask(task: Pick<Task, 'name' | 'sequence_id'>): string {
  return keyValues([
    ['task name', task.name],
    ['task id', task.sequence_id],
  ]);
}

/**
 * A task that ended FAILED, as `run-task --wait` reports it: cf's `Task failed to complete
 * successfully` with the API's failure reason, and where to read the task's output.
 */
export function taskFailure(task: Pick<Task, 'result'>, app: string, ui: Pick<Ui, 'bin' | 'logs'>): CliError {
  const reason = task.result?.failure_reason;
  return new CliError(`Task failed to complete successfully${reason ? `: ${reason}` : ''}\n\n${moreInformationTip(ui, app)}`);
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad2 = (n: number) => String(n).padStart(2, '0');

/**
 * `Sat, 21 Nov 2026 10:00:00 UTC`: the `start time` column of cf's `tasks` (Go's RFC1123 of the
 * task's created_at, which the API gives in UTC).
 */
export function taskStartTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${DAYS[d.getUTCDay()]}, ${pad2(d.getUTCDate())} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())} UTC`;
}

/** Newest first, by sequence id (cf's order). */
const newestFirst = (tasks: Task[]) => [...tasks].sort((a, b) => b.sequence_id - a.sequence_id);

/** cf's `tasks` table (`id  name  state  start time  command`, newest first), or its `No tasks found for application.` */
export function renderTasks(tasks: Task[]): string {
  if (tasks.length === 0) return 'No tasks found for application.';
  return table(
    ['id', 'name', 'state', 'start time', 'command'],
    newestFirst(tasks).map((t) => [t.sequence_id, t.name, t.state, taskStartTime(t.created_at), t.command || '[hidden]']),
  );
}

/** `tasks --json`: the table's columns (start_time as the API's time, command null when hidden) and the rest of the task. */
export function tasksJson(tasks: Task[]) {
  return newestFirst(tasks).map((t) => ({
    guid: t.guid,
    id: t.sequence_id,
    name: t.name,
    state: t.state,
    start_time: t.created_at,
    command: t.command || null,
    memory_in_mb: t.memory_in_mb,
    disk_in_mb: t.disk_in_mb,
    failure_reason: t.result?.failure_reason ?? null,
  }));
}
