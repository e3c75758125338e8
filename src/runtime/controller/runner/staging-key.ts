// A droplet's staging key: what staging turned into it. When a new package's key equals that of a
// droplet the app already has, staging would make the same droplet again, so the controller reuses
// it (a re-push of an unchanged app then starts in a few hundred ms). docs/push.md says when.
import { createHash } from 'node:crypto';
import { devboxVersion } from '../../common/version.js';

export interface StagingInputs {
  /** The package's checksum (sha256 of its file list); without one there is no key. */
  packageChecksum: string | null;
  /** The buildpacks asked for (names; [] = detect). */
  buildpacks: string[];
  /** The app's environment variables as stored (JSON). */
  environment: string;
  startCommand: string | null;
  stack: string;
}

/**
 * The key, or undefined when the droplet must not be reused: no checksum, or a buildpack given as a
 * path or URL (its contents may change under the same name). The built-in buildpacks ship with
 * devbox, so its version is part of the key.
 */
export function stagingKey(inputs: StagingInputs): string | undefined {
  if (!inputs.packageChecksum) return undefined;
  if (inputs.buildpacks.some((b) => /[/\\:]/.test(b))) return undefined;
  const material = JSON.stringify([devboxVersion(), inputs.packageChecksum, inputs.buildpacks, inputs.environment, inputs.startCommand, inputs.stack]);
  return createHash('sha256').update(material).digest('hex');
}
