// Package requests: create a package, and the resources list (files by sha1 and size) that
// resource matching and the upload's `resources` part carry.
import { unprocessable } from '../errors.js';
import { allowOnly, asObject, relationshipGuid } from './validate.js';

/** A file as v3's resource_matches and upload name it. */
export interface PackageResource {
  path?: string;
  checksum: { value: string };
  size_in_bytes: number;
  mode?: string;
}

export const MAX_RESOURCE_MATCHES = 100_000;

/** A resources list; v2's shape (sha1, size, fn) is accepted too, as Cloud Controller does. */
export function resourcesList(value: unknown): PackageResource[] {
  if (!Array.isArray(value)) throw unprocessable('Resources must be an array');
  return value.map((raw) => {
    const r = asObject(raw, 'a resource');
    const checksum = r.checksum as { value?: unknown } | undefined;
    const sha1 = typeof checksum?.value === 'string' ? checksum.value : r.sha1;
    const size = r.size_in_bytes ?? r.size;
    if (typeof sha1 !== 'string' || !/^[0-9a-f]{40}$/.test(sha1)) throw unprocessable('Resources must have a sha1 checksum value');
    if (typeof size !== 'number' || !Number.isInteger(size) || size < 0) throw unprocessable('Resources must have a size_in_bytes');
    const path = r.path ?? r.fn;
    if (path !== undefined && typeof path !== 'string') throw unprocessable('Resource paths must be strings');
    const mode = r.mode;
    if (mode !== undefined && (typeof mode !== 'string' || !/^[0-7]{3,4}$/.test(mode))) throw unprocessable('Resource modes must be octal strings such as "644"');
    return { path: path as string | undefined, checksum: { value: sha1 }, size_in_bytes: size, mode: mode as string | undefined };
  });
}

/** `{resources}` of POST /v3/resource_matches. */
export function resourceMatchesMessage(raw: unknown): PackageResource[] {
  const body = asObject(raw);
  allowOnly(body, ['resources']);
  const resources = resourcesList(body.resources);
  if (resources.length > MAX_RESOURCE_MATCHES) throw unprocessable(`Resources must list at most ${MAX_RESOURCE_MATCHES} files`);
  return resources;
}

export interface PackageCreateMessage {
  appGuid: string;
}

export function packageCreateMessage(raw: unknown): PackageCreateMessage {
  const body = asObject(raw);
  allowOnly(body, ['type', 'relationships', 'metadata', 'data']);
  if (body.type !== 'bits') throw unprocessable("Type must be 'bits'");
  return { appGuid: relationshipGuid(body, 'app') };
}
