// The runner of service jobs: the broker work of managed service instances and bindings (create,
// update, delete), done in the background after the request has answered 202, a step at a time.
// A step is one broker request (the provision, or one last_operation poll), run by the controller
// holding the job's lease; its outcome and the resource's changes are written in one transaction,
// only if the job is still that controller's (jobs a delete superseded, or a purge ended, drop it).
// Everything a job needs is in its row, so a controller that restarts goes on with it: alone on its
// database it takes its jobs back at once, on a shared one once the lease of the one that held them
// has run out. A new job is started by its request; due polls are timers; a sweep every few seconds
// picks up the rest (after a restart, or a job another controller left).
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { now, type ControllerContext, type RequestContext, type ServiceJobRunner } from '../context.js';
import { ApiError } from '../errors.js';
import { dueJobs, findJob, leaseJob, LIVE_JOB_STATES, releaseJobLeases, settleJobStep, type JobRow } from '../repositories/jobs.js';
import { jsonColumn } from '../repositories/query.js';
import { updateInstance } from '../repositories/service-instance-updates.js';
import { updateBinding } from '../repositories/services.js';
import { brokerTimeoutMs } from '../services/broker-client.js';
import { jobErrors, type JobStep, type ServiceJobPayload } from './jobs.js';
import { bindingCreateStep, bindingDeleteStep } from './service-bindings.js';
import { brokerJobFailed, brokerSynchronizeStep, brokerUpdateStep } from './service-brokers.js';
import { instanceCreateStep, instanceDeleteStep, instanceUpdateStep } from './service-instances.js';
import { lastOperation, unableTo, type OperationType } from './service-operations.js';

type Step = (ctx: RequestContext, job: JobRow, payload: ServiceJobPayload) => Promise<JobStep>;
/** A job that failed outright (the broker refused, something it needs is gone): the job's error, and what its resource becomes. */
type Failure = (job: JobRow, payload: ServiceJobPayload, error: ApiError) => { error: ApiError; write: NonNullable<JobStep['write']> };

/** An instance's or binding's operation that failed: Cloud Controller's `<verb> could not be completed`, and its last_operation `failed`. */
const operationFailed =
  (verb: string, type: OperationType): Failure =>
  (job, _payload, error) => ({ error: unableTo(verb, error.detail), write: failResource(job, type, error.detail) });

/** A broker's catalog that could not be had: the broker's own error, and the broker's state. */
const brokerFailed: Failure = (job, payload, error) => ({ error, write: brokerJobFailed(job, payload) });

/** Each kind of service job: its step, and what its failure is. */
const KINDS: Record<string, { step: Step; fail: Failure }> = {
  'service_instance.create': { step: instanceCreateStep, fail: operationFailed('provision', 'create') },
  'service_instance.update': { step: instanceUpdateStep, fail: operationFailed('update', 'update') },
  'service_instance.delete': { step: instanceDeleteStep, fail: operationFailed('deprovision', 'delete') },
  'service_bindings.create': { step: bindingCreateStep, fail: operationFailed('bind', 'create') },
  'service_bindings.delete': { step: bindingDeleteStep, fail: operationFailed('unbind', 'delete') },
  'service_broker.catalog.synchronize': { step: brokerSynchronizeStep, fail: brokerFailed },
  'service_broker.update': { step: brokerUpdateStep, fail: brokerFailed },
};

/** How often live jobs nobody runs are looked for. */
export const SERVICE_JOB_SWEEP_MS = 2_000;
/** Steps one controller runs at once (each waits on a broker). */
const MAX_STEPS = 16;
/** A step that failed for a reason of devbox's own (the database away) is tried again after this. */
const RETRY_MS = 5_000;

/** How long a step may hold its job: its broker requests (the request and an orphan mitigation, or a poll and a fetch), with room to spare. */
export const jobLeaseMs = () => 3 * brokerTimeoutMs() + 30_000;

export class ServiceJobs implements ServiceJobRunner {
  /** This controller, as its leases name it. */
  readonly owner = `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  private readonly inflight = new Map<string, Promise<void>>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private sweeper?: NodeJS.Timeout;
  private stopped = false;

  constructor(private readonly context: ControllerContext) {}

  /** Starts sweeping; alone on its database, the controller first takes back the jobs it held before a restart. */
  start(): void {
    void (async () => {
      if (!this.context.sharedDatabase) {
        const released = await releaseJobLeases(this.context.db);
        if (released) this.context.log.info('resuming service jobs left by a previous run', { jobs: released });
      }
      await this.sweep();
    })().catch((error: Error) => this.context.log.warn('looking for service jobs failed', { error: error.message }));
    this.sweeper = setInterval(() => void this.sweep().catch((error: Error) => this.context.log.warn('looking for service jobs failed', { error: error.message })), SERVICE_JOB_SWEEP_MS);
    this.sweeper.unref();
  }

  /** No new steps; those running end on their own (a step cut off by the exit is taken up again by the next run). */
  stop(): void {
    this.stopped = true;
    clearInterval(this.sweeper);
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  /** Steps running now. */
  get running(): number {
    return this.inflight.size;
  }

  run(jobGuid: string): Promise<void> {
    const running = this.inflight.get(jobGuid);
    if (running) return running;
    if (this.stopped) return Promise.resolve();
    const step = this.step(jobGuid)
      .catch((error: Error) => this.context.log.error('service job step failed', { job: jobGuid, error: error.stack ?? error.message }))
      .finally(() => this.inflight.delete(jobGuid));
    this.inflight.set(jobGuid, step);
    return step;
  }

  private async sweep(): Promise<void> {
    if (this.stopped || this.inflight.size >= MAX_STEPS) return;
    for (const guid of await dueJobs(this.context.db, now(), MAX_STEPS - this.inflight.size)) void this.run(guid);
  }

  private later(jobGuid: string, delayMs: number): void {
    if (this.stopped) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      void this.run(jobGuid);
    }, delayMs);
    timer.unref();
    this.timers.add(timer);
  }

  private async step(jobGuid: string): Promise<void> {
    const { db, log } = this.context;
    const job = await findJob(db, jobGuid);
    const kind = job && KINDS[job.operation];
    if (!job || !kind || !job.payload || !(LIVE_JOB_STATES as readonly string[]).includes(job.state)) return;
    const at = now();
    if (job.run_at && job.run_at > at) return this.later(jobGuid, Date.parse(job.run_at) - Date.now());
    if (!(await leaseJob(db, job, this.owner, at, new Date(Date.now() + jobLeaseMs()).toISOString()))) return;
    if (job.lease_owner) log.info('taking up a service job another run left', { job: job.guid, operation: job.operation, state: job.state, was: job.lease_owner });
    const payload = jsonColumn('jobs', job, 'payload', {} as ServiceJobPayload);
    const ctx: RequestContext = { ...this.context, actor: payload.actor };
    let outcome: JobStep;
    try {
      outcome = await kind.step(ctx, job, payload);
    } catch (error) {
      if (!(error instanceof ApiError)) {
        // Not the broker's doing (those are outcomes): the job waits and is tried again.
        log.warn('service job step failed; trying again', { job: job.guid, operation: job.operation, error: (error as Error).message });
        await settleJobStep(db, job.guid, this.owner, { run_at: new Date(Date.now() + RETRY_MS).toISOString() });
        return this.later(job.guid, RETRY_MS);
      }
      // The broker refused, or something the job needs is gone (the plan, the broker): it fails, and so does its resource's operation.
      outcome = { state: 'FAILED', ...kind.fail(job, payload, error) };
    }
    const settled = await db.transaction().execute(async (trx) => {
      const changes =
        outcome.state === 'POLLING' || outcome.state === 'PROCESSING'
          ? { state: outcome.state, payload: JSON.stringify(outcome.payload), run_at: new Date(Date.now() + outcome.delayMs).toISOString(), updated_at: now() }
          : { state: outcome.state, errors: outcome.state === 'FAILED' ? jobErrors([outcome.error]) : '[]', payload: null, run_at: null, updated_at: now() };
      if (!(await settleJobStep(trx, job.guid, this.owner, changes))) return false;
      await outcome.write?.(trx);
      return true;
    });
    if (!settled) {
      log.info('a service job ended elsewhere; dropped its step', { job: job.guid, operation: job.operation, outcome: outcome.state });
      return;
    }
    if (outcome.state === 'FAILED') log.warn('service job failed', { job: job.guid, operation: job.operation, resource: job.resource_guid, error: outcome.error.detail });
    outcome.after?.();
    if (outcome.state === 'POLLING' || outcome.state === 'PROCESSING') this.later(job.guid, outcome.delayMs);
  }
}

/** The resource of a job that failed outright: its operation `failed`, with why. */
function failResource(job: JobRow, type: OperationType, why: string) {
  const changes = { last_operation: lastOperation(type, 'failed', why, job.created_at), updated_at: now() };
  return async (db: Parameters<NonNullable<JobStep['write']>>[0]) => {
    if (!job.resource_guid) return;
    if (job.resource_type === 'service_instances') await updateInstance(db, job.resource_guid, changes);
    else await updateBinding(db, job.resource_guid, changes);
  };
}
