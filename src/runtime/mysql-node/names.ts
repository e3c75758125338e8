// Names, plans and settings of the mysql-node (docs/services-protocol.md, docs/mysql-node.md).
// Database and user names come from the gateway over the bus: every one is checked against its
// exact shape before it gets anywhere near SQL.
import { createHash, createHmac } from 'node:crypto';
import { envNumber, nodeIdFrom } from '../service-base/settings.js';

/** cf-mysql's database name: `cf_` and the instance GUID with its dashes as underscores. */
export const DATABASE_NAME = /^cf_[0-9a-f]{8}(?:_[0-9a-f]{4}){3}_[0-9a-f]{12}$/i;
/**
 * The name databases got before devbox named them as cf-mysql does: `cf_` and the instance id's 32
 * hex digits. Those databases keep it (the gateway remembers each name), so it stays valid.
 */
export const LEGACY_DATABASE_NAME = /^cf_[0-9a-f]{32}$/;
export const USER_NAME = /^u[0-9a-f]{15}$/;

export const isDatabaseName = (value: unknown): value is string => typeof value === 'string' && (DATABASE_NAME.test(value) || LEGACY_DATABASE_NAME.test(value));
export const isLegacyDatabaseName = (value: unknown): value is string => typeof value === 'string' && LEGACY_DATABASE_NAME.test(value);
export const isUserName = (value: unknown): value is string => typeof value === 'string' && USER_NAME.test(value);

/** `u` + 15 hex chars of the binding id's sha1, as the contract says. */
export const userForBinding = (bindingId: string): string => `u${createHash('sha1').update(bindingId).digest('hex').slice(0, 15)}`;

/**
 * The binding's password: an HMAC of the binding id under the node's secret (kept in the server,
 * in devbox_node.settings). Random to anyone without that secret, yet the same on a retried bind,
 * so "binding an existing binding id returns the same user with its password" holds without the
 * node storing any password itself.
 */
export const passwordForBinding = (secret: string, bindingId: string): string =>
  createHmac('sha256', secret).update(`binding:${bindingId}`).digest('base64url').slice(0, 24);

/**
 * The database as a GRANT pattern: `_` is a wildcard in grants' database names, so a user granted
 * on `cf_abc` could otherwise create and use `cfXabc`. Escaped, the grant covers this database only.
 */
export const grantPattern = (database: string): string => database.replace(/_/g, '\\_');

export interface Plan {
  name: string;
  quotaBytes: number;
  maxUserConnections: number;
}

const MB = 1024 * 1024;

/** small (10 MB, 10 connections), medium (100 MB, 40); quotas overridable for tests (DEVBOX_MYSQL_QUOTA_<PLAN>_BYTES). */
export function plans(): Record<string, Plan> {
  return {
    small: { name: 'small', quotaBytes: envNumber('DEVBOX_MYSQL_QUOTA_SMALL_BYTES', 10 * MB), maxUserConnections: 10 },
    medium: { name: 'medium', quotaBytes: envNumber('DEVBOX_MYSQL_QUOTA_MEDIUM_BYTES', 100 * MB), maxUserConnections: 40 },
  };
}

/**
 * The plans this node offers (`--plan`, DEVBOX_MYSQL_PLANS, comma-separated; default all): what it
 * announces and provisions. Databases it already has keep their plan whatever this says.
 */
export function servedPlans(env: NodeJS.ProcessEnv = process.env): Record<string, Plan> {
  const all = plans();
  const wanted = (env.DEVBOX_MYSQL_PLANS ?? '').split(',').map((p) => p.trim()).filter(Boolean);
  if (wanted.length === 0) return all;
  const unknown = wanted.filter((p) => !all[p]);
  if (unknown.length > 0) throw new Error(`DEVBOX_MYSQL_PLANS names unknown plans (${unknown.join(', ')}); the plans are ${Object.keys(all).join(', ')}`);
  return Object.fromEntries(wanted.map((p) => [p, all[p]]));
}

/** The node's id (`--node-id`, DEVBOX_MYSQL_NODE_ID; default mysql-node-<index>): part of bus subjects. */
export function nodeIdFromEnv(index: number, env: NodeJS.ProcessEnv = process.env): string {
  return nodeIdFrom('DEVBOX_MYSQL_NODE_ID', nodeId(index), env);
}

export const SUPPORTED_VERSIONS = ['10.11'];

export interface NodeSettings {
  capacity: number;
  /** The plans it offers (servedPlans): read once, so that an unknown --plan fails the start. */
  plans: Record<string, Plan>;
  announceMs: number;
  quotaMs: number;
}

export function nodeSettings(): NodeSettings {
  return {
    capacity: envNumber('DEVBOX_MYSQL_CAPACITY', 50),
    plans: servedPlans(),
    announceMs: envNumber('DEVBOX_MYSQL_ANNOUNCE_MS', 30_000),
    quotaMs: envNumber('DEVBOX_MYSQL_QUOTA_MS', 2_000),
  };
}

export const nodeId = (index: number) => `mysql-node-${index}`;
