// App requests: create, update, environment variables. Each parse checks the body as Cloud
// Controller does (unknown fields, types, values) and returns what the action needs.
import { unprocessable } from '../errors.js';
import type { Metadata } from '../context.js';
import { allowOnly, asObject, metadataUpdate, optionalObject, optionalString, relationshipGuid, requiredString, type Body } from './validate.js';

/** The only stack: apps run on the machine itself. */
export const STACK = 'host';

export interface Lifecycle {
  buildpacks: string[];
  stack: string;
}

export interface AppCreateMessage {
  name: string;
  spaceGuid: string;
  environment: Record<string, string>;
  lifecycle: Lifecycle;
  metadata: Metadata;
}

export interface AppUpdateMessage {
  name?: string;
  lifecycle?: Lifecycle;
  /** The metadata update to merge, as given. */
  body: Body;
}

export interface EnvironmentUpdateMessage {
  set: Record<string, string>;
  removed: string[];
  /** Every key named in the request (set or removed), for the audit event. */
  keys: string[];
}

function parseLifecycle(body: Body): Lifecycle | undefined {
  const lifecycle = optionalObject(body, 'lifecycle');
  if (!lifecycle) return undefined;
  allowOnly(lifecycle, ['type', 'data']);
  if (lifecycle.type !== undefined && lifecycle.type !== 'buildpack') throw unprocessable("Lifecycle type must be 'buildpack'");
  const data = optionalObject(lifecycle, 'data') ?? {};
  allowOnly(data, ['buildpacks', 'stack']);
  const buildpacks = parseBuildpacks(data.buildpacks ?? []);
  const stack = optionalString(data, 'stack') ?? STACK;
  if (stack !== STACK) throw unprocessable(`Stack must be an existing stack: devbox runs apps on the '${STACK}' stack`);
  return { buildpacks, stack };
}

export function parseBuildpacks(value: unknown): string[] {
  if (!Array.isArray(value) || value.some((b) => typeof b !== 'string')) throw unprocessable('Buildpacks must be an array of strings');
  return value as string[];
}

/** Environment variables as Cloud Controller accepts them: strings (numbers and booleans become strings), no VCAP_*, VMC_* or PORT. */
export function parseEnvironment(value: unknown): Record<string, string> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw unprocessable('Environment variables must be an object');
  const out: Record<string, string> = {};
  for (const [key, v] of Object.entries(value)) {
    if (/^VCAP_|^VMC_/.test(key)) throw unprocessable(`Environment variables cannot start with VCAP_ or VMC_ ('${key}')`);
    if (key === 'PORT') throw unprocessable('Environment variables cannot set PORT');
    if (typeof v === 'string') out[key] = v;
    else if (typeof v === 'number' || typeof v === 'boolean') out[key] = String(v);
    else throw unprocessable(`Environment variable '${key}' must be a string`);
  }
  return out;
}

export function appCreateMessage(raw: unknown): AppCreateMessage {
  const body = asObject(raw);
  allowOnly(body, ['name', 'relationships', 'environment_variables', 'lifecycle', 'metadata']);
  return {
    name: requiredString(body, 'name'),
    spaceGuid: relationshipGuid(body, 'space'),
    lifecycle: parseLifecycle(body) ?? { buildpacks: [], stack: STACK },
    environment: body.environment_variables === undefined ? {} : parseEnvironment(body.environment_variables),
    metadata: metadataUpdate(body, { labels: {}, annotations: {} }),
  };
}

export function appUpdateMessage(raw: unknown): AppUpdateMessage {
  const body = asObject(raw);
  allowOnly(body, ['name', 'lifecycle', 'metadata']);
  const message: AppUpdateMessage = { body, lifecycle: parseLifecycle(body) };
  if (body.name !== undefined) message.name = requiredString(body, 'name');
  // Checked now, merged by the action into the app's current metadata.
  metadataUpdate(body, { labels: {}, annotations: {} });
  return message;
}

export function environmentUpdateMessage(raw: unknown): EnvironmentUpdateMessage {
  const body = asObject(raw);
  allowOnly(body, ['var']);
  const update = optionalObject(body, 'var') ?? {};
  const removed = Object.entries(update).filter(([, v]) => v === null).map(([k]) => k);
  const set = parseEnvironment(Object.fromEntries(Object.entries(update).filter(([, v]) => v !== null)));
  return { set, removed, keys: Object.keys(update) };
}
