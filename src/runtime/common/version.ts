// devbox's own version (package.json): shown as uaa's in /info, and part of a droplet's staging key
// (the built-in buildpacks ship with devbox).
import { readFileSync } from 'node:fs';

let version: string | undefined;

export function devboxVersion(): string {
  if (version !== undefined) return version;
  try {
    // src/runtime/common and dist/runtime/common are both three levels below the package root.
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: string };
    version = pkg.version ?? '0.0.0';
  } catch {
    version = '0.0.0';
  }
  return version;
}
