// What the service commands (create-service, delete-service, update-service, bind-service,
// unbind-service, create-service-key, delete-service-key) do with the job of a broker's work, as cf 8
// does: without --wait they return once the broker works on asynchronously (the command then says
// "… in progress"), with it they show progress until it is done. A failed job fails the command with
// the broker's words. Stopped first (Ctrl-C, the limit), the command says where the operation
// stands: the controller goes on with it.
import { CliError } from '../base-command.js';
import type { Steps } from '../steps.js';
import type { ApiClient } from './client.js';
import type { Job, LastOperation } from './resources.js';
import { duration, serviceWaitLimitMs } from './services.js';

/** `create in progress (2 polls to go)`, as `service` shows an operation. */
export const describeOperation = (op: LastOperation) => `${op.type} ${op.state}${op.description ? ` (${op.description})` : ''}`;

export interface OperationFollowing {
  /** --wait: until done, with progress. */
  wait: boolean;
  steps: Steps;
  /** The resource's last operation now (progress, and where things stand when following stops). */
  status: () => Promise<LastOperation | undefined>;
  /** The command that shows how it ends: `'devbox service mydb'`. */
  check: string;
}

/** Follows the job at `location`: `done`, or `in progress` (not waiting, the broker works on). */
export async function followOperation(client: ApiClient, location: string, { wait, steps, status, check }: OperationFollowing): Promise<'done' | 'in progress'> {
  const limitMs = serviceWaitLimitMs();
  const progress = (update: (detail: string) => void) => async (job: Job, elapsedMs: number) => {
    const op = job.state === 'POLLING' ? await status().catch(() => undefined) : undefined;
    update(`${op ? describeOperation(op) : job.state === 'POLLING' ? 'the broker works on it' : 'the broker is asked'}, ${duration(elapsedMs)}`);
  };
  const end = wait
    ? await steps.step('Waiting for the operation to complete', (update) => client.services.follow(location, { wait, limitMs, onPoll: progress(update) }), (end) => (end === 'COMPLETE' ? 'done' : undefined))
    : await client.services.follow(location, { wait, limitMs });
  if (end === 'COMPLETE') return 'done';
  if (end === 'POLLING') return 'in progress';
  const op = await status().catch(() => undefined);
  const now = op ? `it is ${describeOperation(op)}` : 'where it stands is unknown';
  const stopped = end === 'limit' ? `Stopped waiting after ${duration(limitMs)}` : 'Stopped waiting';
  throw new CliError(`${stopped}: the operation goes on in the background, and ${now}. ${check} shows how it ends.`, end === 'interrupted' ? 130 : 1);
}

/** cf's -t: tags separated by commas (`"list, of, tags"`), each trimmed, empty ones dropped. */
export const tagsArg = (value: string): string[] =>
  value
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t !== '');

/** A create that failed leaves its row (its name) until a new create replaces it: such a row is no reason to stop. */
export const createFailed = (op: LastOperation | undefined) => op?.type === 'create' && op.state === 'failed';
