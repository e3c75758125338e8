// `include=a,b` and `fields[resource]=key,key` of a v3 request: which related resources to add
// under `included`, whole (include) or with some keys only (fields). Each resource says which it
// accepts, as Cloud Controller's messages do; anything else is 400 CF-BadQueryParameter.
import { ApiError } from '../errors.js';
import { filterList } from './list.js';

const quoted = (values: readonly string[]) => values.map((v) => `'${v}'`).join(', ');

/** The resources named by `include`, each one of `allowed`. */
export function includeParam(query: URLSearchParams, allowed: readonly string[]): string[] {
  const given = filterList(query, 'include') ?? [];
  for (const name of given) {
    if (!allowed.includes(name)) {
      throw new ApiError('BadQueryParameter', `The query parameter is invalid: Invalid included resource: '${name}'. Valid included resources are: ${quoted(allowed)}`);
    }
  }
  return [...new Set(given)];
}

/** `fields[resource]` → the keys asked for; `allowed` maps each resource to the keys it accepts. */
export type FieldsMessage = Partial<Record<string, string[]>>;

export function fieldsParam(query: URLSearchParams, allowed: Record<string, readonly string[]>): FieldsMessage {
  const fields: FieldsMessage = {};
  for (const [key, raw] of query) {
    const m = /^fields\[([^\]]*)\]$/.exec(key);
    if (!m) {
      if (key.startsWith('fields')) throw new ApiError('BadQueryParameter', `The query parameter is invalid: Fields is not a valid parameter: '${key}'`);
      continue;
    }
    const resource = m[1];
    const keys = allowed[resource];
    if (!keys) throw new ApiError('BadQueryParameter', `The query parameter is invalid: Fields [${resource}] valid resources are: ${quoted(Object.keys(allowed))}`);
    const asked = raw.split(',').map((v) => v.trim()).filter((v) => v !== '');
    const wrong = asked.filter((k) => !keys.includes(k));
    if (wrong.length) throw new ApiError('BadQueryParameter', `The query parameter is invalid: Fields valid keys for '${resource}' are: ${quoted(keys)}`);
    fields[resource] = [...new Set([...(fields[resource] ?? []), ...asked])];
  }
  return fields;
}
