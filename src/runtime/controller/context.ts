// What the controller's layers share: the database, the public URLs, the runner (staging and
// instances on the DEAs), the app log stream, the blobstore, limits and defaults. A request's
// actions also know who is asking (RequestContext). None of it knows HTTP.
import { randomUUID } from 'node:crypto';
import type { LogEnvelope, LogSourceType } from '../common/bus-messages.js';
import type { Logger } from '../common/log.js';
import type { Blobstore } from './blobstore.js';
import type { Db } from './repositories/query.js';
import type { Runner } from './runner/runner.js';
import type { SshProxies } from './ssh-proxies.js';

export interface Urls {
  /** http://api.<domain>:<router port> */
  api: string;
  uaa: string;
  logs: string;
}

export interface Actor {
  guid: string;
  type: 'user' | 'client';
  name: string;
  /** The token has cloud_controller.admin. */
  admin?: boolean;
}

/**
 * A line the controller writes on an app's log stream, from the API (`[API/0]`) or staging
 * (`[STG/0]`), as Cloud Controller writes them; component.ts publishes it as a LogEnvelope.
 */
export interface ControllerLogLine {
  source: Extract<LogSourceType, 'API' | 'STG'>;
  message: string;
  type?: LogEnvelope['message_type'];
}

export type AppLog = (appGuid: string, line: ControllerLogLine) => void;

/** What /varz counts of the controller's work. */
export interface ControllerCounters {
  stagings: number;
  stagings_reused: number;
  staging_failures: number;
  starts_sent: number;
  stops_sent: number;
  crashes: number;
}

export const newCounters = (): ControllerCounters => ({ stagings: 0, stagings_reused: 0, staging_failures: 0, starts_sent: 0, stops_sent: 0, crashes: 0 });

export interface ControllerContext {
  db: Db;
  /** The platform's URLs as the client of the current request reaches them (its address, http or https). */
  urls: Urls;
  /**
   * Where other components (the DEAs) reach the API: the box's own plain-http URLs, whatever address
   * or protocol a request came in on (a DEA downloads and uploads bits over http only).
   */
  componentUrls: Urls;
  log: Logger;
  runner: Runner;
  appLog: AppLog;
  counters: ControllerCounters;
  blobstore: Blobstore;
  limits: { maxPackageBytes: number };
  /** The defaults a new process gets (DESIGN.md: devbox's memory default is smaller than CF's 1G). */
  defaults: { memoryInMb: number; diskInMb: number; logRateLimit: number };
  /** The ssh proxies heard on the bus (`GET /`'s `app_ssh`); absent where there is no bus: no link. */
  sshProxies?: SshProxies;
  /** Runs the service jobs (broker work) in the background: set by the API server (http/server.ts). */
  serviceJobs?: ServiceJobRunner;
  /** Other controllers may use this database (MySQL): leases of live jobs are theirs until they expire. */
  sharedDatabase?: boolean;
}

/** The background runner of service jobs (actions/service-jobs.ts). */
export interface ServiceJobRunner {
  /** Runs the job's next step now (or joins the one running); resolves when it has ended, never rejects. */
  run(jobGuid: string): Promise<void>;
}

export interface RequestContext extends ControllerContext {
  actor: Actor;
}

export const newGuid = () => randomUUID();
export const now = () => new Date().toISOString();

export interface Metadata {
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export const emptyMetadata = (): Metadata => ({ labels: {}, annotations: {} });
