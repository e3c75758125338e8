// Service requests: register or update a broker, create a service instance (managed or
// user-provided), create a credential binding (to an app, or a service key). Each parse checks the
// body as Cloud Controller does and returns what the action needs; what needs the database (does the
// space, plan, instance or app exist? is the name taken?) the action checks.
import { unprocessable } from '../errors.js';
import type { Metadata } from '../context.js';
import { allowOnly, asObject, metadataUpdate, optionalObject, optionalString, relationshipGuid, requiredString, type Body } from './validate.js';

export interface BrokerCredentials {
  username: string;
  password: string;
}

export interface BrokerCreateMessage {
  name: string;
  url: string;
  credentials: BrokerCredentials;
  metadata: Metadata;
}

export interface BrokerUpdateMessage {
  name?: string;
  url?: string;
  credentials?: BrokerCredentials;
  /** The metadata update to merge, as given; an empty body asks for the catalog again. */
  body: Body;
}

interface InstanceCreateCommon {
  name: string;
  spaceGuid: string;
  tags: string[];
  metadata: Metadata;
}

export type ServiceInstanceCreateMessage =
  | (InstanceCreateCommon & { type: 'managed'; planGuid: string; parameters?: Record<string, unknown> })
  | (InstanceCreateCommon & { type: 'user-provided'; credentials: Record<string, unknown>; syslogDrainUrl: string | null; routeServiceUrl: string | null });

interface BindingCreateCommon {
  /** A key's name (required); an app binding's (optional, then VCAP_SERVICES names it after the instance). */
  name: string | null;
  instanceGuid: string;
  parameters?: Record<string, unknown>;
  metadata: Metadata;
}

export type ServiceBindingCreateMessage = (BindingCreateCommon & { type: 'app'; appGuid: string }) | (BindingCreateCommon & { type: 'key'; name: string });

/** A broker's name, url and basic-auth credentials, each required on create. */
function brokerFields(body: Body, required: boolean) {
  const name = required ? requiredString(body, 'name') : optionalString(body, 'name');
  const url = required ? requiredString(body, 'url', { max: 2048 }) : optionalString(body, 'url', { max: 2048 });
  if (url !== undefined && !/^https?:\/\/[^/\s]+/.test(url)) throw unprocessable('Url must be a valid url');
  const auth = optionalObject(body, 'authentication');
  if (required && !auth) throw unprocessable("Authentication can't be blank");
  let credentials: BrokerCredentials | undefined;
  if (auth) {
    allowOnly(auth, ['type', 'credentials']);
    if (auth.type !== 'basic') throw unprocessable('Authentication type must be basic');
    const creds = optionalObject(auth, 'credentials');
    if (!creds) throw unprocessable("Authentication credentials can't be blank");
    credentials = { username: requiredString(creds, 'username'), password: requiredString(creds, 'password') };
  }
  return { name, url, credentials };
}

export function brokerCreateMessage(raw: unknown): BrokerCreateMessage {
  const body = asObject(raw);
  allowOnly(body, ['name', 'url', 'authentication', 'relationships', 'metadata']);
  const { name, url, credentials } = brokerFields(body, true);
  // brokerFields(body, true) has thrown unless all three are given.
  return { name: name!, url: url!, credentials: credentials!, metadata: metadataUpdate(body, { labels: {}, annotations: {} }) };
}

export function brokerUpdateMessage(raw: unknown): BrokerUpdateMessage {
  const body = asObject(raw);
  allowOnly(body, ['name', 'url', 'authentication', 'metadata']);
  const fields = brokerFields(body, false);
  // Checked now, merged by the action into the broker's current metadata.
  metadataUpdate(body, { labels: {}, annotations: {} });
  return { ...fields, body };
}

function stringTags(body: Body): string[] {
  const tags = body.tags;
  if (tags === undefined) return [];
  if (!Array.isArray(tags) || tags.some((t) => typeof t !== 'string')) throw unprocessable('Tags must be a list of strings');
  return tags as string[];
}

/**
 * A user-provided instance's syslog drain and route service URLs, as Cloud Controller checks them:
 * blank or null clears one; a drain is a URI with a scheme the logs component drains to; a route
 * service must be https. Undefined when not given.
 */
function userProvidedUrl(body: Body, field: 'syslog_drain_url' | 'route_service_url'): string | null | undefined {
  if (body[field] === null) return null;
  const value = optionalString(body, field, { max: 2048 });
  if (value === undefined) return undefined;
  if (value.trim() === '') return null;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw unprocessable(`${field === 'syslog_drain_url' ? 'Syslog drain url' : 'Route service url'} must be a valid URI (e.g. ${field === 'syslog_drain_url' ? 'syslog://logs.example.com:514' : 'https://route-service.example.com'})`);
  }
  if (field === 'route_service_url' && url.protocol !== 'https:') throw unprocessable('Route service url must be https');
  if (field === 'syslog_drain_url' && !SYSLOG_DRAIN_SCHEMES.includes(url.protocol)) {
    throw unprocessable(`Syslog drain url must use one of the schemes ${SYSLOG_DRAIN_SCHEMES.map((s) => s.replace(':', '://')).join(', ')} (got ${url.protocol.replace(':', '://')})`);
  }
  return value;
}

/** The drains Loggregator (and devbox's logs component) writes to: syslog over TCP or TLS, and HTTP(S) POSTs. */
const SYSLOG_DRAIN_SCHEMES = ['syslog:', 'syslog-tls:', 'https:', 'http:'];

export function serviceInstanceCreateMessage(raw: unknown): ServiceInstanceCreateMessage {
  const body = asObject(raw);
  const type = body.type;
  if (type !== 'managed' && type !== 'user-provided') throw unprocessable("Type must be one of 'managed', 'user-provided'");
  allowOnly(body, type === 'managed' ? ['type', 'name', 'relationships', 'parameters', 'tags', 'metadata'] : ['type', 'name', 'relationships', 'credentials', 'tags', 'syslog_drain_url', 'route_service_url', 'metadata']);
  const common: InstanceCreateCommon = {
    name: requiredString(body, 'name'),
    spaceGuid: relationshipGuid(body, 'space'),
    tags: stringTags(body),
    metadata: metadataUpdate(body, { labels: {}, annotations: {} }),
  };
  if (type === 'user-provided') {
    return {
      ...common,
      type,
      credentials: optionalObject(body, 'credentials') ?? {},
      syslogDrainUrl: userProvidedUrl(body, 'syslog_drain_url') ?? null,
      routeServiceUrl: userProvidedUrl(body, 'route_service_url') ?? null,
    };
  }
  const parameters = optionalObject(body, 'parameters');
  return { ...common, type, parameters, planGuid: relationshipGuid(body, 'service_plan') };
}

export function serviceBindingCreateMessage(raw: unknown): ServiceBindingCreateMessage {
  const body = asObject(raw);
  allowOnly(body, ['type', 'name', 'relationships', 'parameters', 'metadata']);
  const type = body.type;
  if (type !== 'app' && type !== 'key') throw unprocessable("Type must be 'app' or 'key'");
  const name = optionalString(body, 'name') ?? null;
  if (type === 'key' && !name) throw unprocessable("Name can't be blank");
  const instanceGuid = relationshipGuid(body, 'service_instance');
  const parameters = optionalObject(body, 'parameters');
  const appGuid = type === 'app' ? relationshipGuid(body, 'app') : undefined;
  const common: BindingCreateCommon = { name, instanceGuid, parameters, metadata: metadataUpdate(body, { labels: {}, annotations: {} }) };
  // A key without a name has been refused above.
  return appGuid !== undefined ? { ...common, type: 'app', appGuid } : { ...common, type: 'key', name: name! };
}

/** The `type` filter of instance and binding lists: one value (managed or user-provided; app or key), not a list. */
export const typeFilter = (query: URLSearchParams): string | undefined => query.get('type') || undefined;

/** `PATCH /v3/service_instances/:guid`: what is given (the action checks it against the instance's type). */
export interface ServiceInstanceUpdateMessage {
  name?: string;
  tags?: string[];
  credentials?: Record<string, unknown>;
  syslogDrainUrl?: string | null;
  routeServiceUrl?: string | null;
  parameters?: Record<string, unknown>;
  planGuid?: string;
  /** `maintenance_info.version`: the version to upgrade to (cf upgrade-service). */
  maintenanceInfo?: { version: string };
  /** The metadata update to merge, as given. */
  body: Body;
}

export function serviceInstanceUpdateMessage(raw: unknown): ServiceInstanceUpdateMessage {
  const body = asObject(raw);
  allowOnly(body, ['name', 'tags', 'metadata', 'credentials', 'syslog_drain_url', 'route_service_url', 'parameters', 'relationships', 'maintenance_info']);
  const message: ServiceInstanceUpdateMessage = { body };
  if (body.name !== undefined) message.name = requiredString(body, 'name');
  if (body.tags !== undefined) message.tags = stringTags(body);
  if (body.credentials !== undefined) message.credentials = optionalObject(body, 'credentials');
  if (body.syslog_drain_url !== undefined) message.syslogDrainUrl = userProvidedUrl(body, 'syslog_drain_url');
  if (body.route_service_url !== undefined) message.routeServiceUrl = userProvidedUrl(body, 'route_service_url');
  if (body.parameters !== undefined) message.parameters = optionalObject(body, 'parameters');
  if (body.relationships !== undefined) message.planGuid = relationshipGuid(body, 'service_plan');
  if (body.maintenance_info !== undefined) {
    const info = optionalObject(body, 'maintenance_info');
    if (!info) throw unprocessable('Maintenance info must be an object');
    allowOnly(info, ['version', 'description']);
    const version = requiredString(info, 'version');
    if (!/^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/.test(version)) throw unprocessable('Maintenance info version must be a Semantic Version string');
    message.maintenanceInfo = { version };
  }
  metadataUpdate(body, { labels: {}, annotations: {} });
  return message;
}
