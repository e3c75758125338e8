// Build and droplet requests: create a build of a package, assign an app's current droplet.
import { unprocessable } from '../errors.js';
import { parseBuildpacks } from './apps.js';
import { allowOnly, asObject, optionalInteger, optionalObject } from './validate.js';

export interface BuildCreateMessage {
  packageGuid: string;
  /** undefined: the app's own. */
  buildpacks?: string[];
  stagingMemoryInMb?: number;
  stagingDiskInMb?: number;
}

export function buildCreateMessage(raw: unknown): BuildCreateMessage {
  const body = asObject(raw);
  allowOnly(body, ['package', 'lifecycle', 'staging_memory_in_mb', 'staging_disk_in_mb', 'metadata']);
  const pkg = optionalObject(body, 'package');
  if (typeof pkg?.guid !== 'string') throw unprocessable('Package guid must be given');
  const lifecycle = optionalObject(body, 'lifecycle');
  const data = lifecycle ? optionalObject(lifecycle, 'data') : undefined;
  return {
    packageGuid: pkg.guid,
    buildpacks: data?.buildpacks === undefined ? undefined : parseBuildpacks(data.buildpacks),
    stagingMemoryInMb: optionalInteger(body, 'staging_memory_in_mb', { min: 1, max: 32768 }),
    stagingDiskInMb: optionalInteger(body, 'staging_disk_in_mb', { min: 1, max: 65536 }),
  };
}

/** `{data: {guid}}` of PATCH /v3/apps/:guid/relationships/current_droplet. */
export function currentDropletMessage(raw: unknown): { dropletGuid: string } {
  const body = asObject(raw);
  allowOnly(body, ['data']);
  const data = optionalObject(body, 'data');
  if (typeof data?.guid !== 'string') throw unprocessable('Data guid must be given');
  return { dropletGuid: data.guid };
}
