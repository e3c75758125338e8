// Checking request bodies the way Cloud Controller does: unknown fields and wrong types are 422
// UnprocessableEntity with a message that names the field.
import { ApiError, unprocessable } from '../errors.js';

export type Body = Record<string, unknown>;

export function asObject(body: unknown, what = 'request body'): Body {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new ApiError('MessageParseError', `Request invalid due to parse error: ${what} must be a JSON object`);
  }
  return body as Body;
}

export function allowOnly(body: Body, fields: string[]): void {
  const unknown = Object.keys(body).filter((k) => !fields.includes(k));
  if (unknown.length > 0) throw unprocessable(`Unknown field(s): '${unknown.join("', '")}'`);
}

// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;

const label = (field: string) => field.charAt(0).toUpperCase() + field.slice(1).replace(/_/g, ' ');

export function optionalString(body: Body, field: string, { max = 255 } = {}): string | undefined {
  const value = body[field];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw unprocessable(`${label(field)} must be a string`);
  if (value.length > max) throw unprocessable(`${label(field)} is too long (maximum is ${max} characters)`);
  // A name (app, space, org, service instance, broker, binding) ends up in tables, logs and terminals.
  if (field === 'name' && CONTROL_CHARACTERS.test(value)) throw unprocessable(`${label(field)} must not contain control characters (line breaks, tabs, NUL, escapes): use printable characters only`);
  return value;
}

export function requiredString(body: Body, field: string, options: { max?: number } = {}): string {
  const value = optionalString(body, field, options);
  if (value === undefined || value.trim() === '') throw unprocessable(`${label(field)} can't be blank`);
  return value;
}

export function optionalInteger(body: Body, field: string, { min = 0, max = Number.MAX_SAFE_INTEGER } = {}): number | undefined {
  const value = body[field];
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value)) throw unprocessable(`${label(field)} must be an integer`);
  if (value < min) throw unprocessable(`${label(field)} must be greater than or equal to ${min}`);
  if (value > max) throw unprocessable(`${label(field)} must be less than or equal to ${max}`);
  return value;
}

export function optionalObject(body: Body, field: string): Body | undefined {
  const value = body[field];
  if (value === undefined) return undefined;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw unprocessable(`${label(field)} must be an object`);
  return value as Body;
}

/** `relationships.<name>.data.guid`, as v3 create requests carry their parent. */
export function relationshipGuid(body: Body, name: string): string {
  const relationships = optionalObject(body, 'relationships');
  const rel = relationships && optionalObject(relationships, name);
  const data = rel && optionalObject(rel, 'data');
  const guid = data?.guid;
  if (typeof guid !== 'string' || guid === '') throw unprocessable(`Relationships ${name} must be provided with data.guid`);
  return guid;
}

/** `metadata: {labels, annotations}` with string values (null removes a key on update). */
export function metadataUpdate(body: Body, current: { labels: Record<string, string>; annotations: Record<string, string> }) {
  const metadata = optionalObject(body, 'metadata');
  if (!metadata) return current;
  allowOnly(metadata, ['labels', 'annotations']);
  const merge = (key: 'labels' | 'annotations') => {
    const update = optionalObject(metadata, key);
    const out = { ...current[key] };
    for (const [k, v] of Object.entries(update ?? {})) {
      if (v === null) delete out[k];
      else if (typeof v === 'string') out[k] = v;
      else throw unprocessable(`Metadata ${key} values must be strings`);
    }
    return out;
  };
  return { labels: merge('labels'), annotations: merge('annotations') };
}
