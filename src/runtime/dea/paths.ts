// Where the DEA keeps things: $DEVBOX_HOME/dea/<dea id>/ (DESIGN.md §2), and where devbox ships its
// buildpacks (templates/buildpacks at the package root, reached the same way from src/ and dist/).
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const BUILTIN_BUILDPACKS_DIR = fileURLToPath(new URL('../../../templates/buildpacks/', import.meta.url));

export interface DeaPaths {
  root: string;
  /** One directory per staging task, removed after. */
  staging: string;
  /** Buildpack caches, one per app (and buildpack). */
  cache: string;
  /** Downloaded droplets, by sha1. */
  droplets: string;
  /** One directory per running instance. */
  instances: string;
  tmp: string;
}

export function deaPaths(root: string): DeaPaths {
  return {
    root,
    staging: path.join(root, 'staging'),
    cache: path.join(root, 'cache'),
    droplets: path.join(root, 'droplets'),
    instances: path.join(root, 'instances'),
    tmp: path.join(root, 'tmp'),
  };
}

/** The DEA id Cloud Foundry-style: dea-<index>. */
export const deaId = (index: number) => `dea-${index}`;
