// What the jobs of service instances and bindings share: their `last_operation` documents (type
// create|update|delete, state in progress|succeeded|failed, the broker's description), how often
// and how long an asynchronous broker is polled, and the error a failed job carries.
import { now, type RequestContext } from '../context.js';
import { ApiError } from '../errors.js';
import type { JobRow } from '../repositories/jobs.js';
import { jsonColumn } from '../repositories/query.js';
import type { PlanRow } from '../repositories/services.js';
import type { JobStep, ServiceJobPayload } from './jobs.js';

export type OperationType = 'create' | 'update' | 'delete';
export type OperationState = 'in progress' | 'succeeded' | 'failed';

export interface LastOperationDocument {
  type: OperationType;
  state: OperationState;
  description: string;
  created_at: string;
  updated_at: string;
}

/** A last_operation as stored (JSON text): started at `createdAt`, as of now. */
export const lastOperation = (type: OperationType, state: OperationState, description = '', createdAt = now()): string =>
  JSON.stringify({ type, state, description, created_at: createdAt, updated_at: now() } satisfies LastOperationDocument);

/** An operation that has succeeded at `at` (a user-provided instance's, done at once). */
export const succeeded = (type: OperationType, at: string) => JSON.stringify({ type, state: 'succeeded', description: '', created_at: at, updated_at: at } satisfies LastOperationDocument);

/** The last operation of an instance or binding row. */
export const readLastOperation = (table: 'service_instances' | 'service_bindings', row: { guid: string; last_operation: string }): Partial<LastOperationDocument> =>
  jsonColumn(table, row, 'last_operation', {} as Partial<LastOperationDocument>);

export const inProgress = (op: Partial<LastOperationDocument>) => op.state === 'in progress';

/** A create that failed: the row only holds the name (or the app) until a new create replaces it. */
export const createFailed = (op: Partial<LastOperationDocument>) => op.type === 'create' && op.state === 'failed';

/** A job's error: `provision could not be completed: <why>` (CF-UnableToPerform), as Cloud Controller's jobs fail. */
export const unableTo = (operation: string, why: string) => new ApiError('UnableToPerform', `${operation} could not be completed: ${why}`);

/** The longest wait between two last_operation polls: DEVBOX_BROKER_POLL_INTERVAL_MS, else 30 s. */
export function maxPollIntervalMs(): number {
  const n = Number(process.env.DEVBOX_BROKER_POLL_INTERVAL_MS);
  return Number.isFinite(n) && n > 0 ? n : 30_000;
}

/**
 * The wait before the next poll: the broker's Retry-After when it sent one (1 s to 1 h), else 1 s
 * doubling up to the longest interval, so a quick broker is seen done quickly and a slow one is not
 * asked every second for an hour.
 */
export function nextPollDelayMs(polls: number, retryAfterMs?: number): number {
  if (retryAfterMs !== undefined) return Math.min(Math.max(retryAfterMs, 1_000), 3_600_000);
  const max = maxPollIntervalMs();
  return Math.min(max, Math.min(1_000, max) * 2 ** polls);
}

/**
 * How long an asynchronous operation may go on: the plan's `maximum_polling_duration` (seconds),
 * else DEVBOX_BROKER_POLL_MS, else a week (Cloud Controller's broker_client_max_async_poll_duration_minutes).
 */
export function pollingLimitMs(plan: PlanRow): number {
  const own = jsonColumn<{ maximum_polling_duration?: unknown }, PlanRow, 'catalog'>('service_plans', plan, 'catalog', {}).maximum_polling_duration;
  if (typeof own === 'number' && own > 0) return own * 1000;
  const n = Number(process.env.DEVBOX_BROKER_POLL_MS);
  return Number.isFinite(n) && n > 0 ? n : 7 * 24 * 3_600_000;
}

/** The job's polling deadline has passed. */
export const pollingOver = (payload: ServiceJobPayload) => payload.poll_until !== undefined && now() > payload.poll_until;

/**
 * The next POLLING step: the broker's operation kept, the parameters dropped (the broker has them),
 * the deadline set at the first poll.
 */
export function pollAgain(payload: ServiceJobPayload, plan: PlanRow, answer: { operation?: string; retryAfterMs?: number } = {}): Pick<Extract<JobStep, { state: 'POLLING' }>, 'state' | 'payload' | 'delayMs'> {
  const polls = payload.polls ?? 0;
  const { parameters: _sent, ...rest } = payload;
  const next: ServiceJobPayload = {
    ...rest,
    ...(answer.operation !== undefined ? { operation: answer.operation } : {}),
    polls: polls + 1,
    poll_until: payload.poll_until ?? new Date(Date.now() + pollingLimitMs(plan)).toISOString(),
  };
  return { state: 'POLLING', payload: next, delayMs: nextPollDelayMs(polls, answer.retryAfterMs) };
}

/**
 * The broker's request again later: it answered 422 ConcurrencyError (busy with the same resource,
 * e.g. the first provision of a job a restarted controller sends again). The parameters are kept;
 * the deadline is the polling one.
 */
export function askAgainLater(payload: ServiceJobPayload, plan: PlanRow): Pick<Extract<JobStep, { state: 'PROCESSING' }>, 'state' | 'payload' | 'delayMs'> {
  const polls = payload.polls ?? 0;
  const next: ServiceJobPayload = { ...payload, polls: polls + 1, poll_until: payload.poll_until ?? new Date(Date.now() + pollingLimitMs(plan)).toISOString() };
  return { state: 'PROCESSING', payload: next, delayMs: nextPollDelayMs(polls) };
}

/** The query of a last_operation poll: the catalog ids and the broker's operation. */
export const pollQuery = (ids: { service_id: string; plan_id: string }, payload: ServiceJobPayload): Record<string, string> => ({ ...ids, ...(payload.operation ? { operation: payload.operation } : {}) });

/** A poll that got no usable answer is logged and tried again (Cloud Controller goes on polling too). */
export function unknownPoll(ctx: RequestContext, job: JobRow, message: string): void {
  ctx.log.warn('last_operation unknown; polling again', { job: job.guid, operation: job.operation, resource: job.resource_guid, error: message });
}
