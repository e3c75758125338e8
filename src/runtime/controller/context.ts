// What every API handler gets: the database, the public URLs, who is asking, and the bus (for the
// API's own log lines on the app's log stream).
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { NatsConnection } from '../common/bus.js';
import type { Logger } from '../common/log.js';
import type { Blobstore } from './blobstore.js';
import type { Database } from './db/schema.js';
import type { Runner } from './runner/runner.js';

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

export interface ControllerContext {
  db: Kysely<Database>;
  urls: Urls;
  log: Logger;
  bus?: NatsConnection;
  /** Staging and instances on the DEAs (absent only in a controller without a bus). */
  runner?: Runner;
  blobstore: Blobstore;
  limits: { maxPackageBytes: number };
  /** The defaults a new process gets (DESIGN.md: devbox's memory default is smaller than CF's 1G). */
  defaults: { memoryInMb: number; diskInMb: number; logRateLimit: number };
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

export const emptyMetadata = (): string => JSON.stringify({ labels: {}, annotations: {} });

export function parseJson<T>(text: string | null | undefined, fallback: T): T {
  if (!text) return fallback;
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}
